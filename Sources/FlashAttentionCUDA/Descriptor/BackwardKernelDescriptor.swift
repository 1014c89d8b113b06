import FlashAttentionCore

/// The kernels of one backward call, in launch order.
public enum BackwardPass: String, Sendable, Hashable, CaseIterable {
    /// D = rowsum(dO ∘ O) and LSE·log2(e) per (token, head), float32; optionally dO converted
    /// to the inputs' 16-bit type.
    case preprocess
    /// Grid over key blocks: each block owns its dK and/or dV tile and visits every query block
    /// of every query head of its KV group, in a fixed order (no atomics).
    case keyValue
    /// Grid over query blocks: each block owns its dQ tile and visits its key blocks.
    case query
    /// After a key/value kernel that accumulated dQ in float32 (``BackwardDQMode/ordered`` or
    /// ``BackwardDQMode/atomic``): dQ = softmax scale · accumulator, in dQ's type and strides.
    case convertDQ
}

/// How dQ is computed.
public enum BackwardDQMode: String, Sendable, Hashable, CaseIterable {
    /// A separate query pass recomputes S and dP (7 products per block pair); every dQ element
    /// is owned by one thread block. Deterministic.
    case separate
    /// The key/value kernel also forms dQ_partial = dS·K (5 products) and adds it to a float32
    /// accumulator in a fixed order: the key blocks of one (batch, head, query block) take turns
    /// through a counter in global memory, lowest key block first. Deterministic.
    case ordered
    /// As ``ordered`` but with `red.global.add` in whatever order the blocks arrive: fastest,
    /// not bitwise reproducible.
    case atomic
}

/// Everything that changes the instructions of one backward kernel, and nothing else.
///
/// As for ``AttentionKernelDescriptor``: run-time values travel in ``BackwardParameters``;
/// equal descriptors generate byte-identical source and are the in-memory cache key. Fields a
/// pass does not use are left at their defaults by ``BackwardHeuristics`` so that equal work
/// gives equal descriptors.
public struct BackwardKernelDescriptor: Sendable, Hashable, CustomStringConvertible {
    public var pass: BackwardPass
    public var architecture: GPUArchitecture
    /// q, k, v and the dO the main passes read: float16 or bfloat16.
    public var elementType: ElementType
    /// Preprocess: storage of the caller's dO and O (any of the three float types).
    public var gradOutType: ElementType
    public var outType: ElementType
    /// Preprocess: also write dO as a contiguous (token, head, D) tensor in ``elementType``.
    public var convertGradOut: Bool
    /// Storage of the gradients (query pass: dQ; key/value pass: dK and dV).
    public var dqType: ElementType
    public var dkType: ElementType
    public var dvType: ElementType
    /// Tile head dim: a multiple of 16, at least the problem's D (padding is zero-filled).
    public var headDim: Int
    /// Query rows per block (query pass) or per inner step (key/value pass).
    public var blockM: Int
    /// Keys per inner step (query pass) or per block (key/value pass).
    public var blockN: Int
    public var warps: Int
    public var minBlocksPerMultiprocessor: Int
    public var mask: KernelMask
    public var softcap: Bool
    public var alibi: Bool
    public var dropout: Bool
    public var varlen: Bool
    /// 16-byte `cp.async` tiles and paired stores (unit head-dim strides, aligned rows, D % 8 == 0).
    public var vectorized: Bool
    /// Key/value pass: which gradients this kernel accumulates. Large head dims split them
    /// into two kernels, since dK and dV together would not fit in registers.
    public var computeDK: Bool
    public var computeDV: Bool
    /// `mma.sync` (sm_80+) or warpgroup `wgmma` from swizzled shared memory (sm_90a; one
    /// 64-row warpgroup tile per 4 warps, tile head dim a multiple of 64, vectorized tiles).
    public var mainloop: KernelMainloop
    /// Key/value pass (wgmma, computing dK): also accumulate dQ, in order or with atomics.
    public var dqMode: BackwardDQMode
    /// Ordered dQ: pass the turn on right after the next step's first barrier instead of
    /// after its score products (by then the adds have drained, so the release fence is
    /// cheap). A measurement knob (`FLASH_ATTENTION_BWD_DQ=ordered-early`).
    public var dqEarlyRelease: Bool = false
    /// The element-wise step in two copies: one that tests the mask, for the steps a mask
    /// boundary crosses (the diagonal under a causal mask, a sequence's end), and one with no
    /// per-element test for the rest. Off: one copy, the test predicated on every element.
    public var splitEdgeSteps: Bool = true
    /// Every block starts on the tile all blocks of its head share and walks away from it: the
    /// dK/dV kernel visits query blocks last to first (under a causal mask every key block sees
    /// the last query block), the dQ kernel key blocks first to last. Blocks launched together
    /// then read the same Q/dO (K/V) tiles at about the same time (L2 reuse). Off: both start
    /// at their diagonal.
    public var sharedStartOrder: Bool = true
    /// wgmma dK/dV kernel computing both: the dV and dK products are issued back to back and
    /// waited for once (dS is packed while dV's products run). Off: a wait after each.
    public var overlapProducts: Bool = true
    /// wgmma dK/dV kernel: each thread reads the L and D values of its query columns into
    /// registers while the score products run, instead of from shared memory after them.
    public var preloadStatistics: Bool = true
    /// wgmma kernels: the element-wise step in two halves of the step's columns, each half's
    /// products (dV and dK, or dQ) issued as soon as it is packed, so that the second half's
    /// element-wise work runs while the first half's products do.
    public var chunkedSteps: Bool = true

