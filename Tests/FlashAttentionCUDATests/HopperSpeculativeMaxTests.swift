@testable import FlashAttentionCUDA
import FlashAttentionCore
import Testing
#if canImport(Glibc)
import Glibc  // getenv
#endif

/// The speculative row maximum of the Hopper forward (``AttentionKernelDescriptor/speculativeMax``, suffix `sx`,
/// `FLASH_ATTENTION_HOPPER_RESCALE=spec`; session 18): the shipped step order's kernels with their loop steps' softmax
/// against the kept maxima, a warpgroup vote on the step sums, and the redo through S issued again.
@Suite("Hopper forward: speculative maximum")
struct HopperSpeculativeMaxTests {
    /// The default route of a grid point (bf16, Sq = Sk = n) with the speculative maximum on in place of the lazy and
    /// skipped rescales, or nil where its step order cannot take it.
    static func speculative(_ D: Int, _ mask: KernelMask, _ n: Int, _ type: ElementType = .bfloat16) throws -> AttentionKernelDescriptor? {
        var d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, headDim: D, mask: mask, tensorMapFriendly: true,
                                                                      seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
        guard d.mainloop == .tmaWarpSpecialized else { return nil }
        (d.speculativeMax, d.lazyRescale, d.skipUnchangedRescale) = (true, false, false)
        return d.invalidReason == nil ? d : nil
    }

    /// The grid points' kernels that take it (one per name), every step order the shipped loop serves: unmasked and causal
    /// D = 64 on three warpgroups, D = 128 on 128- and 176-key steps; both types.
    static let cases: [AttentionKernelDescriptor] = {
        var seen = Set<String>(), list: [AttentionKernelDescriptor] = []
        for type in [ElementType.bfloat16, .float16] {
            for D in [64, 128, 256] {
                for mask in [KernelMask.none, .causal] {
                    for n in [512, 1024, 2048, 4096, 8192, 16384] {
                        guard let d = try? speculative(D, mask, n, type), seen.insert(d.name).inserted else { continue }
                        list.append(d)
                    }
                }
            }
        }
        return list
    }()

