import FlashAttentionCUDA
import FlashAttentionCore
import Foundation
import Testing

/// sm_90a runs head dims whose own tile (next multiple of 32) has no wgmma kernel on a padded
/// tile; other architectures and element-wise tensors keep their own.
@Suite("Padded tile head dims on sm_90a")
struct PaddedTileHeadDimTests {
    /// The rule in force is the default one (FLASH_ATTENTION_PAD_TILES and the loops' switches unset).
    static let defaultRuleInForce = getenv("FLASH_ATTENTION_PAD_TILES") == nil && getenv("FLASH_ATTENTION_HOPPER") == nil
        && getenv("FLASH_ATTENTION_WGMMA") == nil && getenv("FLASH_ATTENTION_BWD_WGMMA") == nil

    func forward(_ p: AttentionProblem, _ architecture: GPUArchitecture = .sm90a) throws -> AttentionKernelDescriptor {
        try KernelHeuristics.descriptor(for: p, architecture: architecture).descriptor
    }

    @Test func forwardRoutes() throws {
        guard Self.defaultRuleInForce else { return }
        // Dense friendly tensors: the TMA kernel at 64 / 128 / 256.
        // Tiles 160 and 192 on the tile-192 kernel from 2k queries, padded to 256 below (and at unknown lengths).
        for (d, long, short) in [(24, 64, 64), (32, 64, 64), (80, 128, 128), (96, 128, 128), (136, 192, 256), (160, 192, 256), (192, 192, 256), (224, 256, 256)] {
            for mask in [KernelMask.none, .causal] {
                for (n, tile) in [(4096, long), (2048, long), (1024, short), (0, short)] {
                    let k = try forward(AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, tensorMapFriendly: true, seqlenQ: n, seqlenK: n))
                    #expect(k.mainloop == .tmaWarpSpecialized && k.headDim == tile, "D = \(d) \(mask) N = \(n): \(k.name)")
                    // The products span D rounded up to 16, not the padded tile.
                    let product = (d + 15) / 16 * 16
                    #expect(k.productDim == product && k.productHeadDim == (product < tile ? product : nil), "D = \(d): \(k.name)")
                }
            }
        }
        // Problems the TMA kernel leaves to the wgmma loop (unmasked ALiBi; ALiBi above tile D = 128): the generic wgmma loop
        // at the next multiple of 64, except at tile 32. Causal ALiBi at tile D = 128 runs the TMA kernel (session 35).
        for (d, tile) in [(96, 128), (160, 192), (224, 256)] {
            let k = try forward(AttentionProblem(elementType: .bfloat16, headDim: d, mask: .none, alibi: true, tensorMapFriendly: true))
            #expect(k.mainloop == .wgmma && k.headDim == tile, "D = \(d): \(k.name)")
            let causal = try forward(AttentionProblem(elementType: .bfloat16, headDim: d, mask: .causal, alibi: true, tensorMapFriendly: true))
            #expect(causal.mainloop == (tile == 128 ? .tmaWarpSpecialized : .wgmma) && causal.headDim == tile, "D = \(d): \(causal.name)")
        }
        let small = try forward(AttentionProblem(elementType: .bfloat16, headDim: 32, alibi: true, tensorMapFriendly: true))
        #expect(small.mainloop == .mmaSync && small.headDim == 32)
        // Softcap runs the TMA kernel (session 34), padded as without it.
        let capped = try forward(AttentionProblem(elementType: .bfloat16, headDim: 96, mask: .causal, softcap: true, tensorMapFriendly: true))
        #expect(capped.mainloop == .tmaWarpSpecialized && capped.headDim == 128 && capped.productDim == 96)
        // Dropout (no wgmma forward), element-wise tensors and other architectures keep the own tile.
        #expect(try forward(AttentionProblem(elementType: .bfloat16, headDim: 96, dropout: true, tensorMapFriendly: true)).headDim == 96)
        #expect(try forward(AttentionProblem(elementType: .bfloat16, headDim: 96, vectorized: false)).headDim == 96)
        for architecture in [GPUArchitecture.sm80, .sm86] {
            let k = try forward(AttentionProblem(elementType: .bfloat16, headDim: 96, tensorMapFriendly: true), architecture)
            #expect(k.mainloop == .mmaSync && k.headDim == 96)
        }
        // A tile of its own still narrows its products to D (112 on tile 128); D = 128 keeps the tile's.
        let own = try forward(AttentionProblem(elementType: .bfloat16, headDim: 112, tensorMapFriendly: true, seqlenQ: 4096, seqlenK: 4096))
        #expect(own.productHeadDim == 112 && own.name.contains("_d128n112_"))
        #expect(try forward(AttentionProblem(elementType: .bfloat16, headDim: 128, tensorMapFriendly: true)).productHeadDim == nil)
        // Tiles with kernels of their own are untouched.
        #expect(try forward(AttentionProblem(elementType: .bfloat16, headDim: 112, tensorMapFriendly: true, seqlenQ: 4096, seqlenK: 4096)).headDim == 128)
        #expect(try forward(AttentionProblem(elementType: .bfloat16, headDim: 64, softcap: true)).headDim == 64)
    }

    @Test func backwardRoutes() throws {
        guard Self.defaultRuleInForce else { return }
        func plan(_ d: Int, softcap: Bool = false, varlen: Bool = false, dropout: Bool = false, alibi: Bool = false,
                  _ architecture: GPUArchitecture = .sm90a) throws -> BackwardPlan {
            try BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: d, mask: .causal, softcap: softcap, alibi: alibi,
                                                             dropout: dropout, varlen: varlen), architecture: architecture)
        }
        func tiles(_ p: BackwardPlan) -> Set<Int> { Set((p.keyValue + [p.query]).map(\.headDim)) }
        for (d, tile) in [(96, 128), (224, 256)] {
            for p in [try plan(d, softcap: true), try plan(d, varlen: true), try plan(d, dropout: true)] {
                #expect(tiles(p) == [tile] && p.query.mainloop == .wgmma && p.reason.contains("padded to \(tile)"), "\(p.reason)")
            }
        }
        // Tile 160 pads without softcap and dropout; tile 32 never.
        for (p, tile) in [(try plan(160, varlen: true), 192), (try plan(160, alibi: true), 192), (try plan(160, softcap: true), 160),
                          (try plan(160, dropout: true), 160), (try plan(32, varlen: true), 32), (try plan(32, softcap: true), 32)] {
            #expect(tiles(p) == [tile], "\(p.reason)")
        }
        let strided = try BackwardHeuristics.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 96, softcap: true, vectorized: false), architecture: .sm90a)
        #expect(strided.query.mainloop == .mmaSync && strided.query.headDim == 96)
        let ampere = try plan(96, softcap: true, .sm80)
        #expect(ampere.query.mainloop == .mmaSync && tiles(ampere) == [96])
    }

    @Test func knobParsing() {
        let none = PaddedTileHeadDim.Rule(parsing: "0")
        #expect(none.tma.isEmpty && none.forward.isEmpty && none.backward.isEmpty && none.backwardPlain.isEmpty)
        let rule = PaddedTileHeadDim.Rule(parsing: "t96,f160,b224,h160,x32,t100,t256,t,b-32,h128")
        #expect(rule == PaddedTileHeadDim.Rule(tma: [96], forward: [160], backward: [224], tma192: [160]))
        #expect(PaddedTileHeadDim.tmaTiles(96, architecture: .sm90a, vectorized: true, rule: none) == [96])
        #expect(PaddedTileHeadDim.tmaTiles(96, architecture: .sm80, vectorized: true, rule: rule) == [96])
        #expect(PaddedTileHeadDim.tmaTiles(96, architecture: .sm90a, vectorized: false, rule: rule) == [96])
        #expect(PaddedTileHeadDim.tmaTiles(96, architecture: .sm90a, vectorized: true, rule: rule) == [128])
        #expect(PaddedTileHeadDim.tmaTiles(160, architecture: .sm90a, vectorized: true, rule: rule) == [192])
        #expect(PaddedTileHeadDim.tmaTiles(160, architecture: .sm90a, vectorized: true, rule: PaddedTileHeadDim.defaultRule) == [192, 256])
        #expect(PaddedTileHeadDim.tmaTiles(224, architecture: .sm90a, vectorized: true, rule: PaddedTileHeadDim.defaultRule) == [256])
        #expect(PaddedTileHeadDim.forwardTile(160, architecture: .sm90a, vectorized: true, rule: rule) == 192)
        #expect(PaddedTileHeadDim.wgmmaTile(160) == 192 && PaddedTileHeadDim.wgmmaTile(32) == 64 && PaddedTileHeadDim.wgmmaTile(128) == 128)
    }
}
