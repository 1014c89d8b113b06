import FlashAttentionCore

/// What a KV-cache call asks of the GPU, before any performance decision.
public struct DecodeProblem: Sendable, Hashable {
    public var elementType: ElementType
    public var outputType: ElementType
    public var headDim: Int
    public var groupSize: Int
    public var seqlenQ: Int
    public var batch: Int
    public var kvHeads: Int
    /// The longest visible key range of a batch row (cache + new keys − left pad).
    public var maxSeqlenK: Int
    public var mask: KernelMask
    public var softcap: Bool
    public var alibi: Bool
    public var paged: Bool
    /// Unit head-dim stride, 16-byte aligned rows and D % 8 == 0 for both caches.
    public var vectorized: Bool
    public var writeLSE: Bool
    public var rotary: DecodeRotary
    public var rotaryTableType: ElementType
    public var appendKeys: Bool
    /// New keys per batch row (the fused append takes short runs only).
    public var seqlenNew: Int
    /// The caller's `numSplits` (0: the heuristic picks).
    public var requestedSplits: Int
    /// The device's streaming multiprocessors (132 on an H100 SXM).
    public var multiprocessors: Int

    public init(
        elementType: ElementType, outputType: ElementType? = nil, headDim: Int, groupSize: Int = 1, seqlenQ: Int = 1,
        batch: Int = 1, kvHeads: Int = 1, maxSeqlenK: Int = 1, mask: KernelMask = .none, softcap: Bool = false,
        alibi: Bool = false, paged: Bool = false, vectorized: Bool = true, writeLSE: Bool = true,
        rotary: DecodeRotary = .none, rotaryTableType: ElementType = .float32, appendKeys: Bool = false,
        seqlenNew: Int = 0, requestedSplits: Int = 0, multiprocessors: Int = 132
    ) {
        self.elementType = elementType
        self.outputType = outputType ?? elementType
        self.headDim = headDim
        self.groupSize = groupSize
        self.seqlenQ = seqlenQ
        self.batch = batch
        self.kvHeads = kvHeads
        self.maxSeqlenK = maxSeqlenK
        self.mask = mask
        self.softcap = softcap
        self.alibi = alibi
        self.paged = paged
        self.vectorized = vectorized
        self.writeLSE = writeLSE
        self.rotary = rotary
        self.rotaryTableType = rotaryTableType
        self.appendKeys = appendKeys
        self.seqlenNew = seqlenNew
        self.requestedSplits = requestedSplits
        self.multiprocessors = multiprocessors
    }
}

/// The kernels of one KV-cache call and the split count, with the reasons.
public struct DecodePlan: Sendable {
    public var append: DecodeKernelDescriptor?
    public var attention: DecodeKernelDescriptor
    public var combine: DecodeKernelDescriptor?
    public var splits: Int
    /// Query tiles of `attention.rowsPerBlock` rows per (batch row, KV head).
    public var queryTiles: Int
    public var reason: String

    public var all: [DecodeKernelDescriptor] { [append, attention, combine].compactMap { $0 } }
}

/// Problem → decode kernels and split count: every performance decision of the GPU decode path.
public enum DecodeHeuristics {
    /// One row of the table: the attention tile for a number of query rows per CTA.
    public struct RowChoice: Sendable, Hashable {
        public var rowsPerBlock: Int
        public var keysPerStep: Int
        public var reason: String
    }

    /// Rows per CTA (query rows × heads of the KV group, rounded up to 1, 2, 4, 8) → keys each
    /// key group loads per step. Registers per thread hold q and acc (16·R floats) plus the
    /// step's K and V (8·N words): N shrinks as R grows so the sum stays near 128 and 3–4
    /// CTAs of 128 threads fit an SM.
    public static let rows: [RowChoice] = [
        RowChoice(rowsPerBlock: 1, keysPerStep: 8, reason: "MHA decode (G = 1): 16 loads of 16 B in flight per thread, q and acc 16 floats"),
        RowChoice(rowsPerBlock: 2, keysPerStep: 8, reason: "G = 2: 16 loads in flight, q and acc 32 floats"),
        RowChoice(rowsPerBlock: 4, keysPerStep: 4, reason: "GQA G = 4 (Llama-3 8B/70B style): 8 loads in flight, q and acc 64 floats"),
        RowChoice(rowsPerBlock: 8, keysPerStep: 2, reason: "G ≥ 8 or prefill rows: q and acc 128 floats leave room for 4 loads in flight"),
    ]

    /// Split targets, from an H100 sweep (`scripts/device/decode_tune.sh`, bf16, H = 32, D = 128,
    /// ctas-per-SM × min-keys ∈ {2, 4, 8, 16} × {128, 256, 512}): at long contexts B = 1 and
    /// B = 8 (Hk = 8) both peak near 32 splits (B = 1, 128k: 90% of copy bandwidth at 33 splits,
    /// 80% at 128; B = 8, 128k: 100% at 33, 94% at 17, 90% at 5), Hk = 32 likewise (B = 8: 103%
    /// at 9 splits, 99% at 5). So: at least two CTAs per SM, else up to 16 per SM but no more
    /// than 32 splits, never below `minimumKeysPerSplit` keys, none once the grid alone has
    /// `ctasPerMultiprocessor` CTAs per SM (B = 64, Hk = 32 reads at 100–104% unsplit).
    /// Rechecked in session 5 (`scripts/device/decode_s5a.sh`, B = 1, Hk = 8, forced splits, µs
    /// at 8k / 32k / 128k): 16: 29.8 / 77.5 / 258; **33 (this rule): 27.9 / 67.6 / 191**; 49:
    /// 28.7 / 68.6 / 191; 66: 38.2 / 80.6 / 227; 99: 39.0 / 75.2 / 195; 128: 44 / 77 / 211 —
    /// above 3 CTAs per SM (396 of the scalar kernel's 168-register, 64 KB CTAs) a second wave
    /// costs more than the shorter splits save.
    public static let ctasPerMultiprocessor = tuning.ctas ?? 8
    public static let deepCTAsPerMultiprocessor = 16
    public static let deepSplits = 32
    public static let minimumKeysPerSplit = tuning.minimumKeys ?? 256
    /// Keys per split for a tiny grid (at most one CTA per 16 SMs before splitting): its time is
    /// the latency of each CTA's steps, so shorter splits pay. H100, B = 1, 1k, Hk = 8: 16 splits
    /// of 64 keys 16.8 µs, 4 of 256 keys 19.2 µs (B = 8, 1k lost with 64: 39 against 32 µs).
    public static let tinyGridKeysPerSplit = tuning.minimumKeys ?? 64

