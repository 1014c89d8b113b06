// Prepared in session 31, not yet in the test target: move into Tests/FlashAttentionCUDATests/ once the generic backward's
// option routes are fixed. Its first (partial) run compiled 1415 of the grid's kernels and found 97 sm_90a kernels that spill
// (4-128 bytes) (docs/performance.md, "Session 31", item 4).
import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// Every kernel of the generic (mma.sync / wgmma) backward's plans over a broad grid on `architecture`: each head dim row,
/// each mask, every set of softcap, ALiBi, dropout and varlen, 16-bit and float32 dK / dV, deterministic or not, short and
/// long keys, contiguous or strided tensors. `BackwardHeuristics.tableVariants` compiles each row's plain and heaviest plan;
/// this grid compiles the option sets between (session 31: the forward's spilled there on sm_80).
func backwardGridRoutes(_ architecture: GPUArchitecture) -> [BackwardKernelDescriptor] {
    var seen = Set<String>(), kernels: [BackwardKernelDescriptor] = []
    let dims = architecture == .sm86 ? [128, 160, 192, 224, 256] : [32, 64, 96, 128, 160, 192, 224, 256]
    for d in dims {
        for mask in KernelMask.allCases {
            for options in 0..<16 {
                for (grad, deterministic, keys, vectorized) in [(ElementType?.none, true, 1024, true), (.float32, true, 16384, true),
                                                               (nil, false, 16384, true), (nil, true, 1024, false)] {
                    let p = BackwardProblem(elementType: .bfloat16, dkType: grad, dvType: grad, headDim: d, mask: mask,
                                            softcap: options & 1 != 0, alibi: options & 2 != 0, dropout: options & 4 != 0,
                                            varlen: options & 8 != 0, vectorized: vectorized, deterministic: deterministic,
                                            seqlenK: keys)
                    guard let plan = try? BackwardHeuristics.plan(for: p, architecture: architecture) else { continue }
                    for k in plan.all where seen.insert(k.name).inserted { kernels.append(k) }
                }
            }
        }
    }
    return kernels
}

/// The grid's kernels on sm_90a, sm_80 and sm_86 (where its table differs) that the table's list does not compile.
let backwardGridRoutedVariants: [BackwardKernelDescriptor] = {
    var names = Set(backwardCompileCases.map(\.descriptor.name))
    return [GPUArchitecture.sm90a, .sm80, .sm86].flatMap(backwardGridRoutes).filter { names.insert($0.name).inserted }
}()

@Suite("Generic backward routes (NVRTC, no GPU needed)")
struct BackwardRouteCompileTests {
    @Test func gridReachesTheOptionPlans() {
        let hopper = backwardGridRoutes(.sm90a), ampere = backwardGridRoutes(.sm80)
        #expect(hopper.contains { $0.name.contains("softcap_alibi_dropout_varlen") })
        #expect(ampere.contains { $0.name.contains("_alibi_") && !$0.name.contains("dropout") })
        #expect(backwardGridRoutedVariants.count > 50)
    }

    /// Every plan kernel the table's list does not compile: no spill, no stack frame, no serialised wgmma.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: backwardGridRoutedVariants.map { BackwardCompileCase(descriptor: $0) })
    func gridRoutedVariantsCompileClean(_ testCase: BackwardCompileCase) throws {
        let compiled = try GeneratedKernelCompiler.compile(testCase.descriptor, cache: nil)
        let report = try #require(compiled.report, "no ptxas report in the log:\n\(compiled.log)")
        #expect(!report.spills, "\(testCase.descriptor.name) spills: \(report)\n\(compiled.log)")
        #expect(report.stackFrameBytes == 0, "\(testCase.descriptor.name) has a stack frame: \(report)")
        #expect(!compiled.log.contains("serialized"), "\(testCase.descriptor.name): \(compiled.log)")
    }
}
