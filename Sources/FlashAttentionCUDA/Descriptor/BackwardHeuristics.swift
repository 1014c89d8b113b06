import FlashAttentionCore

/// What a backward call asks for, before any performance decision.
public struct BackwardProblem: Sendable, Hashable {
    /// q, k, v (float16 or bfloat16).
    public var elementType: ElementType
    /// Storage of the caller's dO and O.
    public var gradOutType: ElementType
    public var outType: ElementType
    public var dqType: ElementType
    public var dkType: ElementType
    public var dvType: ElementType
    /// The problem's D (1…256).
    public var headDim: Int
    public var mask: KernelMask
    public var softcap: Bool
    public var alibi: Bool
    public var dropout: Bool
    public var varlen: Bool
    /// q, k, v, the dO the main passes read, dQ, dK and dV all allow 16-byte tiles.
    public var vectorized: Bool
    /// dO is converted to the input type by the preprocess (its type differs from q's, or it
    /// is strided where everything else is not).
    public var convertGradOut: Bool
    /// Bitwise-reproducible gradients (``AttentionOptions/deterministic``): dQ is never summed
    /// with atomics.
    public var deterministic: Bool
    /// Keys per sequence (the maximum for varlen); 0 when unknown. Picks between the Hopper
    /// tables (``BackwardHeuristics/hopperNarrow`` up to ``BackwardHeuristics/narrowMaxKeys``).
    public var seqlenK: Int
    /// Key/value heads per sequence; 0 when unknown. The Hopper backward's grid order reads it
    /// (``HopperBackwardDescriptor/causalManyHeadsGroup(_:)``): its 3-D grid runs kv heads fastest.
    public var kvHeads: Int

    public init(
        elementType: ElementType, gradOutType: ElementType? = nil, outType: ElementType? = nil,
        dqType: ElementType? = nil, dkType: ElementType? = nil, dvType: ElementType? = nil, headDim: Int,
        mask: KernelMask = .none, softcap: Bool = false, alibi: Bool = false, dropout: Bool = false,
        varlen: Bool = false, vectorized: Bool = true, convertGradOut: Bool = false, deterministic: Bool = true,
        seqlenK: Int = 0, kvHeads: Int = 0
    ) {
        self.elementType = elementType
        self.gradOutType = gradOutType ?? elementType
        self.outType = outType ?? elementType
        self.dqType = dqType ?? elementType
        self.dkType = dkType ?? elementType
        self.dvType = dvType ?? elementType
        self.headDim = headDim
        self.mask = mask
        self.softcap = softcap
        self.alibi = alibi
        self.dropout = dropout
        self.varlen = varlen
        self.vectorized = vectorized
        self.convertGradOut = convertGradOut
        self.deterministic = deterministic
        self.seqlenK = seqlenK
        self.kvHeads = kvHeads
    }
}

/// The kernels of one backward call, in launch order, with the reason for their tiles.
public struct BackwardPlan: Sendable, Hashable {
    public var preprocess: BackwardKernelDescriptor
    /// One fused dK/dV kernel, or a dV kernel then a dK kernel (large head dims).
    public var keyValue: [BackwardKernelDescriptor]
    /// The dQ pass, or (when the key/value kernel accumulates dQ) the float32 → dQ conversion.
    public var query: BackwardKernelDescriptor
    public var reason: String

    public var all: [BackwardKernelDescriptor] { [preprocess] + keyValue + [query] }
}