    public init(
        pass: BackwardPass, architecture: GPUArchitecture, elementType: ElementType,
        gradOutType: ElementType? = nil, outType: ElementType? = nil, convertGradOut: Bool = false,
        dqType: ElementType? = nil, dkType: ElementType? = nil, dvType: ElementType? = nil,
        headDim: Int, blockM: Int = 64, blockN: Int = 64, warps: Int = 4, minBlocksPerMultiprocessor: Int = 1,
        mask: KernelMask = .none, softcap: Bool = false, alibi: Bool = false, dropout: Bool = false,
        varlen: Bool = false, vectorized: Bool = true, computeDK: Bool = true, computeDV: Bool = true,
        mainloop: KernelMainloop = .mmaSync, dqMode: BackwardDQMode = .separate
    ) {
        self.pass = pass
        self.architecture = architecture
        self.elementType = elementType
        self.gradOutType = gradOutType ?? elementType
        self.outType = outType ?? elementType
        self.convertGradOut = convertGradOut
        self.dqType = dqType ?? elementType
        self.dkType = dkType ?? elementType
        self.dvType = dvType ?? elementType
        self.headDim = headDim
        self.blockM = blockM
        self.blockN = blockN
        self.warps = warps
        self.minBlocksPerMultiprocessor = minBlocksPerMultiprocessor
        self.mask = mask
        self.softcap = softcap
        self.alibi = alibi
        self.dropout = dropout
        self.varlen = varlen
        self.vectorized = vectorized
        self.computeDK = computeDK
        self.computeDV = computeDV
        self.mainloop = mainloop
        self.dqMode = dqMode
    }

    /// Session 5's step changes apply to the `wgmma` main passes of plain problems (softcap,
    /// ALiBi and dropout kernels sit at 255 registers and keep the single predicated step); the
    /// fields above are requests, these say what the generated kernel does.
    var plainWGMMAStep: Bool { mainloop == .wgmma && (pass == .query || pass == .keyValue) && !softcap && !alibi && !dropout }
    /// Two copies of the element-wise step (masked problems: unmasked ones have edge steps
    /// only at a sequence's end, where the predicated test is one compare per row).
    public var splitsEdgeSteps: Bool { splitEdgeSteps && plainWGMMAStep && mask != .none }
    public var usesSharedStartOrder: Bool { sharedStartOrder && plainWGMMAStep }
    public var overlapsProducts: Bool { overlapProducts && plainWGMMAStep && pass == .keyValue && computeDK && computeDV }
    public var preloadsStatistics: Bool { preloadStatistics && plainWGMMAStep && pass == .keyValue }
    public var chunksSteps: Bool {
        chunkedSteps && plainWGMMAStep && (pass == .query ? blockN % 32 == 0 : overlapsProducts && !fusedDQ && blockM % 32 == 0)
    }

