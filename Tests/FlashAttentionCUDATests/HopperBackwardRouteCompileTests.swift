import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// Every kernel (preprocess, key/value, conversion) the defaults route a broad grid of problems to: tile D = 64 / 96 / 128 /
/// 192 / 256, unmasked and causal, 256…16k keys with odd lengths between, deterministic or not, 2 / 16 / 2048 ÷ D / 96 kv
/// heads, both types, 16-bit and float32 dK / dV, on an H100's and an H200's L2. The per-feature lists elsewhere compile the
/// routes of the feature they test; this grid catches the defaults none of them reaches (session 31 found the reference grid's
/// own 1k–2k tile D = 64 / 128 kernels among them).
func hopperBackwardGridRoutes() -> [HopperBackwardDescriptor] {
    var kernels: [HopperBackwardDescriptor] = []
    for l2 in [50 << 20, 60 << 20] {
        for D in [64, 96, 128, 192, 256] {
            for mask in [KernelMask.none, .causal] {
                for n in [256, 512, 1000, 1024, 2048, 3000, 4096, 8192, 16384] {
                    for deterministic in [false, true] {
                        for kvHeads in Set([2, 16, 2048 / D, 96]) {
                            for p in typeAndGradientProblems({
                                BackwardProblem(elementType: $0, dkType: $1, dvType: $1, headDim: D, mask: mask,
                                                deterministic: deterministic, seqlenK: n, kvHeads: kvHeads)
                            }) {
                                kernels += hopperBackwardDefaultPlan(p, l2CacheBytes: l2) ?? []
                            }
                        }
                    }
                }
            }
        }
    }
    return kernels
}

/// Every list the other suites compile with the same checks.
var hopperBackwardCompiledVariants: [HopperBackwardDescriptor] {
    hopperBackwardVariants + hopperBackwardDescriptorVariants + hopperBackwardStagedEpilogueVariants + hopperBackwardGroupedVariants
        + hopperBackwardGroupedTile128Variants + hopperBackwardManyHeadsRoutedVariants + hopperBackwardPersistentVariants
        + hopperBackwardPersistentRoutedVariants + hopperBackwardCompiledWideVariants + hopperBackwardWideRoutedVariants
        + hopperBackwardFastPassVariants + hopperBackwardPingPongVariants + hopperBackwardStatsVariants
        + hopperBackwardDependentConvertVariants + hopperBackwardDependentStatsVariants + hopperBackwardTimelineVariants
        + hopperBackwardShortRoutedVariants + hopperBackwardTailSplitVariants
}

/// The grid's routed kernels that no other list compiles, one each.
let hopperBackwardGridRoutedVariants: [HopperBackwardDescriptor] = hopperBackwardUncompiled(
    hopperBackwardGridRoutes(), besides: hopperBackwardCompiledVariants)

@Suite("Hopper backward default routes (no GPU)")
struct HopperBackwardRouteCompileTests {
    /// The grid reaches all three passes and every tile width, so the compile list below is drawn from the real routes.
    @Test func gridReachesEveryPass() {
        let routes = hopperBackwardGridRoutes()
        for pass in [HopperBackwardPass.preprocess, .keyValue, .convertDQ] {
            #expect(routes.contains { $0.pass == pass }, "\(pass)")
        }
        for D in [64, 128, 256] {
            #expect(routes.contains { $0.pass == .keyValue && $0.headDim == D }, "tile D = \(D)")
        }
        #expect(routes.allSatisfy { $0.invalidReason == nil })
        #expect(Set(routes.map(\.name)).count >= 60)
    }

    /// The routed kernels no other list compiles: for sm_90a with NVRTC, no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardGridRoutedVariants.map { HopperBackwardCase(descriptor: $0) })
    func gridRoutedVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}