/// Problem → backward kernel descriptors: every performance decision of the CUDA backward.
///
/// The register budget decides the shapes. The dQ pass holds S, dP (blockN/2 floats each per
/// thread) and dQ (D/2); the dK/dV pass holds Sᵀ, dPᵀ (blockM/2 each) and dK, dV (D/2 each, one
/// 16-row tile per warp). Above D = 128, dK and dV together would need D floats per thread on
/// top of the scores, so the pass is split into a dV kernel and a dK kernel (one more Q·Kᵀ
/// recompute, but no spills).
public enum BackwardHeuristics {
    public struct TileChoice: Sendable, Hashable {
        public var maxHeadDim: Int
        /// dQ pass: query rows per block, keys per step, warps.
        public var queryM: Int, queryN: Int, queryWarps: Int
        /// dK/dV pass: keys per block, query rows per step, warps; split into dV and dK kernels.
        public var keyN: Int, keyM: Int, keyWarps: Int, split: Bool
        /// The dK/dV pass's query step and the dQ pass's key step with dropout (its 64-bit
        /// hash needs registers).
        public var dropoutKeyM: Int
        public var dropoutQueryN: Int
        public var reason: String
        /// dQ accumulated in the key/value kernel (wgmma rows with 64-query steps, no split):
        /// the default for deterministic calls (ordered turns) and for the rest (atomics).
        public var deterministicDQ: BackwardDQMode = .separate
        public var fastDQ: BackwardDQMode = .separate
        public var dqReason: String = ""
        /// `__launch_bounds__` minimum blocks per SM of the dK/dV and dQ kernels (caps registers).
        public var keyMinBlocks: Int = 1
        public var queryMinBlocks: Int = 1
    }

    /// sm_80 and sm_90 (164 KB / 227 KB of shared memory per block): every row fits 164 KB.
    public static let largeSharedMemory: [TileChoice] = [
        TileChoice(maxHeadDim: 64, queryM: 128, queryN: 64, queryWarps: 8, keyN: 128, keyM: 64, keyWarps: 8, split: false, dropoutKeyM: 32, dropoutQueryN: 64,
                   reason: "D ≤ 64: dQ pass S+dP 64 regs + dQ 32; dK/dV pass Sᵀ+dPᵀ 64 + dK+dV 64"),
        TileChoice(maxHeadDim: 128, queryM: 128, queryN: 64, queryWarps: 8, keyN: 128, keyM: 64, keyWarps: 8, split: false, dropoutKeyM: 32, dropoutQueryN: 32,
                   reason: "D ≤ 128: dQ pass S+dP 64 regs + dQ 64; dK/dV pass Sᵀ+dPᵀ 64 + dK+dV 128 (32-query steps with dropout)"),
        TileChoice(maxHeadDim: 256, queryM: 64, queryN: 32, queryWarps: 4, keyN: 64, keyM: 32, keyWarps: 4, split: true, dropoutKeyM: 32, dropoutQueryN: 16,
                   reason: "D > 128: dK and dV in separate kernels (128 regs of accumulator each); 135 KB shared"),
    ]

    /// sm_86 and sm_89 (99 KB per block).
    public static let smallSharedMemory: [TileChoice] = [
        TileChoice(maxHeadDim: 64, queryM: 64, queryN: 64, queryWarps: 4, keyN: 64, keyM: 64, keyWarps: 4, split: false, dropoutKeyM: 32, dropoutQueryN: 64,
                   reason: "99 KB parts: 55 KB shared per pass"),
        TileChoice(maxHeadDim: 128, queryM: 64, queryN: 32, queryWarps: 4, keyN: 64, keyM: 32, keyWarps: 4, split: false, dropoutKeyM: 32, dropoutQueryN: 32,
                   reason: "99 KB parts: 70 KB shared per pass"),
        TileChoice(maxHeadDim: 256, queryM: 32, queryN: 16, queryWarps: 2, keyN: 32, keyM: 16, keyWarps: 2, split: true, dropoutKeyM: 16, dropoutQueryN: 16,
                   reason: "99 KB parts: 68 KB shared, split dK/dV"),
    ]

