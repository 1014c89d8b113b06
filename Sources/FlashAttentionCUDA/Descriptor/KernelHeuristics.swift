import FlashAttentionCore

/// What a forward call asks for, before any performance decision.
public struct AttentionProblem: Sendable, Hashable {
    public var elementType: ElementType
    public var outputType: ElementType
    /// The problem's D (1…256).
    public var headDim: Int
    public var mask: KernelMask
    public var softcap: Bool
    public var alibi: Bool
    public var dropout: Bool
    public var varlen: Bool
    public var writeLSE: Bool
    /// The softmax scale is ≤ 0, so scores must be scaled before the row max.
    public var nonPositiveScale: Bool
    /// Every tensor has unit head-dim stride, 16-byte-aligned rows and D % 8 == 0.
    public var vectorized: Bool
    /// q, k and v can be read by TMA tensor maps: unit head-dim stride, every other stride a
    /// positive multiple of 16 bytes, 16-byte-aligned bases (set by the backend).
    public var tensorMapFriendly: Bool
    /// Query rows per sequence (the longest, for varlen); 0 when unknown. Only the choice
    /// between two correct kernels reads it.
    public var seqlenQ: Int
    /// Keys per sequence (the longest, for varlen); 0 when unknown. Only the choice between two
    /// correct kernels reads it.
    public var seqlenK: Int
    /// Keys a row's sliding window spans (left + right + 1) when both its edges are bounded (a causal window's right
    /// edge is 0); 0 otherwise or when unknown. Only the choice between two correct kernels reads it.
    public var windowKeys: Int

    public init(
        elementType: ElementType, outputType: ElementType? = nil, headDim: Int, mask: KernelMask = .none,
        softcap: Bool = false, alibi: Bool = false, dropout: Bool = false, varlen: Bool = false,
        writeLSE: Bool = true, nonPositiveScale: Bool = false, vectorized: Bool = true, tensorMapFriendly: Bool = false,
        seqlenQ: Int = 0, seqlenK: Int = 0, windowKeys: Int = 0
    ) {
        self.elementType = elementType
        self.outputType = outputType ?? elementType
        self.headDim = headDim
        self.mask = mask
        self.softcap = softcap
        self.alibi = alibi
        self.dropout = dropout
        self.varlen = varlen
        self.writeLSE = writeLSE
        self.nonPositiveScale = nonPositiveScale
        self.vectorized = vectorized
        self.tensorMapFriendly = tensorMapFriendly
        self.seqlenQ = seqlenQ
        self.seqlenK = seqlenK
        self.windowKeys = windowKeys
    }
}

/// Problem → kernel descriptor: every performance decision of the CUDA backend, as a table.
///
/// Tiles follow FlashAttention-2's forward choices on the same `mma.sync` instructions (a
/// 4-warp, 128-row block up to D = 128; 8 warps above, where the O accumulator alone would
/// overflow 4 warps' registers), adjusted to shared memory: 8.6/8.9 allow 99 KB per block, so
/// large D there uses 64-row blocks. Measurements that moved a choice are in the `reason`.
public enum KernelHeuristics {
    /// One row of the table: a tile shape for head dims up to `maxHeadDim`.
    public struct TileChoice: Sendable, Hashable {
        public var maxHeadDim: Int
        public var blockM: Int
        public var blockN: Int
        public var warps: Int
        public var minBlocks: Int
        /// blockM, blockN and warps used instead when dropout is on: its 64-bit hash needs
        /// registers that the 2-row-tile-per-warp shapes do not have.
        public var dropoutBlockM: Int
        public var dropoutBlockN: Int
        public var dropoutWarps: Int
        public var reason: String
    }

    /// For sm_80 and sm_90 (164 KB / 227 KB of shared memory per block).
    public static let largeSharedMemory: [TileChoice] = [
        TileChoice(maxHeadDim: 32, blockM: 128, blockN: 128, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4,
                   reason: "small O accumulator: wide key step amortises the softmax"),
        TileChoice(maxHeadDim: 64, blockM: 128, blockN: 128, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4,
                   reason: "FA2's choice for D=64: S (128 regs) + O (64 regs) fit 255"),
        TileChoice(maxHeadDim: 96, blockM: 128, blockN: 64, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4,
                   reason: "O grows to 96 regs/thread: halve the key step"),
        TileChoice(maxHeadDim: 128, blockM: 128, blockN: 64, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4,
                   reason: "FA2's choice for D=128: O 128 + S 64 regs; each K/V fragment feeds 2 row tiles"),
        TileChoice(maxHeadDim: 160, blockM: 128, blockN: 64, warps: 8, minBlocks: 1, dropoutBlockM: 128, dropoutBlockN: 32, dropoutWarps: 8,
                   reason: "8 warps × 16 rows keeps O at 80 regs/thread"),
        TileChoice(maxHeadDim: 192, blockM: 128, blockN: 64, warps: 8, minBlocks: 1, dropoutBlockM: 128, dropoutBlockN: 32, dropoutWarps: 8,
                   reason: "8 warps × 16 rows keeps O at 96 regs/thread"),
        TileChoice(maxHeadDim: 224, blockM: 128, blockN: 64, warps: 8, minBlocks: 1, dropoutBlockM: 128, dropoutBlockN: 32, dropoutWarps: 8,
                   reason: "8 warps × 16 rows keeps O at 112 regs/thread; 116 KB shared"),
        TileChoice(maxHeadDim: 256, blockM: 128, blockN: 64, warps: 8, minBlocks: 1, dropoutBlockM: 128, dropoutBlockN: 32, dropoutWarps: 8,
                   reason: "FA2's choice for D=256 on A100/H100: O 128 regs/thread; 132 KB shared"),
    ]

    /// For sm_86 and sm_89 (99 KB of shared memory per block).
    public static let smallSharedMemory: [TileChoice] = [
        TileChoice(maxHeadDim: 32, blockM: 128, blockN: 128, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4, reason: "as on sm_80"),
        TileChoice(maxHeadDim: 64, blockM: 128, blockN: 128, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4, reason: "as on sm_80; 54 KB shared"),
        TileChoice(maxHeadDim: 96, blockM: 128, blockN: 64, warps: 4, minBlocks: 2, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4, reason: "as on sm_80; 52 KB shared"),
        TileChoice(maxHeadDim: 128, blockM: 128, blockN: 64, warps: 4, minBlocks: 1, dropoutBlockM: 64, dropoutBlockN: 64, dropoutWarps: 4, reason: "68 KB shared: one block per SM"),
        TileChoice(maxHeadDim: 160, blockM: 64, blockN: 64, warps: 4, minBlocks: 1, dropoutBlockM: 64, dropoutBlockN: 32, dropoutWarps: 4, reason: "64-row blocks to fit 99 KB"),
        TileChoice(maxHeadDim: 192, blockM: 64, blockN: 64, warps: 4, minBlocks: 1, dropoutBlockM: 64, dropoutBlockN: 32, dropoutWarps: 4, reason: "64-row blocks to fit 99 KB"),
        TileChoice(maxHeadDim: 224, blockM: 64, blockN: 64, warps: 4, minBlocks: 1, dropoutBlockM: 64, dropoutBlockN: 32, dropoutWarps: 4, reason: "64-row blocks to fit 99 KB"),
        TileChoice(maxHeadDim: 256, blockM: 64, blockN: 64, warps: 4, minBlocks: 1, dropoutBlockM: 64, dropoutBlockN: 32, dropoutWarps: 4, reason: "64-row blocks: exactly 99 KB"),
    ]

    public static func table(for architecture: GPUArchitecture) -> [TileChoice] {
        architecture.maxSharedMemoryPerBlock >= 160_000 ? largeSharedMemory : smallSharedMemory
    }

    /// The tiles' head dim for a problem's D: the next multiple of 32, FA2's padding (fewer
    /// variants to compile and cache; D = 80 pays 20% extra MMA work).
    public static func tileHeadDim(for headDim: Int) -> Int { max(32, (headDim + 31) / 32 * 32) }

    /// The descriptor for a problem, with the reason for its tile shape.
    public static func descriptor(for problem: AttentionProblem, architecture: GPUArchitecture) throws -> (descriptor: AttentionKernelDescriptor, reason: String) {
        guard problem.headDim >= 1, problem.headDim <= 256 else {
            throw FlashAttentionError.unsupported("head dim \(problem.headDim) on CUDA (1...256)")
        }
        let tileD = tileHeadDim(for: problem.headDim)
        guard var choice = table(for: architecture).first(where: { $0.maxHeadDim >= tileD }) else {
            throw FlashAttentionError.unsupported("head dim \(problem.headDim) on \(architecture)")
        }
        // sm_90a pads the tiles it has no wgmma kernel for (PaddedTileHeadDim).
        for tmaD in PaddedTileHeadDim.tmaTiles(tileD, architecture: architecture, vectorized: problem.vectorized) {
            if let hopper = hopperDescriptor(tileHeadDim: tmaD, problem: problem, architecture: architecture) {
                return (hopper.0, hopper.1 + PaddedTileHeadDim.reason(tileD, tmaD))
            }
        }
        let wgmmaD = PaddedTileHeadDim.forwardTile(tileD, architecture: architecture, vectorized: problem.vectorized)
        if useWGMMA(tileHeadDim: wgmmaD, problem: problem, architecture: architecture) {
            let padding = PaddedTileHeadDim.reason(tileD, wgmmaD)
            let tileD = wgmmaD
            // One warpgroup (64 rows) per block up to D = 128, two from D = 192 (the loader needs
            // 8 rows per thread step). H100 bf16 sweep, N = 512 / 2k / 16k, non-causal:
            //   D=64:  64×64 278/348/354, 64×128 237/322/367, 128×64 255/323/364, 128×128 200/273/312
            //   D=128: 64×128 335/447/457, 128×128 291/387/428, 128×64 246/339/379
            //   D=256: 128×64 323/452/510, 128×32 253/341/382
            var (blockM, blockN) = tileD == 64 ? (64, 64) : tileD == 128 ? (64, 128) : (128, 64)
            if let override = tileOverride(headDim: tileD) { (blockM, blockN) = (override.0, override.1) }
            let d = AttentionKernelDescriptor(
                architecture: architecture, elementType: problem.elementType, outputType: problem.outputType,
                headDim: tileD, blockM: blockM, blockN: blockN, warps: blockM / 16, minBlocksPerMultiprocessor: 1, mask: problem.mask,
                softcap: problem.softcap, alibi: problem.alibi, dropout: false, varlen: problem.varlen,
                writeLSE: problem.writeLSE, prescaleScores: problem.softcap || problem.alibi || problem.nonPositiveScale,
                vectorized: true, earlyKPrefetch: true, mainloop: .wgmma)
            return (d, "sm_90a wgmma: on the H100 faster than the mma.sync loop at every grid point (see the sweep above)" + padding)
        }
        if problem.dropout {
            (choice.blockM, choice.blockN, choice.warps) = (choice.dropoutBlockM, choice.dropoutBlockN, choice.dropoutWarps)
        }
        if let step = optionKeyStep(choice, problem) {
            choice.blockN = step
            choice.reason += "; key step halved: with its options the \(choice.maxHeadDim) row's kernel spills past 255 registers"
        }
        if let override = tileOverride(headDim: tileD) {
            (choice.blockM, choice.blockN, choice.warps, choice.minBlocks) = override
            choice.reason = "FLASH_ATTENTION_TILES override"
        }
        let descriptor = AttentionKernelDescriptor(
            architecture: architecture, elementType: problem.elementType, outputType: problem.outputType,
            headDim: tileD, blockM: choice.blockM, blockN: choice.blockN, warps: choice.warps,
            minBlocksPerMultiprocessor: choice.minBlocks, mask: problem.mask,
            softcap: problem.softcap, alibi: problem.alibi, dropout: problem.dropout, varlen: problem.varlen,
            writeLSE: problem.writeLSE,
            prescaleScores: problem.softcap || problem.alibi || problem.nonPositiveScale,
            vectorized: problem.vectorized,
            // H100, bf16: issuing the next K before the softmax took D=256 from 274-289 to
            // 288-307 TFLOP/s (N=2k-16k), D=64 +1-3% (noise), D=128 -3%. Both it and the staged
            // epilogue push the 4-warp, 2-row-tile kernels (D ≤ 128) over 255 registers into
            // spills, so only the 8-warp shapes (D > 128), which have room, take them.
            earlyKPrefetch: choice.warps == 8 && tileD > 128,
            stagedEpilogue: choice.warps == 8 && tileD > 128)
        return (descriptor, choice.reason)
    }

