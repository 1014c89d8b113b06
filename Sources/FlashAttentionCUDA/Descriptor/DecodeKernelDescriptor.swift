import FlashAttentionCore

/// The three kernels of a KV-cache call on the GPU, in launch order.
public enum DecodeKernelKind: String, Sendable, Hashable, CaseIterable {
    /// New keys (rotated) and values written into the cache in place; queries rotated into scratch.
    case append
    /// Split-KV attention of the queries over the cache: one CTA per (split, query tile, KV head,
    /// batch row) serving every query head of its KV head, so the cache is read once.
    case attention
    /// The exact log-sum-exp merge of the splits' partial (out, LSE) pairs.
    case combine
}

/// How the append kernel rotates: not at all, GPT-J pairs (2i, 2i+1) or GPT-NeoX pairs (i, i + r/2).
public enum DecodeRotary: String, Sendable, Hashable, CaseIterable {
    case none, interleaved, halfSplit
}

/// Everything that changes the instructions of one decode-path kernel, and nothing else.
///
/// Run-time values (pointers, strides, lengths, page size, window extents, split count) travel
/// in ``DecodeParameters``. Equal descriptors generate byte-identical source; fields a kind does
/// not use stay at their defaults (``DecodeHeuristics`` sees to it) so that equal work gives
/// equal descriptors and one cache entry.
public struct DecodeKernelDescriptor: Sendable, Hashable, CustomStringConvertible {
    public var kind: DecodeKernelKind
    public var architecture: GPUArchitecture
    /// q, cache, k, v: float16 or bfloat16.
    public var elementType: ElementType
    /// Storage of `out` (attention without splits, combine).
    public var outputType: ElementType
    /// Attention/combine: the tile head dim, 8·2^t ≥ D (8 … 256); each of `headDim / 8`
    /// threads of a key group owns 8 consecutive features. Append: 0.
    public var headDim: Int
    /// Attention: query rows (query × head of the KV group) per CTA, 1, 2, 4 or 8.
    public var rowsPerBlock: Int
    /// Attention: keys each key group loads per step (all loads issued before any use).
    public var keysPerStep: Int
    /// Attention: `cp.async` pipeline depth (steps of K/V in shared memory, `stages − 1` in
    /// flight while one is computed); 0 loads straight into registers (the scalar path).
    public var stages: Int
    public var warps: Int
    public var mask: KernelMask
    public var softcap: Bool
    public var alibi: Bool
    /// Attention: cache addressed through the block table (any page size).
    public var paged: Bool
    /// Attention: 16-byte cache loads (unit head-dim stride, 16-byte aligned rows, D % 8 == 0).
    public var vectorized: Bool
    /// Attention: write fp32 partials per split (the combine kernel finishes), else the final
    /// out and LSE directly.
    public var splitOutput: Bool
    /// Attention with split output: the last split CTA to finish for a (batch row, KV head,
    /// query tile) merges the partials in split order (a global ticket per tile), so no combine
    /// kernel runs. The merge order is fixed, so the result is bitwise the same whichever CTA
    /// finishes last.
    public var fusedCombine: Bool
    /// Attention: the append done in this kernel (no append launch): queries rotated as they
    /// are loaded, new keys (rotated) and values read from k/v wherever attention needs them
    /// (never from the cache slots being written) and written into the cache by the first
    /// split's CTA of query tile 0. `rotary` and `rotaryTableType` then describe the rotation.
    /// Pipelined descriptors only.
    public var fusedAppend: Bool
    /// Attention with `fusedAppend`: the append moved off the copies' path. Once the CTA's first
    /// K/V copies and its query load are issued, the CTAs whose keys include this call's new keys
    /// (and the writer CTA) fetch those rows of k/v into L1; the writer stores them into the cache
    /// after its main loop instead of before its first copy, and the step that rebuilds the new
    /// keys finds them in L1. Same results bit for bit: no CTA of the launch reads the slots
    /// being written.
    public var appendBehindCopies: Bool
    /// Attention, scalar pipelined kernel without the fused combine: a diagnostic build that
    /// stamps the global timer at fixed points of each CTA's work into the buffer passed as
    /// `tickets` (``DecodeTimeline``; `FLASH_ATTENTION_DECODE_TIMELINE=<file>`). Never planned
    /// otherwise.
    public var timeline: Bool
    /// Attention: the tensor-core form (``DecodeKernel``'s `mma.sync` loop), 16 keys per warp per
    /// step, each warp streaming its own key tiles. `rowsPerBlock` 16: the CTA's query rows are
    /// the M side of m16n8k16 tiles (S = Q·Kᵀ); 8: the keys are (Sᵀ = K·Qᵀ, Oᵀ += Vᵀ·Pᵀ), the
    /// form for GQA groups of up to 8 rows. Pipelined descriptors with tile head dims 16…128
    /// only; `keysPerStep` 16 (per warp).
    public var tensorCores: Bool
    /// Attention (sm_90): the splits of one (batch row, KV head, query tile) run as one thread-block
    /// cluster of this many CTAs (`__cluster_dims__`, split index = rank in the cluster) and
    /// merge their partial (out, max, sum) through distributed shared memory: the CTAs share the
    /// outputs of the merge between them, read every split's partial in split order (bitwise the
    /// same whatever the timing), and write the final out and LSE, so no combine kernel runs and
    /// no partial touches global memory. 0: no cluster (`splitOutput` decides). 2…16; the
    /// kernel's split count must equal it (the runtime allows non-portable sizes above 8).
    public var clusterSplits: Int
    /// Attention with `clusterSplits` (scalar kernel): the cluster merge pushes instead of pulling.
    /// Each CTA arrives (relaxed) at a cluster barrier as it starts and waits on it only once its
    /// own partial is ready (by then every CTA of the cluster has started, so its shared memory may
    /// be written), then stores its split's normalized out and log2-domain LSE straight into the
    /// shared memory of the CTA that owns each output (`st.shared::cluster`: one word per output and
    /// one per (row, owner), no round trips), meets the others at one release/acquire barrier and
    /// merges its own outputs from local shared memory in split order. No CTA reads another's
    /// shared memory after that barrier, so the pull form's second barrier (keeping shared memory
    /// alive) goes; the exchange area sits past the pipeline and the group merge, which other CTAs'
    /// stores may not touch. Same result whichever CTA runs first (split order fixed).
    public var clusterPush: Bool
    /// Attention, scalar kernel on a contiguous cache: the batch row's cache row is loaded at the
    /// top with the cache lengths and left pad (independent loads, so their DRAM latencies
    /// overlap) instead of after the split's key range, where it was a second dependent miss
    /// before the first copies could go out.
    public var cacheRowEarly: Bool
    /// Attention, keys-as-M tensor-core form (sm_90, contiguous cache, head dim = tile head dim):
    /// the streaming form (`Codegen/DecodeKernelStream.swift`). `streamProducers` extra warps keep a
    /// CTA-wide ring of `stages` 16-key K/V tiles in flight with `cp.async.bulk` (one copy per key
    /// row, a full and an empty mbarrier per slot), and the `warps` consumer warps take tiles in
    /// turn as they land, so the copies never wait on a consumer's dependent chain. Same math and
    /// merge as the keys form.
    public var streamRing: Bool
    /// Attention with `streamRing`: producer warps (1…8), tile t issued by producer t mod this.
    /// A warp issues its 32 row copies one after another (H100: one producer per CTA moved only
    /// ~7 GB/s per SM of 256-byte rows), so more producers put more copies in flight.
    public var streamProducers: Int
    /// Attention, scalar (not tensor-core) kernel with 2+ threads per key: a step's N·R (key,
    /// row) dot products are reduced across the key group's lanes together (a transposed
    /// butterfly: each stage halves the values a lane holds, `N·R − 1` shuffles in all instead
    /// of `N·R·log2 T`), each lane scores and masks only the sums it ends with, and the scores
    /// are broadcast back for the softmax; the O rescale is skipped for rows whose running max
    /// did not move. Same math, fewer instructions per key.
    public var transposedReduce: Bool
    /// Attention without splits or with the fused combine, combine: write the LSE.
    public var writeLSE: Bool
    /// sm_90 programmatic dependent launch between a split attention kernel and its combine
    /// kernel: the attention kernel's CTAs execute `griddepcontrol.launch_dependents` as they
    /// start, and the combine kernel (launched with the programmatic-serialization attribute)
    /// waits in `griddepcontrol.wait` before it reads a partial, so its launch and CTA start
    /// overlap the attention kernel's tail instead of following its completion.
    public var dependentLaunch: Bool
    /// Append: the rotation, and the storage of the cos/sin tables.
    public var rotary: DecodeRotary
    public var rotaryTableType: ElementType
    /// Append: write new keys/values into the cache (else only rotate q).
    public var appendKeys: Bool
    /// Append: whether the cache is paged (the slot of an appended key comes from the table).
    public var appendPaged: Bool

