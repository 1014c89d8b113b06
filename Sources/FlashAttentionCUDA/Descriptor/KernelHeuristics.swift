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

    public init(
        elementType: ElementType, outputType: ElementType? = nil, headDim: Int, mask: KernelMask = .none,
        softcap: Bool = false, alibi: Bool = false, dropout: Bool = false, varlen: Bool = false,
        writeLSE: Bool = true, nonPositiveScale: Bool = false, vectorized: Bool = true
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
        if useWGMMA(tileHeadDim: tileD, problem: problem, architecture: architecture) {
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
            return (d, "sm_90a wgmma: on the H100 faster than the mma.sync loop at every grid point (see the sweep above)")
        }
        if let override = tileOverride(headDim: tileD) {
            (choice.blockM, choice.blockN, choice.warps, choice.minBlocks) = override
            choice.reason = "FLASH_ATTENTION_TILES override"
        }
        let descriptor = AttentionKernelDescriptor(
            architecture: architecture, elementType: problem.elementType, outputType: problem.outputType,
            headDim: tileD, blockM: problem.dropout ? choice.dropoutBlockM : choice.blockM,
            blockN: problem.dropout ? choice.dropoutBlockN : choice.blockN,
            warps: problem.dropout ? choice.dropoutWarps : choice.warps, minBlocksPerMultiprocessor: choice.minBlocks, mask: problem.mask,
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

    /// Whether the Hopper `wgmma` main loop runs a problem: on sm_90a, for tile head dims 64,
    /// 128, 192 and 256 with 16-byte-aligned tensors and no dropout (the others keep the
    /// `mma.sync` loop). `FLASH_ATTENTION_WGMMA=0` turns the path off.
    static func useWGMMA(tileHeadDim tileD: Int, problem: AttentionProblem, architecture: GPUArchitecture) -> Bool {
        guard architecture.computeCapability == 90, tileD % 64 == 0, problem.vectorized, !problem.dropout else { return false }
        return FileSystem.environment("FLASH_ATTENTION_WGMMA") != "0"
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
    /// kernel with every option but dropout.
    public static func tableVariants(for architecture: GPUArchitecture) -> [AttentionKernelDescriptor] {
        var variants: [AttentionKernelDescriptor] = []
        for choice in table(for: architecture) {
            let plain = AttentionProblem(elementType: .bfloat16, headDim: choice.maxHeadDim, mask: .causal)
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
        }
        return variants
    }
}
