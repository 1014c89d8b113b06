import FlashAttentionCore

/// The kernels of the Hopper (sm_90a) backward, in launch order.
public enum HopperBackwardPass: String, Sendable, Hashable, CaseIterable {
    /// Per (token, head): D = rowsum(dO ∘ O) and LSE·log2(e), float32, written into a layout
    /// padded to whole 64-row query blocks (padding rows: L = +∞, D = 0) so that one bulk copy
    /// moves a step's statistics.
    case preprocess
    /// Per key block: dK, dV, and dQ_partial = dS·K added to a float32 accumulator in key-block
    /// order (a dedicated warp does the ordered add, off the consumers' path).
    case keyValue
    /// dQ = softmax scale · accumulator, in dQ's type and strides.
    case convertDQ
}

/// Everything that changes the instructions of one Hopper backward kernel.
///
/// The Hopper backward (``HopperBackwardKernel``) takes a narrow set of problems — dense
/// layouts, float16/bfloat16 inputs and dO, tensor-map-friendly strides, D ≤ 256 (tile head dim
/// 64, 128 or 256; tile 256 is ``HopperBackwardKernel``'s wide form), no mask or causal, no softcap, ALiBi, dropout or window — and everything else stays on the
/// ``BackwardKernelDescriptor`` kernels; ``HopperBackwardDescriptor/accepts(_:)`` says which.
public struct HopperBackwardDescriptor: Sendable, Hashable, CustomStringConvertible {
    public var pass: HopperBackwardPass
    /// q, k, v and dO: float16 or bfloat16.
    public var elementType: ElementType
    /// Preprocess: storage of O (any float type).
    public var outType: ElementType
    /// Gradient storage types.
    public var dqType: ElementType
    public var dkType: ElementType
    public var dvType: ElementType
    /// Tile head dim, 64, 128 or 256 (the problem's D is at most this; the copy engine
    /// zero-fills the rest). At 256 the two consumer warpgroups share 64 keys and split the
    /// head dim (HopperBackwardWideKernel.swift); only `stages` (1 or 2: Q buffers, and with
    /// them the dQ staging rounds) and `mask` vary there.
    public var headDim: Int
    /// Query rows per step, fixed by the tile head dim: 64 at tile D = 128 (one wgmma M tile;
    /// each consumer computes half of dQ_partial's columns), 128 at tile D = 64 (each consumer
    /// computes dQ_partial for half of the step's queries, so every product keeps an n64 or
    /// wider shape).
    public var blockM: Int { headDim == 64 ? 128 : 64 }
    /// Keys per thread block: two consumer warpgroups of 64 keys (tile D = 256: 64 keys shared
    /// by both, each owning half of the head dim).
    public var blockN: Int { headDim == 256 ? 64 : 128 }
    /// Q/dO pipeline depth (tile D = 256: Q buffers, dO has one): 2 in every plan at tile D = 64/128 (``plan(for:orderedDQ:dqBuffers:dqWriters:pipelinedS:earlyDV:lateDK:wideStages:)``
    /// never asks for more, and no knob does); 3 fits tile D = 128 with one dQ buffer and stays
    /// generated and compiled by the tests only, as the shape a deeper pipeline would start from.
    public var stages: Int = 2
    public var mask: KernelMask
    /// dQ added in key-block order (bitwise reproducible). Off: the dedicated warp adds in
    /// arrival order (a measurement knob).
    public var orderedDQ: Bool = true
    /// dQ_partial tiles in shared memory: 1 (the writer completes each add before the
    /// consumers stage the next) or 2 (the writer issues step t's add before waiting for step
    /// t − 1's, and passes step t − 1's turn on then).
    public var dqBuffers: Int = 1
    /// Writer threads with two buffers and ordered adds: 1 (one thread alternates between the
    /// buffers, as above) or 2 (a writer per buffer, warps 1 and 2, even and odd steps: each
    /// completes its own step's add and passes that turn on at once, never behind the other
    /// step's turn wait). Arrival-order adds wait on no turn and keep one writer.
    public var dqWriters: Int = 1
    /// Software pipelining across steps: each consumer issues the next step's Sᵀ = K·Qᵀ
    /// product right behind this step's dQ product (after dV/dK complete), so Sᵀ runs on the
    /// tensor cores while the consumer waits for dQ_partial, stages it and arrives on the
    /// writer's barrier; the next step starts with its dPᵀ product. One more Sᵀ accumulator
    /// (blockM / 2 registers per thread) is live across the dQ product.
    public var pipelinedS: Bool = false
    /// dV += Pᵀ·dO issued as soon as Pᵀ is packed, while the consumer still waits for dPᵀ and
    /// computes dSᵀ, instead of in one group with dK += dSᵀ·Q: the tensor cores run dV during
    /// the dSᵀ arithmetic, which otherwise leaves them idle in both (lockstep) consumers.
    public var earlyDV: Bool = false
    /// With ``earlyDV``: dK += dSᵀ·Q issued behind the dQ product instead of ahead of the dSᵀ
    /// stores, so the consumer waits only for dV and dQ_partial before staging dQ_partial, and
    /// dK runs on the tensor cores meanwhile (the stage is freed once dK completes).
    public var lateDK: Bool = false
    /// The key/value grid's order (every tile; tile D = 256 since session 20). 0: (kv head, key block, batch) on the grid's
    /// x, y, z, so the hardware dispatches key block 0 of every head, then key block 1, …: each
    /// (head, query block)'s Q, dO and dQ accumulator tiles are touched again by the next key
    /// block only after every head's blocks in between (on a causal problem at 8k–16k keys, tens
    /// of MB of other traffic: the re-reads and the ordered read-modify-write adds come from
    /// DRAM). G > 0: one linear grid, batch slowest, then groups of G heads, then key block
    /// (longest first on causal problems), head within the group fastest, so consecutive key
    /// blocks of a head start a few CTAs apart and find those tiles still in L2. At tile D = 256 (64-key blocks, twice the
    /// traffic per FLOP) the 3-D grid fell off that cliff outright at 16 or more heads: ``wideHeadGroup(_:)``; at tile
    /// D = 64 / 128 causal it shows with 32–64 kv heads: ``causalManyHeadsGroup(_:)``. In deterministic calls the consecutive
    /// key blocks of a head also queue on each other's dQ turns, which is why the wide kernel keeps the 3-D grid there.
    public var headGroup: Int = 0
    /// The exponentials branch once per step on whether it is an edge step (keys past the end,
    /// or causal with a key above some query's diagonal; uniform across the CTA): only edge
    /// steps evaluate the mask. Off, ptxas predicates the per-element mask into every step, which
    /// on causal problems adds about 450 instructions a consumer thread a step at tile D = 64
    /// (LOP3/ISETP/PLOP3/VIADD; the unmasked loop body is about 800).
    public var maskBranch: Bool = false
    /// The preprocess and the dQ conversion in their fast forms: the preprocess
    /// gives each lane 8 contiguous elements (16-byte loads of dO and O) and issues all of a warp's
    /// rows' loads before its reductions; the conversion loads its whole tile before any store and
    /// writes dQ through shared memory in 16-byte row chunks. They need 16-byte-aligned rows of O
    /// (preprocess) and dQ (conversion) with a unit head-dim stride (the runtime checks). The plain
    /// forms (one warp a row with 2-byte loads; one 16-byte load in flight a thread and 4-byte
    /// stores) ran at 1.0–2.0 and ~1.4 TB/s on the H100 (ncu, session 7).
    public var fastPasses: Bool = false
    /// Tile D = 256 with ordered dQ: a turn counter per 64-column dQ_partial chunk (four arrays of
    /// counters, so the runtime allocates four times the counters) instead of one per tile; the
    /// next key block's add of a chunk starts once this block's add of that chunk completes.
    public var wideChunkTurns: Bool = false
    /// Tile D = 256 with ordered dQ: dQ writer threads, 1 or 2 (warps 1 and 2 take alternate steps
    /// over the one staging, each with its own full barrier, so one waits for its add's completion
    /// and passes the turn on while the other reads the next step).
    public var wideWriters: Int = 1
    /// Tile D = 128: out-of-phase (ping-pong) consumers. Each warpgroup computes its own
    /// dQ_partial over its own 64 keys and all 128 columns (dS_wg·K_wg, m64n128), so no barrier
    /// between the warpgroups remains inside a step; named barriers let them issue their Sᵀ and
    /// dPᵀ products in turn, so one runs its element-wise work (exp, dSᵀ, staging) while the
    /// other's products run. Warpgroup 1 adds its partial into warpgroup 0's staged one (fixed
    /// order: bitwise reproducible) before the writer's one add per (key block, query block).
    /// Off unless `FLASH_ATTENTION_HOPPER_BWD_PINGPONG=1`. H100 (session 7, hopbwd11, D = 128, N = 1k…8k,
    /// bf16 two rounds and fp16, cuDNN in the same call): 0.91–1.00× the shipped kernel, losing more
    /// as N grows. Its dQ product waits for dV/dK (so the 64 more accumulator registers fit), and the
    /// staging traffic triples (docs/performance.md, "ping-pong consumers"). Checked forced: 48/48
    /// float64-oracle cases (deterministic and not), bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    public var pingPong: Bool = false
    /// Tile D = 256, one Q stage: Q in a ring of three half tiles (16 KB, two 64-column blocks each)
    /// instead of one 32 KB stage, paid for by dropping the float32 copy of Pᵀ (warpgroup 1 computes
    /// dSᵀ = Pᵀ ∘ (dPᵀ − D) from the bf16/fp16 Pᵀ staged for dV). Half 0 of step t + 1 (slot
    /// (2t + 2) mod 3) loads during step t; half 1 (with L) once step t's dK products complete, as the
    /// whole tile did; warpgroup 0 issues the first half of Sᵀ = K·Qᵀ's k-loop before half 1 arrives.
    /// Same shared memory as the one-stage form (231,168 B). The 16-bit P in dS is the P that naive
    /// attention in that precision uses there (NaiveAttention rounds P before dS). On by default
    /// wherever one stage runs (``defaultWideQRing(_:)``, which has the timings);
    /// `FLASH_ATTENTION_HOPPER_BWD256_QRING=0` turns it off.
    public var wideQRing: Bool = false
    /// Tile D = 256, one Q stage, 16-bit dK and dV: the epilogue stages each warpgroup's dK and dV
    /// halves (16 KB each) in its half of the 64 KB dQ staging, free once the writer has read the
    /// last step's dQ_partial, and stores them as coalesced 16-byte row pieces (16 a thread instead
    /// of 64 four-byte stores that touch eight rows per warp instruction). On by default up to 8k keys
    /// (session 8, hopbwd14; ``defaultWideStagedEpilogue(_:)``, which has the timings);
    /// `FLASH_ATTENTION_HOPPER_BWD256_EPI=0|1` turns it off or forces it.
    public var wideStagedEpilogue: Bool = false
    /// Tile D = 128: each step's 16 values of L and 16 of D a thread are read from the stage into
    /// registers right after the Sᵀ and dPᵀ products are issued, instead of after their waits
    /// (session 8, hopbwd13: ncu showed the first exp and the first dSᵀ subtraction waiting on
    /// those shared-memory loads behind the tensor cores' operand reads). Without the early dV
    /// (causal) only L comes early (both spill there). Off unless `FLASH_ATTENTION_HOPPER_BWD_STATS=1`;
    /// it lost where timed (``defaultEarlyStats(_:)``).
    public var earlyStats: Bool = false
    /// Tile D = 128 with ``lateDK``: the proxy fence and the writer's arrival for the staged
    /// dQ_partial come after dK's completion and the stage's release, so the fence's wait for the
    /// stores overlaps dK's. Off unless `FLASH_ATTENTION_HOPPER_BWD_LATEFENCE=1`; it lost where
    /// timed (``defaultLateFence(_:)``).
    public var lateFence: Bool = false
    /// Tile D = 128 with the early dV and late dK (the unmasked form), arrival-order dQ: a persistent grid (one CTA per multiprocessor, at most
    /// one per tile) whose CTAs walk the (batch, kv head, key block) tiles with a static stride,
    /// head-major (consecutive tiles are consecutive key blocks of one head, so the CTAs running
    /// at once share that head's Q, dO and dQ accumulator in L2). The producer loads the next
    /// tile's first Q/dO stage as soon as a ring stage frees, then its K and V once the consumers
    /// have arrived on a K/V-free barrier after the last step's products (so the load runs under
    /// the dK/dV epilogue). The Q/dO ring and the dQ staging continue their phase sequence across
    /// tiles; the K/V barriers flip once per tile. Not with ordered dQ: the turn chain waits for
    /// lower key blocks, and a persistent CTA that holds a higher key block while the lower one
    /// waits in its own CTA's queue behind it can deadlock. Off unless
    /// `FLASH_ATTENTION_HOPPER_BWD_PERSIST=1` (non-deterministic calls; session 8, hopbwd15). The causal
    /// (no early dV) and tile D = 64 forms spill with the tile loop (4 and 12–20 bytes), so they are not generated; causal
    /// problems with the early dV (the default at causal 1k–8k since session 13) keep the per-tile grid too.
    public var persistentTiles: Bool = false
    /// Tile D = 64/128 and tile D = 256's Q-ring form: each wgmma's shared-memory descriptors are one add of a compile-time
    /// immediate to a base word built once (per warpgroup, per ring stage), instead of the full
    /// mask-shift-or build of `smem_desc(base + offset, …)` per operand (session 9, hopbwd16).
    /// The low word of a 128-byte-swizzled descriptor is (address >> 4) + (leading bytes >> 4) << 16
    /// and the high word is the same for every operand, so desc(base + off) = desc(base) + off >> 4
    /// (shared memory < 256 KB: no carry out of bits 0–13); the warpgroup index goes through a
    /// lane-0 shuffle so that ptxas keeps the bases in uniform registers.
    /// On by default where it measured faster (``defaultPrecomputedDescriptors(_:)``);
    /// `FLASH_ATTENTION_HOPPER_BWD_DESC=1|0` forces it either way.
    public var precomputedDescriptors: Bool = false
    /// Tile D = 128 (and since session 14 tile D = 64: 64 keys × 64 columns, 8 KB each, in Q's two 16 KB stages),
    /// 16-bit dK and dV, one tile per CTA: the epilogue stages each warpgroup's dK and dV
    /// (64 keys × 128 columns, 16 KB each) in the Q/dO ring, free once both consumers' last products have
    /// completed (a 256-thread named barrier), as rows of 256 B with 16-byte piece c of row r at c ^ (r % 8),
    /// then stores 16-byte row pieces (a warp writes two whole rows) instead of 64 four-byte stores a thread
    /// whose warp instructions each touch eight rows. The tile D = 256 form of the same idea
    /// (``wideStagedEpilogue``) gained 1.06–1.11× at ≤ 2k keys. With one CTA per multiprocessor the
    /// epilogue is idle tensor time; at 1k keys a block has 16 steps (causal: 8.5 on average).
    /// On by default at tile D = 128 (session 13, hopbwd17) and tile D = 64 (session 14, hopbwd19) up to 4k keys, causal
    /// up to 8k (``defaultStagedEpilogue(_:)``).
    public var stagedEpilogue: Bool = false
    /// Ordered dQ with one turn counter a tile (key/value and dQ conversion passes; tile D = 256 since session 24, not with
    /// its chunk turns): the conversion pass launches as a programmatic
    /// dependent of the key/value kernel (which executes `griddepcontrol.launch_dependents` as it starts), so its blocks
    /// start on the multiprocessors the key/value kernel's last wave leaves idle. Each waits until its tile's turn counter
    /// reaches the count of key blocks that see the query block (ordered adds pass the turn once their add has completed
    /// and been released), converts, and ends in `griddepcontrol.wait`, so the pass completes only once the key/value
    /// kernel has (its dK and dV). The conversion pass took 10–13 % of the backward's kernel time at 512 keys on the H200
    /// (session 23: 50 µs of 491 at D = 128), after the key/value kernel's tail. The conversion pass's descriptor carries
    /// the mask (the causal count). On by default up to 2048 keys (``defaultDependentConvert(_:)``, which has the timings); `FLASH_ATTENTION_HOPPER_BWD_DEPCVT=0|1` turns it off or on.
    public var dependentConvert: Bool = false
    /// Tile D = 64/128 (preprocess and key/value passes): the key/value kernel launches as a programmatic dependent of the
    /// preprocess (which executes `griddepcontrol.launch_dependents` as it starts), so its launch, barrier set-up and each
    /// CTA's first K, V, Q and dO loads run under the preprocess's tail. The producer executes `griddepcontrol.wait`
    /// ahead of its first bulk load of L and D (the only data the preprocess writes; the consumers read them from shared
    /// memory, so nothing of theirs, dK / dV / dQ included, runs ahead of the wait), and thread 0 once more at the end,
    /// so the grid completes only after the preprocess (the launches after it rely on that). The preprocess itself follows
    /// the counters' memset as a plain launch, so every input is complete when either kernel starts. Not on the persistent
    /// grid (its producer, at 24 registers, spills 4 B with the wait). Suffix `ds`.
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=0|1`; unset, ``defaultDependentStats(_:)``.
    public var dependentStats: Bool = false

    /// A diagnostic (session 29; never planned by default): the key/value kernel's in-kernel timeline. One thread of each
    /// role reads the global nanosecond timer at fixed points of its CTA's work (entry, K/V issued, K/V landed, the first and
    /// the last step done, each warpgroup's dK/dV stored, the writers' last add complete) and writes it, with the CTA's SM
    /// and step count, into 16 words a CTA behind the turn counters (``HopperBackwardTimeline``); the runtime copies the
    /// rows to `FLASH_ATTENTION_HOPPER_BWD_TIMELINE=<file>` after the call. Tile D = 64 / 128 on the per-tile grids only.
    /// Suffix `tl`.
    public var timeline: Bool = false

    /// The last round's key blocks split over the idle multiprocessors (session 29). The per-tile grid of G key blocks fills
    /// ⌊G / S⌋ rounds of S multiprocessors and then runs T = G mod S blocks alone (tile D = 64's 4096 key blocks on 132 SMs:
    /// four). Here the last T blocks run as T · k CTAs (`BackwardParameters.tailUnits` / `tailParts`; k from the tail's
    /// time model, in one wave or more), each over a contiguous 1 / k of the block's query steps: its dQ adds keep their key-block turns (each part owns whole
    /// query blocks), its dK and dV are added in float32 into the block's sums behind the turn counters (zeroed with them),
    /// and the part that arrives last stores dK = scale · Σ and dV = Σ. Tile D = 64 / 128 on the per-tile grids, unmasked,
    /// 16-bit dK / dV. The grid is linear (the 3-D grid's order, or the head groups'). The parts' float32 sums arrive in any
    /// order, so deterministic calls never take it. Suffix `ts`.
    public var tailSplit: Bool = false
    /// The head dim the key/value kernel's products over D span, when less than ``headDim`` (tile D = 64 / 128 only): the
    /// problem's D rounded up to 16 (nil: the tile's). Sᵀ = K·Qᵀ and dPᵀ = V·dOᵀ stop after `productHeadDim / 16` k steps,
    /// dV += Pᵀ·dO and dK += dSᵀ·Q are `m64n<productHeadDim>` (and dK / dV take that many accumulator columns); dQ's
    /// product keeps the tile's columns (its split between the warpgroups is by 64-column halves). Suffix `n<productHeadDim>`
    /// on the head dim.
    public var productHeadDim: Int? = nil

    /// The head dim the products over D span: ``productHeadDim`` or the tile's.
    public var productDim: Int { productHeadDim ?? headDim }

    public init(pass: HopperBackwardPass, elementType: ElementType, outType: ElementType? = nil,
                dqType: ElementType? = nil, dkType: ElementType? = nil, dvType: ElementType? = nil,
                headDim: Int = 128, mask: KernelMask = .none, stages: Int = 2, orderedDQ: Bool = true, dqBuffers: Int = 1,
                dqWriters: Int = 1, pipelinedS: Bool = false, earlyDV: Bool = false, lateDK: Bool = false,
                headGroup: Int = 0, maskBranch: Bool = false, fastPasses: Bool = false, wideChunkTurns: Bool = false,
                wideWriters: Int = 1, pingPong: Bool = false, wideQRing: Bool = false, earlyStats: Bool = false,
                lateFence: Bool = false, wideStagedEpilogue: Bool = false, persistentTiles: Bool = false,
                precomputedDescriptors: Bool = false, stagedEpilogue: Bool = false, dependentConvert: Bool = false,
                dependentStats: Bool = false) {
        self.pass = pass
        self.elementType = elementType
        self.outType = outType ?? elementType
        self.dqType = dqType ?? elementType
        self.dkType = dkType ?? elementType
        self.dvType = dvType ?? elementType
        self.headDim = headDim
        self.mask = mask
        self.stages = stages
        self.orderedDQ = orderedDQ
        self.dqBuffers = dqBuffers
        self.dqWriters = dqWriters
        self.pipelinedS = pipelinedS && pass == .keyValue
        self.earlyDV = earlyDV && pass == .keyValue
        self.lateDK = lateDK && pass == .keyValue
        self.headGroup = pass == .keyValue ? headGroup : 0
        self.maskBranch = maskBranch && pass == .keyValue
        // The fast conversion stages a row-major dQ tile in static shared memory (48 KB at most):
        // a float32 dQ at tile D = 256 (66 KB) keeps the plain form.
        self.fastPasses = fastPasses && pass != .keyValue && !(pass == .convertDQ && headDim == 256 && self.dqType == .float32)
        self.wideChunkTurns = wideChunkTurns && pass == .keyValue
        self.wideWriters = pass == .keyValue ? wideWriters : 1
        self.pingPong = pingPong && pass == .keyValue
        self.wideQRing = wideQRing && pass == .keyValue
        self.wideStagedEpilogue = wideStagedEpilogue && pass == .keyValue
        self.earlyStats = earlyStats && pass == .keyValue
        self.lateFence = lateFence && pass == .keyValue
        self.persistentTiles = persistentTiles && pass == .keyValue
        self.precomputedDescriptors = precomputedDescriptors && pass == .keyValue
        self.stagedEpilogue = stagedEpilogue && pass == .keyValue
        self.dependentConvert = dependentConvert && pass != .preprocess
        self.dependentStats = dependentStats && pass != .convertDQ
    }

    public var architecture: GPUArchitecture { .sm90a }

    /// Whether the consumers split dQ_partial by query rows (tile D = 64) rather than by columns.
    public var splitsQueries: Bool { headDim == 64 }

    /// Columns of one consumer's dQ_partial product (64 in both tile shapes; all 128 with
    /// ``pingPong``, over the warpgroup's own 64 keys).
    public var dqColumns: Int { splitsQueries || pingPong ? headDim : headDim / 2 }

    /// The tile head dim of a problem head dim (≤ 256).
    public static func tileHeadDim(_ headDim: Int) -> Int { headDim <= 64 ? 64 : headDim <= 128 ? 128 : 256 }

    /// 128 threads of producer warpgroup (TMA warp, dQ-writer warp, two idle warps) and two
    /// 128-thread consumer warpgroups; the small kernels run 256.
    public var threads: Int { pass == .keyValue ? 384 : 256 }

    /// Bytes of the key/value kernel's tiles: K, V (whole block), Q and dO (`stages` tiles
    /// each), dSᵀ (two buffers), `dqBuffers` float32 dQ_partial tiles, L and D rows.
    public var tileBytes: Int {
        guard pass == .keyValue else { return 0 }
        if headDim == 256 { return wideTileBytes }
        let kv = 2 * blockN * headDim * 2
        let qdo = 2 * stages * blockM * headDim * 2
        let stats = 2 * stages * blockM * 4
        let ds = 2 * blockN * blockM * 2
        let dq = dqBuffers * blockM * headDim * 4
        return kv + qdo + stats + ds + dq
    }

    /// Tile D = 256: K and V (32 KB each), `stages` Q tiles and one dO tile (32 KB each), Pᵀ
    /// and dSᵀ (bf16/fp16, 8 KB each), Pᵀ in float32 (16 KB), the dQ_partial staging (64 KB
    /// with one Q stage, 32 KB in two rounds with two), `stages` rows of L and one of D.
    var wideTileBytes: Int {
        let tile = 64 * 256 * 2
        // The Q ring: three half tiles, no float32 Pᵀ, the 64 KB staging, one row each of L and D.
        if wideQRing { return 2 * tile + 3 * tile / 2 + tile + 2 * 64 * 64 * 2 + 64 * 256 * 4 + 2 * 64 * 4 }
        let staging = stages == 1 ? 64 * 256 * 4 : 64 * 128 * 4
        return 2 * tile + (stages + 1) * tile + 2 * 64 * 64 * 2 + 64 * 64 * 4 + staging + (stages + 1) * 64 * 4
    }

    /// Bytes reserved for the key/value kernel's mbarriers (it uses 8 · (1 + 2·dqBuffers +
    /// 2·stages) ≤ 88).
    public static let barrierBytes = 256

    /// Whether the mbarriers go into the pad in front of the 1024-byte-aligned tiles when the
    /// pad has room for them (else right after the tiles), so that one alignment slack of
    /// 1008 B covers both: only where the plain layout (tiles, then barriers, plus 1 KB of slack)
    /// misses the limit — tile D = 64 with two dQ buffers (232,704 of 232,448 B; 232,432 this
    /// way). Every other variant keeps the plain layout and its generated source.
    public var barriersInAlignmentPad: Bool {
        pass == .keyValue && tileBytes + Self.barrierBytes + 1024 > architecture.maxSharedMemoryPerBlock
    }

    /// Dynamic shared memory of the key/value kernel: ``tileBytes``, the barriers, plus 1 KB
    /// to align the swizzle atoms to 1024 bytes. With ``barriersInAlignmentPad``, the tiles
    /// plus 1008 B: the dynamic base is 16-byte aligned, so the pad in front of the aligned
    /// tiles is at most 1008 B; a pad of 256 B or more holds the barriers, and a shorter one
    /// (≤ 240 B) leaves ≥ 768 B behind the tiles for them.
    public var sharedMemoryBytes: Int {
        guard pass == .keyValue else { return 0 }
        if barriersInAlignmentPad { return tileBytes + 1024 - 16 }
        return tileBytes + Self.barrierBytes + 1024
    }

    /// Why this descriptor cannot be generated, or nil.
    public var invalidReason: String? {
        if elementType != .float16 && elementType != .bfloat16 { return "inputs must be float16 or bfloat16" }
        if headDim != 128 && headDim != 64 && headDim != 256 { return "the Hopper backward is generated for tile head dims 64, 128 and 256, got \(headDim)" }
        if headDim == 256 {
            if stages < 1 || stages > 2 { return "tile D = 256 takes one or two Q stages" }
            // (It takes the mask branch, warpgroup 0's exponentials (session 19), and head groups, its grid order (session 20).)
            if dqBuffers != 1 || dqWriters != 1 || pipelinedS || earlyDV || lateDK {
                return "tile D = 256 has one schedule (its own staging, no product-order variants; dQ ordered or in arrival order)"
            }
        }
        if wideChunkTurns && (headDim != 256 || !orderedDQ) { return "chunk turns are the wide kernel's ordered dQ form" }
        if wideWriters != 1 && (wideWriters != 2 || headDim != 256 || !orderedDQ || wideChunkTurns) {
            return "two wide dQ writers are the wide kernel's ordered dQ form with one turn per tile"
        }
        if headDim != 256 && (stages < 2 || stages > 3) { return "stages must be 2 or 3" }
        if let p = productHeadDim, pass != .keyValue || headDim == 256 || p % 16 != 0 || p < 16 || p > headDim {
            return "productHeadDim narrows the tile D = 64 / 128 key/value kernel's products: a multiple of 16 in 16...\(headDim), got \(p)"
        }
        if tailSplit && (pass != .keyValue || headDim == 256 || persistentTiles || mask != .none || dkType == .float32 || dvType == .float32) {
            return "the tail split is generated for the unmasked tile D = 64 / 128 key/value kernel on its per-tile grids, with 16-bit dK and dV"
        }
        if timeline && (pass != .keyValue || headDim == 256 || persistentTiles) {
            return "the timeline diagnostic is generated for the tile D = 64 / 128 key/value kernel on its per-tile grids"
        }
        if dqBuffers < 1 || dqBuffers > 2 { return "dqBuffers must be 1 or 2" }
        if headGroup < 0 || headGroup > 64 { return "headGroup must be 0 (the 3-D grid) or 1…64 heads" }
        if dqWriters != 1 && !(dqWriters == 2 && dqBuffers == 2 && orderedDQ) { return "two dQ writers need two dQ buffers and ordered adds" }
        if mask == .window { return "sliding windows stay on the other backward kernels" }
        if earlyDV && headDim != 128 {
            // 128-query steps: Sᵀ, dPᵀ and Pᵀ's fragments live together (224 registers) and spill.
            return "the early dV product is generated for tile D = 128"
        }
        if lateDK && (!earlyDV || pipelinedS) { return "a late dK product needs the early dV product and no pipelined Sᵀ" }
        if wideQRing && (headDim != 256 || stages != 1) { return "the Q ring is the wide kernel's one-stage form" }
        if wideStagedEpilogue && (headDim != 256 || stages != 1 || dkType == .float32 || dvType == .float32) {
            return "the staged epilogue is the wide kernel's one-stage form with 16-bit dK and dV"
        }
        if pingPong && (headDim != 128 || pipelinedS) { return "ping-pong consumers are generated for tile D = 128 without the pipelined Sᵀ" }
        if earlyStats && (headDim != 128 || pingPong) { return "the early statistics are generated for tile D = 128 without ping-pong consumers" }
        if lateFence && (headDim != 128 || !lateDK || pingPong) { return "the late dQ fence needs tile D = 128 with the late dK product" }
        if persistentTiles && (headDim != 128 || mask != .none || !earlyDV || !lateDK || orderedDQ || pipelinedS || pingPong || headGroup != 0) {
            // Ordered turns across a persistent schedule can deadlock: a CTA waiting for a lower key
            // block's turn may hold the multiprocessor that block's CTA would need. Causal problems also take the early dV
            // since session 13, but the causal tile loop was never checked (session 14, hopbwd20): unmasked only.
            return "persistent tiles are generated for unmasked tile D = 128 with the early dV and late dK, arrival-order dQ, no pipelined Sᵀ, ping-pong or head groups"
        }
        if precomputedDescriptors && headDim == 256 && !wideQRing {
            return "precomputed descriptors at tile D = 256 are generated for the Q-ring form (the others spill 24–32 B)"
        }
        if stagedEpilogue && (headDim == 256 || persistentTiles || dkType == .float32 || dvType == .float32) {
            // Persistent tiles keep loading the next tile's Q/dO into the ring during the epilogue. Tile D = 64
            // (session 14): its two warpgroups' dK and dV (32 KB) fit Q's two 16 KB stages.
            return "the staged dK/dV epilogue is generated for tile D = 64/128 with 16-bit dK and dV, one tile per CTA"
        }
        if dependentConvert && pass == .keyValue && (!orderedDQ || persistentTiles || wideChunkTurns) {
            return "the dependent dQ conversion is generated with ordered dQ and one turn counter a tile (it counts completed adds)"
        }
        if dependentStats && (headDim == 256 || persistentTiles) {
            // The persistent producer spills 4 B with the wait (24 registers).
            return "the dependent key/value launch is generated for tile D = 64/128, one tile per CTA"
        }
        if sharedMemoryBytes > architecture.maxSharedMemoryPerBlock { return "needs \(sharedMemoryBytes) B of shared memory" }
        return nil
    }

    /// Whether the Hopper backward takes `problem` (the rest stays on the other kernels).
    public static func accepts(_ problem: BackwardProblem) -> Bool {
        (problem.elementType == .bfloat16 || problem.elementType == .float16)
            && problem.gradOutType == problem.elementType
            && problem.headDim > 0 && problem.headDim <= 256 && problem.headDim % 8 == 0
            && (problem.mask == .none || problem.mask == .causal)
            && !problem.softcap && !problem.alibi && !problem.dropout && !problem.varlen
            && problem.vectorized && !problem.convertGradOut
    }

    /// The three kernels of `problem`, or nil when it does not qualify.
    public static func plan(for problem: BackwardProblem, orderedDQ: Bool = true, dqBuffers: Int = 1,
                            dqWriters: Int = 1, stages: Int = 2, pipelinedS: Bool = false, earlyDV: Bool = false,
                            lateDK: Bool = false, wideStages: Int = 2, headGroup: Int = 0,
                            maskBranch: Bool = false, fastPasses: Bool = false, wideOrderedDQ: Bool = true,
                            wideChunkTurns: Bool = false, wideWriters: Int = 1, pingPong: Bool = false,
                            earlyStats: Bool = false, lateFence: Bool = false,
                            wideQRing: Bool = false,
                            wideStagedEpilogue: Bool = false, persistentTiles: Bool = false,
                            precomputedDescriptors: Bool = false, stagedEpilogue: Bool = false,
                            dependentConvert: Bool = false, dependentStats: Bool = false) -> [HopperBackwardDescriptor]? {
        guard accepts(problem) else { return nil }
        let t = problem.elementType, tile = tileHeadDim(problem.headDim)
        if tile == 256 {
            // The statistics rows are padded to 64-row blocks, as at tile D = 128, so the plain
            // preprocess is that kernel (its loop runs over the problem's D); the fast one reads
            // whole 256-column rows.
            // Session 24: the dependent conversion where one turn counter a tile counts completed adds.
            let wideDependent = dependentConvert && wideOrderedDQ && !wideChunkTurns
            let plan = [
                HopperBackwardDescriptor(pass: .preprocess, elementType: t, outType: problem.outType,
                                         headDim: fastPasses ? 256 : 128, fastPasses: fastPasses),
                HopperBackwardDescriptor(pass: .keyValue, elementType: t, dkType: problem.dkType, dvType: problem.dvType,
                                         headDim: 256, mask: problem.mask, stages: wideStages, orderedDQ: wideOrderedDQ,
                                         headGroup: headGroup, maskBranch: maskBranch, wideChunkTurns: wideChunkTurns && wideOrderedDQ,
                                         wideWriters: wideOrderedDQ && !wideChunkTurns ? wideWriters : 1,
                                         wideQRing: wideQRing && wideStages == 1,
                                         wideStagedEpilogue: wideStagedEpilogue && wideStages == 1
                                             && problem.dkType != .float32 && problem.dvType != .float32,
                                         // Session 9 (hopbwd16): the Q-ring form only (the others spill with them).
                                         precomputedDescriptors: precomputedDescriptors && wideQRing && wideStages == 1,
                                         dependentConvert: wideDependent),
                HopperBackwardDescriptor(pass: .convertDQ, elementType: t, dqType: problem.dqType, headDim: 256,
                                         mask: wideDependent ? problem.mask : .none, fastPasses: fastPasses,
                                         dependentConvert: wideDependent),
            ]
            return plan.allSatisfy { $0.invalidReason == nil } ? plan : nil
        }
        // The early dV (and so the late dK) exists at tile D = 128 only; tile D = 64 keeps its
        // order. The late dK and the pipelined Sᵀ exclude each other: the pipelined Sᵀ wins.
        let earlyDV = earlyDV && tile == 128, lateDK = lateDK && earlyDV && !pipelinedS
        // Session 8 (hopbwd15): persistent tiles at tile D = 128 with the late dK and arrival-order dQ only
        // (no head groups: its own order).
        let persistent = persistentTiles && tile == 128 && problem.mask == .none && lateDK && !orderedDQ && !pipelinedS && !pingPong
        // Session 23: the dependent conversion where the turn counters count completed adds (ordered dQ), else ignored.
        let dependent = dependentConvert && orderedDQ && !persistent
        let plan = [
            HopperBackwardDescriptor(pass: .preprocess, elementType: t, outType: problem.outType, headDim: tile,
                                     fastPasses: fastPasses, dependentStats: dependentStats && !persistent),
            HopperBackwardDescriptor(pass: .keyValue, elementType: t, dkType: problem.dkType, dvType: problem.dvType,
                                     headDim: tile, mask: problem.mask, stages: stages, orderedDQ: orderedDQ, dqBuffers: dqBuffers,
                                     dqWriters: dqWriters, pipelinedS: pipelinedS, earlyDV: earlyDV, lateDK: lateDK,
                                     headGroup: persistent ? 0 : headGroup, maskBranch: maskBranch,
                                     pingPong: pingPong && tile == 128 && !pipelinedS,
                                     // Session 8 (hopbwd13): tile D = 128 only, not with ping-pong consumers.
                                     earlyStats: earlyStats && tile == 128 && !(pingPong && !pipelinedS),
                                     lateFence: lateFence && tile == 128 && lateDK && !(pingPong && !pipelinedS),
                                     persistentTiles: persistent,
                                     // Session 9 (hopbwd16): every tile D = 64/128 form.
                                     precomputedDescriptors: precomputedDescriptors,
                                     // Session 13 (hopbwd17): tile D = 128, 16-bit dK/dV, one tile per CTA; session 14
                                     // (hopbwd19): tile D = 64 too.
                                     stagedEpilogue: stagedEpilogue && !persistent
                                         && problem.dkType != .float32 && problem.dvType != .float32,
                                     dependentConvert: dependent, dependentStats: dependentStats && !persistent),
            HopperBackwardDescriptor(pass: .convertDQ, elementType: t, dqType: problem.dqType, headDim: tile,
                                     mask: dependent ? problem.mask : .none, fastPasses: fastPasses, dependentConvert: dependent),
        ]
        // A knob setting the tile cannot take (a shared-memory layout over the limit) leaves
        // the problem on the other kernels.
        return plan.allSatisfy { $0.invalidReason == nil } ? plan : nil
    }

    static func typeName(_ t: ElementType) -> String { BackwardKernelDescriptor.typeName(t) }

    /// A short, stable name: `hbwd_dkdv_bf16_d128_m64n128s2_causal_sm_90a`.
    public var name: String {
        var parts = ["hbwd"]
        switch pass {
        case .preprocess:
            parts += ["pre", Self.typeName(elementType), "o" + Self.typeName(outType)]
            if blockM != 64 { parts.append("m\(blockM)") }  // rows padded to whole steps
            if fastPasses { parts.append("d\(headDim)v") }
            if dependentStats { parts.append("ds") }
        case .convertDQ:
            parts += ["dqcvt", Self.typeName(elementType), "dq" + Self.typeName(dqType), "d\(headDim)"]
            if fastPasses { parts.append("v") }
            if dependentConvert { parts.append(mask == .causal ? "dc_causal" : "dc") }
        case .keyValue:
            parts += ["dkdv", Self.typeName(elementType)]
            if dkType != elementType { parts.append("dk" + Self.typeName(dkType)) }
            if dvType != elementType { parts.append("dv" + Self.typeName(dvType)) }
            parts += ["d\(headDim)" + (productDim != headDim ? "n\(productDim)" : ""), "m\(blockM)n\(blockN)s\(stages)"]
            if mask != .none { parts.append(mask.rawValue) }
            if !orderedDQ { parts.append("dqunordered") }
            if dqBuffers != 1 { parts.append("dqbuf\(dqBuffers)") }
            if dqWriters != 1 { parts.append("w\(dqWriters)") }
            if pipelinedS { parts.append("pipe") }
            if earlyDV { parts.append("edv") }
            if lateDK { parts.append("ldk") }
            if headGroup > 0 { parts.append("g\(headGroup)") }
            if maskBranch { parts.append("mb") }
            if wideChunkTurns { parts.append("ct") }
            if wideWriters != 1 { parts.append("ww\(wideWriters)") }
            if pingPong { parts.append("pp") }
            if wideQRing { parts.append("qr") }
            if wideStagedEpilogue { parts.append("se") }
            if earlyStats { parts.append("es") }
            if lateFence { parts.append("lf") }
            if persistentTiles { parts.append("pt") }
            if precomputedDescriptors { parts.append("pd") }
            if stagedEpilogue { parts.append("ste") }
            if dependentConvert { parts.append("dc") }
            if dependentStats { parts.append("ds") }
            if tailSplit { parts.append("ts") }
            if timeline { parts.append("tl") }
        }
        parts.append(architecture.targetName)
        return parts.joined(separator: "_")
    }

    public var description: String { name }
}