    @Test func shapes() throws {
        let d = try #require(try Self.speculative(128, .none, 8192))
        #expect(d.name.hasSuffix("sx_sm_90a") && !d.lazyRescale, "\(d.name)")
        let source = try AttentionKernel(descriptor: d).source
        #expect(source.contains("bar.red.or.pred q, %2, 128, p;"))
        #expect(source.contains("auto softmax_spec = [&](int n0) -> bool {"))
        #expect(source.contains("ask |= !(sum <= 256.0f);"))
        #expect(source.contains("sx_redo = warpgroup_any(wg, softmax_spec((n_blocks - 1 - it) * BLOCK_N));"))
        #expect(source.contains("if (sx_redo) rescale_o();"))
        // Under a causal mask the step after the diagonal block takes the exact softmax (CAUSAL is a constant of the kernel).
        #expect(source.contains("if (CAUSAL && it == 1) {") && source.contains("constexpr bool CAUSAL = false;"))
        #expect(!source.contains("__any_sync") && !source.contains("lazy_max"))
        // The K stage goes back after the vote (the redo reads it again).
        let vote = try #require(source.range(of: "sx_redo = warpgroup_any(")), release = try #require(source.range(of: "mbar_arrive(bar_k_free + 8 * stage);", range: vote.upperBound..<source.endIndex))
        #expect(vote.upperBound < release.lowerBound)
        var plain = d
        plain.speculativeMax = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(!plainSource.contains("softmax_spec") && !plainSource.contains("BAR_SPEC") && !plainSource.contains("sx_"))
        // Refused beside the split softmax orders, vt, tr / pr, exp2 emulation, lr / rs and off the TMA loop.
        for change in [{ (x: inout AttentionKernelDescriptor) in x.lazyRescale = true }, { $0.skipUnchangedRescale = true }, { $0.treeRowReductions = true },
                       { $0.packedRowSum = true }, { $0.emulatedExp2Every = 4 }, { $0.separateValueTurn = true },
                       { $0.exponentialTurn = true }] {
            var refused = d
            change(&refused)
            #expect(refused.invalidReason != nil, "\(refused.name)")
        }
        // The default (defaultSpeculativeMax) with the knob unset: every tile D = 64 / 128 row whose kernel can take it, but
        // causal ones only past 512 keys (unmasked tile D = 64 from the first key since session 26); the split-softmax rows
        // (causal D = 128 1k, causal D = 64 512 / 1k) keep theirs; tile D = 256 unmasked only (past 1k keys in session 19,
        // every length since session 27). (Session 19 moved causal D = 128 2k off `xo` and gave unmasked D = 64 1k the
        // precomputed descriptors, so both take it.)
        if getenv("FLASH_ATTENTION_HOPPER_RESCALE") == nil && getenv("FLASH_ATTENTION_HOPPER_TILES") == nil {
            for D in [64, 128, 256] {
                for mask in [KernelMask.none, .causal] {
                    for n in [512, 1024, 2048, 4096, 8192, 16384] {
                        let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: D, mask: mask,
                                                                                           tensorMapFriendly: true, seqlenQ: n, seqlenK: n),
                                                                     architecture: .sm90a).descriptor
                        var forced = routed
                        (forced.speculativeMax, forced.lazyRescale, forced.skipUnchangedRescale) = (true, false, false)
                        let rule = D == 256 ? mask == .none : n > 512 || mask == .none
                        #expect(routed.speculativeMax == (rule && forced.invalidReason == nil), "\(routed.name)")
                        if routed.speculativeMax { #expect(!routed.lazyRescale && routed.name.replacingOccurrences(of: "_sk_sm_90a", with: "_sm_90a").hasSuffix("sx_sm_90a"), "\(routed.name)") }
                    }
                }
            }
            let rule = KernelHeuristics.defaultSpeculativeMax
            #expect(rule(64, false, 513) && rule(64, true, 513) && rule(128, false, 512) && rule(128, false, 1) && rule(128, true, 513)
                    && rule(64, true, 16384) && rule(128, true, 16384) && rule(256, false, 1025) && rule(256, false, 16384)
                    && rule(64, false, 512) && rule(64, false, 1) && rule(256, false, 1024) && rule(256, false, 512) && rule(256, false, 1))
            #expect(!rule(64, true, 512) && !rule(128, true, 512) && !rule(256, true, 16384) && !rule(256, true, 1024))
            #expect(try Self.speculative(128, .none, 8192).map { $0.name } == KernelHeuristics.descriptor(
                for: AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .none, tensorMapFriendly: true, seqlenQ: 8192, seqlenK: 8192),
                architecture: .sm90a).descriptor.name)
        }
        // The step orders it serves on the grid: D = 64 three warpgroups and D = 128 176-key steps, both masks; tile D = 256 on the
        // unmasked 80-key rows with xd + er (session 19), not the causal 128-key rows (`vt`).
        #expect(Self.cases.contains { $0.headDim == 64 && $0.consumerWarpgroups == 3 && $0.mask == .causal })
        #expect(Self.cases.contains { $0.headDim == 64 && $0.consumerWarpgroups == 3 && $0.mask == .none })
        #expect(Self.cases.contains { $0.headDim == 128 && $0.blockN == 176 && $0.mask == .causal })
        #expect(Self.cases.contains { $0.headDim == 128 && $0.blockN == 176 && $0.mask == .none })
        #expect(Self.cases.contains { $0.headDim == 256 && $0.blockN == 80 && $0.mask == .none && $0.precomputedDescriptors && $0.earlyRescale })
        #expect(!Self.cases.contains { $0.headDim == 256 && ($0.separateValueTurn || !$0.precomputedDescriptors || !$0.earlyRescale) })
        // Those re-derive the tile counts at each use (ptxas spilled them at the 240-register budget); the others keep them.
        for d in Self.cases {
            let source = try AttentionKernel(descriptor: d).source
            #expect(source.contains("#define m_blocks ((opaque_s32(p.seqlen_q)") == (d.headDim == 256), "\(d.name)")
            #expect(source.contains("const int m_blocks = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M;") == (d.headDim != 256), "\(d.name)")
        }
    }

    /// Every such kernel compiles for sm_90a with no spill, no stack frame and no serialised wgmma (the redo's S issue
    /// sits under a branch that ptxas must see as warp-uniform).
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: cases.map { HopperCase(descriptor: $0) })
    func compilesWithoutSpills(_ testCase: HopperCase) throws {
        try expectCleanHopperCompile(testCase.descriptor)
    }
}