    /// `FLASH_ATTENTION_DECODE_SPLITS=ctas,minkeys`: a tuning hook for sweeps on a device
    /// (scripts/device/decode_session.sh); unset in normal use.
    static let tuning: (ctas: Int?, minimumKeys: Int?) = {
        guard let text = FileSystem.environment("FLASH_ATTENTION_DECODE_SPLITS") else { return (nil, nil) }
        let parts = text.split(separator: ",").map { Int($0) }
        return (parts.first.flatMap { $0 }.map { max(1, $0) }, parts.dropFirst().first.flatMap { $0 }.map { max(16, $0) })
    }()
    public static let maximumSplits = 128
    /// An on/off knob of the environment, read by ``switchValue(_:)``.
    static func switchKnob(_ name: String) -> Bool? { switchValue(FileSystem.environment(name)) }
    /// How the decode path reads an on/off knob's value: `on` or `1` is true, `off` or `0` false,
    /// unset or anything else nil (the knob's default), so a spelling the knob does not know
    /// never turns a feature the wrong way.
    public static func switchValue(_ text: String?) -> Bool? {
        switch text {
        case "on", "1": true
        case "off", "0": false
        default: nil
        }
    }
    /// Whether split calls merge in the attention kernel's last CTA per tile (one launch fewer)
    /// rather than in the combine kernel. Off: on the H100 the fused merge was slower at every
    /// split point of the decode grid (B = 1, 1k, Hk = 8: 23.0 µs against 19.2 µs; B = 8, 8k:
    /// 124.5 against 117.9 µs): the last CTA walks the splits serially after its own keys, where
    /// the combine kernel spreads a row's splits over a CTA. `FLASH_ATTENTION_DECODE_COMBINE=fused`
    /// turns it on (A/B timing; it is oracle-checked as well).
    public static let fuseCombine = FileSystem.environment("FLASH_ATTENTION_DECODE_COMBINE") == "fused"
    /// `FLASH_ATTENTION_DECODE_CLUSTER=off|8|16`: forces the split-cluster merge (sm_90,
    /// ``DecodeKernelDescriptor/clusterSplits``) on every split call with clusters of up to that
    /// many CTAs, a longer split list cut to it (16 is a non-portable size), or `off` (or a size
    /// below 2) never; the A/B hook of `scripts/device/decode_cluster.sh`. Unset or anything else:
    /// the default rule below.
    public static let clusterOverride: Int? = {
        guard let text = FileSystem.environment("FLASH_ATTENTION_DECODE_CLUSTER") else { return nil }
        if text == "off" { return 0 }
        guard let n = Int(text) else { return nil }
        return n >= 2 ? min(16, n) : 0
    }()
    /// The default rule: a split call whose grid is at most one CTA per SM (tasks × splits ≤ SMs)
    /// and whose heuristic splits fit one cluster of ≤ 16 merges its splits in the attention
    /// launch, never cutting the split list. H100 (bf16, H = 32, D = 128, same run, the combine
    /// kernel against clusters): B = 1, 1k, Hk = 8 (16 splits, 128 CTAs) 16.9 → 15.6 µs; B = 1,
    /// 1k, Hk = 32 (4 splits, 128 CTAs) 18.2 → 16.6 µs; level at B = 8, 1k, Hk = 8 (256 CTAs:
    /// 32.5 → 32.0); slower on fuller grids (B = 8, 1k, Hk = 32: 63.9 → 67.3; B = 64, 1k, Hk = 8:
    /// 122.5 → 125.9; B = 64, 32k, Hk = 8: 2807 → 2881) and wherever the splits were cut to fit
    /// (B = 1, 32k, Hk = 8: 71.8 → 83.5 with 16, 97.5 with 8): CTAs of a cluster wait at the
    /// cluster barrier for the slowest split, holding their SM slots.
    public static let defaultClusterLimit = 16
    /// `FLASH_ATTENTION_DECODE_CLUSTER_MERGE=push|pull`: how a split cluster merges
    /// (``DecodeKernelDescriptor/clusterPush``); unset or anything else: ``clusterPushDefault``.
    public static let clusterMergeOverride: Bool? = {
        switch FileSystem.environment("FLASH_ATTENTION_DECODE_CLUSTER_MERGE") {
        case "push": true
        case "pull": false
        default: nil
        }
    }()
    /// On: on the H100 (bf16, H = 32, D = 128, contiguous, session 6 call A,
    /// `scripts/device/decode_s6a.sh`, two alternating rounds, µs) the two cluster points of the
    /// grid ran pull → push B = 1, 1k, Hk = 8 15.2 / 15.0 → 14.8 / 14.8 and Hk = 32 15.8 / 16.0 →
    /// 15.6 / 15.6 (every other point runs the same kernel either way). The in-kernel timeline at
    /// B = 1, 1k, Hk = 8: from the main loop's end to the CTA's end 2.8 → 2.65 µs, last CTA end
    /// 10.66 → 10.40–10.50 µs — the pushes (group merge plus remote stores, 0.8 → 1.6 µs) cost most
    /// of what the exit barrier and the 48 remote loads per output saved. Oracle-checked forced on
    /// (24 random cases, clusters ≤ 16 and ≤ 8 forced on every split call; memcheck clean).
    public static let clusterPushDefault = true
    /// `FLASH_ATTENTION_DECODE_ROW_EARLY=on|off` (or `1|0`): whether the scalar kernel on a
    /// contiguous cache loads its cache row with the lengths (``DecodeKernelDescriptor/cacheRowEarly``).
    /// Unset: ``cacheRowEarlyDefault``.
    public static let cacheRowEarlyOverride: Bool? = switchKnob("FLASH_ATTENTION_DECODE_ROW_EARLY")
    /// Off: level on the H100 (session 6 call A, two rounds, µs, off → on): B = 1, 1k, Hk = 8
    /// 15.2 / 15.0 → 15.0 / 15.2, B = 8, 8k 102.2 / 102.5 → 104.5 / 103.5, Hk = 32 B = 1, 1k
    /// 15.8 / 16.0 → 15.9 / 15.8; the timeline's first copies went out at 1.50–1.60 against
    /// 1.57–1.60 µs, so the cache-row load was not on the path (the lengths' miss is).
    /// Oracle-checked forced on (24 random cases), so the knob stays for A/B.
    public static let cacheRowEarlyDefault = false
    /// `FLASH_ATTENTION_DECODE_STREAM=on|off` (or `1|0`): `on` takes the keys-as-M streaming form
    /// (``DecodeKernelDescriptor/streamRing``: producer warps' `cp.async.bulk` ring feeding the
    /// consumer warps) wherever a tensor-core form with up to 8 rows per KV head runs on sm_90 over
    /// a contiguous cache whose head dim is the tile's (with `FLASH_ATTENTION_DECODE_MMA=on` also
    /// at B = 1), `off` nowhere. Unset: ``defaultStreamRing(keysForm:tasks:multiprocessors:)``.
    public static let streamRingOverride: Bool? = switchKnob("FLASH_ATTENTION_DECODE_STREAM")
    /// Whether the default rule for the streaming form is on (``defaultStreamRing(keysForm:tasks:multiprocessors:)``).
    /// Off for now: the oracle and memcheck passed with the form forced (43 cases, 5 memcheck), but
    /// those small cases run the under-filled shape (8 consumer warps, 23 slots); the shape the rule
    /// would ship at B = 64, 1k (4 consumers, 12 slots, 4 producers) was timed, not oracle-checked.
    /// Turn on after `FLASH_ATTENTION_DECODE_STREAM=on FLASH_ATTENTION_DECODE_MMA=on
    /// FLASH_ATTENTION_DECODE_STREAM_SHAPE=4x12x4 flash-attn verify --kvcache` passes on the device.
    public static let streamRingDefault = false
    /// Where the streaming form is the default (once ``streamRingDefault`` is on): the keys-as-M form's contexts (≤ 2k keys, one split)
    /// on grids of at least two CTAs per SM. H100, session 6 part 2, call B (bf16, H = 32, Hk = 8,
    /// D = 128, µs, alternating in one call, 4 producer warps): B = 64, 1k stream 104.1 / 103.5 against
    /// the keys form 107.4 / 106.1 (torch 95.1). It is not the default where it lost or tied in that
    /// call: B = 8, 1k (under one CTA per SM; 30.4–30.6 against 27.0–27.5: a producer warp issues its
    /// 32 row copies per tile one after another, so an SM with one CTA gets too few copies out),
    /// B = 64, 8k (752 against 720, rows as M) and B = 8, 8k (101.7 / 101.9 against 102.5 / 102.8: level).
    public static func defaultStreamRing(keysForm: Bool, tasks: Int, multiprocessors: Int) -> Bool {
        streamRingDefault && keysForm && tasks >= 2 * max(1, multiprocessors)
    }
    /// `FLASH_ATTENTION_DECODE_STREAM_SHAPE=WxS[xP]`: the streaming form's consumer warps (1…8), ring
    /// slots (2…32) and producer warps (1…8), a tuning hook; unset: ``streamShape(headDim:underfilled:architecture:)``.
    static let streamShapeOverride: (warps: Int, stages: Int, producers: Int)? = {
        guard let text = FileSystem.environment("FLASH_ATTENTION_DECODE_STREAM_SHAPE") else { return nil }
        let parts = text.split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2 || parts.count == 3 else { return nil }
        let warps = max(1, min(8, parts[0])), producers = max(1, min(8, parts.count == 3 ? parts[2] : streamProducersDefault))
        // Rounded down to a whole number of rounds of both warp kinds (see streamShape).
        let round = warps * producers / gcd(warps, producers)
        return (warps, max(round, min(32, parts[1]) / round * round), producers)
    }()
    /// Producer warps per CTA of the streaming form (`DecodeKernelDescriptor.streamProducers`).
    public static let streamProducersDefault = 4
    /// The streaming form's shape: grids under one CTA per SM take 8 consumer warps and as many
    /// 16-key slots as fit 200 KB (23 at D = 128: ~22 tiles, 190 KB, in flight per SM); fuller
    /// grids 4 consumer warps and as many slots as fit 106 KB (12: two CTAs per SM, as the keys form).
    public static func streamShape(headDim: Int, underfilled: Bool, architecture: GPUArchitecture) -> (warps: Int, stages: Int, producers: Int) {
        if let streamShapeOverride { return streamShapeOverride }
        let warps = underfilled ? 8 : 4
        let budget = min(underfilled ? 200 * 1024 : 106 * 1024, architecture.maxSharedMemoryPerBlock - 1024)
        let slot = 2 * 16 * DecodeKernel.keysFormPitch(headDim: headDim) + 16
        // A whole number of rounds of every consumer and producer warp (the slot waits go by parity).
        let round = warps * streamProducersDefault / gcd(warps, streamProducersDefault)
        let slots = max(round, min(32, (budget - warps * 256) / slot) / round * round)
        return (warps, slots, streamProducersDefault)
    }
    /// Decode steps (≤ `maximumFusedAppend` new keys, pipelined caches) append in the attention
    /// kernel (one launch fewer); `FLASH_ATTENTION_DECODE_APPEND=kernel` keeps the append kernel
    /// (A/B timing). Longer runs (prefill chunks) keep it: each CTA would rebuild every new key
    /// it reads from k/v, rotation included.
    public static let fuseAppend = FileSystem.environment("FLASH_ATTENTION_DECODE_APPEND") != "kernel"
    /// Whether rotary steps take the fused append too (queries rotated as they are loaded and
    /// rounded to the storage type, as the append kernel stores them; new keys rotated where
    /// read). On by default since the H100 check of session 5 (oracle sweeps forced fused, the
    /// Python suite 70/70); `FLASH_ATTENTION_DECODE_APPEND=plain` keeps rotary steps on the append
    /// kernel (fusing only steps without rotary), `=kernel` every step.
    public static let fuseRotaryAppend = FileSystem.environment("FLASH_ATTENTION_DECODE_APPEND") != "plain"
    /// `FLASH_ATTENTION_DECODE_MMA`: `on` takes a tensor-core form wherever it applies (keys as M
    /// for up to 8 rows per KV head, rows as M above), `m16` the rows-as-M form of session 5
    /// everywhere, `gqa-m16` the rows-as-M form where the default rule takes tensor cores, `off`
    /// never (`1` and `0` read as `on` and `off`); unset or anything else, the default rule
    /// (``defaultKeysFormTensorCores(rows:tasks:multiprocessors:)``).
    public static let tensorCoreMode: String? = {
        switch FileSystem.environment("FLASH_ATTENTION_DECODE_MMA") {
        case "1": "on"
        case "0": "off"
        case let mode: mode
        }
    }()
    /// The default rule for the tensor-core kernels (session 4): GQA decode, 2…8 query rows per
    /// KV head, on grids that are not tiny (more than one CTA per 16 SMs before splitting; tiny
    /// grids keep the scalar kernel and its split cluster: the tensor-core forms were level or
    /// slower there, B = 1, Hk = 8). The keys-as-M form takes contexts up to
    /// ``keysFormMaximumContext``, the rows-as-M form longer ones; both split at 2048 keys.
    /// H100 (bf16, H = 32, Hk = 8, D = 128, µs, one run): scalar / keys as M / rows as M —
    /// B = 8, 1k 28.8 / 28.6 / 30.8; B = 64, 1k 119.6 / 106.0 / 106.5; B = 8, 8k 115.8 / 105.5 /
    /// 104.4; B = 8, 32k 378.9 / 387.4 / 371.1; B = 64, 8k 745 / 761 / 721; B = 64, 32k 2794 /
    /// 2941 / 2793. (Splitting the keys form's B = 8, 1k grid to 2 or 4 CTAs per SM lost: 30.5.)
    /// `FLASH_ATTENTION_DECODE_MMA=off` restores the scalar kernel everywhere.
    public static func defaultKeysFormTensorCores(rows: Int, tasks: Int, multiprocessors: Int) -> Bool {
        rows >= 2 && rows <= 8 && tasks * 16 > multiprocessors
    }
    public static let keysFormMaximumContext = 2048
    /// Warps per CTA of the keys-as-M form on grids of less than one CTA per SM (B = 8, 1k,
    /// Hk = 8: 64 CTAs of 1024 keys, each CTA's time the latency of its steps): 8, with two
    /// stages (138 KB). H100, same run: 28.5 → 27.2 µs at B = 8, 1k; 43.6 → 42.0 at 2k.
    /// `FLASH_ATTENTION_DECODE_MMA_WARPS=4` keeps four.
    public static let keysFormUnderfilledWarps: Int = FileSystem.environment("FLASH_ATTENTION_DECODE_MMA_WARPS").flatMap { Int($0) }.map { $0 >= 8 ? 8 : 4 } ?? 8
    /// Keys per split for the tensor-core kernels (64 keys a CTA step): long splits, as each CTA
    /// is short of instructions and long of latency. `FLASH_ATTENTION_DECODE_SPLITS` overrides it.
    public static let tensorCoreKeysPerSplit = tuning.minimumKeys ?? 2048
    /// Whether the scalar attention kernel reduces a step's (key, row) dot products together
    /// (``DecodeKernelDescriptor/transposedReduce``): yes unless
    /// `FLASH_ATTENTION_DECODE_REDUCE=lane`. On the H100 (bf16, H = 32, D = 128) it ran 1.00–1.04×
    /// the per-product lane reduction over the decode grid (B = 8, 8k, Hk = 8: 119 → 115 µs; B = 64,
    /// 1k: 122 → 117 µs; ncu 65.5M → 58.3M warp instructions) and passed the float64 oracle
    /// (45 cases) and memcheck.
    public static let useTransposedReduce = FileSystem.environment("FLASH_ATTENTION_DECODE_REDUCE") != "lane"
    /// Whether the transposed reduction fits: sm_80's ptxas spills the 8-keys-per-step loop
    /// with the fused append and rotary (168 registers), so that pair keeps the lane form.
    public static func transposedReduceFits(keysPerStep: Int, fusedAppend: Bool, architecture: GPUArchitecture) -> Bool {
        architecture >= .sm90a || !fusedAppend || keysPerStep < 8
    }
    /// `FLASH_ATTENTION_DECODE_WARPS=n` (1…8): the scalar kernel's warps per CTA (a tuning hook;
    /// 4 by default), its `cp.async` stages sized for that many threads.
    static let warpOverride: Int? = FileSystem.environment("FLASH_ATTENTION_DECODE_WARPS").flatMap { Int($0) }.map { max(1, min(8, $0)) }
    /// `FLASH_ATTENTION_DECODE_STAGES=n`: the tensor-core kernel's pipeline depth (a tuning hook).
    static let stageOverride: Int? = FileSystem.environment("FLASH_ATTENTION_DECODE_STAGES").flatMap { Int($0) }.map { max(2, min(8, $0)) }

