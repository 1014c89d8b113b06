import FlashAttentionCUDA
import FlashAttentionCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct BackwardCompileCase: CustomTestStringConvertible, Sendable {
    var descriptor: BackwardKernelDescriptor
    var testDescription: String { descriptor.name }
}

let backwardCompileCases: [BackwardCompileCase] = [GPUArchitecture.sm90a, .sm80].flatMap {
    BackwardHeuristics.tableVariants(for: $0).map { BackwardCompileCase(descriptor: $0) }
} + backwardMeasurementVariants.map { BackwardCompileCase(descriptor: $0) }

/// The sm_90a kernels a device A/B runs besides the defaults: the D = 64/128/256 causal
/// kernels with the session-5 code changes turned off (FLASH_ATTENTION_BWD_OFF=all), and the
/// float16 kernels of the reference grid (the table variants are bfloat16 where plain).
let backwardMeasurementVariants: [BackwardKernelDescriptor] = {
    var out: [BackwardKernelDescriptor] = []
    for D in [64, 128, 256] {
        guard let plan = try? BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: D, mask: .causal, seqlenK: 16384),
                                                      architecture: .sm90a) else { continue }
        for var d in plan.keyValue + [plan.query] {
            (d.splitEdgeSteps, d.sharedStartOrder, d.overlapProducts, d.preloadStatistics, d.chunkedSteps) = (false, false, false, false, false)
            out.append(d)
        }
        for (mask, keys) in [(KernelMask.causal, 16384), (.none, 2048), (.none, 16384)] {
            if let plan = try? BackwardHeuristics.plan(for: BackwardProblem(elementType: .float16, headDim: D, mask: mask, seqlenK: keys),
                                                       architecture: .sm90a) {
                out += (plan.keyValue + [plan.query]).filter { !out.contains($0) }
            }
        }
    }
    return out
}()

enum FileSystemProbe {
    static let verbose = getenv("FA_BWD_VERBOSE") != nil
}

/// A compiled backward kernel's ptxas report: no spill, no stack frame, no serialised wgmma.
func expectCompiledClean(_ compiled: CompiledGeneratedKernel<BackwardKernelDescriptor>, _ descriptor: BackwardKernelDescriptor) throws {
    let report = try #require(compiled.report, "no ptxas report in the log:\n\(compiled.log)")
    #expect(!report.spills, "\(descriptor.name) spills: \(report)\n\(compiled.log)")
    #expect(report.stackFrameBytes == 0, "\(descriptor.name) has a stack frame: \(report)")
    // ptxas keeps wgmma groups in flight only where it can prove the registers they read
    // and write untouched; otherwise it serializes them and says so.
    #expect(!compiled.log.contains("serialized"), "\(descriptor.name): \(compiled.log)")
}

@Suite("Backward kernel generator and compilation (no GPU)")
struct BackwardKernelTests {
    /// Every backward variant of the table compiles for sm_90a and sm_80 without spills or a
    /// stack frame (NVRTC, no disk cache).
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"), arguments: backwardCompileCases)
    func variantCompilesWithoutSpills(_ testCase: BackwardCompileCase) throws {
        let compiled = try GeneratedKernelCompiler.compile(testCase.descriptor, cache: nil)
        if let dir = getenv("FA_BWD_DUMP").map({ String(cString: $0) }), let file = fopen(dir + "/" + testCase.descriptor.name + ".cu", "w") {
            fputs(compiled.source, file)
            fclose(file)
        }
        #expect(!compiled.image.isEmpty)
        if FileSystemProbe.verbose { print("REPORT \(testCase.descriptor.name) \(compiled.report.map { "\($0.registers) regs, spill \($0.spillStoreBytes)/\($0.spillLoadBytes)" } ?? "-")\(compiled.log.contains("serialized") ? " SERIALIZED" : "")") }
        try expectCompiledClean(compiled, testCase.descriptor)
    }

    @Test(arguments: BackwardHeuristics.tableVariants(for: .sm90a) + BackwardHeuristics.tableVariants(for: .sm86))
    func equalDescriptorsGiveIdenticalSource(_ descriptor: BackwardKernelDescriptor) throws {
        let copy = descriptor
        let a = try BackwardKernel(descriptor: descriptor).source
        let b = try BackwardKernel(descriptor: copy).source
        #expect(a == b)
        #expect(a.contains("extern \"C\" __global__"))
        #expect(!a.contains("#include"), "NVRTC runs without CUDA headers")
        if descriptor.dqMode != .atomic {
            // Deterministic variants: no floating-point reduction in arrival order.
            #expect(!a.contains("atomic") && !a.contains(".f32.add"), "deterministic variants have no atomics")
        } else {
            #expect(a.contains("red.global.v2.f32.add"))
        }
    }