    /// sm_90a with the wgmma main loop (tile head dims 64, 128, 192, 256; vectorized layouts):
    /// warpgroups of 64 rows, B operands read once per warpgroup from swizzled shared memory.
    /// Dense float16/bfloat16 problems with tensor-map-friendly strides go to the Hopper
    /// warp-specialised backward first (``HopperBackwardDescriptor/defaultOn(_:)``; at
    /// D = 129…256 its tile D = 256 form, 1.00–1.24× this table's D ≤ 256 row on the H100), so
    /// these rows serve the rest (options, varlen, strided views, `FLASH_ATTENTION_HOPPER_BWD=0`).
    public static let hopper: [TileChoice] = [
        TileChoice(maxHeadDim: 64, queryM: 128, queryN: 128, queryWarps: 8, keyN: 128, keyM: 64, keyWarps: 8, split: false, dropoutKeyM: 64, dropoutQueryN: 64,
                   reason: "sm_90a wgmma, D = 64: dQ pass S+dP 128 regs + dQ 32; dK/dV pass 64 + 64 (128-query steps spill); H100 sweep: 128-key dQ steps +3% over 64"),
        TileChoice(maxHeadDim: 128, queryM: 128, queryN: 128, queryWarps: 8, keyN: 128, keyM: 64, keyWarps: 8, split: false, dropoutKeyM: 32, dropoutQueryN: 32,
                   reason: "sm_90a wgmma, D = 128: two warpgroups share each K/V (dQ) or Q/dO (dK/dV) tile; H100 sweep: 128-key dQ steps +1% over 64; plain masked problems too since session 5 (bf16 causal 2k/16k 298/395 TFLOP/s against 303/382 with the 4-warp row)",
                   deterministicDQ: .separate, fastDQ: .separate,
                   dqReason: "H100 bf16, unmasked N = 8k/16k: atomic fused dQ 369/378 TFLOP/s against 360/363 (separate), but its kernel spills 4 bytes here; ordered 267/275 (turn waits and read-modify-writes on the critical path)"),
        TileChoice(maxHeadDim: 256, queryM: 128, queryN: 32, queryWarps: 8, keyN: 128, keyM: 32, keyWarps: 8, split: true, dropoutKeyM: 32, dropoutQueryN: 16,
                   reason: "sm_90a wgmma, D > 128: split dK/dV (128 accumulator regs each); H100 sweep: 128-key blocks (8 warps) +14% over 64 (4 warps); 64-query steps spill the dV kernel"),
    ]

    /// sm_90a wgmma for masked problems (D = 64; at D = 128 only with softcap, ALiBi, dropout
    /// or fused dQ), option-heavy ones and short sequences (≤ ``narrowMaxKeys`` keys): one
    /// warpgroup per dK/dV block (64 keys), so two blocks share each SM and one block's
    /// barriers and `wgmma` waits overlap the other's work. Unmasked long sequences (and plain
    /// masked ones at D = 128) keep the two-warpgroup rows of ``hopper`` (half the Q/dO reloads).
    public static let hopperNarrow: [TileChoice] = [
        TileChoice(maxHeadDim: 64, queryM: 64, queryN: 128, queryWarps: 4, keyN: 64, keyM: 64, keyWarps: 4, split: false, dropoutKeyM: 32, dropoutQueryN: 64,
                   reason: "sm_90a wgmma, D = 64, masked or N ≤ 4k: 4-warp blocks, two per SM; H100 bf16: causal 121–249 TFLOP/s against 105–231 (8 warps), unmasked N ≤ 4k +3–8%, but unmasked 8k/16k 277/265 against 290/298; 32-query steps with dropout (64 spill with softcap + ALiBi); session 5 (split edge steps): causal 2k/8k/16k 236/290/287 against 222/283/295 with the 8-warp row"),
        TileChoice(maxHeadDim: 128, queryM: 128, queryN: 128, queryWarps: 8, keyN: 64, keyM: 64, keyWarps: 4, split: false, dropoutKeyM: 32, dropoutQueryN: 32,
                   reason: "sm_90a wgmma, D = 128, N ≤ 4k or softcap/ALiBi/dropout (or fused dQ): 4-warp dK/dV blocks, two per SM; H100 bf16: unmasked N ≤ 4k +0–4%, but unmasked 8k/16k 341/355 against 360/363; plain masked problems moved to the two-warpgroup row in session 5"),
    ]
    /// Longest key sequence that takes ``hopperNarrow`` without a mask (H100 crossover between 4k and 8k).
    public static let narrowMaxKeys = 4096

    /// Whether the wgmma main loop runs a problem: sm_90a, tile head dim a multiple of 64,
    /// 16-byte-aligned tensors. `FLASH_ATTENTION_BWD_WGMMA=0` keeps mma.sync.
    static func useWGMMA(tileHeadDim tileD: Int, problem: BackwardProblem, architecture: GPUArchitecture) -> Bool {
        architecture.computeCapability == 90 && tileD % 64 == 0 && problem.vectorized
            && FileSystem.environment("FLASH_ATTENTION_BWD_WGMMA") != "0"
    }