    public init(
        kind: DecodeKernelKind, architecture: GPUArchitecture, elementType: ElementType, outputType: ElementType? = nil,
        headDim: Int = 0, rowsPerBlock: Int = 1, keysPerStep: Int = 4, stages: Int = 0, warps: Int = 4, mask: KernelMask = .none,
        softcap: Bool = false, alibi: Bool = false, paged: Bool = false, vectorized: Bool = true,
        splitOutput: Bool = false, fusedCombine: Bool = false, fusedAppend: Bool = false, tensorCores: Bool = false, clusterSplits: Int = 0, transposedReduce: Bool = false,
        writeLSE: Bool = true, rotary: DecodeRotary = .none,
        rotaryTableType: ElementType = .float32, appendKeys: Bool = false, appendPaged: Bool = false,
        dependentLaunch: Bool = false, appendBehindCopies: Bool = false, timeline: Bool = false,
        clusterPush: Bool = false, cacheRowEarly: Bool = false, streamRing: Bool = false,
        streamProducers: Int = 1
    ) {
        self.kind = kind
        self.architecture = architecture
        self.elementType = elementType
        self.outputType = outputType ?? elementType
        self.headDim = headDim
        self.rowsPerBlock = rowsPerBlock
        self.keysPerStep = keysPerStep
        self.stages = stages
        self.warps = warps
        self.mask = mask
        self.softcap = softcap
        self.alibi = alibi
        self.paged = paged
        self.vectorized = vectorized
        self.splitOutput = splitOutput
        self.fusedCombine = splitOutput && fusedCombine
        self.fusedAppend = fusedAppend
        self.appendBehindCopies = kind == .attention && fusedAppend && appendBehindCopies
        self.timeline = kind == .attention && timeline
        self.tensorCores = tensorCores
        self.clusterSplits = kind == .attention && !splitOutput ? clusterSplits : 0
        self.clusterPush = kind == .attention && !splitOutput && clusterSplits > 1 && !tensorCores && clusterPush
        self.cacheRowEarly = kind == .attention && !tensorCores && !paged && cacheRowEarly
        self.streamRing = kind == .attention && tensorCores && rowsPerBlock == 8 && streamRing
        self.streamProducers = self.streamRing ? streamProducers : 1
        self.transposedReduce = kind == .attention && !tensorCores && headDim >= 16 && transposedReduce
        self.writeLSE = writeLSE
        self.rotary = rotary
        self.rotaryTableType = rotaryTableType
        self.appendKeys = appendKeys
        self.appendPaged = appendPaged
        // Only the split attention kernel (with the combine kernel after it) and the combine kernel.
        self.dependentLaunch = dependentLaunch && (kind == .combine || (kind == .attention && splitOutput && !self.fusedCombine))
    }