    /// The key/value kernel also accumulates dQ (5-product backward).
    public var fusedDQ: Bool { pass == .keyValue && dqMode != .separate }

    public var threads: Int { warps * 32 }
    /// Padded shared row stride in elements (16 bytes of padding: conflict-free `ldmatrix`).
    public var sharedRowStride: Int { headDim + 8 }
    /// Rows of the tile each warp owns: query rows (query pass) or key rows (key/value pass).
    public var rowsPerWarp: Int { (pass == .query ? blockM : blockN) / warps }
    /// The key/value pass needs V (and D) only for dP, i.e. for dK.
    var keyValueNeedsV: Bool { computeDK }

    /// Dynamic shared memory of the launch.
    public var sharedMemoryBytes: Int {
        // wgmma: unpadded swizzled rows, plus 1 KB to align the swizzle atoms.
        let row = mainloop == .wgmma ? headDim * 2 : sharedRowStride * 2
        let slack = mainloop == .wgmma ? 1024 : 0
        switch pass {
        case .preprocess, .convertDQ:
            return 0
        case .query:
            // Q and dO once; K and V double-buffered.
            return 2 * blockM * row + 4 * blockN * row + slack
        case .keyValue:
            // K (and V); Q and dO double-buffered; LSE and D rows double-buffered.
            // With dQ fused: dSᵀ as a 16-bit (keys × queries) tile, the A operand of dQ = dS·K.
            return (keyValueNeedsV ? 2 : 1) * blockN * row + 4 * blockM * row + 4 * blockM * 4 + slack
                + (fusedDQ ? blockN * blockM * 2 : 0)
        }
    }

    /// Why this descriptor cannot be generated, or nil.
    public var invalidReason: String? {
        if elementType == .float32 { return "inputs must be float16 or bfloat16 (tensor cores), got float32" }
        if !architecture.supportsMMASync { return "\(architecture) has no mma.sync bf16 path (needs sm_80+)" }
        if pass == .preprocess || pass == .convertDQ { return warps == 8 ? nil : "the \(pass) kernel runs 8 warps" }
        if dqMode != .separate && pass != .keyValue { return "only the key/value kernel accumulates dQ" }
        if fusedDQ {
            if mainloop != .wgmma { return "dQ accumulation in the key/value kernel needs the wgmma main loop" }
            if !computeDK { return "dQ accumulation needs dS: the kernel must compute dK" }
            if blockM != 64 { return "dQ accumulation needs 64-query steps (one wgmma M tile), got \(blockM)" }
            if headDim > 128 { return "dQ accumulation is generated for tile head dims up to 128, got \(headDim)" }
        }
        if headDim % 16 != 0 || headDim < 16 || headDim > 256 { return "tile head dim must be a multiple of 16 in 16...256, got \(headDim)" }
        if warps < 1 || warps > 16 { return "warps must be in 1...16, got \(warps)" }
        if blockM % 16 != 0 || blockN % 16 != 0 || blockM < 16 || blockN < 16 { return "blockM and blockN must be positive multiples of 16" }
        let owned = pass == .query ? blockM : blockN
        if owned % (16 * warps) != 0 { return "\(pass == .query ? "blockM" : "blockN") \(owned) must be a multiple of 16·warps = \(16 * warps)" }
        if pass == .keyValue && !computeDK && !computeDV { return "a key/value kernel computes dK, dV or both" }
        if mainloop == .wgmma {
            if architecture.computeCapability != 90 { return "wgmma needs sm_90a, got \(architecture)" }
            if headDim % 64 != 0 { return "wgmma tiles need a head dim that is a multiple of 64, got \(headDim)" }
            if warps % 4 != 0 || owned != 16 * warps { return "wgmma needs whole warpgroups of 64 rows: \(pass == .query ? "blockM" : "blockN") = 16·warps" }
            let n = pass == .query ? blockN : blockM
            if n > 256 || n % 16 != 0 { return "the wgmma score tile's N must be a multiple of 16 up to 256" }
            if !vectorized { return "wgmma tiles move with cp.async (vectorized layouts only)" }
        }
        if sharedMemoryBytes > architecture.maxSharedMemoryPerBlock {
            return "tiles need \(sharedMemoryBytes) B of shared memory, \(architecture) allows \(architecture.maxSharedMemoryPerBlock)"
        }
        return nil
    }