    /// How dQ is formed: the table's mode for deterministic calls or for the rest (atomics
    /// only where the call allows non-determinism). `FLASH_ATTENTION_BWD_DQ=separate|ordered|atomic`
    /// overrides it for measurements, whatever the call asks. Shapes the key/value kernel
    /// cannot fuse use the separate pass.
    static func dqMode(choice: TileChoice, problem: BackwardProblem, fusable: Bool, forced: BackwardDQMode?) -> BackwardDQMode {
        guard fusable else { return .separate }
        if let forced { return forced }
        if let tuning = FileSystem.environment("FLASH_ATTENTION_BWD_DQ").flatMap({ BackwardDQMode(rawValue: $0 == "ordered-early" ? "ordered" : $0) }) { return tuning }
        let mode = problem.deterministic ? choice.deterministicDQ : choice.fastDQ
        return mode == .atomic && problem.deterministic ? .ordered : mode
    }

    /// A tuning hook: `FLASH_ATTENTION_BWD_TILES="64:128x128w8/128x128w8,256:..."` replaces,
    /// per tile head dim, the dQ pass's (blockM x blockN, warps) and the dK/dV pass's
    /// (blockN x blockM, warps) without dropout, so one run can compare shapes.
    /// An item "64c:…" applies to masked problems only and "64u:…" to unmasked ones; either
    /// takes precedence over a plain "64:…". A trailing "b3" on a pass's shape sets its minimum
    /// blocks per SM ("64c:64x128w4/64x64w4b3").
    static func tileOverride(headDim: Int, masked: Bool, base: TileChoice) -> TileChoice? {
        guard let text = FileSystem.environment("FLASH_ATTENTION_BWD_TILES") else { return nil }
        var plain: TileChoice?
        for item in text.split(separator: ",") {
            let parts = item.split(separator: ":")
            guard parts.count == 2 else { continue }
            let key = parts[0]
            let suffix = key.last.map { "cu".contains($0) ? String($0) : "" } ?? ""
            guard Int(key.dropLast(suffix.count)) == headDim else { continue }
            let passes = parts[1].split(separator: "/")
            guard passes.count == 2 else { continue }
            func shape(_ text: Substring) -> [Int]? {
                let n = text.split(whereSeparator: { "xwb".contains($0) }).compactMap { Int($0) }
                return n.count == 3 ? n + [1] : n.count == 4 ? n : nil
            }
            guard let q = shape(passes[0]), let k = shape(passes[1]) else { continue }
            var choice = base
            (choice.queryM, choice.queryN, choice.queryWarps, choice.queryMinBlocks) = (q[0], q[1], q[2], q[3])
            (choice.keyN, choice.keyM, choice.keyWarps, choice.keyMinBlocks) = (k[0], k[1], k[2], k[3])
            choice.reason = "FLASH_ATTENTION_BWD_TILES override"
            if suffix.isEmpty { plain = choice }
            if suffix == (masked ? "c" : "u") { return choice }
        }
        return plain
    }

    /// Session-5 changes of the generated code that `FLASH_ATTENTION_BWD_OFF` turns off for
    /// measurements (comma-separated: edge, order, overlap, preload, chunk; "all").
    static func disabledChanges() -> Set<String> {
        guard let text = FileSystem.environment("FLASH_ATTENTION_BWD_OFF") else { return [] }
        let words = Set(text.split(separator: ",").map(String.init))
        return words.contains("all") ? ["edge", "order", "overlap", "preload", "chunk"] : words
    }

    public static func table(for architecture: GPUArchitecture) -> [TileChoice] {
        architecture.maxSharedMemoryPerBlock >= 160_000 ? largeSharedMemory : smallSharedMemory
    }