    /// The streaming form adds its producer warp to the `warps` consumer warps.
    public var threads: Int { (warps + (streamRing ? streamProducers : 0)) * 32 }
    /// Attention: threads that share one key (each owns 8 features).
    public var threadsPerKey: Int { max(1, headDim / 8) }
    /// Attention: keys in flight per CTA step.
    public var keyGroups: Int { tensorCores ? warps : warps * 32 / threadsPerKey }

    /// Attention: the per-group partial accumulators merged through shared memory at the end
    /// (float32 acc[groups][rows][headDim], then m and l per group and row).
    public var sharedMemoryBytes: Int {
        guard kind == .attention else { return 0 }
        if clusterPush {
            // The push form's exchange area lies past everything the CTA itself uses.
            return clusterExchangeOffset + 4 * clusterSplits * (clusterChunk + rowsPerBlock)
        }
        // A cluster adds its exchange area (unnormalized out, max, sum per row) after the groups'.
        let merge = 4 * (keyGroups + (clusterSplits > 1 ? 1 : 0)) * rowsPerBlock * (headDim + 2)
        if streamRing {
            // [slot][K, V][16 keys][pitch], a 256-byte Pᵀ tile per consumer warp, 2 mbarriers a slot.
            return max(merge, stages * 2 * 16 * DecodeKernel.keysFormPitch(headDim: headDim) + warps * 256 + stages * 16)
        }
        if tensorCores {
            if rowsPerBlock == 8 {
                // Keys as M: [stage][warp][K, V][16 keys][pitch] (rows padded by 16 bytes), then
                // a 256-byte Pᵀ tile per warp.
                return max(merge, stages * warps * 2 * 16 * DecodeKernel.keysFormPitch(headDim: headDim) + warps * 256)
            }
            // [stage][warp][K, V][16 keys][headDim] 16-bit elements.
            return max(merge, stages * warps * 2 * 16 * headDim * 2)
        }
        return max(merge, pipelined ? stages * keysPerStep * 2 * threads * 16 : 0)
    }