    /// The key step for the `mma.sync` tiles (`choice` after the dropout shapes are applied) that run out of registers with a
    /// problem's options (nil: the tile's own). Session 31 compiled every option set of the rows for sm_80 and sm_86 with
    /// NVRTC 13.5 (CI's) and 13.0 (the device's): the 128 × 128 tile at D ≤ 64 spilled 4–148 bytes a thread with softcap, ALiBi
    /// or varlen (19 of 44 spill instructions inside the key loop for softcap alone), the 128 × 64 tile at D ≤ 128 4–56 bytes
    /// with ALiBi, or softcap beside varlen or a window; sm_86's 64 × 64 tile at D = 256 8–16 bytes with softcap beside varlen
    /// (13.0 only) and its 64 × 32 dropout tile at D = 224 / 256 8–80 bytes with every option on strided (scalar) tensors.
    /// With half the key step (S in half the registers) every set compiles clean under both. Plain problems and softcap alone
    /// at D ≤ 128 keep FA2's shapes (13.0 spills 12 bytes in sm_80's plain causal D = 64 kernel, 13.5 none).
    static func optionKeyStep(_ choice: TileChoice, _ problem: AttentionProblem) -> Int? {
        guard choice.warps == 4 else { return nil }
        switch (choice.maxHeadDim, choice.blockM, choice.blockN) {
        case (64, 128, 128) where problem.softcap || problem.alibi || problem.varlen:
            return 64
        case (128, 128, 64) where problem.alibi || problem.softcap && (problem.varlen || problem.mask == .window):
            return 32
        case (256, 64, 64) where problem.softcap && problem.varlen:
            return 32
        case (224, 64, 32), (256, 64, 32):
            return problem.dropout && !problem.vectorized && (problem.softcap || problem.alibi || problem.varlen) ? 16 : nil
        default:
            return nil
        }
    }

    /// Whether the Hopper `wgmma` main loop runs a problem: on sm_90a, for tile head dims 64,
    /// 128, 192 and 256 with 16-byte-aligned tensors and no dropout (the others keep the
    /// `mma.sync` loop). `FLASH_ATTENTION_WGMMA=0` turns the path off.
    static func useWGMMA(tileHeadDim tileD: Int, problem: AttentionProblem, architecture: GPUArchitecture) -> Bool {
        guard architecture.computeCapability == 90, tileD % 64 == 0, problem.vectorized, !problem.dropout else { return false }
        return FileSystem.environment("FLASH_ATTENTION_WGMMA") != "0"
    }

    /// One row of the Hopper TMA table: keys per step, pipeline stages, persistent grid.
    public struct HopperChoice: Sendable, Hashable {
        public var headDim: Int
        public var causal: Bool
        /// The row applies to problems with at least this many query rows (0: any, also an
        /// unknown length); the first matching row wins, so longer-sequence rows come first.
        public var minSeqlenQ: Int = 0
        public var blockN: Int
        public var stages: Int
        public var persistent: Bool
        /// The persistent grid takes tiles from a device counter, heaviest first (causal balance).
        public var dynamicScheduler: Bool = false
        /// Q buffers (2: the next tile's Q loads while this tile's last key steps run; persistent only).
        public var qStages: Int = 1
        /// Every this many n8 tiles of S exponentiate on the FMA pipe instead of the MUFU (0: never).
        public var exp2Every: Int = 0
        /// The last P·V and epilogue of a tile run under the next tile's first S (persistent only).
        public var overlapEpilogue: Bool = false
        /// O leaves through shared memory and a bulk tensor store. A row that sets it applies only
        /// to outputs of the input's 16-bit type (the next row takes the others);
        /// `FLASH_ATTENTION_HOPPER_STORE=0` skips such rows, `=1` sets it on every row where the
        /// staging tile fits.
        public var tmaStoreO: Bool = false
        /// Consumer warpgroups (3: 192-row tiles, D = 64 with at most 128-key steps).
        /// `FLASH_ATTENTION_HOPPER_WG=3` sets it on every D = 64 row (capping its key steps at 128;
        /// two Q buffers beside the dynamic scheduler take late tile addresses, or one Q buffer with
        /// `FLASH_ATTENTION_HOPPER_LATE=0`), `=2` skips the rows that set it.
        public var consumerWarpgroups: Int = 2
        /// With ``tmaStoreO``: O is staged in the tile's Q buffer (D = 256, where no staging tile of
        /// its own fits; dense tensors — varlen problems take the same row without the store).
        public var stageOInQueryBuffer: Bool = false
        /// With the dynamic scheduler: the consumers hold no tile addresses through the main loop
        /// (``AttentionKernelDescriptor/lateTileAddresses``), which takes 176-key steps at D = 128
        /// from 8 B of spill to 0. A row that sets it skips varlen problems (no oracle case ran
        /// such a kernel on a GPU). `FLASH_ATTENTION_HOPPER_LATE=1` sets it on every dynamic row,
        /// `=128` (a list of tile head dims) on those dims' (not where O is staged in the Q buffer),
        /// `=0` skips the rows that set it; a `FLASH_ATTENTION_HOPPER_TILES` override clears it.
        public var lateTileAddresses: Bool = false
        /// Causal problems with at most this many query rows keep the wgmma loop (0: none).
        public var maxSeqlenForWGMMA: Int
        /// False for a row whose kernel has been timed but not yet checked against the oracle
        /// on a GPU: the heuristics skip it unless `FLASH_ATTENTION_HOPPER=1`.
        public var checkedOnGPU: Bool
        public var reason: String
    }

