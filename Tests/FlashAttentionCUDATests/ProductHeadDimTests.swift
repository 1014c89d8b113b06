import FlashAttentionCUDA
import FlashAttentionCore
import Foundation
import Testing

/// Every (problem, key/value kernel) the Hopper backward's defaults route a head dim short of its tile to, whose products
/// stop at D rounded up to 16 (session 34): D = 32 / 48 / 80 / 96 / 112, unmasked and causal, 1k…16k keys, deterministic or
/// not, both types, float32 dK / dV, on an H200-class L2 (the persistent grid) and an H100's.
func hopperBackwardNarrowedRoutes() -> [(BackwardProblem, HopperBackwardDescriptor)] {
    var problems: [BackwardProblem] = []
    for D in [32, 48, 80, 96, 112] {
        for mask in [KernelMask.none, .causal] {
            for n in [1024, 4096, 16384] {
                for deterministic in [true, false] {
                    problems += typeAndGradientProblems {
                        BackwardProblem(elementType: $0, dkType: $1, dvType: $1, headDim: D, mask: mask, deterministic: deterministic,
                                        seqlenK: n, kvHeads: 16)
                    }
                }
            }
        }
    }
    return [60 << 20, 50 << 20].flatMap { hopperBackwardDefaultRoutes(problems, l2CacheBytes: $0) }
}

/// The narrowed key/value kernels those routes reach, one each.
let hopperBackwardNarrowedRoutedVariants: [HopperBackwardDescriptor] = hopperBackwardUncompiled(
    hopperBackwardNarrowedRoutes().map(\.1), besides: [])

/// The TMA forward and the Hopper backward multiply only D rounded up to 16 of a tile's columns (`productHeadDim`): a padded
/// tile's zero columns cost no tensor work.
@Suite("Products over the problem's head dim (no GPU)")
struct ProductHeadDimTests {
    /// The forward's and the backward's knobs are unset (the default routes).
    static let defaultsInForce = getenv("FLASH_ATTENTION_HOPPER_PRODUCTS") == nil && getenv("FLASH_ATTENTION_HOPPER_BWD_PRODUCTS") == nil
        && PaddedTileHeadDimTests.defaultRuleInForce

    @Test func forwardSourceNarrowsItsProducts() throws {
        var d = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
                                          mask: .causal, mainloop: .tmaWarpSpecialized, persistent: true, dynamicScheduler: true)
        #expect(d.invalidReason == nil)
        let full = try HopperForwardKernel(descriptor: d).source
        d.productHeadDim = 80
        let narrow = try HopperForwardKernel(descriptor: d).source
        #expect(d.name.contains("_d128n80_") && d.invalidReason == nil)
        // P·V's products (S = Q·Kᵀ is m64n128 for its 128 keys either way).
        #expect(!full.contains("m64n80k16") && narrow.contains("m64n80k16"))
        #expect(narrow.components(separatedBy: "m64n128k16").count < full.components(separatedBy: "m64n128k16").count)
        #expect(narrow.contains("constexpr int PRODUCT_DIM = 80;") && narrow.contains("constexpr int HEAD_DIM = 128;"))
        for bad in [72, 144, 0] {
            d.productHeadDim = bad
            #expect(d.invalidReason != nil, "\(bad)")
        }
        // The stream-K merge walks O in 32-column groups.
        var tail = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
                                             mainloop: .tmaWarpSpecialized, persistent: true)
        tail.streamKTail = true
        tail.productHeadDim = 224
        #expect(tail.invalidReason == nil)
        tail.productHeadDim = 208
        #expect(tail.invalidReason != nil)
        // Only the TMA loop takes it.
        var generic = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 64, blockN: 128, warps: 4,
                                                mainloop: .wgmma)
        generic.productHeadDim = 96
        #expect(generic.invalidReason != nil)
    }

    @Test func backwardSourceNarrowsItsProducts() throws {
        let problem = BackwardProblem(elementType: .bfloat16, headDim: 96, mask: .causal, deterministic: false, seqlenK: 4096, kvHeads: 16)
        let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, fastPasses: true, l2CacheBytes: 50 << 20))
        let kv = plan[1]
        #expect(kv.headDim == 128 && kv.productHeadDim == 96 && kv.name.contains("_d128n96_"))
        #expect(plan[0].productHeadDim == nil && plan[2].productHeadDim == nil)
        let source = try HopperBackwardKernel(descriptor: kv).source
        #expect(source.contains("m64n96k16") && source.contains("constexpr int PRODUCT_DIM = 96;"))
        // dQ keeps its 64-column halves of the tile.
        #expect(source.contains("m64n64k16"))
        let off = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: HopperBackwardSettings(products: "0"),
                                                                     fastPasses: true, l2CacheBytes: 50 << 20))
        #expect(off[1].productHeadDim == nil)
        // D a multiple of its tile keeps the tile's, and so does tile D = 256 (the wide kernel: Sᵀ and dPᵀ narrowed alone
        // measured 0.97–1.06× at D = 160 / 192 / 224 and 0.80× at causal D = 160 16k, session 34).
        for d in [128, 160, 192, 224, 256] {
            let p = BackwardProblem(elementType: .bfloat16, headDim: d, mask: .causal, seqlenK: 4096)
            let kernels = try #require(HopperBackwardDescriptor.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: 50 << 20))
            #expect(kernels[1].productHeadDim == nil, "D = \(d)")
        }
        var wide = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1)
        wide.productHeadDim = 224
        #expect(wide.invalidReason != nil)
    }

    @Test func routesNarrowWhereDFallsShortOfTheTile() throws {
        guard Self.defaultsInForce else { return }
        let routes = hopperBackwardNarrowedRoutes()
        #expect(!routes.isEmpty)
        for (p, kv) in routes {
            let product = (p.headDim + 15) / 16 * 16
            #expect(kv.productDim == product && kv.productHeadDim == (product < kv.headDim ? product : nil), "D = \(p.headDim): \(kv.name)")
        }
    }

    /// The narrowed key/value kernels the routes reach: for sm_90a with NVRTC, no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardNarrowedRoutedVariants.filter { $0.productHeadDim != nil }.map { HopperBackwardCase(descriptor: $0) })
    func narrowedBackwardCompilesClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}