    /// The kernels for a problem.
    public static func plan(for problem: BackwardProblem, architecture: GPUArchitecture, dqMode forced: BackwardDQMode? = nil) throws -> BackwardPlan {
        guard problem.headDim >= 1, problem.headDim <= 256 else {
            throw FlashAttentionError.unsupported("head dim \(problem.headDim) on CUDA (1...256)")
        }
        guard problem.elementType != .float32 else {
            throw FlashAttentionError.unsupported("float32 inputs on CUDA (tensor cores take float16 or bfloat16)")
        }
        // sm_90a runs the tiles it has no wgmma rows for on the next multiple of 64 (PaddedTileHeadDim).
        let ownTile = KernelHeuristics.tileHeadDim(for: problem.headDim)
        let paddedTile = PaddedTileHeadDim.backwardTile(ownTile, problem: problem, architecture: architecture)
        let wgmma = useWGMMA(tileHeadDim: paddedTile, problem: problem, architecture: architecture)
        let tileD = wgmma ? paddedTile : ownTile
        // The two-warpgroup rows only where they were measured faster: plain, unmasked, long; and
        // (session 5) plain masked problems at D = 128, unless dQ is fused (measured on the narrow rows).
        let options = problem.softcap || problem.alibi || problem.dropout
        let fusedAsked = (forced ?? FileSystem.environment("FLASH_ATTENTION_BWD_DQ").flatMap {
            BackwardDQMode(rawValue: $0 == "ordered-early" ? "ordered" : $0) }).map { $0 != .separate } ?? false
        let wideMasked = tileD > 64 && problem.mask != .none && !options && !fusedAsked
        let narrow = wgmma && !wideMasked && (problem.mask != .none || problem.seqlenK <= narrowMaxKeys || options)
        guard var choice = (narrow ? hopperNarrow.first(where: { $0.maxHeadDim >= tileD }) : nil)
            ?? (wgmma ? hopper : table(for: architecture)).first(where: { $0.maxHeadDim >= tileD }) else {
            throw FlashAttentionError.unsupported("head dim \(problem.headDim) on \(architecture)")
        }
        if let o = tileOverride(headDim: tileD, masked: problem.mask != .none, base: choice) { choice = o }
        choice.reason += PaddedTileHeadDim.reason(ownTile, tileD)
        let pre = BackwardKernelDescriptor(
            pass: .preprocess, architecture: architecture, elementType: problem.elementType,
            gradOutType: problem.gradOutType, outType: problem.outType, convertGradOut: problem.convertGradOut,
            dqType: problem.elementType, dkType: problem.elementType, dvType: problem.elementType,
            headDim: 0, blockM: 16, blockN: 16, warps: 8, varlen: problem.varlen)
        let off = disabledChanges()
        func main(_ pass: BackwardPass, m: Int, n: Int, warps: Int, dk: Bool, dv: Bool) -> BackwardKernelDescriptor {
            let minBlocks = pass == .query ? choice.queryMinBlocks : choice.keyMinBlocks
            var d = BackwardKernelDescriptor(
                pass: pass, architecture: architecture, elementType: problem.elementType,
                dqType: pass == .query ? problem.dqType : problem.elementType,
                dkType: pass == .keyValue && dk ? problem.dkType : problem.elementType,
                dvType: pass == .keyValue && dv ? problem.dvType : problem.elementType,
                headDim: tileD, blockM: m, blockN: n, warps: warps, minBlocksPerMultiprocessor: minBlocks, mask: problem.mask,
                softcap: problem.softcap, alibi: problem.alibi, dropout: problem.dropout, varlen: problem.varlen,
                vectorized: problem.vectorized, computeDK: pass == .keyValue ? dk : true, computeDV: pass == .keyValue ? dv : true,
                mainloop: wgmma ? .wgmma : .mmaSync)
            // Session 5's step changes (they apply to the wgmma kernels of plain problems, see
            // BackwardKernelDescriptor.plainWGMMAStep: the others sit at 255 registers and would
            // spill; the edge split to masked ones, as unmasked problems have edge steps only at
            // a sequence's end, where the predicated test is one compare per row and a second
            // copy only costs code: H100 bf16 D = 64 unmasked 2k/8k/16k 279/304/306 TFLOP/s
            // without the split, 272/300/301 with).
            d.splitEdgeSteps = !off.contains("edge")
            d.sharedStartOrder = !off.contains("order")
            d.overlapProducts = !off.contains("overlap")
            d.preloadStatistics = !off.contains("preload")
            d.chunkedSteps = !off.contains("chunk")
            return d
        }
        var keyM = problem.dropout ? choice.dropoutKeyM : choice.keyM
        var queryN = problem.dropout ? choice.dropoutQueryN : choice.queryN
        let steps = optionSteps(choice, problem, wgmma: wgmma, keyM: keyM, queryN: queryN)
        if steps.keyM != keyM || steps.queryN != queryN {
            (keyM, queryN) = steps
            choice.reason += "; steps halved: with its options the \(choice.maxHeadDim) row's kernel spills past 255 registers"
        }
        // Fused dQ: wgmma, one dK/dV kernel with 64-query steps; softcap, ALiBi and dropout add
        // registers that make it spill (ptxas, sm_90a: 4–48 bytes at D = 64 and 128).
        let fusable = wgmma && !choice.split && keyM == 64 && tileD <= 128 && choice.keyWarps % 4 == 0
            && !problem.softcap && !problem.alibi && !problem.dropout
        let mode = dqMode(choice: choice, problem: problem, fusable: fusable, forced: forced)
        if mode != .separate {
            var keyValue = main(.keyValue, m: keyM, n: choice.keyN, warps: choice.keyWarps, dk: true, dv: true)
            keyValue.dqMode = mode
            keyValue.dqEarlyRelease = mode == .ordered && FileSystem.environment("FLASH_ATTENTION_BWD_DQ") == "ordered-early"
            let convert = BackwardKernelDescriptor(
                pass: .convertDQ, architecture: architecture, elementType: problem.elementType, dqType: problem.dqType,
                headDim: tileD, blockM: 16, blockN: 16, warps: 8, varlen: problem.varlen)
            return BackwardPlan(preprocess: pre, keyValue: [keyValue], query: convert,
                                reason: choice.reason + "; dQ \(mode.rawValue) in the dK/dV kernel" + (choice.dqReason.isEmpty ? "" : " (\(choice.dqReason))"))
        }
        let keyValue = choice.split
            ? [main(.keyValue, m: keyM, n: choice.keyN, warps: choice.keyWarps, dk: false, dv: true),
               main(.keyValue, m: keyM, n: choice.keyN, warps: choice.keyWarps, dk: true, dv: false)]
            : [main(.keyValue, m: keyM, n: choice.keyN, warps: choice.keyWarps, dk: true, dv: true)]
        let query = main(.query, m: choice.queryM, n: queryN, warps: choice.queryWarps, dk: true, dv: true)
        return BackwardPlan(preprocess: pre, keyValue: keyValue, query: query, reason: choice.reason)
    }