    @Test func differentDescriptorsGiveDifferentSourceAndNames() throws {
        let plan = try BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 128), architecture: .sm90a)
        var causal = plan.query
        causal.mask = .causal
        #expect(try BackwardKernel(descriptor: plan.query).source != BackwardKernel(descriptor: causal).source)
        #expect(Set(plan.all.map(\.name)).count == plan.all.count)
    }

    @Test func parameterBytesMatchTheDeclaredStruct() throws {
        var p = BackwardParameters()
        p.q = 0x1122_3344_5566_7788
        p.dropoutThreshold = 7
        p.tailUnits = 5
        p.tailParts = 9
        let bytes = p.packed()
        let plan = try BackwardHeuristics.plan(for: BackwardProblem(elementType: .float16, headDim: 64), architecture: .sm80)
        for d in plan.all {
            #expect(try BackwardKernel(descriptor: d).source.contains("sizeof(BackwardParams) == \(bytes.count)"))
        }
        #expect(bytes.count % 8 == 0)
        #expect(Array(bytes[0..<8]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        // The struct ends with dropout_threshold, then the Hopper key/value kernel's tail split (tail_units, tail_parts; session 29).
        #expect(Array(bytes[(bytes.count - 12)..<(bytes.count - 8)]) == withUnsafeBytes(of: UInt32(7).littleEndian, Array.init))
        #expect(Array(bytes[(bytes.count - 8)..<(bytes.count - 4)]) == withUnsafeBytes(of: Int32(5).littleEndian, Array.init))
        #expect(Array(bytes[(bytes.count - 4)...]) == withUnsafeBytes(of: Int32(9).littleEndian, Array.init))
    }

    /// sm_90a: masked, short or option-heavy problems take the 4-warp rows, plain unmasked long
    /// ones the two-warpgroup rows; by default dQ comes from the separate pass (deterministic
    /// or not); fused modes only when asked for, never atomic where dropout or options prevent
    /// fusing, and the fused plan ends in the conversion kernel.
    @Test func hopperRowsAndDQModes() throws {
        func plan(_ D: Int, _ mask: KernelMask, _ keys: Int, dropout: Bool = false, deterministic: Bool = true,
                  mode: BackwardDQMode? = nil) throws -> BackwardPlan {
            try BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: D, mask: mask, dropout: dropout,
                                                             deterministic: deterministic, seqlenK: keys), architecture: .sm90a, dqMode: mode)
        }
        for D in [64, 128] {
            // Masked plain problems: 4-warp rows at D = 64, the two-warpgroup rows at D = 128
            // (session 5), except with dropout or when dQ is fused.
            #expect(try plan(D, .causal, 16384).keyValue[0].warps == (D == 64 ? 4 : 8))
            #expect(try plan(D, .causal, 16384, dropout: true).keyValue[0].warps == 4)
            #expect(try plan(D, .causal, 16384, mode: .ordered).keyValue[0].warps == 4)
            #expect(try plan(D, .none, 2048).keyValue[0].warps == 4)
            #expect(try plan(D, .none, 16384).keyValue[0].warps == 8)
            #expect(try plan(D, .none, 16384, dropout: true).keyValue[0].warps == 4)
            for deterministic in [true, false] {
                let p = try plan(D, .causal, 4096, deterministic: deterministic)
                #expect(p.query.pass == .query && p.keyValue.allSatisfy { $0.dqMode == .separate })
            }
            for mode in [BackwardDQMode.ordered, .atomic] {
                let fused = try plan(D, .causal, 4096, deterministic: mode == .ordered, mode: mode)
                #expect(fused.keyValue.count == 1 && fused.keyValue[0].dqMode == mode && fused.query.pass == .convertDQ)
                #expect(try plan(D, .causal, 4096, dropout: true, mode: mode).query.pass == .query)
            }
        }
        #expect(try plan(256, .causal, 4096, mode: .ordered).keyValue.count == 2)
    }

    /// Every D in 1…256, every architecture, with and without the heaviest options: valid
    /// descriptors whose tile head dim covers D, and dK and dV each computed exactly once.
    @Test func heuristicsCoverEveryHeadDim() throws {
        for arch in [GPUArchitecture.sm80, .sm86, .sm89, .sm90a] {
            for D in 1...256 {
                for dropout in [false, true] {
                    let problem = BackwardProblem(elementType: .float16, headDim: D, mask: .window, softcap: dropout, alibi: dropout, dropout: dropout)
                    let plan = try BackwardHeuristics.plan(for: problem, architecture: arch)
                    for d in plan.all {
                        #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
                        _ = try BackwardKernel(descriptor: d)
                        if d.pass != .preprocess { #expect(d.headDim >= D && d.headDim % 16 == 0) }
                    }
                    #expect(plan.keyValue.filter(\.computeDK).count == 1)
                    #expect(plan.keyValue.filter(\.computeDV).count == 1)
                }
            }
        }
        #expect(throws: (any Error).self) { try BackwardHeuristics.plan(for: BackwardProblem(elementType: .float16, headDim: 257), architecture: .sm90a) }
    }
}