    /// Stages of the tensor-core kernel: a stage is 64 keys of K and V (16 per warp); as many as
    /// fit 96 KB (two CTAs per SM), 2 to 4 — 3 at D = 128, so two 32 KB steps stay in flight.
    public static func tensorCoreStages(headDim: Int, warps: Int = 4) -> Int {
        if let stageOverride { return stageOverride }
        return max(2, min(4, 98304 / (warps * 2 * 16 * headDim * 2)))
    }
    /// Stages of the keys-as-M form (rows padded by 16 bytes, a 256-byte Pᵀ tile per warp): as
    /// many as fit 106 KB (two CTAs per SM on sm_90) and the architecture's per-block limit, 2 to
    /// 4 — 3 at D = 128 (2 on sm_86/sm_89, whose 99 KB limit the 3-stage 103 KB would miss).
    public static func keysFormStages(headDim: Int, warps: Int = 4, architecture: GPUArchitecture) -> Int {
        if let stageOverride { return stageOverride }
        let budget = min(106 * 1024, architecture.maxSharedMemoryPerBlock)
        return max(2, min(4, (budget - warps * 256) / (warps * 2 * 16 * DecodeKernel.keysFormPitch(headDim: headDim))))
    }
    /// Whether the keys-as-M form's 8-warp, 2-stage shape fits the architecture's shared memory
    /// (138 KB at D = 128: sm_80 and sm_90 yes, sm_86/sm_89 no; they keep 4 warps).
    public static func keysFormEightWarpsFit(headDim: Int, architecture: GPUArchitecture) -> Bool {
        2 * 8 * 2 * 16 * DecodeKernel.keysFormPitch(headDim: headDim) + 8 * 256 <= architecture.maxSharedMemoryPerBlock
    }
    public static let maximumFusedAppend = 8
    /// `FLASH_ATTENTION_DECODE_APPEND_BEHIND=on|off` (or `1|0`): whether the fused append moves off the
    /// copies' path (the new rows of k/v fetched into L1 behind the first K/V copies and q, the
    /// cache writes after the main loop; ``DecodeKernelDescriptor/appendBehindCopies``). Unset:
    /// ``appendBehindCopiesDefault``.
    public static let appendBehindCopiesOverride: Bool? = switchKnob("FLASH_ATTENTION_DECODE_APPEND_BEHIND")
    /// Off: on the H100 (bf16, H = 32, D = 128, contiguous, two alternating rounds in one run,
    /// `scripts/device/decode_s5c.sh`) it was slower at every 1k point — B = 1, Hk = 8 14.9 / 14.7
    /// → 15.4 / 15.6 µs, B = 8 27.8 / 27.5 → 28.4 / 28.7, B = 64 106.4 / 105.5 → 107.2 / 107.6,
    /// Hk = 32 B = 1 15.8 / 15.9 → 16.2 / 16.7 — and level at 8k. The in-kernel timeline shows why:
    /// the writer CTA's stall before its copies was real (its copies went out 3.97 µs after the
    /// launch's first CTA start against 1.6 µs for the others at B = 1, 1k) but hidden, as every
    /// CTA's first K/V arrived together at 6.1–6.5 µs whenever it was issued; moved behind the
    /// loop, the writer's stores still waited on k/v (merge 9.15 against 8.78 µs) and the cluster
    /// ended later (10.88 against 10.72 µs). Oracle-checked forced on (24 random cases in this form,
    /// 30 in a first form that stored right after the q load; memcheck clean).
    public static let appendBehindCopiesDefault = false
    /// `FLASH_ATTENTION_DECODE_TIMELINE=<file>`: the scalar attention kernel stamps each CTA's
    /// progress (``DecodeTimeline``) and the runtime appends the stamps of every call to the file
    /// (it waits for each call: a diagnostic, not for timing the call itself).
    public static let timelinePath: String? = FileSystem.environment("FLASH_ATTENTION_DECODE_TIMELINE")
    /// `FLASH_ATTENTION_DECODE_PDL=on|off` (or `1|0`): whether a split call on sm_90 launches its combine
    /// kernel as a programmatic dependent of the attention kernel
    /// (``DecodeKernelDescriptor/dependentLaunch``). Unset: ``dependentLaunchDefault``.
    public static let dependentLaunchOverride: Bool? = switchKnob("FLASH_ATTENTION_DECODE_PDL")
    /// On: the combine kernel's launch and CTA start overlap the attention kernel's tail. H100
    /// (bf16, H = 32, D = 128, contiguous, one run, off → on, µs): B = 1, Hk = 8: 8k 29.5 → 28.0,
    /// 32k 69.2 → 67.5; B = 8, 8k 105.3 → 102.8; B = 64, 8k 724.4 → 718.3; Hk = 32, B = 1: 8k
    /// 64.5 → 62.8, 32k 186.2 → 182.3; cluster and unsplit points unchanged (no combine), no
    /// point slower beyond run-to-run noise (a second round: B = 8, 32k 371.1 → 373.3, 128k
    /// 189.7 → 190.3). Oracle (36 random cases forced on, 12 of them on the tensor-core forms)
    /// and memcheck clean.
    public static let dependentLaunchDefault = true