    /// Attention with `clusterPush`: outputs (row · headDim + dim) each CTA of the cluster owns
    /// in the merge, a contiguous run (the last CTA's may be shorter).
    public var clusterChunk: Int { (rowsPerBlock * headDim + clusterSplits - 1) / max(1, clusterSplits) }
    /// Attention with `clusterPush`: the byte offset of the exchange area ([split][chunk] outputs,
    /// then [split][row] LSEs), past the pipeline's stages and the key groups' merge area.
    public var clusterExchangeOffset: Int {
        let merge = 4 * keyGroups * rowsPerBlock * (headDim + 2)
        let pipeline = pipelined ? stages * keysPerStep * 2 * threads * 16 : 0
        return (max(merge, pipeline) + 15) / 16 * 16
    }

    /// Attention: K/V go through the `cp.async` pipeline (16-byte aligned caches only).
    public var pipelined: Bool { kind == .attention && vectorized && stages >= 2 }

    /// Why this descriptor cannot be generated, or nil.
    public var invalidReason: String? {
        guard elementType == .float16 || elementType == .bfloat16 else { return "element type \(elementType): decode kernels take float16 or bfloat16" }
        guard warps >= 1, warps <= 8 else { return "warps \(warps) outside 1…8" }
        if dependentLaunch && architecture < .sm90a { return "programmatic dependent launch needs sm_90" }
        switch kind {
        case .append:
            if !appendKeys && rotary == .none { return "an append kernel with nothing to do" }
        case .attention, .combine:
            guard [8, 16, 32, 64, 128, 256].contains(headDim) else { return "tile head dim \(headDim) is not 8·2^t ≤ 256" }
            if kind == .attention {
                if tensorCores {
                    guard rowsPerBlock == 16 || rowsPerBlock == 8, keysPerStep == 16 else {
                        return "the tensor-core kernel takes 16 rows (rows as M) or 8 (keys as M) and 16 keys per warp step"
                    }
                    guard headDim >= 16, headDim <= 128 else { return "the tensor-core kernel takes tile head dims 16…128, got \(headDim)" }
                    guard pipelined else { return "the tensor-core kernel needs the cp.async pipeline (vectorized, stages ≥ 2)" }
                    guard architecture.supportsMMASync else { return "mma.sync needs sm_80 or newer" }
                } else {
                    guard [1, 2, 4, 8].contains(rowsPerBlock) else { return "rows per block \(rowsPerBlock) not in 1, 2, 4, 8" }
                    guard [1, 2, 4, 8].contains(keysPerStep) else { return "keys per step \(keysPerStep) not in 1, 2, 4, 8" }
                }
                if streamRing {
                    guard architecture >= .sm90a else { return "the streaming form's bulk copies need sm_90" }
                    guard !paged, !fusedCombine, !appendBehindCopies, clusterSplits == 0, !timeline else {
                        return "the streaming form takes contiguous caches, no fused combine, append behind copies, cluster or timeline"
                    }
                    guard stages >= 2, stages <= 32, warps <= 8, streamProducers >= 1, streamProducers <= 8 else {
                        return "the streaming form takes 2…32 ring slots, 1…8 consumer warps and 1…8 producer warps"
                    }
                    // Slot waits go by phase parity only, so the warp that waits on a slot must have
                    // handled its previous fill itself: tile t belongs to consumer t mod W and producer
                    // t mod P, which holds when the ring is a multiple of both.
                    guard stages % warps == 0, stages % streamProducers == 0 else {
                        return "the streaming form's ring slots (\(stages)) must be a multiple of its consumer warps (\(warps)) and producer warps (\(streamProducers))"
                    }
                    guard sharedMemoryBytes <= architecture.maxSharedMemoryPerBlock - 1024 else {
                        return "\(sharedMemoryBytes) B of shared memory > \(architecture.maxSharedMemoryPerBlock - 1024)"
                    }
                } else {
                guard stages == 0 || (stages >= 2 && stages <= 8) else { return "stages \(stages) not 0 or 2…8" }
                // The keys-as-M form's padded 3-stage pipeline takes 103 KB at D = 128 (two CTAs
                // per SM on sm_90), its 8-warp 2-stage form 138 KB (one; sm_80 allows 163 KB);
                // sm_86/sm_89 allow 99 KB a block.
                let sharedLimit = min((tensorCores ? 160 : 100) * 1024, architecture.maxSharedMemoryPerBlock)
                guard sharedMemoryBytes <= sharedLimit else { return "\(sharedMemoryBytes) B of shared memory > \(sharedLimit / 1024) KB" }
                }
                if fusedAppend && !pipelined { return "a fused append needs the cp.async pipeline (vectorized, stages ≥ 2)" }
                if timeline && (tensorCores || !pipelined || fusedCombine) {
                    return "the timeline stamps the scalar pipelined kernel without the fused combine only"
                }
                if clusterSplits != 0 {
                    guard clusterSplits >= 2, clusterSplits <= 16 else { return "cluster of \(clusterSplits) splits outside 2…16" }
                    guard architecture >= .sm90a else { return "thread-block clusters need sm_90" }
                    guard !tensorCores else { return "the tensor-core kernel has no cluster merge" }
                }
                if clusterPush && clusterSplits < 2 { return "the pushed cluster merge needs a cluster" }
                if cacheRowEarly && (tensorCores || paged) { return "the early cache-row load is the scalar kernel's, contiguous caches only" }
            } else if threads < DecodeHeuristics.maximumSplits {
                return "a combine CTA needs a thread per split (\(DecodeHeuristics.maximumSplits)), got \(threads)"
            }
        }
        return nil
    }

