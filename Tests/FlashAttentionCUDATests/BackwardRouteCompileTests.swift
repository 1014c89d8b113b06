import FlashAttentionCUDA
import FlashAttentionCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Every kernel of the generic (mma.sync / wgmma) backward's plans over a grid of problems on `architecture`: head dims, each
/// mask, sets of softcap, ALiBi, dropout and varlen, contiguous and strided tensors. `BackwardHeuristics.tableVariants`
/// compiles each row's plain and heaviest plan; this grid compiles the option sets between (session 32: 1014 of the 6789
/// kernels of the full grid spilled 4–264 bytes, on all three architectures). CI runs a cut of it (1414 kernels, about five
/// minutes); `FA_FULL_BACKWARD_GRID=1` runs the whole grid (every head dim row, all 16 option sets, float32 dK / dV,
/// non-deterministic calls and long keys too: 35–40 minutes on two cores).
func backwardGridRoutes(_ architecture: GPUArchitecture, full: Bool = fullBackwardGrid) -> [BackwardKernelDescriptor] {
    var seen = Set<String>(), kernels: [BackwardKernelDescriptor] = []
    let dims = full ? (architecture == .sm86 ? [128, 160, 192, 224, 256] : [32, 64, 96, 128, 160, 192, 224, 256])
        : (architecture == .sm86 ? [128, 256] : architecture == .sm80 ? [64, 128, 256] : [64, 96, 128, 160, 256])
    // Option sets as bits: softcap 1, ALiBi 2, dropout 4, varlen 8.
    let optionSets = full ? Array(0..<16) : [0, 1, 2, 4, 8, 3, 9, 6, 12, 15]
    let variants: [(ElementType?, Bool, Int, Bool)] = full
        ? [(nil, true, 1024, true), (.float32, true, 16384, true), (nil, false, 16384, true), (nil, true, 1024, false)]
        : [(nil, true, 1024, true), (nil, true, 1024, false)]
    for d in dims {
        for mask in KernelMask.allCases {
            for options in optionSets {
                for (grad, deterministic, keys, vectorized) in variants {
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

let fullBackwardGrid = getenv("FA_FULL_BACKWARD_GRID").map { String(cString: $0) == "1" } ?? false

/// The grid's kernels on sm_90a, sm_80 and sm_86 (where its table differs) that the table's list does not compile.
let backwardGridRoutedVariants: [BackwardKernelDescriptor] = {
    var names = Set(backwardCompileCases.map(\.descriptor.name))
    return [GPUArchitecture.sm90a, .sm80, .sm86].flatMap { backwardGridRoutes($0) }.filter { names.insert($0.name).inserted }
}()

@Suite("Generic backward routes (NVRTC, no GPU needed)")
struct BackwardRouteCompileTests {
    @Test func gridReachesTheOptionPlans() {
        let hopper = backwardGridRoutes(.sm90a), ampere = backwardGridRoutes(.sm80)
        #expect(hopper.contains { $0.name.contains("softcap_alibi_dropout_varlen") })
        #expect(ampere.contains { $0.name.contains("_alibi_") && !$0.name.contains("dropout") })
        #expect(backwardGridRoutedVariants.count > 50)
    }

    /// The halved option steps stay where the grid needed them: plain problems keep the rows' shapes.
    @Test func optionStepsLeavePlainProblemsAlone() throws {
        func steps(_ p: BackwardProblem, _ arch: GPUArchitecture) throws -> (keyM: Int, queryN: Int) {
            let plan = try BackwardHeuristics.plan(for: p, architecture: arch)
            return (plan.keyValue[0].blockM, plan.query.blockN)
        }
        // sm_80, tile D = 128 (8-warp rows): plain causal and window keep 64 / 64; varlen and softcap halve.
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal), .sm80) == (64, 64))
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .window), .sm80) == (64, 64))
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, varlen: true), .sm80) == (32, 64))
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, softcap: true), .sm80) == (32, 32))
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .window, alibi: true), .sm80).keyM == 16)
        // sm_90a wgmma rows: unmasked ALiBi keeps the 128-key dQ step (it did not spill, and 64 was slower); softcap halves it.
        let alibi = BackwardProblem(elementType: .bfloat16, headDim: 128, alibi: true, seqlenK: 8192)
        #expect(try steps(alibi, .sm90a).queryN == 128)
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 64, mask: .causal, softcap: true), .sm90a).queryN == 64)
        #expect(try steps(BackwardProblem(elementType: .bfloat16, headDim: 64, mask: .causal, alibi: true), .sm90a).queryN == 128)
    }

    /// Every plan kernel the table's list does not compile: no spill, no stack frame, no serialised wgmma.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: backwardGridRoutedVariants.map { BackwardCompileCase(descriptor: $0) })
    func gridRoutedVariantsCompileClean(_ testCase: BackwardCompileCase) throws {
        try expectCompiledClean(try GeneratedKernelCompiler.compile(testCase.descriptor, cache: nil), testCase.descriptor)
    }

    /// The whole grid's sm_80 / sm_86 dQ kernels at tile D ≥ 192 with softcap and dropout beside a mask (session 33: 8–40
    /// bytes of spill with the head-dim loop fully unrolled; outside the CI cut) unroll it by two and compile clean.
    static let wideOptionDQ: [BackwardKernelDescriptor] = [
        (GPUArchitecture.sm80, 192, KernelMask.causal, false, true, false), (.sm80, 192, .causal, true, true, false), (.sm80, 224, .window, false, false, true),
        (.sm80, 224, .window, false, false, false), (.sm86, 192, .causal, false, true, false), (.sm86, 224, .window, true, false, true),
        (.sm86, 224, .window, false, false, false),
    ].compactMap { arch, d, mask, alibi, varlen, vectorized in
        try? BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, softcap: true, alibi: alibi,
                                                          dropout: true, varlen: varlen, vectorized: vectorized), architecture: arch).query
    }

    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: wideOptionDQ.map { BackwardCompileCase(descriptor: $0) })
    func wideOptionDQCompilesClean(_ testCase: BackwardCompileCase) throws {
        let compiled = try GeneratedKernelCompiler.compile(testCase.descriptor, cache: nil)
        #expect(compiled.source.contains("#pragma unroll 2\n                for (int ks = 0; ks < HEAD_DIM / 16; ++ks)"))
        try expectCompiledClean(compiled, testCase.descriptor)
    }

    @Test func wideOptionDQListIsWhole() throws {
        #expect(Self.wideOptionDQ.count == 7 && Self.wideOptionDQ.allSatisfy { $0.pass == .query && $0.headDim >= 192 })
        // Without dropout, and on sm_90a, the loop stays fully unrolled.
        let plain = try BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 224, mask: .window, softcap: true),
                                                architecture: .sm80).query
        let hopper = try BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 224, mask: .window, softcap: true,
                                                                      dropout: true, vectorized: false), architecture: .sm90a).query
        for d in [plain, hopper] {
            #expect(!(try BackwardKernel(descriptor: d).source.contains("#pragma unroll 2\n")), "\(d.name)")
        }
    }
}
