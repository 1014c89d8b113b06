/// The wider tile head dim that sm_90a runs a problem with when its own tile (the next multiple
/// of 32, ``KernelHeuristics/tileHeadDim(for:)``) has no Hopper kernel. The TMA forward had
/// tiles 64, 128 and 256 (192 since session 33) and the generic `wgmma` loops take multiples of
/// 64, so unpadded D = 80 / 96 (tile 96), 136–160 and 200–224 ran the A100's `mma.sync` loops on
/// the H100 and D = 161–192 the generic `wgmma` forward. The kernels take any D up to their tile
/// (TMA zero-fills the columns past D, the epilogues store D columns), so a padded tile costs
/// shared memory and copies only: since session 34 the TMA forward's and the Hopper backward's
/// products stop at D rounded up to 16 (``AttentionKernelDescriptor/productHeadDim``).
///
/// Session 33 (H200, bf16, scripts/device/next_s33a.sh … next_s33d.sh: alternating processes,
/// padded ÷ own tile as speed): the TMA forward 1.30–1.81× at tile 96 (D = 80, 96), 1.74–2.32×
/// at 224, 1.35–1.69× at 160 / 192 for 1k queries (padded to 256) and 1.39–2.25× at 4k / 16k
/// (the tile-192 rows, which run from 2k, 1.08–1.44× the padding to 256 there), at tile 32
/// 1.03–1.22× from 2k (at 1k 1.02–1.07× in one round, 0.89–0.96× in the other); the generic
/// forward with options 0.96–1.10× at 96, 1.11× at 160,
/// 1.23–1.26× at 224, but 0.84× at 32; the generic backward 1.13–1.56× at 96, 1.12–1.48× at 224,
/// at 160 1.06–1.07× with varlen or ALiBi but 0.93–0.95× with softcap or dropout, at 32
/// 0.96–1.01×. So the TMA forward pads every tile without a kernel, the generic forward 96 / 160
/// / 224, the backward 96 / 224 and 160 without softcap or dropout.
///
/// `FLASH_ATTENTION_PAD_TILES` replaces the rule for measurements: "0" pads nothing (the routes
/// before), or a list of items "t<tile>" (the TMA forward at 64 / 128 / 256), "h<tile>" (the
/// tile-192 TMA rows first), "f<tile>" (the generic forward), "b<tile>" (the generic backward,
/// whatever its options): "t96,f96,b96".
public enum PaddedTileHeadDim {
    /// Which tiles pad, per loop.
    public struct Rule: Sendable, Equatable {
        public var tma: Set<Int>
        public var forward: Set<Int>
        public var backward: Set<Int>
        /// Backward tiles that pad only without softcap and dropout (measured slower with them).
        public var backwardPlain: Set<Int> = []
        /// Tiles that try the TMA kernel at tile D = 192 first (its rows start at 2k queries).
        public var tma192: Set<Int> = []

        public init(tma: Set<Int>, forward: Set<Int>, backward: Set<Int>, backwardPlain: Set<Int> = [], tma192: Set<Int> = []) {
            (self.tma, self.forward, self.backward, self.backwardPlain, self.tma192) = (tma, forward, backward, backwardPlain, tma192)
        }

        /// The rule a `FLASH_ATTENTION_PAD_TILES` text sets ("0": none; malformed items are skipped).
        public init(parsing text: String) {
            self.init(tma: [], forward: [], backward: [])
            for item in text.split(separator: ",") {
                guard let kind = item.first, let tile = Int(item.dropFirst()), tile % 32 == 0, tile > 0, tile < 256 else { continue }
                switch kind {
                case "t": tma.insert(tile)
                case "f": forward.insert(tile)
                case "b": backward.insert(tile)
                case "h" where tile > 128 && tile <= 192: tma192.insert(tile)
                default: continue
                }
            }
        }
    }

    public static let defaultRule = Rule(tma: [32, 96, 160, 192, 224], forward: [96, 160, 224], backward: [96, 224], backwardPlain: [160],
                                         tma192: [160, 192])

    public static let rule: Rule = FileSystem.environment("FLASH_ATTENTION_PAD_TILES").map(Rule.init(parsing:)) ?? defaultRule

    /// The TMA forward's tiles for `tileD`, in the order to try: the tile-192 kernel (whose rows
    /// start at 2k queries) where the rule runs it, then 64, 128 or 256 where the rule pads to it;
    /// `[tileD]` where neither applies.
    public static func tmaTiles(_ tileD: Int, architecture: GPUArchitecture, vectorized: Bool, rule: Rule = rule) -> [Int] {
        guard architecture.computeCapability == 90, vectorized else { return [tileD] }
        let narrow = rule.tma192.contains(tileD) ? [192] : []
        let padded = rule.tma.contains(tileD) ? [tileD <= 64 ? 64 : tileD <= 128 ? 128 : 256] : []
        let tiles = narrow + padded
        return tiles.isEmpty ? [tileD] : tiles
    }

    /// The generic `wgmma` forward's tile for `tileD` (the next multiple of 64 where the rule pads it).
    public static func forwardTile(_ tileD: Int, architecture: GPUArchitecture, vectorized: Bool, rule: Rule = rule) -> Int {
        guard architecture.computeCapability == 90, vectorized, rule.forward.contains(tileD) else { return tileD }
        return wgmmaTile(tileD)
    }

    /// The generic backward's `wgmma` tile for `tileD` (the next multiple of 64 where the rule pads it).
    public static func backwardTile(_ tileD: Int, problem: BackwardProblem, architecture: GPUArchitecture, rule: Rule = rule) -> Int {
        guard architecture.computeCapability == 90, problem.vectorized else { return tileD }
        let pads = rule.backward.contains(tileD) || rule.backwardPlain.contains(tileD) && !problem.softcap && !problem.dropout
        return pads ? wgmmaTile(tileD) : tileD
    }

    /// The `wgmma` loops' tile for a padded tile D: the next multiple of 64.
    public static func wgmmaTile(_ tileD: Int) -> Int { (tileD + 63) / 64 * 64 }

    /// The head dim the Hopper kernels' products span for a problem's D (session 34: their k loops and N widths step by
    /// 16): D rounded up to 16, which ``AttentionKernelDescriptor/productHeadDim`` and
    /// ``HopperBackwardDescriptor/productHeadDim`` take where it is less than the tile.
    public static func productHeadDim(_ headDim: Int) -> Int { (headDim + 15) / 16 * 16 }

    /// What a plan's reason adds when a tile was padded ("" when it was not).
    static func reason(_ ownTile: Int, _ tile: Int) -> String {
        tile == ownTile ? "" : "; tile D \(ownTile) padded to \(tile)"
    }
}