    static func typeName(_ t: ElementType) -> String { t == .bfloat16 ? "bf16" : t == .float16 ? "fp16" : "f32" }

    /// A short, stable name: `bwd_dkdv_bf16_d128_m64n128w8b1_causal_sm_90a`.
    public var name: String {
        var parts = ["bwd"]
        switch pass {
        case .preprocess: parts.append("pre")
        case .query: parts.append("dq")
        case .convertDQ: parts.append("dqcvt")
        case .keyValue: parts.append(computeDK && computeDV ? "dkdv" : computeDK ? "dk" : "dv")
        }
        parts.append(Self.typeName(elementType))
        if pass == .preprocess {
            parts.append("do" + Self.typeName(gradOutType))
            parts.append("o" + Self.typeName(outType))
            if convertGradOut { parts.append("cvt") }
            if varlen { parts.append("varlen") }
            parts.append(architecture.targetName)
            return parts.joined(separator: "_")
        }
        if pass == .convertDQ {
            parts.append("dq" + Self.typeName(dqType))
            parts.append("d\(headDim)")
            if varlen { parts.append("varlen") }
            parts.append(architecture.targetName)
            return parts.joined(separator: "_")
        }
        if pass == .query && dqType != elementType { parts.append("dq" + Self.typeName(dqType)) }
        if pass == .keyValue && computeDK && dkType != elementType { parts.append("dk" + Self.typeName(dkType)) }
        if pass == .keyValue && computeDV && dvType != elementType { parts.append("dv" + Self.typeName(dvType)) }
        parts.append("d\(headDim)")
        parts.append("m\(blockM)n\(blockN)w\(warps)b\(minBlocksPerMultiprocessor)")
        if mask != .none { parts.append(mask.rawValue) }
        if softcap { parts.append("softcap") }
        if alibi { parts.append("alibi") }
        if dropout { parts.append("dropout") }
        if varlen { parts.append("varlen") }
        if !vectorized { parts.append("scalar") }
        if mainloop == .wgmma { parts.append("wgmma") }
        if fusedDQ { parts.append("dq" + dqMode.rawValue + (dqEarlyRelease && dqMode == .ordered ? "early" : "")) }
        // Measurement variants with a session-5 change turned off (FLASH_ATTENTION_BWD_OFF).
        if pass == .query || pass == .keyValue {
            // (only the changes that would apply to this kernel)
            var on = self
            (on.splitEdgeSteps, on.sharedStartOrder, on.overlapProducts, on.preloadStatistics, on.chunkedSteps) = (true, true, true, true, true)
            let off = [(splitsEdgeSteps, on.splitsEdgeSteps, "e"), (usesSharedStartOrder, on.usesSharedStartOrder, "o"),
                       (overlapsProducts, on.overlapsProducts, "v"), (preloadsStatistics, on.preloadsStatistics, "p"),
                       (chunksSteps, on.chunksSteps, "c")]
                .filter { !$0.0 && $0.1 }.map(\.2).joined()
            if !off.isEmpty { parts.append("off" + off) }
        }
        parts.append(architecture.targetName)
        return parts.joined(separator: "_")
    }

    public var description: String { name }
}