    /// Whether a row choice takes the fused append on an architecture: sm_80's ptxas spills
    /// the one-row, 8-keys-per-step loop with it (128 registers), so that pair keeps the kernel.
    public static func fusedAppendFits(_ choice: RowChoice, architecture: GPUArchitecture) -> Bool {
        architecture >= .sm90a || choice.rowsPerBlock > 1 || choice.keysPerStep < 8
    }

    /// `cp.async` stages for a step of `keysPerStep` keys: as many as fit 64 KB of shared memory
    /// per CTA (three CTAs per SM on sm_90 and sm_80), 2 to 4. Each thread keeps
    /// (stages − 1) · 2 · keysPerStep 16-byte loads in flight without holding registers for them.
    public static func stages(keysPerStep: Int, threads: Int) -> Int {
        max(2, min(4, 65536 / (threads * keysPerStep * 32)))
    }

    /// A key length that gives the same plan as `maxSeqlenK` (the runtime's plan cache keys on
    /// it, so a decoding loop, whose longest row grows by one key a step, reuses one plan per
    /// 64 keys instead of missing every step). The plan reads the length only as whole 64-key
    /// blocks (rounded up: ``maximumSplits`` caps), as whole splits of a multiple of 64 keys
    /// (rounded down) and against ``keysFormMaximumContext`` (a multiple of 64): a multiple of 64
    /// stays itself, anything else becomes the first length after its block's start, which
    /// rounds the same both ways. Under a `FLASH_ATTENTION_DECODE_SPLITS` minimum that is not a
    /// multiple of 64 the length stays exact.
    public static func planEquivalentLength(_ maxSeqlenK: Int) -> Int {
        guard maxSeqlenK > 0, maxSeqlenK % 64 != 0, lengthsRoundToBlocks else { return maxSeqlenK }
        return maxSeqlenK / 64 * 64 + 1
    }
    /// Whether every length the plan compares against is a multiple of 64 (fixed for the
    /// process: the knobs are read once), so ``planEquivalentLength(_:)`` may round.
    static let lengthsRoundToBlocks = [minimumKeysPerSplit, tinyGridKeysPerSplit, tensorCoreKeysPerSplit, keysFormMaximumContext]
        .allSatisfy { $0 % 64 == 0 }

