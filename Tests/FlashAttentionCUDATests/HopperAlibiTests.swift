import FlashAttentionCUDA
import FlashAttentionCore
import Foundation
import Testing

/// The ALiBi problems of every tile head dim (padded ones too), each mask (windows narrow and unknown), both 16-bit types
/// and float32 output, varlen, softcap beside it at tile D = 128, short and long lengths: the kernels they route to, one
/// each (the TMA forward takes the causal ones at tile D = 64 / 128 since session 35).
func hopperAlibiRoutes() -> [AttentionKernelDescriptor] {
    var problems: [AttentionProblem] = []
    for d in [32, 64, 96, 128, 160, 192, 256] {
        for n in [0, 512, 1024, 2048, 4096, 16384] {
            for (mask, keys) in [(KernelMask.none, 0), (.causal, 0), (.window, 0), (.window, 512)] {
                problems += [AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, alibi: true, tensorMapFriendly: true,
                                              seqlenQ: n, seqlenK: n, windowKeys: keys),
                             AttentionProblem(elementType: .float16, outputType: .float32, headDim: d, mask: mask, alibi: true,
                                              tensorMapFriendly: true, seqlenQ: n, seqlenK: n, windowKeys: keys),
                             AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, alibi: true, varlen: true,
                                              tensorMapFriendly: true, seqlenQ: n, seqlenK: n, windowKeys: keys)]
                if d == 128 {
                    problems.append(AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, softcap: true, alibi: true,
                                                     tensorMapFriendly: true, seqlenQ: n, seqlenK: n, windowKeys: keys))
                }
            }
        }
    }
    return KernelRoutes.forward(problems, architecture: .sm90a)
}

/// ALiBi on the TMA warp-specialised forward: S −= slope · |i + Sk − Sq − j| in the units of S, after the cap, ahead of
/// the mask, in every softmax form.
@Suite("Hopper forward: ALiBi (no GPU)")
struct HopperAlibiTests {
    static let defaultsInForce = !ProcessInfo.processInfo.environment.keys.contains { $0.hasPrefix("FLASH_ATTENTION_HOPPER") }

    @Test func alibiProblemsTakeTheTMAKernel() throws {
        guard Self.defaultsInForce else { return }
        let routes = hopperAlibiRoutes()
        let tma = routes.filter { $0.mainloop == .tmaWarpSpecialized }
        #expect(tma.count >= 10)
        #expect(tma.allSatisfy { $0.alibi && !$0.prescaleScores && $0.invalidReason == nil })
        #expect(Set(tma.map(\.headDim)) == [64, 128])
        #expect(tma.allSatisfy { $0.blockM == 128 && $0.blockN <= ($0.headDim == 64 ? 128 : 64) })
        #expect(routes.filter { $0.headDim > 128 }.allSatisfy { $0.mainloop != .tmaWarpSpecialized })
        // Causal only (unmasked ALiBi measured level or slower on the TMA kernel; windows were not timed).
        #expect(tma.allSatisfy { $0.mask == .causal } && tma.contains { $0.softcap } && tma.contains { $0.varlen })
        #expect(routes.filter { $0.mask != .causal }.allSatisfy { $0.mainloop != .tmaWarpSpecialized })
        // Not without tensor-map-friendly strides, nor beside dropout.
        let strided = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, alibi: true),
                                                      architecture: .sm90a).descriptor
        #expect(strided.mainloop != .tmaWarpSpecialized)
        let dropout = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, alibi: true, dropout: true,
                                                                            tensorMapFriendly: true), architecture: .sm90a).descriptor
        #expect(dropout.mainloop != .tmaWarpSpecialized)
    }

    @Test func alibiSourceBiasesEveryStep() throws {
        var d = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
                                          mask: .causal, mainloop: .tmaWarpSpecialized, persistent: true)
        d.alibi = true
        #expect(d.invalidReason == nil)
        let biased = try HopperForwardKernel(descriptor: d).source
        #expect(biased.contains("* 1.4426950408889634f / scale_log2;  // ALiBi slope in the units of S"))
        #expect(biased.contains("s[nt][2 * r + c] = fmaf(-alibi_s, fabsf(base - (float)(nt * 8 + c)), s[nt][2 * r + c]);"))
        // Ahead of the mask, which runs only on edge steps: the bias runs on every step.
        let bias = try #require(biased.range(of: "fmaf(-alibi_s"))
        let mask = try #require(biased.range(of: "if (n0 + BLOCK_N > full_hi)"))
        #expect(bias.lowerBound < mask.lowerBound)
        d.alibi = false
        #expect(!(try HopperForwardKernel(descriptor: d).source).contains("fmaf(-alibi_s"))
    }

    /// Every ALiBi TMA kernel the routes reach that the forward route grid does not compile: no spill, no stack frame, no
    /// ignored setmaxnreg, no serialised wgmma.
    static let uncompiled: [AttentionKernelDescriptor] = {
        let grid = Set(forwardGridRoutedVariants.map(\.name))
        return hopperAlibiRoutes().filter { $0.mainloop == .tmaWarpSpecialized && !grid.contains($0.name) }
    }()

    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: uncompiled.map { CompileCase(descriptor: $0) })
    func alibiKernelsCompileClean(_ testCase: CompileCase) throws {
        try expectCleanHopperCompile(testCase.descriptor)
    }
}