    /// The dK/dV pass's query step and the dQ pass's key step for a problem's options, from the
    /// row's (`keyM`, `queryN`: after the dropout shapes). Session 32 compiled every kernel of a
    /// grid of problems (head dims, masks, every set of softcap / ALiBi / dropout / varlen,
    /// 16-bit and float32 gradients, contiguous and strided) for sm_80, sm_86 and sm_90a with
    /// NVRTC 13.5: once option kernels tested the mask on every score and the element-wise
    /// loaders kept one row in flight, these tiles still spilled 4–68 bytes, and with half the
    /// step (half the score registers) compile clean:
    /// - the wgmma dQ pass's 128-key step with softcap (D = 64 and 128 rows), or ALiBi beside a
    ///   mask at D = 128 → 64 (H200: softcap problems 6–18 % faster than the spilling kernels;
    ///   unmasked ALiBi, which did not spill, 2.6 % slower at 64, so it keeps 128);
    /// - the 8-warp mma.sync dQ pass (128 × 64, D ≤ 128) with softcap beside a mask → 32;
    /// - the one-warpgroup wgmma dK/dV pass at D = 128 with softcap or ALiBi beside a mask or
    ///   varlen → 32;
    /// - the 8-warp mma.sync dK/dV pass (128 keys, 64-query steps, D ≤ 128) with softcap, ALiBi,
    ///   varlen or strided tensors → 32, a window with ALiBi → 16.
    /// Plain problems keep the rows' shapes.
    static func optionSteps(_ choice: TileChoice, _ problem: BackwardProblem, wgmma: Bool, keyM: Int, queryN: Int) -> (keyM: Int, queryN: Int) {
        let masked = problem.mask != .none
        var (keyM, queryN) = (keyM, queryN)
        if wgmma {
            if queryN == 128 && (problem.softcap || problem.alibi && masked && choice.maxHeadDim == 128) { queryN = 64 }
            if choice.maxHeadDim == 128 && choice.keyN == 64 && keyM == 64 && (problem.softcap || problem.alibi) && (masked || problem.varlen) { keyM = 32 }
        } else if choice.maxHeadDim == 128 && choice.queryWarps == 8 {
            if choice.queryM == 128 && queryN == 64 && problem.softcap && masked { queryN = 32 }
            // (128 accumulator registers of dK and dV beside 64 of Sᵀ and dPᵀ: contiguous problems without
            // softcap, ALiBi or varlen only; H200, the sm_90a build of this loop, plain window 4k: 7 % slower at 32)
            let plain = problem.vectorized && !problem.varlen && !problem.softcap && !problem.alibi
            if choice.keyN == 128 && keyM == 64 && !plain { keyM = problem.mask == .window && problem.alibi ? 16 : 32 }
        }
        return (keyM, queryN)
    }