    static func tileHeadDim(_ D: Int) -> Int {
        var t = 8
        while t < D { t *= 2 }
        return t
    }

    /// `forcedCluster`: the environment's `FLASH_ATTENTION_DECODE_CLUSTER` unless given (tests
    /// pass it); nil takes the default cluster rule, 0 never clusters. `tensorCoreForm`: the
    /// environment's `FLASH_ATTENTION_DECODE_MMA` (on, m16, off; nil: the default rule) unless given.
    public static func plan(for problem: DecodeProblem, architecture: GPUArchitecture,
                            forcedCluster: Int? = DecodeHeuristics.clusterOverride,
                            tensorCoreForm: String? = DecodeHeuristics.tensorCoreMode,
                            streamForm: Bool? = DecodeHeuristics.streamRingOverride) throws -> DecodePlan {
        guard problem.elementType == .float16 || problem.elementType == .bfloat16 else {
            throw FlashAttentionError.unsupported("\(problem.elementType) KV caches on CUDA (the decode kernels take float16 or bfloat16)")
        }
        guard problem.headDim >= 1, problem.headDim <= 256 else {
            throw FlashAttentionError.unsupported("head dim \(problem.headDim) on CUDA (1…256)")
        }
        let tileD = tileHeadDim(problem.headDim)
        let rowCount = max(1, problem.seqlenQ * problem.groupSize)
        let vectorized = problem.vectorized && problem.headDim % 8 == 0
        let mmaFits = vectorized && tileD >= 16 && tileD <= 128 && architecture.supportsMMASync
        let scalarTasks = problem.batch * problem.kvHeads * ((rowCount + 7) / 8)
        let tensorCores: Bool
        var keysAsM: Bool
        switch tensorCoreForm {
        case "on": (tensorCores, keysAsM) = (mmaFits, rowCount <= 8)
        case "m16": (tensorCores, keysAsM) = (mmaFits, false)
        case "off": (tensorCores, keysAsM) = (false, false)
        case "gqa-m16":
            // The default rule's problems on the rows-as-M form (A/B of the two forms).
            let on = mmaFits && defaultKeysFormTensorCores(rows: rowCount, tasks: scalarTasks, multiprocessors: problem.multiprocessors)
            (tensorCores, keysAsM) = (on, false)
        default:
            let on = mmaFits && defaultKeysFormTensorCores(rows: rowCount, tasks: scalarTasks, multiprocessors: problem.multiprocessors)
            (tensorCores, keysAsM) = (on, on && problem.maxSeqlenK <= keysFormMaximumContext)
        }
        // The streaming form (sm_90, contiguous, head dim = tile): the keys-as-M math on a bulk-copy ring.
        let stream = (streamForm ?? defaultStreamRing(keysForm: keysAsM, tasks: scalarTasks, multiprocessors: problem.multiprocessors))
            && tensorCores && rowCount <= 8 && architecture >= .sm90a
            && !problem.paged && problem.headDim == tileD && !fuseCombine
        keysAsM = keysAsM || stream
        let choice = tensorCores
            ? (keysAsM
                ? RowChoice(rowsPerBlock: 8, keysPerStep: 16, reason: "tensor cores, keys as M: 16 keys per warp step × up to 8 rows (the group's heads × queries) per m16n8k16 tile")
                : RowChoice(rowsPerBlock: 16, keysPerStep: 16, reason: "tensor cores: 16 rows (the group's heads × queries) per m16n8k16 tile, 16 keys per warp step"))
            : rows.first { $0.rowsPerBlock >= min(rowCount, 8) } ?? rows[rows.count - 1]
        // The override only where two stages of the wider CTA still fit 100 KB of shared memory.
        let scalarWarps = warpOverride.map { 2 * choice.keysPerStep * 2 * 32 * $0 * 16 <= 100 * 1024 ? $0 : 4 } ?? 4
        let queryTiles = (rowCount + choice.rowsPerBlock - 1) / choice.rowsPerBlock
        let tasks = problem.batch * problem.kvHeads * queryTiles

        var splits: Int, splitReason: String
        let keyBlocks = max(1, (problem.maxSeqlenK + 63) / 64)
        if problem.requestedSplits > 0 {
            splits = min(problem.requestedSplits, keyBlocks, maximumSplits)
            splitReason = "numSplits \(problem.requestedSplits) requested (capped at \(splits): 64-key blocks, at most \(maximumSplits))"
        } else {
            let sms = max(1, problem.multiprocessors)
            let minimumKeys = tasks * 16 <= sms ? tinyGridKeysPerSplit : tensorCores ? tensorCoreKeysPerSplit : minimumKeysPerSplit
            let byLength = max(1, problem.maxSeqlenK / minimumKeys)
            if tasks >= ctasPerMultiprocessor * sms {
                splits = 1
                splitReason = "\(tasks) CTAs already fill \(sms) SMs × \(ctasPerMultiprocessor): no split"
            } else {
                let fill = (2 * sms + tasks - 1) / tasks
                let deep = min(deepSplits, (deepCTAsPerMultiprocessor * sms + tasks - 1) / tasks)
                splits = max(1, min(max(fill, deep), byLength, maximumSplits))
                splitReason = "\(tasks) CTAs on \(sms) SMs: \(splits) splits (≥ 2 CTAs/SM, up to 16/SM within \(deepSplits) splits, ≥ \(minimumKeys) keys each)"
            }
        }

        // sm_90: the splits of a task as one thread-block cluster, merged in the attention launch.
        var cluster = 0
        let clusterLimit = forcedCluster ?? defaultClusterLimit
        if clusterLimit >= 2, splits > 1, architecture >= .sm90a, !tensorCores, !fuseCombine {
            if let forcedCluster, problem.requestedSplits == 0, splits > forcedCluster {
                splits = forcedCluster
                splitReason += "; cut to \(splits) for one cluster"
            }
            let small = forcedCluster != nil || tasks * splits <= max(1, problem.multiprocessors)
            if splits <= clusterLimit && small {
                cluster = splits
                splitReason += "; splits merged as a cluster of \(splits) through distributed shared memory"
            }
        }
        let splitOutput = splits > 1 && cluster == 0
        let keysWarps = keysAsM && tasks * splits < problem.multiprocessors
            && keysFormEightWarpsFit(headDim: tileD, architecture: architecture) ? keysFormUnderfilledWarps : 4

        let streamShape = Self.streamShape(headDim: tileD, underfilled: tasks * splits < problem.multiprocessors, architecture: architecture)
        let appendWork = problem.appendKeys || problem.rotary != .none
        // Sq = 0 launches no attention, so the append kernel must run.
        let fusedAppend = fuseAppend && appendWork && vectorized && problem.seqlenQ > 0 && problem.seqlenNew <= maximumFusedAppend
            && (tensorCores || fusedAppendFits(choice, architecture: architecture)) && (problem.rotary == .none || fuseRotaryAppend)
        let dependentLaunch = (dependentLaunchOverride ?? dependentLaunchDefault) && architecture >= .sm90a
            && splitOutput && !fuseCombine
        let attention = DecodeKernelDescriptor(
            kind: .attention, architecture: architecture, elementType: problem.elementType,
            outputType: problem.outputType, headDim: tileD, rowsPerBlock: choice.rowsPerBlock,
            keysPerStep: choice.keysPerStep,
            stages: stream ? streamShape.stages : tensorCores ? (keysAsM ? keysFormStages(headDim: tileD, warps: keysWarps, architecture: architecture) : tensorCoreStages(headDim: tileD)) : vectorized ? stages(keysPerStep: choice.keysPerStep, threads: 32 * scalarWarps) : 0,
            warps: stream ? streamShape.warps : tensorCores ? (keysAsM ? keysWarps : 4) : scalarWarps, mask: problem.mask, softcap: problem.softcap,
            alibi: problem.alibi, paged: problem.paged, vectorized: vectorized,
            splitOutput: splitOutput, fusedCombine: fuseCombine, fusedAppend: fusedAppend, tensorCores: tensorCores,
            clusterSplits: cluster, transposedReduce: useTransposedReduce && !tensorCores
                && transposedReduceFits(keysPerStep: choice.keysPerStep, fusedAppend: fusedAppend, architecture: architecture),
            writeLSE: splitOutput && !fuseCombine ? true : problem.writeLSE,
            rotary: fusedAppend ? problem.rotary : .none,
            rotaryTableType: fusedAppend && problem.rotary != .none ? problem.rotaryTableType : .float32,
            dependentLaunch: dependentLaunch,
            appendBehindCopies: fusedAppend && !stream && (appendBehindCopiesOverride ?? appendBehindCopiesDefault),
            timeline: timelinePath != nil && !tensorCores && vectorized && !fuseCombine,
            clusterPush: cluster > 1 && (clusterMergeOverride ?? clusterPushDefault),
            cacheRowEarly: !tensorCores && !problem.paged && (cacheRowEarlyOverride ?? cacheRowEarlyDefault),
            streamRing: stream, streamProducers: streamShape.producers)
        let combine = splitOutput && !fuseCombine
            ? DecodeKernelDescriptor(kind: .combine, architecture: architecture, elementType: problem.elementType,
                                     outputType: problem.outputType, headDim: tileD, warps: 4, writeLSE: problem.writeLSE,
                                     dependentLaunch: dependentLaunch)
            : nil
        let append = appendWork && !fusedAppend
            ? DecodeKernelDescriptor(kind: .append, architecture: architecture, elementType: problem.elementType,
                                     warps: 4, rotary: problem.rotary,
                                     rotaryTableType: problem.rotary == .none ? .float32 : problem.rotaryTableType,
                                     appendKeys: problem.appendKeys, appendPaged: problem.appendKeys && problem.paged)
            : nil
        let reason = "rows/CTA \(choice.rowsPerBlock), keys/step \(choice.keysPerStep) (\(choice.reason)); \(splitReason)"
        return DecodePlan(append: append, attention: attention, combine: combine, splits: splits,
                          queryTiles: queryTiles, reason: reason)
    }

