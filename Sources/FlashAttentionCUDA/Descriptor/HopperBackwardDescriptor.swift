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
    /// The key/value grid's order (tile D = 64/128). 0: (kv head, key block, batch) on the grid's
    /// x, y, z, so the hardware dispatches key block 0 of every head, then key block 1, …: each
    /// (head, query block)'s Q, dO and dQ accumulator tiles are touched again by the next key
    /// block only after every head's blocks in between (on a causal problem at 8k–16k keys, tens
    /// of MB of other traffic: the re-reads and the ordered read-modify-write adds come from
    /// DRAM). G > 0: one linear grid, batch slowest, then groups of G heads, then key block
    /// (longest first on causal problems), head within the group fastest, so consecutive key
    /// blocks of a head start a few CTAs apart and find those tiles still in L2.
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

    public init(pass: HopperBackwardPass, elementType: ElementType, outType: ElementType? = nil,
                dqType: ElementType? = nil, dkType: ElementType? = nil, dvType: ElementType? = nil,
                headDim: Int = 128, mask: KernelMask = .none, stages: Int = 2, orderedDQ: Bool = true, dqBuffers: Int = 1,
                dqWriters: Int = 1, pipelinedS: Bool = false, earlyDV: Bool = false, lateDK: Bool = false,
                headGroup: Int = 0, maskBranch: Bool = false, fastPasses: Bool = false, wideChunkTurns: Bool = false,
                wideWriters: Int = 1, pingPong: Bool = false, wideQRing: Bool = false, earlyStats: Bool = false,
                lateFence: Bool = false, wideStagedEpilogue: Bool = false, persistentTiles: Bool = false,
                precomputedDescriptors: Bool = false, stagedEpilogue: Bool = false) {
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
    }

    public var architecture: GPUArchitecture { .sm90a }

    /// Whether the consumers split dQ_partial by query rows (tile D = 64) rather than by columns.
    public var splitsQueries: Bool { headDim == 64 }

    /// Columns of one consumer's dQ_partial product (64 in both tile shapes; all 128 with
    /// ``pingPong``, over the warpgroup's own 64 keys).
    public var dqColumns: Int { splitsQueries || pingPong ? headDim : headDim / 2 }

    /// The tile head dim of a problem head dim (≤ 256).
    public static func tileHeadDim(_ headDim: Int) -> Int { headDim <= 64 ? 64 : headDim <= 128 ? 128 : 256 }

    /// Whether D = 129…256 takes the wide Hopper backward (tile D = 256) without a knob
    /// (`FLASH_ATTENTION_HOPPER_BWD256=0` keeps the 3-pass kernels): yes, at every length.
    /// H100, D = 256, N = 512…16k, bf16 (two rounds) and fp16 (session 6, second call): with
    /// ``defaultWideStages(_:)`` 1.00–1.24× the 3-pass kernels (1.00–1.01 only at 512 causal),
    /// 0.73–0.93× cuDNN against their 0.63–0.86×. Checked in both stage forms (forced) on the
    /// shipped build: 48/48 pinned dense float64-oracle cases at D = 192/256 each, bitwise
    /// reruns, a random verify sweep, memcheck 0 errors and racecheck 0 hazards
    /// (docs/performance.md, "Hopper backward at D = 256").
    public static let defaultWide = true

    /// Q stages of the wide kernel when `FLASH_ATTENTION_HOPPER_BWD256_STAGES` is unset: one (with
    /// the Q ring, ``defaultWideQRing(_:)``) in every non-deterministic call; in deterministic calls
    /// two (32 KB dQ staging in two rounds, the second during the next step's first product) on
    /// unmasked problems from 4k keys, one (64 KB staging, Q reloaded behind dK) elsewhere.
    ///
    /// Non-deterministic calls (session 8 lead call, scripts/device/hopper_bwd12.sh, H100, D = 256,
    /// bf16 mean of two rounds, TFLOP/s two stages / one stage with the ring | cuDNN in the same
    /// call): unmasked 4k 345/387 | 388, 8k 362/400 | 365, 16k 372/417 | 366 (fp16 16k 365/432 | 357),
    /// so the ring's one stage is 1.10–1.18× the two where the old rule picked two.
    /// Deterministic calls (session 8, hopbwd14, scripts/device/hopper_bwd14.sh, one bf16 and one
    /// fp16 round; ordered dQ, two writers), the ring's one stage forced ÷ this rule without the ring:
    /// unmasked 8k 0.67/0.69×, 16k 0.56/0.56× (the 64 KB add a step in key-block order: the two-stage
    /// form's second round hides the writer's turn), 4k 1.00/1.02× (level, so two stages stay from 4k);
    /// where one stage runs the ring is 0.99–1.12× (causal 4k/8k/16k 1.07/1.09/1.12× bf16). Session 6
    /// (without the ring): unmasked 4k/8k/16k two stages 1.08/1.14/1.13× one stage (fp16
    /// 1.07/1.15/1.18×), but 0.90–0.98× at 512…2k; causal two stages 0.90–0.95× up to 8k.
    public static func defaultWideStages(_ problem: BackwardProblem) -> Int {
        !problem.deterministic ? 1 : problem.mask == .none && problem.seqlenK >= 4096 ? 2 : 1
    }

    /// Whether the wide kernel's one-stage form keeps Q in its ring (``wideQRing``) when
    /// `FLASH_ATTENTION_HOPPER_BWD256_QRING` is unset: always (the plan passes it only where one
    /// stage runs; `=0` turns it off, `=1` forces it as the default does).
    ///
    /// H100 (session 8 lead call, scripts/device/hopper_bwd12.sh, D = 256, non-deterministic
    /// calls, bf16 mean of two rounds, fp16 one round similar; TFLOP/s shipped one-stage-or-two
    /// rule without the ring / the ring with one stage forced everywhere | cuDNN, same call):
    /// unmasked 512 231/237 | 217, 1k 309/314 | 289, 2k 349/353 | 351, 4k 345/387 | 388,
    /// 8k 362/400 | 365, 16k 372/417 | 366; causal 512 151/150 | 156, 1k 220/226 | 239,
    /// 2k 291/304 | 312, 4k 343/367 | 369, 8k 375/409 | 419, 16k 391/417 | 416 — level or ahead
    /// everywhere (1.03–1.10× causal from 1k). Checked forced (one stage): 48/48 float64-oracle
    /// cases at D = 192/256 deterministic and 48/48 non-deterministic (arrival order), 10 bitwise
    /// reruns, `verify` 30/30, memcheck 0 errors, racecheck 0 hazards. Deterministic calls (ordered
    /// dQ, two writers; session 8, hopbwd14, hopper_bwd14.sh, one bf16 and one fp16 round) where one
    /// stage runs, ring ÷ no ring: unmasked 512/1k/2k 1.02–1.03×, causal 512 0.99×, 1k 1.00×,
    /// 2k 1.04×, 4k 1.06–1.07×, 8k 1.09–1.10×, 16k 1.07–1.12×.
    public static func defaultWideQRing(_ problem: BackwardProblem) -> Bool {
        true
    }

    /// Whether the wide kernel's one-stage form stores dK and dV through the dQ staging
    /// (``wideStagedEpilogue``; the plan passes it only with 16-bit dK and dV) when
    /// `FLASH_ATTENTION_HOPPER_BWD256_EPI` is unset: up to 8k keys (`=0` turns it off, `=1` forces it).
    ///
    /// ncu (session 8, hopbwd14, H100, the ring kernel, bf16 D = 256 causal, non-deterministic):
    /// the plain epilogue's dK/dV stores and the exit drain were 27 % of the consumers' stall
    /// samples at 1k keys (5 % at 8k). Non-deterministic bf16, two rounds (N first, then E first),
    /// staged ÷ plain, cuDNN in the first call: unmasked 512 1.11/1.11×, 1k 1.08/1.08×, 2k 1.06/1.06×,
    /// 4k 1.02/1.03×, 8k 1.01/1.00×, 16k 0.94/0.96×; causal 512 1.06/1.06×, 1k 1.08/1.08×,
    /// 2k 1.07/1.06×, 4k 1.03/1.03×, 8k 1.02/1.02×, 16k 0.96/1.01× (causal 512/1k/2k 158/245/324
    /// TFLOP/s against cuDNN's 156/239/313). Checked forced: 48/48 float64-oracle cases at
    /// D = 192/256 deterministic and 48/48 non-deterministic (46 staged launches each), bitwise
    /// reruns, memcheck 0 errors (3 runs), racecheck 0 hazards (2 runs). Default up to 8k keys (the
    /// unmasked 16k loss, 0.94/0.96×, is unexplained: the step loop disassembles identical). The
    /// session's closing call (scripts/device/final_s8all.sh) checked it as shipped (72/72 dense
    /// oracle cases with 22 staged launches, 48/48 non-deterministic with 40, Python test_large 20/20,
    /// memcheck/racecheck 0) and timed it ÷ `=0`, non-deterministic, one round: bf16 1.006–1.103×,
    /// fp16 1.023–1.111× at N = 512…8k; final_s8c.sh timed deterministic calls ÷ `=0`, two bf16
    /// rounds + fp16: 1.04–1.11× unmasked ≤ 2k, 1.01–1.06× causal, level (0.995–1.005×) at unmasked
    /// 4k/8k, where deterministic calls run two stages and so never take it.
    public static func defaultWideStagedEpilogue(_ problem: BackwardProblem) -> Bool {
        problem.seqlenK > 0 && problem.seqlenK <= 8192
    }

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
            if dqBuffers != 1 || dqWriters != 1 || pipelinedS || earlyDV || lateDK || headGroup != 0 || maskBranch {
                return "tile D = 256 has one schedule (its own staging, no product-order variants; dQ ordered or in arrival order)"
            }
        }
        if wideChunkTurns && (headDim != 256 || !orderedDQ) { return "chunk turns are the wide kernel's ordered dQ form" }
        if wideWriters != 1 && (wideWriters != 2 || headDim != 256 || !orderedDQ || wideChunkTurns) {
            return "two wide dQ writers are the wide kernel's ordered dQ form with one turn per tile"
        }
        if headDim != 256 && (stages < 2 || stages > 3) { return "stages must be 2 or 3" }
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

    /// Whether the Hopper backward runs without `FLASH_ATTENTION_HOPPER_BWD=1`:
    /// - D = 129…256 (tile D = 256): ``defaultWide``, except causal D ≤ 192 with ≤ 1k keys;
    /// - D = 65…128: from 1k keys (H100, D = 128, bf16 and fp16: 1.09–1.50× the 3-pass
    ///   backward at N = 1k…16k, 0.95–1.06× at 512, where 4 key blocks per head leave the
    ///   writer's turn chain and the launch overhead exposed);
    /// - D ≤ 64 (tile D = 64): unmasked from 1k keys, causal from 2k (H100, D = 64, bf16 and
    ///   fp16: unmasked 1.22–1.57× the 3-pass backward at N = 1k…16k; causal 1.06–1.37× at
    ///   2k…16k but 0.94–0.95× at 1k, where half the steps are diagonal ones).
    ///
    /// docs/cuda-backward.md, "Hopper backward".
    public static func defaultOn(_ problem: BackwardProblem) -> Bool {
        guard accepts(problem) else { return false }
        // H100 (session 6, hopper_backward_mid.sh, bf16, wide ÷ 3-pass at 1k / 4k / 16k keys):
        // D = 160 1.23 / 1.16 / 1.12 unmasked, 1.01 / 1.18 / 1.15 causal; D = 192 1.15 / 1.08 / 1.08,
        // causal 0.92 / 1.08 / 1.01; D = 224 1.79–1.90, causal 1.31–1.81 (the 3-pass tile 224 is slow).
        // So causal D ≤ 192 with ≤ 1k keys keeps the 3-pass kernels (their tiles round D only to a
        // multiple of 32: less padded work where there are few steps to amortise it).
        if tileHeadDim(problem.headDim) == 256 {
            return defaultWide && !(problem.mask == .causal && problem.headDim <= 192 && problem.seqlenK <= 1024)
        }
        if problem.headDim > 64 { return problem.seqlenK >= 1024 }
        return problem.seqlenK >= (problem.mask == .causal ? 2048 : 1024)
    }

    /// dQ_partial buffers when `FLASH_ATTENTION_HOPPER_BWD_DQBUF` is unset: two at tile D = 128
    /// from 2k keys, causal or not (with a writer each, ``defaultDQWriters(_:)``), one
    /// elsewhere. Tile D = 64 fits two with its barriers in the alignment pad
    /// (``barriersInAlignmentPad``), but timed on the H100 (bf16, 2k/8k/16k) it gained 1–4 % on
    /// causal problems and lost 18 % unmasked at 8k, so it runs only with
    /// `FLASH_ATTENTION_HOPPER_BWD_DQBUF=2` (docs/cuda-backward.md).
    ///
    /// H100, one call, D = 128, N = 2k…16k: two buffers with a writer each 1.04–1.16× one
    /// buffer on causal problems (bf16; fp16 1.03–1.13×), where the single two-buffer writer
    /// had lost (it passed each turn on a step late), and 1.00–1.20× the single two-buffer
    /// writer on unmasked ones (fp16 1.03–1.27×; its 8k/16k samples sat 10–16 % under earlier
    /// calls, so part of that is the spread); level at 512 and 1k, so those keep one buffer.
    /// Checked with the form forced: 48/48 pinned float64-oracle
    /// cases, `test_large.py` 15/15, 20/20 + 2 × 15/15 bitwise reruns, memcheck 0 errors and
    /// racecheck 0 hazards over 8-block turn chains (docs/cuda-backward.md).
    ///
    /// Session 13 (hopbwd17, H100, six bf16 and four fp16 rounds): from 1k keys too — two buffers with a writer each at
    /// unmasked 1k 1.043–1.056× one buffer in every round (with the causal set, ``causalTile128ProductOrder(_:)``,
    /// causal 1k 1.019–1.025×).
    /// Session 14 (hopbwd19, H100, 6 bf16 + 3 fp16 interleaved rounds): beside the staged epilogue, two buffers at tile D = 64
    /// are the default at unmasked 2k–4k keys and causal 4k–8k, where the pair won every round against the epilogue alone
    /// (÷ the kernel shipped before: unmasked 2k 1.028–1.047, 4k 1.009–1.015; causal 4k 1.041–1.058, 8k 1.034–1.069);
    /// alone they were 0.983–0.998 below 4k, so `FLASH_ATTENTION_HOPPER_BWD_EPI=0` there is a measurement of the pair's
    /// other half, not a tuned form (docs/performance.md, "Session 14: the Hopper backward at tile D = 64").
    public static func defaultDQBuffers(_ problem: BackwardProblem) -> Int {
        switch tileHeadDim(problem.headDim) {
        case 128: return problem.seqlenK >= 1024 ? 2 : 1
        case 64:
            let range = problem.mask == .causal ? 4096...8192 : 2048...4096
            return range.contains(problem.seqlenK) ? 2 : 1
        default: return 1
        }
    }

    /// dQ writer threads when `FLASH_ATTENTION_HOPPER_BWD_DQWRITERS` is unset and two buffers
    /// run with ordered adds: two (measured at or above one writer at every D = 128 point,
    /// see ``defaultDQBuffers(_:)``).
    public static func defaultDQWriters(_ problem: BackwardProblem) -> Int {
        2
    }

    /// Whether dQ is added in key-block order when `FLASH_ATTENTION_HOPPER_BWD_DQ` is unset:
    /// always. Deterministic calls always are (the runtime); non-deterministic calls could add
    /// in arrival order (`=unordered`), but that measured level with two writers (H100, bf16
    /// D = 128: 0.97–1.05×) and its writer has not yet passed the oracle at size, so it stays
    /// a knob.
    public static func defaultOrderedDQ(_ problem: BackwardProblem) -> Bool {
        true
    }

    /// Whether the wide kernel (tile D = 256) adds dQ in key-block order when
    /// `FLASH_ATTENTION_HOPPER_BWD256_DQ` is unset (deterministic calls always do): below 2k keys
    /// (1k causal). ncu (session 7, hopbwd10, D = 256 bf16 2k keys): the consumers waited for the
    /// dQ staging about a fifth of their time behind the writer's turn chain. Arrival order
    /// (non-deterministic calls) timed 1.07–1.23× key-block order at N = 2k…16k and causal 1k,
    /// 0.97–0.99× at 512 and unmasked 1k (bf16, one round, cuDNN in the same call); the closing
    /// call of session 7 checks it against the float64 oracle in non-deterministic calls
    /// (`backward-bench --check-dense --nondeterministic`) and times it beside the ordered form.
    public static func defaultWideOrderedDQ(_ problem: BackwardProblem) -> Bool {
        problem.seqlenK < (problem.mask == .causal ? 1024 : 2048)
    }

    /// Whether the wide kernel's ordered dQ passes its turns per 64-column chunk
    /// (``wideChunkTurns``) when `FLASH_ATTENTION_HOPPER_BWD256_TURNS` is unset: never. H100
    /// (session 7, hopbwd10, D = 256, two bf16 rounds and one fp16): 0.67–0.96× the per-tile turn
    /// (unmasked 16k worst): four acquire polls, fences and releases a step lengthen the writer's
    /// cycle, which was already about 90 % of a step. Checked forced: 48/48 pinned float64-oracle
    /// cases per stage form, bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    public static func defaultWideChunkTurns(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// The wide kernel's dQ writer threads (``wideWriters``; key-block order only, so deterministic
    /// calls and short non-deterministic ones) when `FLASH_ATTENTION_HOPPER_BWD256_WRITERS` is
    /// unset: two. H100 (session 7, the lead's call after the closing one, deterministic calls,
    /// D = 256, two bf16 rounds within 1 % and one fp16, cuDNN in the same call): two writers ÷ one
    /// 1.06–1.14× unmasked from 1k keys, 1.00–1.14× causal from 2k (the most at 16k), 0.99–1.00×
    /// at 512 and causal 1k. Checked forced in both stage forms: 48/48 float64-oracle cases each,
    /// bitwise reruns, `verify` 30/30, memcheck 0 errors and racecheck 0 hazards.
    public static func defaultWideWriters(_ problem: BackwardProblem) -> Int {
        2
    }

    /// Whether the next step's Sᵀ product is pipelined behind the dQ product when
    /// `FLASH_ATTENTION_HOPPER_BWD_PIPE` is unset: never (H100, bf16: level on causal problems,
    /// 0.66–0.82× unmasked from 8k keys with one dQ buffer; docs/cuda-backward.md).
    public static func defaultPipelinedS(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// Whether dV's product is issued ahead of dSᵀ when `FLASH_ATTENTION_HOPPER_BWD_EARLYDV` is
    /// unset: on unmasked problems at tile D = 128 (D = 65…128), together with
    /// ``defaultLateDK(_:)``; off for causal ones and at tile D = 64 (where it spills).
    ///
    /// H100, one call (session 5), D = 128, N = 1k…16k, two bf16 rounds and one fp16: the early
    /// dV alone level with the shipped order (0.96–1.01×); with the late dK 1.00–1.03× unmasked
    /// (bf16 2k/4k/8k/16k 1.02/1.02/1.03/1.02×; fp16 1.00–1.02×; ncu at 8k: 2.36 against 2.42 ms,
    /// tensor pipe 66.7 against 64.2 %), but 0.86–0.95× causal (the pipelined Sᵀ loses there
    /// too, 0.89–0.94×). Checked with both forced: 48/48 pinned float64-oracle cases each,
    /// bitwise reruns, a random verify sweep, memcheck 0 errors, racecheck 0 hazards; and with
    /// two dQ buffers and two writers forced (the unmasked form from 2k keys) 48/48, bitwise,
    /// 0 errors / 0 hazards (docs/performance.md, "Hopper backward: product order").
    /// Since session 13 also causal tile D = 128 from 1k keys up to 8k, beside the mask branch and the precomputed
    /// descriptors (``causalTile128ProductOrder(_:)``, which has the timings).
    public static func defaultEarlyDV(_ problem: BackwardProblem) -> Bool {
        (problem.mask == .none && tileHeadDim(problem.headDim) == 128) || causalTile128ProductOrder(problem)
    }

    /// Heads per group of the key/value grid's order (``headGroup``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_GROUP` is unset: 4 on unmasked tile D = 64 from 4k keys, else 0
    /// (the 3-D grid). H100 (session 6, hopper_backward_group.sh, two calls): G = 4 against the 3-D
    /// grid, unmasked D = 64 bf16 1.07/1.10–1.15/1.05–1.11× at 4k/8k/16k and fp16 1.07/1.15/1.06×;
    /// 0.93–0.98× at 1k/2k (so not there); causal 0.93–1.04× (not there either). ncu at fp16 8k:
    /// L2 hit rate 96 % against 75 %, DRAM throughput 5 % against 33 % of peak — consecutive key
    /// blocks of a head find its Q, dO and dQ accumulator in L2. Checked forced (with the mask
    /// branch): 24/24 pinned float64-oracle cases at D = 64, bitwise reruns, memcheck 0 errors and
    /// racecheck 0 hazards; tile D = 128 was not timed with it.
    public static func defaultHeadGroup(_ problem: BackwardProblem) -> Int {
        problem.mask == .none && tileHeadDim(problem.headDim) == 64 && problem.seqlenK >= 4096 ? 4 : 0
    }

    /// Whether the exponentials branch on edge steps (``maskBranch``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH` is unset: on causal tile D = 64 (ptxas otherwise
    /// predicates the causal mask into every step: about 450 more SASS instructions a consumer
    /// thread a step). H100 (session 6, hopper_backward_group.sh, two calls, cuDNN in the same
    /// call): causal D = 64 bf16 1.10/1.13–1.14/1.14–1.15/1.14–1.17× the predicated mask at
    /// 2k/4k/8k/16k (two rounds), fp16 1.11/1.13/1.16/1.14×; 0.87–0.97× cuDNN against 0.79–0.85×.
    /// Unmasked D = 64 0.93–1.03× (not there); tile D = 128 causal not timed with it. Checked
    /// forced: 48/48 pinned float64-oracle cases at D = 64/128 (24 causal launches with the
    /// branch), bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    /// Since session 13 also causal tile D = 128 from 1k keys up to 8k (``causalTile128ProductOrder(_:)``).
    public static func defaultMaskBranch(_ problem: BackwardProblem) -> Bool {
        (problem.mask == .causal && tileHeadDim(problem.headDim) == 64) || causalTile128ProductOrder(problem)
    }

    /// Whether the preprocess and the dQ conversion run in their fast forms (``fastPasses``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_FASTPASS` is unset (and O's and dQ's rows allow them): always.
    /// H100 (session 7, hopbwd9, bf16 two rounds, cuDNN in the same call): the two launches had
    /// run at 1.0–2.0 TB/s and were 16–28 % of a call at 1k keys; fast, the tile D = 64/128
    /// backward is 1.03–1.19× the old passes from 1k to 8k keys (the most where a call is short).
    /// The same bytes move at tile D = 256 (its call is longer, so it gains less); the closing
    /// call of session 7 times it there beside `=0`.
    public static func defaultFastPasses(_ problem: BackwardProblem) -> Bool {
        true
    }

    /// Whether, with the fast passes on (``fastPasses``: the knob, or ``defaultFastPasses(_:)``),
    /// the Hopper backward also takes the tile D = 64/128 problems ``defaultOn(_:)`` leaves to the
    /// 3-pass kernels, from 512 keys: D = 65…128 at 512–1023 keys, D ≤ 64 unmasked at 512–1023 and
    /// causal at 512–2047. H100 (session 7, hopbwd9, bf16, one round, cuDNN in the same call;
    /// FLASH_ATTENTION_HOPPER_BWD=1 with the fast passes ÷ the 3-pass route): N = 512 unmasked /
    /// causal 1.35 / 1.18× at D = 64 and 1.26 / 1.21× at D = 128, causal D = 64 at 1k 1.28× (without
    /// the fast passes 0.87–1.06×: the two memory-bound launches were a third of such a call).
    public static func defaultOnWithFastPasses(_ problem: BackwardProblem) -> Bool {
        accepts(problem) && tileHeadDim(problem.headDim) != 256 && problem.seqlenK >= 512
    }

    /// Whether dK's product is issued behind dQ's (with the early dV) when
    /// `FLASH_ATTENTION_HOPPER_BWD_LATEDK` is unset: wherever the early dV is on by default
    /// (``defaultEarlyDV(_:)``, which has the timings).
    public static func defaultLateDK(_ problem: BackwardProblem) -> Bool {
        defaultEarlyDV(problem)
    }

    /// Whether tile D = 128 reads each step's L and D into registers ahead of the wgmma waits
    /// (``earlyStats``) when `FLASH_ATTENTION_HOPPER_BWD_STATS` is unset: never. H100 (session 8,
    /// hopbwd13, scripts/device/hopper_bwd13.sh, non-deterministic calls, one bf16 round, cuDNN in
    /// the same call): unmasked 0.93–1.00× the shipped kernel (8k 0.93), causal 0.98–1.00× up to
    /// 8k but 1.045× at 16k (fp16 with the late fence, the same kernel there: 1.045× too; one round
    /// each, so not a default by the two-round rule). Checked forced: 48/48 float64-oracle cases
    /// deterministic and 48/48 non-deterministic, bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    public static func defaultEarlyStats(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// Whether tile D = 128's late dK form fences the staged dQ_partial after dK completes
    /// (``lateFence``) when `FLASH_ATTENTION_HOPPER_BWD_LATEFENCE` is unset: never. H100 (session 8,
    /// hopbwd13, with ``earlyStats``, unmasked): 0.96–0.97× the early statistics alone at 2k, 4k
    /// and 16k (bf16), fp16 0.92–1.02× the shipped kernel: handing dQ_partial to the writer after
    /// dK's completion delays the writer more than the fence's wait cost the consumers.
    public static func defaultLateFence(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// Whether the key/value kernel builds its wgmma descriptors once and adds an immediate per
    /// product (``precomputedDescriptors``; `FLASH_ATTENTION_HOPPER_BWD_DESC=1|0` overrides).
    /// Local SASS (NVRTC 13, sm_90a, a consumer warp's step loop, bf16): tile D = 128 unmasked
    /// 669 → 471 instructions, causal 822 → 618; tile D = 64 856 → 671, causal (mask branch)
    /// 1142 → 948; tile D = 256's Q-ring form 976 → 696 unmasked, 1199 → 945 causal; the R2UR
    /// before the HGMMAs go (48 → 0 at D = 128 unmasked, 128 → 2 at D = 256), registers and
    /// spills unchanged (168, 0).
    /// H100 (session 9, hopbwd16, `scripts/device/hopper_bwd16.sh`): non-deterministic bf16, N = 512…16k
    /// (D = 256: 1k, 4k, 16k), two interleaved rounds, on ÷ off geometric mean per round: tile D = 64
    /// 1.026 / 1.017 unmasked and 1.026 / 1.023 causal (every point 1.006–1.067); tile D = 128 unmasked
    /// 1.021 / 1.011 (0.990–1.063), causal 0.986 / 0.994 (level at 1k–8k, 16k 0.93 / 0.98); tile D = 256
    /// unmasked 0.987 / 0.998 (4k 0.983 in both), causal 1.012 / 1.030. So on where both rounds gained:
    /// tile D = 64, tile D = 128 unmasked, tile D = 256 causal (its Q-ring form: the plan drops it from
    /// the two-stage form). Deterministic calls too: the consumers' text is the same, and
    /// the forced checks covered them (float64-oracle cases, bitwise reruns). fp16 shares the text and was
    /// not timed with it.
    public static func defaultPrecomputedDescriptors(_ problem: BackwardProblem) -> Bool {
        switch tileHeadDim(problem.headDim) {
        case 64: return true
        // Causal tile D = 128 since session 13, beside the early dV, late dK and mask branch (causalTile128ProductOrder).
        case 128: return problem.mask == .none || causalTile128ProductOrder(problem)
        default: return problem.mask == .causal
        }
    }

    /// Whether tile D = 128 stages dK and dV through the free Q/dO ring (``stagedEpilogue``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_EPI` is unset: at tile D = 128 from 1k keys up to 4k, causal up to 8k (the plan keeps
    /// float32 dK/dV on the plain stores). 512 keys were not timed with it. H100 (session 13, hopbwd17,
    /// scripts/device/hopper_bwd17.sh and hopper_bwd17_more.sh; non-deterministic calls, D = 128, six bf16 and six fp16
    /// rounds ÷ the shipped kernel): 1.010–1.072× in every round at seqlenK ≤ 4096 (both masks) and causal 8k
    /// (1k causal 1.06–1.07, 2k 1.03–1.05, 4k 1.01–1.03, causal 8k 1.010–1.015); unmasked 8k/16k and causal 16k
    /// 0.905–1.075 (the spread). Checked forced: 48/48 float64-oracle cases at D = 128/96 deterministic and not, a torch
    /// float64 reference on 80 odd shapes (causal Sq ≠ Sk, rows with no key, GQA), bitwise reruns, memcheck 0 errors,
    /// racecheck 0 hazards (docs/performance.md, "Session 13: the Hopper backward at tile D = 128").
    /// Tile D = 64 since session 14 (hopbwd19, H100, non-deterministic calls, 6 bf16 + 3 fp16 interleaved rounds ÷ the
    /// kernel shipped before, with two dQ buffers beside it where ``defaultDQBuffers(_:)`` says): from 512 keys (where the
    /// Hopper backward takes tile D = 64) up to 4k, causal up to 8k — 512 1.053–1.086, 1k 1.041–1.076, causal 2k
    /// 1.046–1.056 alone; unmasked 2k–4k and causal 4k–8k 1.009–1.069 with the two buffers; unmasked 8k/16k and causal 16k
    /// 0.94–1.08 (the spread, off). Checked forced: check-dense 48/48 at D = 64/40 deterministic and not (42–46 `ste`
    /// launches a run), bitwise reruns, the torch float64 oracle (quick, D = 64/40) 32/32 per form, memcheck and racecheck
    /// (docs/performance.md, "Session 14: the Hopper backward at tile D = 64").
    public static func defaultStagedEpilogue(_ problem: BackwardProblem) -> Bool {
        let maxKeys = problem.mask == .causal ? 8192 : 4096
        switch tileHeadDim(problem.headDim) {
        case 128: return problem.seqlenK >= 1024 && problem.seqlenK <= maxKeys
        case 64: return problem.seqlenK >= 512 && problem.seqlenK <= maxKeys
        default: return false
        }
    }

    /// Whether a causal tile D = 128 problem takes the unmasked form's product order (early dV, late dK) with the mask
    /// branch and precomputed descriptors beside it (``defaultEarlyDV(_:)``, ``defaultMaskBranch(_:)``,
    /// ``defaultPrecomputedDescriptors(_:)``): from 1k keys up to 8k. H100 (session 13, hopbwd17, non-deterministic calls,
    /// D = 128, six bf16 and four fp16 rounds ÷ the kernels shipped before): the four together 1.019–1.040× in every round at
    /// causal 1k–8k (16k 0.986–1.089, not every round), and with the staged epilogue 1.053–1.114× (1k 1.101–1.114, 2k
    /// 1.071–1.084, 4k 1.059–1.064, 8k 1.053–1.057); session 5 had the early dV and late dK alone at 0.86–0.95× there, and
    /// session 9 the descriptors alone level. Checked forced with the staged epilogue: 48/48 float64-oracle cases
    /// deterministic and not, a torch float64 reference on odd causal shapes, bitwise reruns, memcheck and racecheck.
    static func causalTile128ProductOrder(_ problem: BackwardProblem) -> Bool {
        problem.mask == .causal && tileHeadDim(problem.headDim) == 128 && problem.seqlenK >= 1024 && problem.seqlenK <= 8192
    }

    /// The three kernels of `problem`, or nil when it does not qualify.
    public static func plan(for problem: BackwardProblem, orderedDQ: Bool = true, dqBuffers: Int = 1,
                            dqWriters: Int = 1, pipelinedS: Bool = false, earlyDV: Bool = false,
                            lateDK: Bool = false, wideStages: Int = 2, headGroup: Int = 0,
                            maskBranch: Bool = false, fastPasses: Bool = false, wideOrderedDQ: Bool = true,
                            wideChunkTurns: Bool = false, wideWriters: Int = 1, pingPong: Bool = false,
                            earlyStats: Bool = false, lateFence: Bool = false,
                            wideQRing: Bool = false,
                            wideStagedEpilogue: Bool = false, persistentTiles: Bool = false,
                            precomputedDescriptors: Bool = false, stagedEpilogue: Bool = false) -> [HopperBackwardDescriptor]? {
        guard accepts(problem) else { return nil }
        let t = problem.elementType, tile = tileHeadDim(problem.headDim)
        if tile == 256 {
            // The statistics rows are padded to 64-row blocks, as at tile D = 128, so the plain
            // preprocess is that kernel (its loop runs over the problem's D); the fast one reads
            // whole 256-column rows.
            let plan = [
                HopperBackwardDescriptor(pass: .preprocess, elementType: t, outType: problem.outType,
                                         headDim: fastPasses ? 256 : 128, fastPasses: fastPasses),
                HopperBackwardDescriptor(pass: .keyValue, elementType: t, dkType: problem.dkType, dvType: problem.dvType,
                                         headDim: 256, mask: problem.mask, stages: wideStages, orderedDQ: wideOrderedDQ,
                                         wideChunkTurns: wideChunkTurns && wideOrderedDQ,
                                         wideWriters: wideOrderedDQ && !wideChunkTurns ? wideWriters : 1,
                                         wideQRing: wideQRing && wideStages == 1,
                                         wideStagedEpilogue: wideStagedEpilogue && wideStages == 1
                                             && problem.dkType != .float32 && problem.dvType != .float32,
                                         // Session 9 (hopbwd16): the Q-ring form only (the others spill with them).
                                         precomputedDescriptors: precomputedDescriptors && wideQRing && wideStages == 1),
                HopperBackwardDescriptor(pass: .convertDQ, elementType: t, dqType: problem.dqType, headDim: 256,
                                         fastPasses: fastPasses),
            ]
            return plan.allSatisfy { $0.invalidReason == nil } ? plan : nil
        }
        // The early dV (and so the late dK) exists at tile D = 128 only; tile D = 64 keeps its
        // order. The late dK and the pipelined Sᵀ exclude each other: the pipelined Sᵀ wins.
        let earlyDV = earlyDV && tile == 128, lateDK = lateDK && earlyDV && !pipelinedS
        // Session 8 (hopbwd15): persistent tiles at tile D = 128 with the late dK and arrival-order dQ only
        // (no head groups: its own order).
        let persistent = persistentTiles && tile == 128 && problem.mask == .none && lateDK && !orderedDQ && !pipelinedS && !pingPong
        let plan = [
            HopperBackwardDescriptor(pass: .preprocess, elementType: t, outType: problem.outType, headDim: tile,
                                     fastPasses: fastPasses),
            HopperBackwardDescriptor(pass: .keyValue, elementType: t, dkType: problem.dkType, dvType: problem.dvType,
                                     headDim: tile, mask: problem.mask, orderedDQ: orderedDQ, dqBuffers: dqBuffers,
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
                                         && problem.dkType != .float32 && problem.dvType != .float32),
            HopperBackwardDescriptor(pass: .convertDQ, elementType: t, dqType: problem.dqType, headDim: tile,
                                     fastPasses: fastPasses),
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
        case .convertDQ:
            parts += ["dqcvt", Self.typeName(elementType), "dq" + Self.typeName(dqType), "d\(headDim)"]
            if fastPasses { parts.append("v") }
        case .keyValue:
            parts += ["dkdv", Self.typeName(elementType)]
            if dkType != elementType { parts.append("dk" + Self.typeName(dkType)) }
            if dvType != elementType { parts.append("dv" + Self.typeName(dvType)) }
            parts += ["d\(headDim)", "m\(blockM)n\(blockN)s\(stages)"]
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
        }
        parts.append(architecture.targetName)
        return parts.joined(separator: "_")
    }

    public var description: String { name }
}