    private static func typeName(_ type: ElementType) -> String {
        switch type {
        case .float16: "f16"
        case .bfloat16: "bf16"
        case .float32: "f32"
        }
    }

    /// A readable, unique name (also the NVRTC program name).
    public var name: String {
        var parts = ["decode", kind.rawValue, architecture.targetName, Self.typeName(elementType)]
        switch kind {
        case .append:
            parts.append(appendKeys ? (appendPaged ? "kv-paged" : "kv") : "qonly")
            if rotary != .none { parts += ["rope-\(rotary.rawValue)", Self.typeName(rotaryTableType)] }
        case .attention:
            parts += ["d\(headDim)", "r\(rowsPerBlock)", "n\(keysPerStep)", "s\(pipelined ? stages : 0)", "w\(warps)", mask.rawValue,
                      "o\(Self.typeName(outputType))"]
            if tensorCores { parts.append("mma") }
            if streamRing { parts.append(streamProducers > 1 ? "stream\(streamProducers)" : "stream") }
            if softcap { parts.append("softcap") }
            if alibi { parts.append("alibi") }
            if paged { parts.append("paged") }
            if !vectorized { parts.append("scalar") }
            if transposedReduce { parts.append("tr") }
            if cacheRowEarly { parts.append("rowearly") }
            parts.append(fusedCombine ? "fused" : splitOutput ? "split" : clusterSplits > 1 ? "cluster\(clusterSplits)\(clusterPush ? "push" : "")" : "final")
            if (!splitOutput || fusedCombine) && !writeLSE { parts.append("nolse") }
            if fusedAppend {
                parts.append("append")
                if rotary != .none { parts += ["rope-\(rotary.rawValue)", Self.typeName(rotaryTableType)] }
                if appendBehindCopies { parts.append("behind") }
            }
        case .combine:
            parts += ["d\(headDim)", "o\(Self.typeName(outputType))"]
            if !writeLSE { parts.append("nolse") }
        }
        if dependentLaunch { parts.append("pdl") }
        if timeline { parts.append("timeline") }
        return parts.joined(separator: "_")
    }

    public var description: String { name }
}