    /// The TMA warp-specialised kernel's shapes on sm_90a (keys × stages, p = persistent, d =
    /// persistent with the dynamic tile scheduler). H100, TFLOP/s at N = 512 / 2k / 16k.
    ///
    /// Session 1 (scripts/device/hopper_final.sh, bf16), settings 128×2, 128×2p, 128×3p / 176×2p,
    /// 192×2p / 128×3p, 64×4p / 176×2 (D 64 / D 128):
    ///   D=64:   294/429/460, 332/425/462, 336/420/452, 318/429/472, 298/374/414
    ///   D=64c:  181/342/462, 156/312/410, 156/314/413, 152/311/444, 136/258/356
    ///   D=128:  413/617/675, 443/623/636, 438/627/684, 438/622/652, 402/613/674
    ///   D=128c: 254/485/599, 196/440/411, 206/449/410, 199/429/405, 228/466/629
    /// The static persistent order lost causal grids 10–30%: its fixed stride cannot balance
    /// tiles of unequal length.
    ///
    /// Session 2 (scripts/device/hopper_sched.sh, bf16, same call for every row):
    ///   D=64:   128×2p 335/425/453, 128×2d 310/415/449, 192×2p 318/429/479
    ///   D=64c:  128×2 181/342/477, 128×2d 194/346/442, 192×2d 177/353/483
    ///   D=128:  176×2p 435/622/701, 176×2d 430/621/672, 128×2d 437/613/655
    ///   D=128c: 128×2 253/480/593, 128×2d 261/522/606, 128×3d 254/515/586
    ///   D=256:  80×2p 434/682/798, 80×2 427/657/759, 64×2p 433/640/691
    ///   D=256c: 80×2 255/493/630, 80×2p 191/470/390, 64×2d 255/539/640
    /// The dynamic scheduler (a device counter hands out tiles, heaviest first within
    /// L2-sized sections of heads) gives causal grids the persistent overlap without the
    /// imbalance: D = 128 causal 1.00–1.09× the one-block-per-tile grid at all 12 grid points.
    /// Interleaved A/B in the second call (scripts/device/hopper_confirm.sh; each setting twice,
    /// bf16 means at N = 2k/4k/8k/16k): D=64 192×2p 438/464/453/467 vs 128×2p 430/450/446/431;
    /// D=64c 192×2d 358/429/435/479 vs 128×2 345/401/430/459 vs 128×2d 350/392/412/431.
    ///
    /// Session 3 (scripts/device/hopper_q2.sh, bf16, two interleaved rounds, r1/r2): two Q buffers
    /// (`q`: the next tile's Q loads under this tile's last key steps) win where tiles are a few
    /// key steps long: D=64c 128×2dq 231/231 at N = 512, 321/322 at 1k, 384/387 at 2k vs the
    /// shipped wgmma loop 213/216, 269/275 and 192×2d 356/359; D=64 128×2pq 348/349, 402/403 vs
    /// 128×2p 335/339, 394/400 (N = 512 / 1k); D=128c 128×2dq 271/269, 412/411 vs 128×2d 262/261,
    /// 395/400; D=128 128×2pq 442/441 vs 176×2p 437/425 at 512. From 2k (4k for D=64c) they
    /// were level or slower (D=128c 16k 557/541 vs 601/590), so the rows stop there.
    /// `FLASH_ATTENTION_HOPPER_QBUF=1` skips the two-buffer rows (the session-2 table).
    ///
    /// Session 5 (scripts/device/hopper_l2.sh, hopper_s5b.sh; bf16 + fp16, two interleaved rounds,
    /// N = 512 / 1k / 2k): no row changed. The next tile's L2 prefetch (then `FLASH_ATTENTION_HOPPER_L2=1`; removed in session 6)
    /// was 0.72–0.96× at every point; deeper rings were level or slower: D=64 128×3pq / 128×3dq
    /// 0.98–1.01×, D=128 96×3pq / 96×3dq 0.87–0.97×, D=256 48×2pq / 48×2dq 0.80–0.92×.
    ///
    /// Session 5, TMA store of O (scripts/device/hopper_store.sh, `FLASH_ATTENTION_HOPPER_STORE=1`,
    /// bf16 + fp16, two interleaved rounds, N = 512 / 1k / 2k; r1/r2 means, store ÷ shipped):
    ///   D=128:  128×2pq + store 1.15 / 1.13 / 1.07 (bf16 529 vs 460 at 512, 627 vs 554 at 1k,
    ///           675 vs 631 at 2k, where 176×2p ships: no room for the staging tile beside it)
    ///   D=128c: 128×2dq + store 1.15 / 1.08 / 1.03–1.07 (bf16 317 vs 274, 460 vs 424, 548 vs 514)
    ///   D=64:   128×2pq + store 1.05 / 1.02; 192×2p + store at 2k 0.985
    ///   D=64c:  128×2dq + store 1.01 / 0.99 / 0.985
    /// The causal D = 128 store kernels were timed in that call but reached by no oracle case; the
    /// session's closing call checked them (scripts/device/final_s5.sh: dense causal D = 128
    /// float64-oracle cases, memcheck, racecheck).
    /// Past 2k (scripts/device/hopper_store_long.sh, D = 128, two interleaved rounds, bf16 / fp16,
    /// store ÷ shipped): unmasked 4k 1.031 / 1.023, 8k 1.010 / 1.020 (single runs 0.96–1.06),
    /// 16k 0.988 / 0.989; causal 4k 1.005 / 1.022 (the shipped fp16 runs 559 and 583), 8k 0.994 /
    /// 1.004, 16k 0.966 / 0.995. So the unmasked store row reaches 4k; the causal one stays at 2k.
    ///
    /// Session 6, three consumer warpgroups at D = 64 (scripts/device/hopper_wg3.sh,
    /// `FLASH_ATTENTION_HOPPER_WG=3` on every D = 64 row, two interleaved rounds, bf16 / fp16 means,
    /// ÷ shipped): unmasked 1.086 / 1.069 (N = 512), 1.094 / 1.078 (1k), 1.129 / 1.128 (2k),
    /// 1.163 / 1.128 (4k), 1.116 / 1.075 (8k), 1.144 / 1.153 (16k); causal (one Q buffer: two spill
    /// beside the dynamic scheduler at 160 registers) 0.82 / 0.81 at 512 and 1k, 0.99 at 2k,
    /// 1.00–1.04 from 4k. So the unmasked rows take three warpgroups; causal keeps two.
    ///
    /// Session 6 (hopfwd6, scripts/device/hopper_s6c.sh, two interleaved rounds, bf16 / fp16 means ÷
    /// shipped, cuDNN in the same call): causal D = 64 with three warpgroups and two Q buffers
    /// beside the dynamic scheduler (late tile addresses) 0.926 / 0.930 at N = 512, 0.886 / 0.896
    /// at 1k, 1.028 / 1.015 at 2k, 1.100 / 1.078 at 4k, 1.048 / 1.091 at 8k, 1.015 / 1.027 at 16k
    /// (one Q buffer from 4k: 1.03–1.06); so causal takes it from 2k. D = 256 with the TMA store of
    /// O staged in the Q buffer: unmasked 1.113 / 1.119 (512), 1.084 / 1.085 (1k), 1.049 / 1.047
    /// (2k); causal 1.044 / 1.048, 1.043 / 1.047, 1.032 / 1.025 (every run faster). Past 2k
    /// (hopper_s6d.sh): unmasked 1.044 / 1.040 at 4k, level at 8k / 16k; causal level or mixed; the
    /// long-N D = 64 / 128 rows with O staged in the Q buffer (FLASH_ATTENTION_HOPPER_OQ=1) were
    /// level or slower (0.96–1.02, causal D = 128 0.96–1.06 with the power cap's noise): not taken.
    public static let hopperTable: [HopperChoice] = [
        HopperChoice(headDim: 64, causal: false, minSeqlenQ: 2048, blockN: 128, stages: 2, persistent: true, consumerWarpgroups: 3, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "three consumer warpgroups (192-row tiles, 128-key steps) from N = 2k: 1.08–1.16× the two-warpgroup 192×2p kernel at N = 2k…16k (session 6, scripts/device/hopper_wg3.sh and hopper_wg3_confirm.sh, two interleaved rounds each, bf16 + fp16; 1.03–1.13× cuDNN); 16-bit outputs (float32 outputs were not checked on the GPU)"),
        HopperChoice(headDim: 64, causal: false, minSeqlenQ: 2048, blockN: 192, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "192-key steps from N = 2k: interleaved A/B (2 runs × bf16/fp16) 1.01–1.03× the 128-key steps at N = 2k/4k, 1.01–1.09× at 8k/16k; 0.93–0.96× at N ≤ 1k (session 2 grid)"),
        HopperChoice(headDim: 64, causal: false, blockN: 128, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, consumerWarpgroups: 3, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "three consumer warpgroups (192-row tiles) with two Q buffers and the TMA store of O below N = 2k: 1.07–1.09× the two-warpgroup kernel at N = 512 / 1k although a 512- or 1k-row sequence leaves the last tile's third (or second and third) warpgroup computing rows past the end (session 6, two calls, two rounds each, bf16 + fp16; 0.98–0.99× cuDNN); 16-bit outputs of the input's type"),
        HopperChoice(headDim: 64, causal: false, blockN: 128, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA store of O beside two Q buffers below N = 2k: 1.05× the direct stores at N = 512, 1.02× at 1k (session 5, two rounds, bf16 + fp16); 16-bit outputs of the input's type"),
        HopperChoice(headDim: 64, causal: false, blockN: 128, stages: 2, persistent: true, qStages: 2, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "two Q buffers below N = 2k: 1.01–1.04× the one-buffer 128×2p at N = 512 / 1k (session 3, two rounds)"),
        HopperChoice(headDim: 64, causal: false, blockN: 128, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation, persistent: 1.20–1.33× the wgmma loop over the grid (geomean 403 vs 387 for non-persistent at N = 512/2k/16k)"),
        HopperChoice(headDim: 64, causal: true, minSeqlenQ: 2048, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2, consumerWarpgroups: 3, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "three consumer warpgroups (192-row tiles, 128-key steps) with two Q buffers beside the dynamic scheduler (late tile addresses: 0 spills at 160 registers) from N = 2k: 1.02× the two-warpgroup 128×2dq at 2k, 1.05–1.10× the 192×2d kernel at 4k / 8k, 1.02× at 16k (session 6, scripts/device/hopper_s6c.sh, two interleaved rounds, bf16 + fp16; 0.97–1.02× cuDNN); 0.89–0.93× below 2k, where two warpgroups stay; 16-bit outputs (float32 outputs were not checked on the GPU)"),
        HopperChoice(headDim: 64, causal: true, minSeqlenQ: 4096, blockN: 192, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "192-key steps with the dynamic tile scheduler from N = 4k (session 2's row; two Q buffers were level or slower there)"),
        HopperChoice(headDim: 64, causal: true, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "two Q buffers, 128-key steps, dynamic scheduler below N = 4k: 1.07× the wgmma loop at N = 512, 1.18× at 1k, 1.08× the 192×2d kernel at 2k (session 3, two rounds)"),
        HopperChoice(headDim: 64, causal: true, blockN: 192, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 1024, checkedOnGPU: true,
                     reason: "TMA + warp specialisation from N = 2k, 192-key steps, dynamic tile scheduler: interleaved A/B 1.01–1.08× the one-block-per-tile 128×2 at N = 2k…16k (16 of 16 paired runs faster; 128×2d was slower, 0.92–1.01×). At N ≤ 1k the 64×64 wgmma blocks win (214 vs 178–194 at N = 512, 270 vs 265 at 1k)"),
        HopperChoice(headDim: 128, causal: false, minSeqlenQ: 4097, blockN: 176, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation, 176-key steps, persistent: 1.26–1.48× the wgmma loop (best geomean of both sweeps); beyond 4k the store row below was level or slower (8k 0.99–1.02× with run-to-run noise, 16k 0.99×; scripts/device/hopper_store_long.sh)"),
        HopperChoice(headDim: 128, causal: false, blockN: 128, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA store of O beside two Q buffers up to N = 4k (128-key steps: the staging tile has no room beside 176): 1.15× the shipped 128×2pq at N = 512, 1.13× / 1.07× the 176×2p kernel at 1k / 2k (session 5, two rounds, bf16 + fp16), 1.02–1.03× at 4k (hopper_store_long.sh, two rounds, both dtypes); 16-bit outputs of the input's type"),
        HopperChoice(headDim: 128, causal: false, minSeqlenQ: 1024, blockN: 176, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation, 176-key steps, persistent: 1.26–1.48× the wgmma loop (best geomean of both sweeps)"),
        HopperChoice(headDim: 128, causal: false, blockN: 128, stages: 2, persistent: true, qStages: 2, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "two Q buffers (no room beside 176-key stages, so 128) below N = 1k: 1.02× the 176×2p kernel at N = 512, level at 1k (session 3, two rounds)"),
        HopperChoice(headDim: 128, causal: false, blockN: 176, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation, 176-key steps, persistent: 1.26–1.48× the wgmma loop (best geomean of both sweeps)"),
        HopperChoice(headDim: 128, causal: true, minSeqlenQ: 4096, blockN: 176, stages: 2, persistent: true, dynamicScheduler: true, lateTileAddresses: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "176-key steps beside the dynamic scheduler from N = 4k, with late tile addresses (8 B of spill without them, 0 with): 1.04 / 1.01 / 1.04× the 128-key 128×2d kernel at 4k / 8k / 16k in bf16, 1.05 / 1.05 / 1.06× in fp16 (session 7, scripts/device/hopper_fwd7.sh, two interleaved rounds, means; 0.99–1.05× cuDNN in the same call against 0.95–1.01×); 0.95× at 2k, where the row below stays; 160-key steps 0.98–1.07×. Dense problems (no varlen oracle case reached its kernel on a GPU)"),
        HopperChoice(headDim: 128, causal: true, minSeqlenQ: 2049, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "persistent with the dynamic tile scheduler from N = 2k (two Q buffers were slower there: 0.92–0.96×, session 3); the store row below was level or slower past 2k (hopper_store_long.sh: 4k 1.005 / 1.022 within noise, 8k 0.99–1.00×, 16k 0.97–0.99×)"),
        HopperChoice(headDim: 128, causal: true, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2, tmaStoreO: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA store of O beside two Q buffers up to N = 2k: 1.15× the shipped 128×2dq at N = 512, 1.08× at 1k, 1.03–1.07× the 128×2d kernel at 2k (session 5, two rounds, bf16 + fp16); oracle and sanitizers in the session's closing call (scripts/device/final_s5.sh)"),
        HopperChoice(headDim: 128, causal: true, minSeqlenQ: 2048, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "persistent with the dynamic tile scheduler from N = 2k (two Q buffers were slower there: 0.92–0.96×, session 3)"),
        HopperChoice(headDim: 128, causal: true, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "two Q buffers below N = 2k: 1.03–1.04× the one-buffer 128×2d at N = 512 / 1k (session 3, two rounds)"),
        HopperChoice(headDim: 128, causal: true, blockN: 128, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "persistent with the dynamic tile scheduler: 1.00–1.09× the one-block-per-tile grid at every grid point (bf16 and fp16), 0.76–1.00× cuDNN"),
        // D = 192 (tiles 160 and 192, PaddedTileHeadDim): Q 48 KB, K and V 42 KB each per stage at 112 keys (216 KB in 2
        // stages), 36 KB at 96. From 2k queries; shorter problems pad to the D = 256 rows and their short-row forms.
        HopperChoice(headDim: 192, causal: false, minSeqlenQ: 2048, blockN: 112, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation at tile D = 192, 112-key steps (the most that fit 2 stages), persistent: 1.11–1.44× the padded D = 256 rows at 2k–16k (0.92–1.17× at 1k, where they stay), 1.04–1.10× 96-key steps (session 33, H200, next_s33b.sh / next_s33c.sh)"),
        HopperChoice(headDim: 192, causal: true, minSeqlenQ: 2048, blockN: 112, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation at tile D = 192, 112-key steps beside the dynamic tile scheduler: 1.08–1.41× the padded D = 256 rows at 2k–16k with 96-key steps (0.93–1.10× at 1k, where they stay); 112 against 96 keys: level at 2k / 4k (0.97–1.08×, ±8 % between rounds), 1.03× at 16k (session 33, H200, next_s33c.sh / next_s33d.sh: two / three rounds; checked there: pad_check.py float64 forward + backward 6 / 6, memcheck 0 errors)"),
        // D = 256: 128×80 tiles in 2 stages fill 225 KB of shared memory (Q 64 KB, K and V 40 KB each per stage).
        HopperChoice(headDim: 256, causal: false, minSeqlenQ: 4097, blockN: 80, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation at D = 256, 80-key steps (the most that fit 2 stages), persistent: 1.22–1.54× the wgmma loop, 0.77–1.02× cuDNN; O staged in the Q buffer (the row below) was level past 4k (1.00 / 1.00× at 8k, 0.98 / 1.01× at 16k, hopper_s6d.sh)"),
        HopperChoice(headDim: 256, causal: false, blockN: 80, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "the TMA store of O staged in the Q buffer up to N = 4k: 1.11–1.12× the direct stores at N = 512, 1.08× at 1k, 1.05× at 2k (session 6, scripts/device/hopper_s6c.sh), 1.04× at 4k (hopper_s6d.sh; two interleaved rounds each, bf16 + fp16, every run faster; 0.94–0.95 / 1.01–1.02 / 1.04 / 1.00–1.02× cuDNN); 16-bit outputs of the input's type, dense tensors"),
        HopperChoice(headDim: 256, causal: false, blockN: 80, stages: 2, persistent: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation at D = 256, 80-key steps (the most that fit 2 stages), persistent: 1.22–1.54× the wgmma loop, 0.77–1.02× cuDNN"),
        HopperChoice(headDim: 256, causal: true, minSeqlenQ: 2049, blockN: 64, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation at D = 256, 64-key steps, dynamic tile scheduler: 1.11–1.50× the wgmma loop; O staged in the Q buffer (the row below) was level or mixed past N = 2k (1.01 / 1.01× at 4k, 1.02 / 1.04× at 8k, 0.97 / 0.96× at 16k, hopper_s6d.sh)"),
        HopperChoice(headDim: 256, causal: true, blockN: 64, stages: 2, persistent: true, dynamicScheduler: true, tmaStoreO: true, stageOInQueryBuffer: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "the TMA store of O staged in the Q buffer up to N = 2k: 1.04–1.05× the direct stores at N = 512 / 1k, 1.03× at 2k (session 6, scripts/device/hopper_s6c.sh, two interleaved rounds, bf16 + fp16; 0.83 / 0.94–0.95 / 1.01–1.02× cuDNN); 16-bit outputs of the input's type, dense tensors"),
        HopperChoice(headDim: 256, causal: true, blockN: 64, stages: 2, persistent: true, dynamicScheduler: true, maxSeqlenForWGMMA: 0, checkedOnGPU: true,
                     reason: "TMA + warp specialisation at D = 256, 64-key steps, dynamic tile scheduler: 1.11–1.50× the wgmma loop; 80-key steps spill with the scheduler (44 B) and were slower without it (geomean 429 vs 445)"),
    ]

    /// The TMA warp-specialised kernel (``KernelMainloop/tmaWarpSpecialized``) for a problem it
    /// runs and where it measured faster (``hopperTable``): sm_90a, tile head dim 64, 128, 192 or 256, no
    /// dropout, softcap only at tile D = 128, ALiBi only causal at tile D = 64 / 128, a sliding window on the
    /// unmasked rows' kernels (the steps a tile's rows see, both edges masked), a positive scale, tensors a TMA map can describe
    /// (columns past D arrive as zeros). `FLASH_ATTENTION_HOPPER=0` turns it off,
    /// `FLASH_ATTENTION_HOPPER=1` also takes the rows not yet checked on a GPU and the short
    /// causal problems the table leaves to wgmma.
    static func hopperDescriptor(tileHeadDim tileD: Int, problem: AttentionProblem, architecture: GPUArchitecture) -> (AttentionKernelDescriptor, String)? {
        guard architecture.computeCapability == 90, tileD % 64 == 0, problem.vectorized, problem.tensorMapFriendly,
              !problem.dropout, !problem.nonPositiveScale,
              // ALiBi since session 35 (the bias after the cap, ahead of the mask), causal at tile D = 64 / 128: H200,
              // 1.25–1.33× the wgmma loop there; unmasked it measured 0.89–0.95× (D = 64) and level (D = 128), so those, and
              // windows (not timed), keep the wgmma loop. FLASH_ATTENTION_HOPPER_ALIBI=0 leaves every ALiBi call to it, =1
              // takes every mask at tile D = 64 / 128.
              !(problem.alibi && (HopperForwardKnobs.alibi == "0" || tileD > 128
                                  || (problem.mask != .causal && HopperForwardKnobs.alibi != "1"))),
              // Sliding windows since session 35 (each tile's steps from its first row's left edge, both edges masked) on
              // the unmasked rows' kernels; FLASH_ATTENTION_HOPPER_WINDOW=0 leaves them to the wgmma loop.
              !(problem.mask == .window && HopperForwardKnobs.window == "0"),
              // Windows of at most defaultWGMMAWindowKeys keys at tile D = 64 stay on the wgmma loop (its 64 × 64 tiles
              // multiply fewer masked keys); FLASH_ATTENTION_HOPPER_WINDOW=1 takes them too.
              !(problem.mask == .window && tileD == 64 && problem.windowKeys > 0 && problem.windowKeys <= defaultWGMMAWindowKeys
                && HopperForwardKnobs.window != "1"),
              // Softcap since session 34 (the tanh in the softmax) at tile D = 128, with at most 128-key steps (below): H200,
              // 1.15–1.36× the wgmma loop there, level at tile D = 64 (0.89–1.10×: the exponential unit, three operations a
              // score with the cap, is the limit); the tile-192 / 256 rows' kernels spilled with it (NVRTC 13.5).
              // FLASH_ATTENTION_HOPPER_SOFTCAP=0 leaves every capped call to the wgmma loop.
              !(problem.softcap && (HopperForwardKnobs.softcap == "0" || tileD != 128))
        else { return nil }
        let switchValue = HopperForwardKnobs.enabled
        guard switchValue != "0" else { return nil }
        let causal = problem.mask == .causal
        // FLASH_ATTENTION_HOPPER_QBUF=1 skips the two-Q-buffer rows: the table as it was before them.
        let oneQ = HopperForwardKnobs.queryBuffers == "1"
        // FLASH_ATTENTION_HOPPER_STORE=0 skips the rows with the TMA store of O (the table before
        // them), =1 stores O by TMA on every row where the staging tile fits.
        let store = HopperForwardKnobs.store
        // FLASH_ATTENTION_HOPPER_WG=2 skips the rows with three consumer warpgroups (the table before
        // them); so do float32 outputs and varlen problems, whose three-warpgroup kernels no oracle
        // case has run on a GPU, and softcap (160 registers a consumer: the tanh spilled 52 B).
        let twoConsumers = HopperForwardKnobs.consumerWarpgroups == "2"
        // A narrow window at tile D = 128 (narrowWindowKeys): 64-key steps (below).
        let narrowWindow = tileD == 128 && problem.mask == .window && problem.windowKeys > 0 && problem.windowKeys <= narrowWindowKeys
        // A row not yet checked on a GPU is skipped (the next row applies) unless FLASH_ATTENTION_HOPPER=1.
        guard var choice = hopperTable.first(where: {
            $0.headDim == tileD && $0.causal == causal && ($0.minSeqlenQ == 0 || problem.seqlenQ >= $0.minSeqlenQ) && !(oneQ && $0.qStages == 2)
                && !($0.tmaStoreO && (store == "0" || problem.outputType != problem.elementType))
                && !($0.consumerWarpgroups == 3 && (twoConsumers || problem.outputType == .float32 || problem.varlen || problem.softcap
                                                     || problem.alibi))
                && !($0.lateTileAddresses && (problem.varlen || HopperForwardKnobs.lateTileAddresses == "0"))
                && ($0.checkedOnGPU || switchValue == "1")
        }) else { return nil }
        if choice.maxSeqlenForWGMMA > 0, problem.seqlenQ > 0, problem.seqlenQ <= choice.maxSeqlenForWGMMA, switchValue != "1" { return nil }
        if let override = hopperTileOverride(headDim: tileD, causal: causal) {
            (choice.blockN, choice.stages, choice.persistent, choice.dynamicScheduler, choice.qStages) = override
            // The row's late tile addresses go with its shape (FLASH_ATTENTION_HOPPER_LATE=128 sets them again).
            choice.lateTileAddresses = false
            choice.reason = "FLASH_ATTENTION_HOPPER_TILES override"
        }
        if let every = hopperExp2Override(headDim: tileD) { choice.exp2Every = every }
        // Softcap: the 176-key rows spilled with the tanh (NVRTC 13.5); 128-key steps hold it.
        if problem.softcap { choice.blockN = min(choice.blockN, 128) }
        // A window's row edges are two more registers through the loop: the tile D = 256 rows' 80-key kernels spilled
        // 4–36 B with them, and so did capped varlen windows at tile D = 128 with 128-key steps (NVRTC 13.5); 64-key steps hold them.
        if problem.mask == .window && (tileD == 256 || (problem.softcap && problem.varlen) || narrowWindow) { choice.blockN = min(choice.blockN, 64) }
        // ALiBi: the bias keeps the row, the diagonal and the slope through the loop (NVRTC 13.5): the 176- / 192-key rows
        // and three consumer warpgroups (above) spilled 50–450 B with it, tile D = 128's 128-key kernels 4–60 B; 128-key
        // steps at tile D = 64 and 64 at 128 hold it (tile D = 192 / 256, which spilled 16–120 B even at 64, keep the
        // wgmma loop: hopperDescriptor's guard).
        if problem.alibi { choice.blockN = min(choice.blockN, tileD == 64 ? 128 : 64) }
        // FLASH_ATTENTION_HOPPER_OVERLAP=1 / 0 forces the overlapped epilogue on / off.
        switch HopperForwardKnobs.overlap {
        case "1": choice.overlapEpilogue = true
        case "0": choice.overlapEpilogue = false
        default: break
        }
        if store == "1" { choice.tmaStoreO = true }
        // The lean step order's causal tile D = 64 rows store O by TMA up to 1k keys (defaultLeanStoreO; the lean order's
        // default applies below); not beside the knobs that move those rows.
        if store == nil && HopperForwardKnobs.exponentialTurn == nil && HopperForwardKnobs.twoBlocks == nil && !choice.tmaStoreO
            && choice.consumerWarpgroups == 2 && problem.outputType == problem.elementType
            && hopperTileOverride(headDim: tileD, causal: causal) == nil
            && defaultLeanStoreO(tileHeadDim: tileD, causal: causal, varlen: problem.varlen, seqlenK: problem.seqlenK) {
            choice.tmaStoreO = true
            choice.reason = "O stored by TMA (KernelHeuristics.defaultLeanStoreO); " + choice.reason
        }
        // FLASH_ATTENTION_HOPPER_WG=3 sets three consumer warpgroups on any D = 64 row.
        if HopperForwardKnobs.consumerWarpgroups == "3" && tileD == 64 { choice.consumerWarpgroups = 3 }
        if choice.consumerWarpgroups == 3 {
            // 160 registers per consumer: at most 128-key steps; two Q buffers beside the dynamic
            // scheduler only with late tile addresses (FLASH_ATTENTION_HOPPER_LATE=0: one Q buffer there).
            choice.blockN = min(choice.blockN, 128)
            if choice.dynamicScheduler && HopperForwardKnobs.lateTileAddresses == "0" { choice.qStages = 1 }
        }
        var d = AttentionKernelDescriptor(
            architecture: architecture, elementType: problem.elementType, outputType: problem.outputType,
            headDim: tileD, blockM: 64 * choice.consumerWarpgroups, blockN: choice.blockN, warps: 4 + 4 * choice.consumerWarpgroups,
            minBlocksPerMultiprocessor: 1, mask: problem.mask, softcap: problem.softcap, alibi: problem.alibi,
            varlen: problem.varlen, writeLSE: problem.writeLSE, prescaleScores: false, vectorized: true,
            mainloop: .tmaWarpSpecialized, stages: choice.stages, persistent: choice.persistent,
            dynamicScheduler: choice.persistent && choice.dynamicScheduler, qStages: choice.persistent ? choice.qStages : 1,
            emulatedExp2Every: choice.exp2Every, overlapEpilogue: choice.persistent && choice.overlapEpilogue)
        // Three consumer warpgroups with two Q buffers beside the dynamic scheduler fit 160
        // registers only when the consumers hold no tile addresses through the main loop.
        if choice.consumerWarpgroups == 3 && d.dynamicScheduler && d.qStages == 2 { d.lateTileAddresses = true }
        if choice.lateTileAddresses && d.dynamicScheduler { d.lateTileAddresses = true }
        if choice.tmaStoreO {
            // Only where the staging tile fits beside the ring and the output is the input's type;
            // elsewhere the same kernel with direct stores.
            var staged = d
            staged.tmaStoreO = true
            staged.stageOInQueryBuffer = choice.stageOInQueryBuffer
            if staged.invalidReason == nil { d = staged }
        }
        // Two blocks per multiprocessor (twoBlocksPerMultiprocessor: 288 threads, one producer warp, 96
        // registers a thread, 32-key steps in 3 stages, two Q buffers, the TMA store of O where the output is the input's
        // type) on tile D = 64 rows where it measured faster (defaultTwoBlocks); FLASH_ATTENTION_HOPPER_TWOBLOCKS=1
        // on every tile D = 64 row it can take (dense), =0 nowhere. The row's scheduler stays; the options
        // below (half-width diagonal softmax, early rescale, descriptors) apply to it as to any row.
        let twoKnob = HopperForwardKnobs.twoBlocks
        if tileD == 64 && twoKnob != "0"
            && (twoKnob == "1" || defaultTwoBlocks(tileHeadDim: tileD, causal: causal, seqlenQ: problem.seqlenQ, seqlenK: problem.seqlenK)) {
            var two = d
            // 32-key steps in 3 stages (at 96 registers the 64-key kernel spills 184–224 B, and 4 stages spill 4 B in
            // the unmasked form without the early rescale; the TILES override's keys if fewer).
            (two.blockM, two.warps, two.minBlocksPerMultiprocessor, two.blockN, two.stages) = (128, 9, 2, min(d.blockN, 32), 3)
            (two.persistent, two.qStages, two.overlapEpilogue) = (true, 2, false)
            // 96 registers a thread (ptxas: 18 warps, at most 5 on a sub-partition): beside the dynamic scheduler
            // the consumers keep no tile addresses through the main loop (4 B of spill at 32-key steps without).
            two.lateTileAddresses = two.dynamicScheduler
            two.stageOInQueryBuffer = false
            two.tmaStoreO = problem.outputType == problem.elementType
            if two.invalidReason == nil {
                d = two
                choice.reason = (twoKnob == "1" ? "two blocks per multiprocessor, 32-key steps (FLASH_ATTENTION_HOPPER_TWOBLOCKS=1); "
                    : "two blocks per multiprocessor, 32-key steps (measured faster: KernelHeuristics.defaultTwoBlocks); ") + choice.reason
            }
        }
        // Two blocks per multiprocessor with the producer folded into consumer warp 4 (foldedProducer: 256
        // threads, 128 registers a thread, 64-key steps, two Q buffers, the TMA store of O where the output is the
        // input's type, late tile addresses) on every dense tile D = 64 row: FLASH_ATTENTION_HOPPER_FOLDED=1 (or =2)
        // in 2 stages, =3 in 3, =4 / =5 with the copies in warpgroup 1's slack (foldedCopiesInSlack) in 3 / 2 stages;
        // unset or 0, nowhere (defaultFoldedProducer). After the 288-thread form, which it
        // replaces where both knobs are set. The row's scheduler stays (dynamic on causal rows, the persistent
        // stride on unmasked ones); the options below apply to it as to any row.
        let foldedKnob = HopperForwardKnobs.folded
        if tileD == 64, foldedKnob != "0",
           let (stages, slack) = foldedProducerForm(knob: foldedKnob) ?? (defaultFoldedProducer(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK) ? (2, false) : nil) {
            var folded = d
            folded.foldedCopiesInSlack = slack
            (folded.blockM, folded.warps, folded.minBlocksPerMultiprocessor, folded.blockN, folded.stages) = (128, 8, 2, min(d.blockN, 64), stages)
            (folded.persistent, folded.qStages, folded.overlapEpilogue, folded.foldedProducer) = (true, 2, false, true)
            // The slot holds the tile: no tile addresses through the main loop (any scheduler).
            folded.lateTileAddresses = true
            folded.stageOInQueryBuffer = false
            folded.tmaStoreO = problem.outputType == problem.elementType
            if folded.invalidReason == nil {
                d = folded
                choice.reason = "two blocks per multiprocessor, the producer folded into consumer warp 4\(slack ? " (copies in its slack)" : ""), 64-key steps in \(stages) stages (FLASH_ATTENTION_HOPPER_FOLDED=\(foldedKnob ?? "")); " + choice.reason
            }
        }
        // FLASH_ATTENTION_HOPPER_OQ=1: the TMA store of O staged in the Q buffer on every row that
        // has no store yet (16-bit outputs of the input's type, dense tensors).
        if HopperForwardKnobs.stageOInQueryBuffer == "1" && !d.tmaStoreO && problem.outputType == problem.elementType {
            var staged = d
            (staged.tmaStoreO, staged.stageOInQueryBuffer) = (true, true)
            if staged.invalidReason == nil { d = staged }
        }
        // O staged in the last key step's K/V stages instead of the Q buffer (the Q buffer freed
        // after the last S product), on the rows that stage it in the Q buffer: where it measured
        // faster (defaultStageOInLastStage); FLASH_ATTENTION_HOPPER_OKV=1 on every such row, =0 nowhere.
        let okvKnob = HopperForwardKnobs.stageOInLastStage
        if d.stageOInQueryBuffer && okvKnob != "0"
            && (okvKnob == "1" || defaultStageOInLastStage(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK)) {
            var staged = d
            (staged.stageOInQueryBuffer, staged.stageOInLastStage) = (false, true)
            if staged.invalidReason == nil { d = staged }
        }
        // FLASH_ATTENTION_HOPPER_LATE=1: late tile addresses on every dynamic-scheduler row, or
        // =128,256: on those tile head dims' (not with O staged in the Q buffer, whose Q-free
        // arrival follows the store instead).
        if let late = HopperForwardKnobs.lateTileAddresses, late == "1" || late.split(separator: ",").contains(Substring(String(tileD))),
           d.dynamicScheduler && !d.stageOInQueryBuffer && !d.stageOInLastStage { d.lateTileAddresses = true }
        // FLASH_ATTENTION_HOPPER_RESCALE=skip: the O rescale skipped in warps whose row maxima stayed put.
        if HopperForwardKnobs.rescale == "skip" { d.skipUnchangedRescale = true }
        // FLASH_ATTENTION_HOPPER_RESCALE=lazy: a row keeps its maximum unless it grows past 2^8, and O·α is skipped in
        // warps where every row kept it (lazyRescale, session 15). Unset, defaultLazyRescale, decided after the step order
        // (below), whose overlapped form it keys on at tile D = 128.
        if HopperForwardKnobs.rescale == "lazy" { d.lazyRescale = true }
        // The half-width diagonal softmax where it measured faster (defaultHalfDiagonalStep);
        // FLASH_ATTENTION_HOPPER_DIAG=1 on every causal row that can take it, =0 nowhere.
        let diagKnob = HopperForwardKnobs.halfDiagonalStep
        // The causal three-warpgroup row up to 4k takes it beside the empty warpgroups (defaultCausalThreeWarpgroupDiagonal),
        // only with neither knob set and on the shapes the pair was timed on.
        let threeWarpgroupDiagonal = diagKnob == nil && HopperForwardKnobs.emptyWarpgroups == nil && d.persistent && d.dynamicScheduler
            && d.minBlocksPerMultiprocessor == 1 && hopperTileOverride(headDim: tileD, causal: causal) == nil
            && defaultCausalThreeWarpgroupDiagonal(tileHeadDim: tileD, causal: causal, consumerWarpgroups: d.consumerWarpgroups,
                                                   varlen: d.varlen, sameTypeOutput: d.outputType == d.elementType,
                                                   seqlenQ: problem.seqlenQ, seqlenK: problem.seqlenK)
        if causal && diagKnob != "0" && (diagKnob == "1" || threeWarpgroupDiagonal
                                         || (d.blockM == 128 && !problem.varlen && problem.outputType == problem.elementType
                                             && defaultHalfDiagonalStep(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK))) {
            var half = d
            half.halfDiagonalStep = true
            if half.invalidReason == nil { d = half }
        }
        // FLASH_ATTENTION_HOPPER_TREE=1: the softmax's row maximum and sum in four partial chains.
        if HopperForwardKnobs.treeRowReductions == "1" { d.treeRowReductions = true }
        // FLASH_ATTENTION_HOPPER_WGSTEPS=1: per-warpgroup key-step counts (warpgroup 0 skips a
        // diagonal block it sees none of) on the causal rows of at most 64-key steps, where that block
        // lies wholly past warpgroup 0's rows whenever the key and query ends line up (rows with the
        // TMA store of O only: the direct-store kernel spills, refused by invalidReason).
        if causal && HopperForwardKnobs.warpgroupStepCount == "1" && d.blockN <= 64 {
            var steps = d
            steps.warpgroupStepCount = true
            if steps.invalidReason == nil { d = steps }
        }
        // The O rescale at the end of the step that computed α instead of inside the next step's
        // turn (defaultEarlyRescale); FLASH_ATTENTION_HOPPER_EARLYRESCALE=1 on every row, =0 nowhere.
        let earlyKnob = HopperForwardKnobs.earlyRescale
        let early = earlyKnob != "0" && (earlyKnob == "1" || defaultEarlyRescale(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK))
        // Precomputed wgmma descriptors (each product's descriptor one add of an immediate to its
        // operand's base) where they measured faster (defaultPrecomputedDescriptors; some rows only
        // beside the early rescale); FLASH_ATTENTION_HOPPER_DESC=1 on every row, =0 nowhere (which also keeps
        // tile D = 256 off the 128-key form below: it needs the descriptors).
        let descKnob = HopperForwardKnobs.precomputedDescriptors
        if descKnob != "0" && (descKnob == "1" || defaultPrecomputedDescriptors(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK,
                                                                                earlyRescale: early)) {
            var precomputed = d
            precomputed.precomputedDescriptors = true
            if precomputed.invalidReason == nil { d = precomputed }
        }
        // Like every option above: a combination the generator refuses keeps the row's kernel
        // rather than sending the problem off the Hopper loop.
        if early {
            var rescaled = d
            rescaled.earlyRescale = true
            if rescaled.invalidReason == nil { d = rescaled }
        }
        // Narrow diagonal products (the diagonal step's S, and its P·V, at half width in a warpgroup that sees
        // only that half) where they measured faster (defaultNarrowDiagonal); FLASH_ATTENTION_HOPPER_NARROWDIAG=1
        // on every causal row that can take them (with the half-width softmax), =2 the S product only, =0 nowhere.
        // After the descriptors and the rescale: tile D = 128 takes them only with the precomputed descriptors, D = 64 only without.
        let narrowKnob = HopperForwardKnobs.narrowDiagonal
        if causal && narrowKnob != "0" && (narrowKnob == "1" || narrowKnob == "2"
                                           || (d.halfDiagonalStep && defaultNarrowDiagonal(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK))) {
            var narrow = d
            (narrow.halfDiagonalStep, narrow.narrowDiagonal, narrow.narrowDiagonalValues) = (true, true, narrowKnob != "2")
            if narrow.invalidReason == nil { d = narrow }
        }
        // 128-key steps at tile D = 256 in one K and one V stage (64 KB each beside Q's 64 KB), with P·V and
        // S in separate turns (separateValueTurn) so a stage's load has two products to land under and S, P
        // and O fit the consumers' registers; it takes the precomputed descriptors and the TMA store of O
        // (staged in the Q buffer where the row stores directly). Where it measured faster
        // (defaultWideScoreSteps: causal, at least 512 queries and keys); FLASH_ATTENTION_HOPPER_WIDE256=2 on every D = 256 row, =0 nowhere
        // (=1, S issued in halves within one turn, and =3…6, K and V in 64-key half stages, were other
        // forms: slower everywhere, removed; any other value behaves as unset). A
        // problem the form cannot take (varlen or float32 output: no staged store) keeps the row; so does
        // a FLASH_ATTENTION_HOPPER_TILES shape for the head dim (unless the knob is set), and so does every row
        // under FLASH_ATTENTION_HOPPER_DESC=0: the form needs the precomputed descriptors, which that knob
        // turns off everywhere.
        let wideKnob = HopperForwardKnobs.wideScoreSteps
        if tileD == 256 && wideKnob != "0" && descKnob != "0"
            && (wideKnob == "2"
                || (defaultWideScoreSteps(tileHeadDim: tileD, causal: causal, seqlenQ: problem.seqlenQ, seqlenK: problem.seqlenK)
                    && hopperTileOverride(headDim: tileD, causal: causal) == nil)) {
            var wide = d
            (wide.blockN, wide.stages, wide.precomputedDescriptors) = (128, 1, true)
            wide.separateValueTurn = true
            (wide.overlapEpilogue, wide.halfDiagonalStep, wide.warpgroupStepCount) = (false, false, false)
            if !wide.tmaStoreO { (wide.tmaStoreO, wide.stageOInQueryBuffer, wide.lateTileAddresses) = (true, true, false) }
            if wide.invalidReason == nil {
                d = wide
                choice.reason = (wideKnob == "2" ? "128-key steps at tile D = 256 in one K and one V stage, P·V and S in separate turns (FLASH_ATTENTION_HOPPER_WIDE256=2)"
                    : "128-key steps at tile D = 256 in one K and one V stage, P·V and S in separate turns (measured faster: KernelHeuristics.defaultWideScoreSteps)")
                    + "; on the row: " + choice.reason
            }
        }
        // Warpgroup 0's O in a 32 KB staging buffer of its own (stageOInOwnBuffer) on the 128-key rows, warpgroup 1's
        // in the last V stage (stageOInLastStage, replacing the Q-buffer staging where the row has it), so the last
        // K stage goes back at the last S product and the next tile's first K loads under this tile's epilogue.
        // Where it measured faster (defaultStageOInOwnBuffer: causal up to 2k keys; not under
        // FLASH_ATTENTION_HOPPER_OKV=0, which keeps O out of the last stages); FLASH_ATTENTION_HOPPER_OWNO=1 on every
        // such row, =0 nowhere.
        let ownKnob = HopperForwardKnobs.ownBuffer
        if d.separateValueTurn && ownKnob != "0"
            && (ownKnob == "1" || (okvKnob != "0" && defaultStageOInOwnBuffer(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK))) {
            var own = d
            (own.stageOInQueryBuffer, own.stageOInLastStage, own.stageOInOwnBuffer) = (false, true, true)
            if own.invalidReason == nil {
                d = own
                choice.reason = (ownKnob == "1" ? "warpgroup 0's O in a staging buffer of its own (FLASH_ATTENTION_HOPPER_OWNO=1); "
                    : "warpgroup 0's O in a staging buffer of its own (measured faster: KernelHeuristics.defaultStageOInOwnBuffer); ") + choice.reason
            }
        }
        // Q in per-warpgroup 64-row halves (queryHalves): 2 (`qh`, half w warpgroup w's, released at its last S) or 3
        // (`qr`, rotating, each warpgroup's O staged in its own half instead of the K/V stages or an own buffer), so the
        // next tile's rows of warpgroup 0 load before warpgroup 1's last S. On tile D = 256 rows with the TMA store of O;
        // FLASH_ATTENTION_HOPPER_QHALVES=1 sets 2, =2 sets 3, =0 nowhere; unset, defaultQueryHalves (nowhere yet).
        let halvesKnob = HopperForwardKnobs.queryHalves
        let halves = halvesKnob == "1" ? 2 : halvesKnob == "2" ? 3 : halvesKnob == "0" ? 0
            : defaultQueryHalves(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK)
        if halves > 0 && tileD == 256 && d.tmaStoreO {
            var split = d
            split.queryHalves = halves
            if halves == 3 { (split.stageOInQueryBuffer, split.stageOInLastStage, split.stageOInOwnBuffer) = (true, false, false) }
            if split.invalidReason == nil {
                d = split
                choice.reason = (halves == 2 ? "Q in per-warpgroup halves" : "Q in three rotating per-warpgroup halves, O staged in them")
                    + (halvesKnob == nil ? " (KernelHeuristics.defaultQueryHalves); " : " (FLASH_ATTENTION_HOPPER_QHALVES=\(halvesKnob ?? "")); ") + choice.reason
            }
        }
        // Two stages of Q halves at tile D = 128 (queryHalves 4, `q4`): the two Q buffers' 64 KB as four 16 KB
        // per-warpgroup halves, so a warpgroup's next rows wait only for its own last S product of the tile before and
        // warpgroup 0's first S for 16 KB of Q. On tile D = 128 rows with two Q buffers and the TMA store of O (O in its
        // own staging tile); FLASH_ATTENTION_HOPPER_QHALVES128=1 there, =0 nowhere; unset, defaultQueryHalves128 (nowhere).
        let halves128Knob = HopperForwardKnobs.queryHalves128
        if tileD == 128 && d.qStages == 2 && d.tmaStoreO && !d.stageOInQueryBuffer && !d.stageOInLastStage && halves128Knob != "0"
            && (halves128Knob == "1" || defaultQueryHalves128(causal: causal, seqlenK: problem.seqlenK)) {
            var split = d
            (split.queryHalves, split.qStages) = (4, 1)
            if split.invalidReason == nil {
                d = split
                choice.reason = "two stages of per-warpgroup Q halves"
                    + (halves128Knob == nil ? " (KernelHeuristics.defaultQueryHalves128); " : " (FLASH_ATTENTION_HOPPER_QHALVES128=1); ") + choice.reason
            }
        }
        // FLASH_ATTENTION_HOPPER_VALUEWAIT=1: the loop's P·V wait kept after the softmax (ptxas hoisted it to the
        // softmax's head); last, on every tile D = 64 / 128 row of the shipped step order (a row the form does not take
        // keeps its kernel; the unmasked D = 256 80-key row without precomputed descriptors spills with it).
        if HopperForwardKnobs.valueWait == "1" && tileD <= 128 {
            var held = d
            held.valueWaitAfterSoftmax = true
            if held.invalidReason == nil { d = held }
        }
        // FLASH_ATTENTION_HOPPER_EXPTURN=1: cuDNN's step order (exponentialTurn) on every row that can take it, without
        // the half-width diagonal softmax and the early rescale (its own loop has neither).
        if HopperForwardKnobs.exponentialTurn == "1" {
            var turned = d
            (turned.halfDiagonalStep, turned.earlyRescale, turned.exponentialTurn) = (false, false, true)
            if turned.invalidReason == nil { d = turned }
        }
        // The lean form of that order (leanExponentialTurn: the diagonal step peeled, no first rescale, the row's
        // half-width diagonal softmax kept) with precomputed descriptors, without the early rescale; without the
        // descriptors where a row refuses them. FLASH_ATTENTION_HOPPER_EXPTURN=lean on every row that takes it, =0 (and
        // =1, the plain order) nowhere; unset, defaultLeanExponentialTurn.
        let turnKnob = HopperForwardKnobs.exponentialTurn
        // (Not beside a forced two-blocks-per-SM form: the default was measured on one block per SM.)
        if turnKnob == "lean" || (turnKnob == nil && d.minBlocksPerMultiprocessor == 1 && defaultLeanExponentialTurn(
            tileHeadDim: tileD, causal: causal, consumerWarpgroups: d.consumerWarpgroups, varlen: d.varlen,
            sameTypeOutput: d.outputType == d.elementType, seqlenK: problem.seqlenK)) {
            var lean = d
            (lean.earlyRescale, lean.exponentialTurn, lean.leanExponentialTurn, lean.precomputedDescriptors) = (false, true, true, true)
            if lean.invalidReason != nil { lean.precomputedDescriptors = d.precomputedDescriptors }
            if lean.invalidReason == nil {
                d = lean
                choice.reason = "cuDNN's step order, lean" + (turnKnob == nil ? " (KernelHeuristics.defaultLeanExponentialTurn); "
                                                                             : " (FLASH_ATTENTION_HOPPER_EXPTURN=lean); ") + choice.reason
            }
        }
        // FLASH_ATTENTION_HOPPER_EXPOVERLAP=1|2: the lean order with each warpgroup's S and P·V issued back to back and
        // its row maximum under its own P·V (overlappedExponentialTurn; 2 also hands the turn over after P's packing), on
        // every row that has the lean order here (the default's or FLASH_ATTENTION_HOPPER_EXPTURN=lean's), =0 nowhere;
        // unset (with FLASH_ATTENTION_HOPPER_EXPTURN unset too), defaultOverlappedExponentialTurn (session 13, hopfwd25).
        let overlapKnob = HopperForwardKnobs.exponentialTurnOverlap
        let overlapDefault = overlapKnob == nil && turnKnob == nil && d.leanExponentialTurn
            ? defaultOverlappedExponentialTurn(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK) : 0
        if ((overlapKnob == "1" || overlapKnob == "2") && d.leanExponentialTurn) || overlapDefault > 0 {
            var overlapped = d
            overlapped.overlappedExponentialTurn = overlapDefault > 0 ? overlapDefault : overlapKnob == "2" ? 2 : 1
            if overlapped.invalidReason == nil {
                d = overlapped
                choice.reason = "S and P·V back to back, the row maximum under P·V"
                    + (overlapDefault > 0 ? " (KernelHeuristics.defaultOverlappedExponentialTurn); " : " (FLASH_ATTENTION_HOPPER_EXPOVERLAP=\(overlapKnob ?? "")); ")
                    + choice.reason
            }
        }
        // The speculative maximum (speculativeMax, session 18) where defaultSpeculativeMax puts it, or with
        // FLASH_ATTENTION_HOPPER_RESCALE=spec on every row that can take it; it replaces the lazy and skipped rescales. Rows
        // whose kernel cannot take it (and every row with =nospec) keep defaultLazyRescale: the three-warpgroup D = 64 rows
        // from 8k keys, tile D = 256 causal from 2k (and unmasked from 512 where `sx` is refused), the causal tile D = 128
        // rows of the overlapped order (`xoa` at 513…1024 keys).
        let rescaleKnob = HopperForwardKnobs.rescale
        let tilesDefault = hopperTileOverride(headDim: tileD, causal: causal) == nil
        let specDefault = rescaleKnob == nil && tilesDefault && defaultSpeculativeMax(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK)
        var speculative = d
        (speculative.speculativeMax, speculative.lazyRescale, speculative.skipUnchangedRescale) = (true, false, false)
        if (rescaleKnob == "spec" || specDefault) && speculative.invalidReason == nil {
            d = speculative
            choice.reason = "speculative maximum (" + (specDefault ? "KernelHeuristics.defaultSpeculativeMax" : "FLASH_ATTENTION_HOPPER_RESCALE=spec")
                + "); " + choice.reason
        } else if (rescaleKnob == nil || rescaleKnob == "nospec") && tilesDefault
            && defaultLazyRescale(tileHeadDim: tileD, causal: causal, consumerWarpgroups: d.consumerWarpgroups, varlen: d.varlen,
                                  seqlenK: problem.seqlenK, overlappedExponentialTurn: d.overlappedExponentialTurn) {
            var lazy = d
            lazy.lazyRescale = true
            if lazy.invalidReason == nil {
                d = lazy
                choice.reason = "lazy O rescale (KernelHeuristics.defaultLazyRescale); " + choice.reason
            }
        }
        // FLASH_ATTENTION_HOPPER_PRODUCERSLEEP=1: the producer's waits for free stages sleep on the barrier instead of
        // spinning (sleepingProducerWaits); every row with a producer warp.
        if HopperForwardKnobs.producerSleep == "1" {
            var sleeping = d
            sleeping.sleepingProducerWaits = true
            if sleeping.invalidReason == nil { d = sleeping }
        }
        // Empty consumer warpgroups (skipEmptyWarpgroups: a warpgroup whose rows all lie past the sequence's end takes its
        // turns and releases its stages but issues no product): FLASH_ATTENTION_HOPPER_EMPTYWG=1 on every row that can take
        // it, =0 nowhere; unset, defaultSkipEmptyWarpgroups. =dyn also moves the unmasked three-warpgroup rows (tile D = 64)
        // to the dynamic tile scheduler with two Q buffers (late tile addresses): on the persistent grid's fixed stride
        // (132 blocks, a multiple of the 3, 6 and 11 row blocks of 512, 1k and 2k queries) every block walks the same row
        // block of each head, so the blocks holding the short last tiles only ran ahead and waited (session 13, hopfwd24:
        // `ew` alone 0.94–0.99×, with the dynamic scheduler 1.00–1.04×); the same kernels as
        // FLASH_ATTENTION_HOPPER_TILES=64:128x2dq with =1.
        // Unset, defaultSkipEmptyWarpgroups takes the =dyn form where it measured faster (not beside a
        // FLASH_ATTENTION_HOPPER_TILES shape for the head dim or a forced two-blocks-per-SM form).
        let emptyKnob = HopperForwardKnobs.emptyWarpgroups
        let emptyDefault = emptyKnob == nil && d.persistent && d.minBlocksPerMultiprocessor == 1
            && hopperTileOverride(headDim: tileD, causal: causal) == nil
            && defaultSkipEmptyWarpgroups(tileHeadDim: tileD, causal: causal, consumerWarpgroups: d.consumerWarpgroups, varlen: d.varlen,
                                          sameTypeOutput: d.outputType == d.elementType, seqlenQ: problem.seqlenQ, seqlenK: problem.seqlenK)
        // The causal three-warpgroup row's pair (above): its rows already run on the dynamic scheduler.
        let emptyWithDiagonal = threeWarpgroupDiagonal && d.halfDiagonalStep
        if (emptyKnob == "dyn" || emptyDefault) && !causal && d.consumerWarpgroups == 3 && d.persistent && !d.dynamicScheduler
            && d.minBlocksPerMultiprocessor == 1 {
            var dynamic = d
            (dynamic.dynamicScheduler, dynamic.qStages, dynamic.lateTileAddresses) = (true, 2, true)
            // Three K/V stages where the default measured them faster (up to 1k keys: defaultEmptyWarpgroupStages);
            // FLASH_ATTENTION_HOPPER_EWSTAGES=2|3 sets the count on every such default row (a tuning hook, session 27).
            if emptyDefault {
                dynamic.stages = HopperForwardKnobs.emptyWarpgroupStages.flatMap { Int($0) }
                    ?? defaultEmptyWarpgroupStages(seqlenK: problem.seqlenK)
            }
            if dynamic.invalidReason != nil { dynamic.stages = d.stages }
            if dynamic.invalidReason == nil { d = dynamic }
        }
        if emptyKnob == "1" || emptyKnob == "dyn" || emptyDefault || emptyWithDiagonal {
            var skipping = d
            skipping.skipEmptyWarpgroups = true
            if skipping.invalidReason == nil {
                d = skipping
                if emptyDefault {
                    choice.reason = "empty warpgroups skip their products, dynamic tile scheduler (KernelHeuristics.defaultSkipEmptyWarpgroups); "
                        + choice.reason
                } else if emptyWithDiagonal {
                    choice.reason = "half-width diagonal softmax and empty warpgroups skipping their products "
                        + "(KernelHeuristics.defaultCausalThreeWarpgroupDiagonal); " + choice.reason
                }
            }
        }
        // FLASH_ATTENTION_HOPPER_PACKSUM=1: each step's row sums from P's packed pairs (packedRowSum, session 15): one
        // packed add per two scores instead of two FADDs; every row that can take it; off by default.
        if HopperForwardKnobs.packedRowSum == "1" {
            var packed = d
            packed.packedRowSum = true
            if packed.invalidReason == nil { d = packed }
        }
        // FLASH_ATTENTION_HOPPER_STAGES=n: n K/V stages on every row whose shared memory and step order take them (a tuning
        // hook, session 27; the shape's other choices stay, unlike FLASH_ATTENTION_HOPPER_TILES).
        if let stages = HopperForwardKnobs.stages.flatMap({ Int($0) }), stages >= 1 {
            var staged = d
            staged.stages = stages
            if staged.invalidReason == nil { d = staged }
        }
        // FLASH_ATTENTION_HOPPER_PDL=1: the programmatic dependent launch (dependentLaunch) on every row that can take it,
        // =0 nowhere; unset, defaultDependentLaunch.
        let pdlKnob = HopperForwardKnobs.dependentLaunch
        if pdlKnob == "1" || (pdlKnob == nil && defaultDependentLaunch) {
            var dependent = d
            dependent.dependentLaunch = true
            if dependent.invalidReason == nil { d = dependent }
        }
        // The products span the problem's D rounded up to 16, not the tile (productHeadDim): a padded tile's zero columns cost
        // no tensor work. FLASH_ATTENTION_HOPPER_PRODUCTS=0 keeps the tile's (the kernels before, for A/B runs).
        let productD = PaddedTileHeadDim.productHeadDim(problem.headDim)
        if productD < tileD && HopperForwardKnobs.productHeadDim != "0" {
            var narrowed = d
            narrowed.productHeadDim = productD
            if narrowed.invalidReason == nil {
                d = narrowed
                choice.reason += "; products over D = \(productD) of the tile's \(tileD) columns"
            }
        }
        // FLASH_ATTENTION_HOPPER_STREAMK=1: the stream-K tail (streamKTail) on every row that can take it, =0 nowhere; unset,
        // defaultStreamKTail.
        let streamKKnob = HopperForwardKnobs.streamK
        if streamKKnob == "1" || (streamKKnob == nil && defaultStreamKTail(tileHeadDim: tileD, causal: causal, seqlenK: problem.seqlenK)) {
            var tail = d
            tail.streamKTail = true
            if tail.invalidReason == nil {
                d = tail
                if streamKKnob == nil { choice.reason = "the last round's key steps dealt out (KernelHeuristics.defaultStreamKTail); " + choice.reason }
            }
        }
        guard d.invalidReason == nil else { return nil }
        return (d, choice.reason)
    }

    /// A tuning hook for the TMA kernel: `FLASH_ATTENTION_HOPPER_TILES="64:128x3p,128c:128x2d,256:80x2"`
    /// sets keys per step × pipeline stages for a tile head dim (`p`: persistent grid, `d`:
    /// persistent with the dynamic tile scheduler, `q` after either: two Q buffers, e.g.
    /// `128:160x2pq`; key suffix `c`: causal only, which wins over the plain entry), so one run
    /// can compare shapes without a rebuild.
    static func hopperTileOverride(headDim: Int, causal: Bool) -> (Int, Int, Bool, Bool, Int)? {
        guard let text = FileSystem.environment("FLASH_ATTENTION_HOPPER_TILES") else { return nil }
        var plain: (Int, Int, Bool, Bool, Int)?, causalOnly: (Int, Int, Bool, Bool, Int)?
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2 else { continue }
            let key = String(parts[0]), isCausal = key.hasSuffix("c")
            guard Int(isCausal ? String(key.dropLast()) : key) == headDim else { continue }
            var shape = Substring(parts[1])
            let twoQ = shape.hasSuffix("q")
            if twoQ { shape = shape.dropLast() }
            let dynamic = shape.hasSuffix("d")
            let persistent = dynamic || shape.hasSuffix("p")
            let numbers = shape.split(separator: "x").compactMap { Int($0.filter(\.isNumber)) }
            guard numbers.count == 2 else { continue }
            let choice = (numbers[0], numbers[1], persistent, dynamic, twoQ && persistent ? 2 : 1)
            if isCausal { causalOnly = choice } else { plain = choice }
        }
        return causal ? causalOnly ?? plain : plain
    }

    /// The widest sliding window (keys a row sees) that takes 64-key steps on the tile D = 128 TMA forward:
    /// a tile's steps start at its first row's left edge and end at its last row's right edge, so a window far narrower
    /// than the tile multiplies mostly masked keys (a 128-key window on the 128 × 128 tile: 2–3 steps of 128 keys for
    /// 128 rows, against 4–5 of 64). `FLASH_ATTENTION_HOPPER_WINDOW_NARROW=<keys>` sets it (0: never), else
    /// ``defaultNarrowWindowKeys``.
    static var narrowWindowKeys: Int {
        HopperForwardKnobs.narrowWindow.flatMap { Int($0) } ?? defaultNarrowWindowKeys
    }

    /// A tuning hook for the TMA kernel's softmax: `FLASH_ATTENTION_HOPPER_EXP2="64:4,128:0"` (or
    /// one number for every head dim) exponentiates every k-th n8 tile of S on the FMA pipe.
    static func hopperExp2Override(headDim: Int) -> Int? {
        guard let text = FileSystem.environment("FLASH_ATTENTION_HOPPER_EXP2") else { return nil }
        if let every = Int(text) { return every }
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            if parts.count == 2, Int(parts[0]) == headDim, let every = Int(parts[1]) { return every }
        }
        return nil
    }

    /// A tuning hook: `FLASH_ATTENTION_TILES="128:128x128w8b1,256:64x64w4b2"` replaces the
    /// table's tile shape (blockM x blockN, warps, min blocks per SM) for those tile head dims,
    /// so one benchmark run can compare shapes without a rebuild.
    static func tileOverride(headDim: Int) -> (Int, Int, Int, Int)? {
        guard let text = FileSystem.environment("FLASH_ATTENTION_TILES") else { return nil }
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2, Int(parts[0]) == headDim else { continue }
            let numbers = parts[1].split(whereSeparator: { "xwb".contains($0) }).compactMap { Int($0) }
            if numbers.count == 4 { return (numbers[0], numbers[1], numbers[2], numbers[3]) }
        }
        return nil
    }

    /// The variants `flash-attn compile` pre-builds and CI checks: for each row of the
    /// architecture's table, the plain bf16 causal kernel (the common case) and the fp16 kernel
    /// with every option on (the most registers), plus, where the wgmma loop runs, its fp16
    /// kernel with every option but dropout, and, where the TMA loop runs, its plain bf16
    /// unmasked kernel. These problems leave the sequence lengths unknown (0), which turns the
    /// short-sequence defaults off, so after them come the kernels those defaults pick for the
    /// same plain bf16 problems at 512 queries and keys, causal and unmasked: the half-width
    /// diagonal softmax (``defaultHalfDiagonalStep(tileHeadDim:causal:seqlenK:)``, suffix `hd`)
    /// and O staged in the last K/V stages (``defaultStageOInLastStage(tileHeadDim:causal:seqlenK:)``,
    /// suffix `okv`), each once (by name), with the precomputed wgmma descriptors those lengths take
    /// (``defaultPrecomputedDescriptors(tileHeadDim:causal:seqlenK:earlyRescale:)``, suffix `xd`) and
    /// the early O rescale (``defaultEarlyRescale(tileHeadDim:causal:seqlenK:)``, suffix `er`) where they do;
    /// then the 128-key causal D = 256 kernel of 4k keys (``defaultWideScoreSteps(tileHeadDim:causal:seqlenQ:seqlenK:)``,
    /// suffix `vt`; at 512 keys the `okv` kernel above is already that form, with warpgroup 0's O in its own
    /// buffer, suffix `ob`) and of 2k keys (`ob` without the early rescale, ``defaultStageOInOwnBuffer(tileHeadDim:causal:seqlenK:)``).
    /// They come last, so the earlier variants keep their places in the list.
    public static func tableVariants(for architecture: GPUArchitecture) -> [AttentionKernelDescriptor] {
        var variants: [AttentionKernelDescriptor] = []
        for choice in table(for: architecture) {
            let plain = AttentionProblem(elementType: .bfloat16, headDim: choice.maxHeadDim, mask: .causal, tensorMapFriendly: true)
            let everything = AttentionProblem(
                elementType: .float16, headDim: choice.maxHeadDim, mask: .window, softcap: true, alibi: true,
                dropout: true, varlen: true, writeLSE: true)
            // Dropout keeps the mma.sync loop; the wgmma loop's heaviest variant is everything else.
            var allButDropout = everything
            allButDropout.dropout = false
            for problem in [plain, everything] {
                if let d = try? descriptor(for: problem, architecture: architecture).descriptor { variants.append(d) }
            }
            if let d = try? descriptor(for: allButDropout, architecture: architecture).descriptor, d.mainloop == .wgmma {
                variants.append(d)
            }
            // Where the TMA loop runs, its non-causal kernel too (persistent, other key step).
            var plainNonCausal = plain
            plainNonCausal.mask = .none
            if let d = try? descriptor(for: plainNonCausal, architecture: architecture).descriptor, d.mainloop == .tmaWarpSpecialized {
                variants.append(d)
            }
        }
        // Rows whose tiles sm_90a pads (PaddedTileHeadDim) route to other rows' kernels: each once.
        var names = Set<String>()
        variants = variants.filter { names.insert($0.name).inserted }
        // The short-sequence defaults, which no problem above (lengths unknown) reaches: each kernel a problem of known
        // lengths routes to, when it is a form `reached` picks and not yet listed.
        func add(_ problem: AttentionProblem, if reached: (AttentionKernelDescriptor) -> Bool) {
            guard let d = try? descriptor(for: problem, architecture: architecture).descriptor, reached(d),
                  names.insert(d.name).inserted else { return }
            variants.append(d)
        }
        func problem(_ choice: TileChoice, _ mask: KernelMask, _ seqlen: Int) -> AttentionProblem {
            AttentionProblem(elementType: .bfloat16, headDim: choice.maxHeadDim, mask: mask, tensorMapFriendly: true,
                             seqlenQ: seqlen, seqlenK: seqlen)
        }
        for choice in table(for: architecture) {
            for mask in [KernelMask.causal, .none] {
                add(problem(choice, mask, 512)) { $0.halfDiagonalStep || $0.stageOInLastStage || $0.queryHalves > 0 || $0.skipEmptyWarpgroups }
            }
        }
        // At 1k, 2k and 4k: unmasked tile D = 64's empty warpgroups on the dynamic scheduler (defaultSkipEmptyWarpgroups) with the
        // early rescale and precomputed descriptors those lengths take, and causal tile D = 128's overlapped lean order
        // (defaultOverlappedExponentialTurn: `xoa` at 1k), kernels 512 does not reach.
        for seqlen in [1024, 2048, 4096] {
            for mask in [KernelMask.causal, .none] {
                for choice in table(for: architecture) {
                    add(problem(choice, mask, seqlen)) { $0.skipEmptyWarpgroups || $0.overlappedExponentialTurn > 0 }
                }
            }
        }
        // Unmasked tile D = 256 at 1k keys: its row stages O in the Q buffer (not the last stages), in halves
        // (defaultQueryHalves), a kernel 512 keys do not reach.
        for choice in table(for: architecture) {
            add(problem(choice, .none, 1024)) { $0.queryHalves > 0 }
        }
        // The 128-key causal D = 256 forms the lengths above never reach: past 2k keys (O staged in the Q
        // buffer), then at 2k (warpgroup 0's O in its own buffer, no early rescale: defaultStageOInOwnBuffer).
        let wideForms: [(seqlen: Int, reached: (AttentionKernelDescriptor) -> Bool)] = [(4096, { $0.separateValueTurn }), (2048, { $0.stageOInOwnBuffer || $0.queryHalves > 0 })]
        for form in wideForms {
            for choice in table(for: architecture) {
                add(problem(choice, .causal, form.seqlen), if: form.reached)
            }
        }
        // Unmasked tile D = 256 from 8k keys: the long row with the precomputed descriptors and the early rescale
        // (defaultPrecomputedDescriptors / defaultEarlyRescale, session 15), a kernel the lengths above do not reach.
        // (Last, so the variants listed before keep their places.)
        for choice in table(for: architecture) {
            add(problem(choice, .none, 8192)) { $0.headDim == 256 && $0.precomputedDescriptors && $0.earlyRescale }
        }
        // The lazy O rescale's kernels (defaultLazyRescale: the three-warpgroup tile D = 64 rows from 8k keys, tile D = 256
        // unmasked from 512 and causal from 2k, causal tile D = 128's overlapped order) not listed above under their own names.
        for seqlen in [1024, 2048, 4096, 8192] {
            for mask in [KernelMask.causal, .none] {
                for choice in table(for: architecture) {
                    add(problem(choice, mask, seqlen)) { $0.lazyRescale }
                }
            }
        }
        // Unmasked tile D = 128 up to 512 keys: the precomputed descriptors (defaultPrecomputedDescriptors, session 26).
        for choice in table(for: architecture) {
            add(problem(choice, .none, 512)) { $0.headDim == 128 && $0.precomputedDescriptors }
        }
        // The tile-192 TMA rows (tiles 160 and 192 from 2k queries, PaddedTileHeadDim), which unknown lengths do not reach.
        for choice in table(for: architecture) {
            for mask in [KernelMask.causal, .none] {
                add(problem(choice, mask, 4096)) { $0.mainloop == .tmaWarpSpecialized && $0.headDim == 192 }
            }
        }
        return variants
    }
}

/// The Hopper forward's environment knobs, read once per process (the table lookup runs on
/// every forward call; nothing sets them after start-up).
private enum HopperForwardKnobs {
    static let enabled = FileSystem.environment("FLASH_ATTENTION_HOPPER")
    static let queryBuffers = FileSystem.environment("FLASH_ATTENTION_HOPPER_QBUF")
    static let store = FileSystem.environment("FLASH_ATTENTION_HOPPER_STORE")
    static let overlap = FileSystem.environment("FLASH_ATTENTION_HOPPER_OVERLAP")
    static let consumerWarpgroups = FileSystem.environment("FLASH_ATTENTION_HOPPER_WG")
    static let lateTileAddresses = FileSystem.environment("FLASH_ATTENTION_HOPPER_LATE")
    static let stageOInQueryBuffer = FileSystem.environment("FLASH_ATTENTION_HOPPER_OQ")
    static let rescale = FileSystem.environment("FLASH_ATTENTION_HOPPER_RESCALE")
    static let stageOInLastStage = FileSystem.environment("FLASH_ATTENTION_HOPPER_OKV")
    static let halfDiagonalStep = FileSystem.environment("FLASH_ATTENTION_HOPPER_DIAG")
    static let treeRowReductions = FileSystem.environment("FLASH_ATTENTION_HOPPER_TREE")
    static let warpgroupStepCount = FileSystem.environment("FLASH_ATTENTION_HOPPER_WGSTEPS")
    static let precomputedDescriptors = FileSystem.environment("FLASH_ATTENTION_HOPPER_DESC")
    static let earlyRescale = FileSystem.environment("FLASH_ATTENTION_HOPPER_EARLYRESCALE")
    static let wideScoreSteps = FileSystem.environment("FLASH_ATTENTION_HOPPER_WIDE256")
    static let narrowDiagonal = FileSystem.environment("FLASH_ATTENTION_HOPPER_NARROWDIAG")
    static let ownBuffer = FileSystem.environment("FLASH_ATTENTION_HOPPER_OWNO")
    static let twoBlocks = FileSystem.environment("FLASH_ATTENTION_HOPPER_TWOBLOCKS")
    static let queryHalves = FileSystem.environment("FLASH_ATTENTION_HOPPER_QHALVES")
    static let queryHalves128 = FileSystem.environment("FLASH_ATTENTION_HOPPER_QHALVES128")
    static let folded = FileSystem.environment("FLASH_ATTENTION_HOPPER_FOLDED")
    static let valueWait = FileSystem.environment("FLASH_ATTENTION_HOPPER_VALUEWAIT")
    static let producerSleep = FileSystem.environment("FLASH_ATTENTION_HOPPER_PRODUCERSLEEP")
    static let exponentialTurn = FileSystem.environment("FLASH_ATTENTION_HOPPER_EXPTURN")
    static let emptyWarpgroups = FileSystem.environment("FLASH_ATTENTION_HOPPER_EMPTYWG")
    static let emptyWarpgroupStages = FileSystem.environment("FLASH_ATTENTION_HOPPER_EWSTAGES")
    static let stages = FileSystem.environment("FLASH_ATTENTION_HOPPER_STAGES")
    static let exponentialTurnOverlap = FileSystem.environment("FLASH_ATTENTION_HOPPER_EXPOVERLAP")
    static let packedRowSum = FileSystem.environment("FLASH_ATTENTION_HOPPER_PACKSUM")
    static let dependentLaunch = FileSystem.environment("FLASH_ATTENTION_HOPPER_PDL")
    static let streamK = FileSystem.environment("FLASH_ATTENTION_HOPPER_STREAMK")
    static let productHeadDim = FileSystem.environment("FLASH_ATTENTION_HOPPER_PRODUCTS")
    static let softcap = FileSystem.environment("FLASH_ATTENTION_HOPPER_SOFTCAP")
    static let window = FileSystem.environment("FLASH_ATTENTION_HOPPER_WINDOW")
    static let narrowWindow = FileSystem.environment("FLASH_ATTENTION_HOPPER_WINDOW_NARROW")
    static let alibi = FileSystem.environment("FLASH_ATTENTION_HOPPER_ALIBI")
}