    /// The variants the compile tests cover: every row choice and tile head dim in both element
    /// types' commonest shapes, each mask and option, paged and scalar paths, both outputs, and
    /// every append and combine form.
    public static func tableVariants(for architecture: GPUArchitecture) -> [DecodeKernelDescriptor] {
        var variants: [DecodeKernelDescriptor] = []
        for type in [ElementType.bfloat16, .float16] {
            for choice in rows {
                for split in [false, true] {
                    variants.append(DecodeKernelDescriptor(
                        kind: .attention, architecture: architecture, elementType: type, headDim: 128,
                        rowsPerBlock: choice.rowsPerBlock, keysPerStep: choice.keysPerStep,
                        stages: stages(keysPerStep: choice.keysPerStep, threads: 128), mask: .causal,
                        paged: split, splitOutput: split))
                    // The fused-combine form of each row choice (the default for split calls).
                    if split && type == .bfloat16 {
                        variants.append(DecodeKernelDescriptor(
                            kind: .attention, architecture: architecture, elementType: type, headDim: 128,
                            rowsPerBlock: choice.rowsPerBlock, keysPerStep: choice.keysPerStep,
                            stages: stages(keysPerStep: choice.keysPerStep, threads: 128), mask: .causal,
                            paged: choice.rowsPerBlock % 2 == 0, splitOutput: true, fusedCombine: true,
                            writeLSE: choice.rowsPerBlock != 2))
                    }
                }
            }
            // Tile head dims other than 128, once (the element type changes only the conversions).
            for tile in [8, 16, 32, 64, 256] where type == .bfloat16 {
                variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: type,
                                                       headDim: tile, rowsPerBlock: 4, keysPerStep: 4, stages: 4, splitOutput: true))
            }
            for combineTile in [64, 128, 256] {
                variants.append(DecodeKernelDescriptor(kind: .combine, architecture: architecture, elementType: type,
                                                       headDim: combineTile))
            }
            for rotary in DecodeRotary.allCases {
                for paged in [false, true] {
                    variants.append(DecodeKernelDescriptor(kind: .append, architecture: architecture, elementType: type,
                                                           rotary: rotary, rotaryTableType: rotary == .none ? .float32 : type,
                                                           appendKeys: true, appendPaged: paged))
                }
            }
        }
        // The heaviest option sets, once each.
        variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .bfloat16,
                                               outputType: .float32, headDim: 256, rowsPerBlock: 8, keysPerStep: 2,
                                               mask: .window, softcap: true, alibi: true, paged: true, vectorized: false,
                                               splitOutput: false))
        variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .float16,
                                               headDim: 128, rowsPerBlock: 4, keysPerStep: 4, stages: 4, mask: .window, softcap: true,
                                               alibi: true, paged: false, vectorized: true, splitOutput: true))
        variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .float16,
                                               outputType: .float32, headDim: 256, rowsPerBlock: 8, keysPerStep: 2,
                                               mask: .window, softcap: true, alibi: true, paged: true, vectorized: false,
                                               splitOutput: true, fusedCombine: true))
        // Fused append: none/GPT-J/NeoX, contiguous and paged, split and not.
        for (index, rotary) in DecodeRotary.allCases.enumerated() {
            for paged in [false, true] {
                let type: ElementType = paged ? .float16 : .bfloat16
                var choice = rows[(index + (paged ? 1 : 0)) % rows.count]
                if !fusedAppendFits(choice, architecture: architecture) { choice = rows[1] }
                variants.append(DecodeKernelDescriptor(
                    kind: .attention, architecture: architecture, elementType: type, headDim: 128,
                    rowsPerBlock: choice.rowsPerBlock, keysPerStep: choice.keysPerStep,
                    stages: stages(keysPerStep: choice.keysPerStep, threads: 128), mask: .causal, paged: paged,
                    splitOutput: !paged, fusedCombine: true, fusedAppend: true, rotary: rotary,
                    rotaryTableType: rotary == .none ? .float32 : (paged ? type : .float32)))
            }
        }
        // The tensor-core kernel: both types, split and final, contiguous and paged, each tile
        // head dim, the heaviest options, the fused append (every rotation) and fused combine.
        func mma(_ type: ElementType, _ tile: Int, outputType: ElementType? = nil, mask: KernelMask = .causal, softcap: Bool = false,
                 alibi: Bool = false, paged: Bool = false, split: Bool = false, fusedCombine: Bool = false,
                 fusedAppend: Bool = false, rotary: DecodeRotary = .none, keysAsM: Bool = false, warps: Int = 4) -> DecodeKernelDescriptor {
            DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: type, outputType: outputType,
                                   headDim: tile, rowsPerBlock: keysAsM ? 8 : 16, keysPerStep: 16,
                                   stages: keysAsM ? keysFormStages(headDim: tile, warps: warps, architecture: architecture) : tensorCoreStages(headDim: tile), warps: warps,
                                   mask: mask, softcap: softcap, alibi: alibi, paged: paged, splitOutput: split,
                                   fusedCombine: fusedCombine, fusedAppend: fusedAppend, tensorCores: true,
                                   rotary: rotary, rotaryTableType: rotary == .none ? .float32 : type)
        }
        for type in [ElementType.bfloat16, .float16] {
            for split in [false, true] {
                variants.append(mma(type, 128, paged: split, split: split, fusedAppend: true))
                variants.append(mma(type, 128, paged: !split, split: split))
            }
        }
        for tile in [16, 32, 64] { variants.append(mma(.bfloat16, tile, split: true, fusedAppend: tile == 64)) }
        variants.append(mma(.float16, 128, outputType: .float32, mask: .window, softcap: true, alibi: true, paged: true, split: false))
        variants.append(mma(.bfloat16, 128, mask: .window, softcap: true, alibi: true, split: true, fusedCombine: true))
        for rotary in [DecodeRotary.interleaved, .halfSplit] {
            variants.append(mma(.bfloat16, 128, paged: rotary == .halfSplit, split: true, fusedAppend: true, rotary: rotary))
        }
        // The keys-as-M form (the default for GQA decode): the same spread.
        for type in [ElementType.bfloat16, .float16] {
            for split in [false, true] {
                variants.append(mma(type, 128, paged: split, split: split, fusedAppend: true, keysAsM: true))
                variants.append(mma(type, 128, paged: !split, split: split, keysAsM: true))
            }
        }
        for tile in [16, 32, 64] { variants.append(mma(.bfloat16, tile, split: true, fusedAppend: tile == 64, keysAsM: true)) }
        // Its 8-warp form (under-filled grids), where it fits.
        if keysFormEightWarpsFit(headDim: 128, architecture: architecture) {
            variants.append(mma(.bfloat16, 128, fusedAppend: true, keysAsM: true, warps: 8))
            variants.append(mma(.float16, 128, paged: true, split: true, keysAsM: true, warps: 8))
        }
        variants.append(mma(.float16, 128, outputType: .float32, mask: .window, softcap: true, alibi: true, paged: true, split: false, keysAsM: true))
        variants.append(mma(.bfloat16, 128, mask: .window, softcap: true, alibi: true, split: true, fusedCombine: true, keysAsM: true))
        for rotary in [DecodeRotary.interleaved, .halfSplit] {
            variants.append(mma(.bfloat16, 128, paged: rotary == .halfSplit, split: true, fusedAppend: true, rotary: rotary, keysAsM: true))
        }
        // Cluster merges (sm_90): each row choice, 2 … 16 splits, paged, the fused append, options.
        if architecture >= .sm90a {
            for (index, choice) in rows.enumerated() {
                for cluster in [2, 8, 16] where cluster != 2 || index == 0 {
                    variants.append(DecodeKernelDescriptor(
                        kind: .attention, architecture: architecture, elementType: index % 2 == 0 ? .bfloat16 : .float16,
                        headDim: 128, rowsPerBlock: choice.rowsPerBlock, keysPerStep: choice.keysPerStep,
                        stages: stages(keysPerStep: choice.keysPerStep, threads: 128), mask: .causal,
                        paged: cluster == 8, fusedAppend: fusedAppendFits(choice, architecture: architecture) && cluster != 16,
                        clusterSplits: cluster, writeLSE: index != 1))
                }
            }
            variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .float16,
                                                   outputType: .float32, headDim: 256, rowsPerBlock: 8, keysPerStep: 2,
                                                   mask: .window, softcap: true, alibi: true, paged: true, vectorized: false,
                                                   clusterSplits: 4))
            variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .bfloat16,
                                                   headDim: 64, rowsPerBlock: 4, keysPerStep: 4, stages: 4, clusterSplits: 3))
            // Programmatic dependent launch (split attention → combine): the scalar kernel of
            // each row choice (paged on odd ones), both tensor-core forms, and both combines.
            for (index, choice) in rows.enumerated() {
                variants.append(DecodeKernelDescriptor(
                    kind: .attention, architecture: architecture, elementType: .bfloat16, headDim: 128,
                    rowsPerBlock: choice.rowsPerBlock, keysPerStep: choice.keysPerStep,
                    stages: stages(keysPerStep: choice.keysPerStep, threads: 128), mask: .causal, paged: index % 2 == 1,
                    splitOutput: true, fusedAppend: fusedAppendFits(choice, architecture: architecture),
                    dependentLaunch: true))
            }
            var keysForm = mma(.bfloat16, 128, split: true, fusedAppend: true, keysAsM: true)
            keysForm.dependentLaunch = true
            var rowsForm = mma(.bfloat16, 128, paged: true, split: true, fusedAppend: true)
            rowsForm.dependentLaunch = true
            variants += [keysForm, rowsForm]
            for type in [ElementType.bfloat16, .float16] {
                variants.append(DecodeKernelDescriptor(kind: .combine, architecture: architecture, elementType: type,
                                                       headDim: 128, writeLSE: type == .bfloat16, dependentLaunch: true))
            }
        }
        // The fused append behind the first copies: every form that fuses it (scalar final,
        // split and cluster; both tensor-core forms; paged; rotary).
        variants += variants.filter { $0.kind == .attention && $0.fusedAppend && !$0.fusedCombine }.map { variant in
            var variant = variant
            variant.appendBehindCopies = true
            return variant
        }
        // The timeline diagnostic (scalar kernel): split output, and a 16-CTA cluster with the
        // fused append behind the copies (the B = 1, 1k shape) on sm_90.
        variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .bfloat16, headDim: 128,
                                               rowsPerBlock: 4, keysPerStep: 4, stages: stages(keysPerStep: 4, threads: 128),
                                               mask: .causal, splitOutput: true, fusedAppend: true, timeline: true))
        if architecture >= .sm90a {
            variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .bfloat16, headDim: 128,
                                                   rowsPerBlock: 4, keysPerStep: 4, stages: stages(keysPerStep: 4, threads: 128),
                                                   mask: .causal, fusedAppend: true, clusterSplits: 16,
                                                   appendBehindCopies: true, timeline: true))
        }
        // The pushed cluster merge: every cluster variant above (2 … 16 CTAs, each row choice,
        // paged, the fused append, the scalar register path, the timeline) in that form.
        variants += variants.filter { $0.kind == .attention && $0.clusterSplits > 1 }.map { variant in
            var variant = variant
            variant.clusterPush = true
            variant.cacheRowEarly = !variant.paged
            return variant
        }
        // The B = 1, 1k shape as planned on sm_90: a 16-CTA cluster with the fused append, pushed.
        if architecture >= .sm90a {
            variants.append(DecodeKernelDescriptor(kind: .attention, architecture: architecture, elementType: .bfloat16, headDim: 128,
                                                   rowsPerBlock: 4, keysPerStep: 4, stages: stages(keysPerStep: 4, threads: 128),
                                                   mask: .causal, fusedAppend: true, clusterSplits: 16, clusterPush: true))
        }
        // The early cache-row load alone: the scalar kernel's contiguous forms (final, split, fused combine).
        variants += variants.filter { $0.kind == .attention && !$0.tensorCores && !$0.paged && $0.clusterSplits == 0 && $0.headDim == 128 }.map { variant in
            var variant = variant
            variant.cacheRowEarly = true
            return variant
        }
        variants.append(DecodeKernelDescriptor(kind: .combine, architecture: architecture, elementType: .bfloat16,
                                               outputType: .float32, headDim: 128, writeLSE: false))
        variants.append(DecodeKernelDescriptor(kind: .append, architecture: architecture, elementType: .bfloat16,
                                               rotary: .halfSplit, rotaryTableType: .float32, appendKeys: true))
        // Every scalar attention variant above in the transposed-reduction form (the default),
        // and the lane form of each row choice and the heaviest option set (the knob's path).
        let lane = variants.filter { $0.kind == .attention && !$0.tensorCores && $0.headDim == 128 && $0.clusterSplits == 0
            && !$0.fusedAppend && !$0.splitOutput } + variants.filter { $0.kind == .attention && !$0.vectorized && $0.fusedCombine }
        variants = variants.map { variant in
            var variant = variant
            if variant.kind == .attention && !variant.tensorCores && variant.headDim >= 16
                && transposedReduceFits(keysPerStep: variant.keysPerStep, fusedAppend: variant.fusedAppend, architecture: architecture) {
                variant.transposedReduce = true
            }
            return variant
        }
        return variants + lane + streamVariants(for: architecture)
    }

    /// The streaming form's variants (sm_90 only; appended last so every other variant keeps its
    /// index in the source dump): both element types, final and split output, the fused append
    /// (plain and rotary), options, both planned shapes and a shallow ring.
    public static func streamVariants(for architecture: GPUArchitecture) -> [DecodeKernelDescriptor] {
        guard architecture >= .sm90a else { return [] }
        func stream(_ type: ElementType, _ tile: Int = 128, outputType: ElementType? = nil, mask: KernelMask = .causal,
                    softcap: Bool = false, alibi: Bool = false, split: Bool, fusedAppend: Bool = false,
                    rotary: DecodeRotary = .none, underfilled: Bool = false, stages: Int? = nil, pdl: Bool = false,
                    producers: Int? = nil) -> DecodeKernelDescriptor {
            let shape = streamShape(headDim: tile, underfilled: underfilled, architecture: architecture)
            return DecodeKernelDescriptor(
                kind: .attention, architecture: architecture, elementType: type, outputType: outputType, headDim: tile,
                rowsPerBlock: 8, keysPerStep: 16, stages: stages ?? shape.stages, warps: shape.warps, mask: mask,
                softcap: softcap, alibi: alibi, splitOutput: split, fusedAppend: fusedAppend, tensorCores: true,
                rotary: rotary, dependentLaunch: pdl && split,
                streamRing: true, streamProducers: producers ?? shape.producers)
        }
        var variants: [DecodeKernelDescriptor] = []
        for type in [ElementType.bfloat16, .float16] {
            for split in [false, true] {
                variants.append(stream(type, split: split, fusedAppend: true, pdl: split))
                variants.append(stream(type, split: split))
            }
        }
        variants.append(stream(.bfloat16, split: false, fusedAppend: true, underfilled: true))
        variants.append(stream(.bfloat16, split: true, fusedAppend: true, underfilled: true, pdl: true))
        variants.append(stream(.bfloat16, split: true, stages: 4))  // the shallowest ring: one round of 4 consumer and 4 producer warps
        variants.append(stream(.bfloat16, split: true, fusedAppend: true, producers: 1))
        variants.append(stream(.bfloat16, split: false, fusedAppend: true, underfilled: true, producers: 8))
        for tile in [16, 32, 64] { variants.append(stream(.bfloat16, tile, split: true, fusedAppend: tile == 64)) }
        variants.append(stream(.float16, outputType: .float32, mask: .window, softcap: true, alibi: true, split: false))
        for rotary in [DecodeRotary.interleaved, .halfSplit] {
            variants.append(stream(.bfloat16, split: true, fusedAppend: true, rotary: rotary))
        }
        return variants
    }
}

extension DecodeKernelDescriptor {
    /// The generated CUDA source of this descriptor.
    public func source() throws -> String {
        switch kind {
        case .append: try KVAppendKernel(descriptor: self).source
        case .attention: try DecodeKernel(descriptor: self).source
        case .combine: try SplitCombineKernel(descriptor: self).source
        }
    }

    public var entryPoint: String {
        switch kind {
        case .append: KVAppendKernel.entryPoint
        case .attention: DecodeKernel.entryPoint
        case .combine: SplitCombineKernel.entryPoint
        }
    }
}

/// Greatest common divisor of two positive integers.
private func gcd(_ a: Int, _ b: Int) -> Int { b == 0 ? a : gcd(b, a % b) }