    /// The variants CI compiles for an architecture: per table row, the plain bf16 causal
    /// kernels and the fp16 kernels with every option on (the most registers); on sm_90a the
    /// wgmma rows, and the mma.sync kernels that strided layouts fall back to there.
    public static func tableVariants(for architecture: GPUArchitecture) -> [BackwardKernelDescriptor] {
        var variants: [BackwardKernelDescriptor] = []
        let hopperRows = hopper.map { ($0, false) } + hopperNarrow.map { ($0, true) }
        let rows = architecture.computeCapability == 90 ? hopperRows : table(for: architecture).map { ($0, true) }
        for (choice, narrowRow) in rows {
            // Narrow Hopper rows (and every other table) through a causal problem, wide rows unmasked and long.
            var plain = BackwardProblem(elementType: .bfloat16, headDim: choice.maxHeadDim, mask: narrowRow ? .causal : .none,
                                        seqlenK: narrowRow ? 1024 : 16384)
            if architecture.computeCapability == 90 && choice.maxHeadDim == 128, let plan = try? plan(for: plain, architecture: architecture) {
                plain.vectorized = false
                if let scalar = try? self.plan(for: plain, architecture: architecture) { variants += scalar.all }
                plain.vectorized = true
                variants += plan.all.filter { !variants.contains($0) }
            }
            let everything = BackwardProblem(
                elementType: .float16, gradOutType: .float32, outType: .float32, dqType: .float32, dkType: .float32,
                dvType: .float32, headDim: choice.maxHeadDim, mask: narrowRow ? .window : .none, softcap: true, alibi: true, dropout: true,
                varlen: true, convertGradOut: true, seqlenK: plain.seqlenK)
            // The fused-dQ kernels with every option they take (window, varlen, float32 outputs).
            var noDropout = everything
            (noDropout.dropout, noDropout.softcap, noDropout.alibi) = (false, false, false)
            // Fused dQ is compiled clean (no spills) on the narrow Hopper rows; on the two-warpgroup
            // D = 128 row it spills 4–24 bytes, so there it stays a measurement knob.
            let fusedModes: [BackwardDQMode?] = architecture.computeCapability == 90 && narrowRow ? [.ordered, .atomic] : []
            var causalPlain = plain
            causalPlain.mask = .causal
            // Narrow rows also through an unmasked short problem (D = 128 masked plain problems take the wide row).
            var unmaskedShort = plain
            unmaskedShort.mask = .none
            let extra = (fusedModes.isEmpty ? [] : [noDropout]) + (narrowRow ? [unmaskedShort] : [causalPlain])
            for problem in [plain, everything] + extra {
                // (the no-dropout problem only for the fused kernels it adds)
                let modes: [BackwardDQMode?] = problem == noDropout ? fusedModes : [nil, .separate] + fusedModes
                for mode in modes {
                    var problem = problem
                    problem.deterministic = mode != .atomic
                    guard let plan = try? plan(for: problem, architecture: architecture, dqMode: mode) else { continue }
                    for d in plan.all where !variants.contains(d) { variants.append(d) }
                }
            }
        }
        return variants
    }
}
