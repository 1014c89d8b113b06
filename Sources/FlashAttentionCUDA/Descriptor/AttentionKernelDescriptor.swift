import FlashAttentionCore

/// Which keys a kernel masks, baked into its instructions.
public enum KernelMask: String, Sendable, Hashable, CaseIterable {
    /// Every key of the sequence is visible (only the sequence end is masked).
    case none
    /// Bottom-right causal: key j visible to query i iff j ≤ i + Sk − Sq (window left unbounded).
    case causal
    /// A sliding window with run-time left and right extents (−1 unbounded); causal with a left
    /// window is this kind with right = 0.
    case window
}

extension KernelMask {
    /// The mask kind of an effective window (causal already folded in as right = 0).
    init(_ window: SlidingWindow) {
        if window.left < 0 && window.right < 0 { self = .none }
        else if window.left < 0 && window.right == 0 { self = .causal }
        else { self = .window }
    }
}

/// The tensor-core instructions of the main loop.
public enum KernelMainloop: String, Sendable, Hashable, CaseIterable {
    /// `mma.sync` m16n8k16 with `ldmatrix` and `cp.async` (sm_80 and newer): FlashAttention-2.
    case mmaSync
    /// Warpgroup `wgmma` m64nNk16 from swizzled shared memory (sm_90a only).
    case wgmma
    /// Hopper warp-specialised `wgmma` (sm_90a): a producer warp loads Q, K and V with TMA bulk
    /// tensor copies into a multi-stage pipeline on mbarriers; two consumer warpgroups of 64
    /// rows each take turns issuing their products (ping-pong) so one's softmax hides under the
    /// other's matrix work. ``HopperForwardKernel`` generates it.
    case tmaWarpSpecialized
}

/// Everything that changes the instructions of one forward kernel, and nothing else.
///
/// Run-time values (pointers, strides, lengths, the softmax scale, window extents, the dropout
/// seed) travel in the parameter struct; a descriptor fixes what must be known at compile
/// time: tile shapes, element types, which optional steps exist. Equal descriptors generate
/// byte-identical source, so a descriptor is also the in-memory cache key.
public struct AttentionKernelDescriptor: Sendable, Hashable, CustomStringConvertible {
    public var architecture: GPUArchitecture
    /// Storage type of q, k and v: float16 or bfloat16.
    public var elementType: ElementType
    /// Storage type of the output (float32 keeps more bits).
    public var outputType: ElementType
    /// The head dim of the tiles: a multiple of 16 at least the problem's D; columns past
    /// the problem's D are zero-filled on load and never stored.
    public var headDim: Int
    /// Query rows per thread block.
    public var blockM: Int
    /// Keys per main-loop step.
    public var blockN: Int
    public var warps: Int
    /// Blocks per multiprocessor the register allocator is asked to allow (`__launch_bounds__`).
    public var minBlocksPerMultiprocessor: Int
    public var mask: KernelMask
    public var softcap: Bool
    public var alibi: Bool
    public var dropout: Bool
    public var varlen: Bool
    public var writeLSE: Bool
    /// Scores are transformed before the row max (softcap, ALiBi or a scale ≤ 0 need it, except softcap on the TMA
    /// loop, which caps S at the head of its softmax: `HopperForwardKernel.softcapTransform`); otherwise the scale is
    /// folded into the exponent (one FFMA per score).
    public var prescaleScores: Bool
    /// All tensors have unit head-dim stride, 16-byte-aligned rows and D a multiple of 8:
    /// tiles move with 16-byte `cp.async`. Otherwise element-wise loads (slow, any layout).
    public var vectorized: Bool
    /// Issue the next K tile's load right after S = Q·Kᵀ (before the softmax) rather than
    /// after it: more time to land, but it competes with V for bandwidth.
    public var earlyKPrefetch: Bool
    /// Write O through shared memory as whole 16-byte row chunks (16-bit outputs of vectorized
    /// kernels) instead of 4-byte pieces straight from the accumulators.
    public var stagedEpilogue: Bool
    public var mainloop: KernelMainloop
    /// K/V shared-memory stages of the TMA pipeline (``KernelMainloop/tmaWarpSpecialized`` only).
    public var stages: Int
    /// One thread block per multiprocessor walks the tiles (``KernelMainloop/tmaWarpSpecialized``
    /// only): the next tile's Q and K load while this one's last product and epilogue run.
    public var persistent: Bool
    /// The persistent grid takes its tiles from a device counter, heaviest first, instead of a
    /// fixed stride (``KernelMainloop/tmaWarpSpecialized`` with ``persistent`` only): balances
    /// causal tiles of unequal length across multiprocessors.
    public var dynamicScheduler: Bool
    /// Q buffers of the TMA kernel (1 or 2; ``KernelMainloop/tmaWarpSpecialized`` with
    /// ``persistent`` only). With two, the producer loads the next tile's Q as soon as it has
    /// queued this tile's last K/V copy, a key step or more before this tile's last S product
    /// frees the one buffer, so at short N the next tile's first product need not wait for Q.
    public var qStages: Int
    /// Every this many n8 column tiles of S, the softmax computes 2^x on the FMA and integer
    /// pipes (a degree-3 polynomial, relative error ≤ 1.1e-4) instead of the MUFU `ex2` (0: never;
    /// ``KernelMainloop/tmaWarpSpecialized`` only). At D = 64 a score costs the tensor cores as
    /// many cycles as its `ex2` costs the MUFU (both 1/16 of an SM clock), so moving a share of
    /// the exponentials off the MUFU could shorten the softmax. Measured on the H100 (every 4th
    /// tile, D = 64): 0.92–0.98× of the same kernel without it at every N, so off
    /// (`FLASH_ATTENTION_HOPPER_EXP2`): the softmax is issue-bound, not MUFU-bound.
    public var emulatedExp2Every: Int
    /// A tile's last P·V is issued and not waited for: it runs under the next tile's head and
    /// first S issue, and the tile's epilogue (O / l, the stores, LSE) follows that S
    /// (``KernelMainloop/tmaWarpSpecialized`` with ``persistent`` only). Off: the first form
    /// (epilogue under the S, wait_group 1) made ptxas serialise the kernel's wgmma (0.62–1.00×
    /// on the H100); this one compiles clean and measured 0.93–1.02× the shipped kernels (bf16
    /// D 64/128, N 512–16k). It spills at D = 256 with 80-key steps. `FLASH_ATTENTION_HOPPER_OVERLAP=1`.
    public var overlapEpilogue: Bool
    /// The consumers write O through shared memory and a bulk tensor store instead of 4-byte
    /// stores from the accumulators (``KernelMainloop/tmaWarpSpecialized`` only; 16-bit output of
    /// the input's type; not with ``overlapEpilogue``). Each consumer warpgroup stages its 64 rows
    /// with `stmatrix` in the 128-byte-swizzled layout (a tile of its own, `blockM × headDim`
    /// elements beside the K/V ring: D = 64 anywhere, D = 128 only beside 128-key stages), and
    /// one thread issues `cp.async.bulk.tensor` shared → global per 64-column block; the
    /// warpgroup goes on to the next tile while the copy engine drains the store, and waits for
    /// it to have read the staging rows only at the next tile's epilogue. At short N a tile is a
    /// few key steps, so its epilogue is a larger share of it. A varlen warpgroup whose rows run
    /// past its sequence's end stores directly (a box would write into the next sequence).
    /// Measured on the H100 (session 5, bf16 + fp16, two rounds): D = 128 1.15× at N = 512 (causal
    /// too), 1.08× causal at 1k, and with 128-key steps instead of the 176-key ring 1.13× / 1.07×
    /// at 1k / 2k; D = 64 1.05× / 1.02× at N = 512 / 1k, level or slower causal and at 2k. On in
    /// the table where it won (``KernelHeuristics/hopperTable``); `FLASH_ATTENTION_HOPPER_STORE=1`
    /// forces it wherever the staging tile fits, `=0` turns it off.
    public var tmaStoreO: Bool
    /// The consumers hold no tile coordinates or output addresses through the main loop: after
    /// the last S product they read the tile's (row block, head, batch) again from the dynamic
    /// scheduler's shared-memory slot (still this tile's until they arrive on its Q-free barrier)
    /// and compute the O / LSE addresses and row count for the epilogue there
    /// (``KernelMainloop/tmaWarpSpecialized`` with ``dynamicScheduler`` only). Frees the registers
    /// three consumer warpgroups (160 each) need to run two Q buffers beside the dynamic scheduler:
    /// without it that shape spills 12 B (NVRTC 13.5), with it 0. Set by the heuristics exactly
    /// where that shape runs (``KernelHeuristics/hopperTable``, `FLASH_ATTENTION_HOPPER_WG=3`).
    public var lateTileAddresses: Bool
    /// With ``tmaStoreO``: O is staged in the tile's Q buffer instead of a tile of its own, for
    /// head dims where no staging tile fits beside the K/V ring (D = 256). A consumer warpgroup
    /// writes its 64 rows of O over its own 64 rows of Q (only its own S products read them,
    /// all complete by the epilogue), and the Q buffer is released to the producer only after the
    /// bulk store has read them (the warpgroup's issuing thread waits for that), so the next
    /// tile's Q load starts after this tile's epilogue instead of after its last S product.
    /// Not with ``lateTileAddresses``; dense tensors only (the varlen kernel, which keeps a direct-store
    /// fallback for a sequence's last rows, spills 64 B at D = 256). `FLASH_ATTENTION_HOPPER_OQ=1`
    /// sets it on every table row without the store; the table has it at D = 256 up to N = 2k.
    public var stageOInQueryBuffer: Bool
    /// The consumers skip the O rescale (`O *= α`, D/2 multiplies a thread a step) in a warp whose
    /// rows' maxima all stayed put this step (α = 2⁰ = 1 exactly, so the result is bitwise the
    /// same); one vote a step decides it for the warp. Fewer instructions per FLOP where the
    /// rescale weighs most (D = 256: 128 FMUL of ~490 a step at 64-key steps), for the long,
    /// power-capped points. ``KernelMainloop/tmaWarpSpecialized`` only; `FLASH_ATTENTION_HOPPER_RESCALE=skip`
    /// sets it on every row. Off by default (session 7: built and timed, see docs/performance.md).
    public var skipUnchangedRescale: Bool
    /// With ``tmaStoreO``: O is staged in the shared memory of the tile's last key step instead
    /// of the Q buffer — consumer warpgroup 0 writes its 64 rows over that step's K stage, warpgroup 1
    /// over its V stage (64 rows × D fit a stage of at least 64 keys) — so the Q buffer is released
    /// right after the last S product, as without the store, and the next tile's Q load runs under
    /// this tile's softmax, last P·V and epilogue instead of after the epilogue's store. Warpgroup 0
    /// waits (a named barrier) until warpgroup 1's last S product has read the K stage, warpgroup 1
    /// until warpgroup 0's last P·V has read the V stage; each holds back its arrival on that
    /// stage's "free" barrier until its bulk store has read the rows. No shared memory of its own.
    /// Two consumer warpgroups, dense tensors, not with ``stageOInQueryBuffer`` or
    /// ``lateTileAddresses``. `FLASH_ATTENTION_HOPPER_OKV=1` sets it on the rows that stage O in the
    /// Q buffer (D = 256 up to N = 4k, causal 2k), `=0` turns it off; unset, it follows
    /// ``KernelHeuristics`` (`defaultStageOInLastStage`: tile D = 256, causal up to 1k keys, unmasked up
    /// to 512 — session 8, measured 1.02–1.05× where it is on).
    public var stageOInLastStage: Bool
    /// Causal only: at a tile's first key step (its diagonal block), a consumer warpgroup whose last
    /// row sees at most the first half of the block's keys runs its mask and online softmax over that
    /// half only and packs the other half of P as zeros; the S and P·V products stay full width (a
    /// branch around a wgmma made ptxas serialise every wgmma of the kernel: C7519, C7515). At
    /// 128-key steps warpgroup 0 of a 128-row tile takes it on every diagonal block where the key
    /// and query ends line up: half the softmax instructions of that step, the issue-bound part at
    /// D = 64. ``KernelMainloop/tmaWarpSpecialized`` only, `blockN` a multiple of 32 (whole k16
    /// pairs in each half), not combined with ``overlapEpilogue`` (never measured together).
    /// The default on causal tile D = 64 / 128 up to 1k keys (``KernelHeuristics/defaultHalfDiagonalStep(tileHeadDim:causal:seqlenK:)``);
    /// `FLASH_ATTENTION_HOPPER_DIAG=1` sets it on every causal row, `=0` nowhere.
    public var halfDiagonalStep: Bool
    /// The consumers' softmax keeps each row's running maximum and sum of a step in four partial
    /// values (n8 tile `nt` feeds partial `nt % 4`), combined pairwise at the end, instead of one
    /// chain through every tile: dependent FMNMX / FADD chains a quarter as long, for the fixed-latency
    /// waits ncu shows as the top stall at short N (session 8: 1.33 per issued instruction at causal
    /// D = 64 N = 512 against cuDNN's 0.89). The maximum is the same; the sum is rounded in another
    /// order (float32 throughout). ``KernelMainloop/tmaWarpSpecialized`` only;
    /// `FLASH_ATTENTION_HOPPER_TREE=1` sets it on every row. Off by default (session 8: forced, it passed
    /// the oracle checks and both sanitizers on an H100, but has not been timed; scripts/device/hopper_fwd10.sh).
    public var treeRowReductions: Bool
    /// Causal only, two consumer warpgroups: each consumer warpgroup runs its own count of key steps
    /// per tile. The steps go from the highest key block down, so a tile's first step is its diagonal
    /// block; where consumer warpgroup 0's last row (row 63 of the tile) sees none of that block's keys
    /// (the bottom-right causal edge, Sq ≠ Sk included; at 64-key steps on every tile whose key and
    /// query ends line up), warpgroup 0 starts at the second step and issues neither the S product nor
    /// the P·V of the first, whose scores would all be masked (its rows' final maximum, sum and O are
    /// the same). No `wgmma` sits under a branch: the loop's first index and the first step's stage are
    /// per-warpgroup values (a branch around a `wgmma` made ptxas serialise every `wgmma` of the kernel,
    /// C7519 / C7515). For the skipped step warpgroup 0 still takes and hands over its turn (the two
    /// turn barriers stay balanced) and arrives on that step's K-free and V-free barriers, after its
    /// first issued step's turn (by then warpgroup 1 has arrived for every earlier use of those stages,
    /// so no phase takes an arrival of the next). ``KernelMainloop/tmaWarpSpecialized`` with
    /// ``tmaStoreO`` only (the direct-store kernel, which holds the output addresses through the loop,
    /// spills 8 B at D = 256 with 64-key steps); not with three consumer warpgroups, ``overlapEpilogue``
    /// or ``halfDiagonalStep``. `FLASH_ATTENTION_HOPPER_WGSTEPS=1` sets it on causal rows of at most
    /// 64-key steps that store O through the copy engine (tile D = 256 up to 2k keys). Off by default
    /// (session 8: built, not yet measured).
    public var warpgroupStepCount: Bool
    /// The consumers build each operand's `wgmma` shared-memory matrix descriptor once (Q per
    /// tile, K and V per step: the stage's base) and give each product's descriptor as that base's
    /// low word plus a compile-time immediate, the 64-bit value assembled in the product's own
    /// `mov.b64 {lo, hi}` with the constant high word (stride, swizzle), instead of masking and
    /// shifting the full address of every product (session 7's SASS: ~7 uniform-datapath
    /// instructions before every HGMMA). Exact: the low word holds (address >> 4) in bits 0–13
    /// and the leading byte offset in bits 16–29, and shared addresses stay below 228 KB, so a
    /// 16-byte-aligned offset adds to the low word without carrying out of its field. The
    /// warpgroup index comes from a lane-0 shuffle, which ptxas can tell is warp-uniform.
    /// ``KernelMainloop/tmaWarpSpecialized`` only. The default where it measured faster (session 9:
    /// causal rows and unmasked D = 256 at 512 keys; beside ``earlyRescale`` also unmasked D = 64 and
    /// D = 256 up to 1k, ``KernelHeuristics/defaultPrecomputedDescriptors(tileHeadDim:causal:seqlenK:earlyRescale:)``);
    /// `FLASH_ATTENTION_HOPPER_DESC=1` sets it on every row, `=0` nowhere (so no row takes
    /// ``separateValueTurn``, which needs it).
    public var precomputedDescriptors: Bool
    /// The consumers rescale O (`O *= α`) at the end of the key step that computed α, right after
    /// that step's wait for the previous P·V, instead of inside the next step's turn (between its S
    /// issue and its P·V issue). The rescale needs only α and the completed P·V, and ptxas does not
    /// move instructions across the loop's back-edge, so its D/2 FMULs a thread run before the next
    /// turn's barrier, under the other warpgroup's products, not between this warpgroup's two issues
    /// while the other waits for its turn (session 9: with ``precomputedDescriptors`` ptxas issues the
    /// S products back to back and put the rescale after them, inside the turn). The last step's
    /// rescale ends the loop, so the tile's last P·V follows it directly; a tile's first step needs
    /// none (O is zero there: the shipped kernel multiplies zeros). Bitwise the same products.
    /// ``KernelMainloop/tmaWarpSpecialized`` only. The default where it measured faster (session 9 part 2:
    /// causal D = 64, causal D = 256 up to 1k keys, and with ``precomputedDescriptors`` unmasked D = 64
    /// except 513–1024 keys and unmasked D = 256 up to 1k; not D = 128,
    /// ``KernelHeuristics/defaultEarlyRescale(tileHeadDim:causal:seqlenK:)``);
    /// `FLASH_ATTENTION_HOPPER_EARLYRESCALE=1` sets it on every row, `=0` nowhere. Suffix `er`.
    public var earlyRescale: Bool
    /// Each key step takes two ping-pong turns instead of one: the first issues the previous step's
    /// P·V, the second (after the other warpgroup's P·V turn, and once this warpgroup's P·V has
    /// retired) issues this step's S = Q·Kᵀ, its first k step writing the accumulators without
    /// reading them (`"=f"`). The tensor cores then run P·V₀, P·V₁, S₀, S₁ (warpgroups 0 and 1) per
    /// step, so with one K and one V stage a step's K has both warpgroups' P·V (two products) to
    /// land after its stage is freed, and V both S products, instead of one product each with S and
    /// P·V in one turn; a warpgroup's softmax is covered by one product of the other's
    /// instead of two. S and P are never live together (P·V retires before S is issued), so
    /// S needs no halves. ``KernelMainloop/tmaWarpSpecialized`` only, tile D = 256, two consumer
    /// warpgroups, blockN 128 and one stage (the only shape built: others were never compiled clean or
    /// timed, e.g. 160 keys spills), with ``precomputedDescriptors`` and ``tmaStoreO``, not with
    /// ``overlapEpilogue``, ``halfDiagonalStep`` or ``warpgroupStepCount``.
    /// The default on causal tile D = 256 where it measured faster (the numbers are at
    /// ``KernelHeuristics/defaultWideScoreSteps(tileHeadDim:causal:seqlenQ:seqlenK:)``; unmasked, off).
    /// `FLASH_ATTENTION_HOPPER_WIDE256=2` gives every tile D = 256 row
    /// 128-key steps in one stage with it, `=0` none. Suffix `vt`.
    public var separateValueTurn: Bool
    /// Beside ``halfDiagonalStep``: a consumer warpgroup whose last row sees at most the first half
    /// of its tile's diagonal block (warpgroup 0 of every 128-row tile whose key and query ends line
    /// up) issues that step's S as m64n(blockN/2) products (the upper half of the accumulators
    /// untouched; the half-width softmax never reads it). Which half is decided per tile before the
    /// first issue (a lane-0 shuffle, so ptxas sees it warp-uniform), and each branch holds the whole
    /// product group from its fence to its wait (a branch around the issue alone left S's registers
    /// defined by a join inside the group: ptxas serialised every wgmma, C7515).
    /// ``KernelMainloop/tmaWarpSpecialized`` only, tile D = 64 without ``precomputedDescriptors`` or 128
    /// with them (the other way round ptxas serialises every wgmma, C7511: the forms the causal rows take
    /// up to 1k keys), two consumer warpgroups, 128-key steps, dense tensors, 16-bit outputs of the
    /// input's type. `FLASH_ATTENTION_HOPPER_NARROWDIAG=1` sets it with ``narrowDiagonalValues`` (and
    /// ``halfDiagonalStep``) on every causal row that can take it, `=2` without, `=0` nowhere; unset, it
    /// follows ``KernelHeuristics/defaultNarrowDiagonal(tileHeadDim:causal:seqlenK:)``. Suffix `nd`.
    public var narrowDiagonal: Bool
    /// Beside ``narrowDiagonal``: the narrow diagonal step's P·V also runs over the first blockN/2 keys
    /// only (half the k16 steps; P's other half, all masked, is never packed), in the next step's turn
    /// (a branch on a lane-0 flag inside the loop's product group) or in the tile's last P·V. Suffix `nv`.
    public var narrowDiagonalValues: Bool
    /// With ``stageOInLastStage`` and ``separateValueTurn``: consumer warpgroup 0 stages its 64 rows of O
    /// in a 32 KB buffer of its own (64 rows × D = 256, 1024-byte aligned, swizzled like the other
    /// staging forms, after the V stage) instead of the last key step's K stage, so its last S product
    /// releases the K stage at once (as every other step does) and the producer's copy of the next
    /// tile's first K starts right after both warpgroups' last S products, under this tile's last
    /// softmax, P·V and epilogue, instead of after warpgroup 0's store has read its O out of the K
    /// stage. Warpgroup 1 still stages in the V stage (the next tile needs V only after its first S and
    /// softmax). Warpgroup 0's issuing thread waits for its previous store to have read the buffer
    /// before the warpgroup writes it again, a tile later (as the staging tile of plain ``tmaStoreO``).
    /// Q 64 + K 64 + V 64 + 32 KB + 1 KB slack + barriers = 230 656 B ≤ 232 448. Only beside those two
    /// forms (tile D = 256, 128-key steps, one stage, dense, 16-bit output of the input's type).
    /// `FLASH_ATTENTION_HOPPER_OWNO=1` sets it on every `vt` row, `=0` nowhere; unset, it follows
    /// ``KernelHeuristics`` (`defaultStageOInOwnBuffer`: causal tile D = 256 up to 2k keys — session 11, measured
    /// 1.007–1.029× there, every round ≥ 1.0; not under `FLASH_ATTENTION_HOPPER_OKV=0`). Suffix `ob`.
    public var stageOInOwnBuffer: Bool
    /// Q in per-warpgroup halves (``KernelMainloop/tmaWarpSpecialized``, two consumer warpgroups): 0 (off,
    /// one Q buffer of the tile's 128 rows), 2 or 3 half buffers of 64 rows × D (32 KB at D = 256), each
    /// laid out [D / 64][64 rows][128 B], loaded by 64-row TMA boxes and with its own full / free mbarrier
    /// pair (free counts one warpgroup, 128 threads). The halves are filled in order: fill f goes to half
    /// f mod ``queryHalves`` and is that half's (f / ``queryHalves``)-th fill (its barrier phase); tile c of
    /// a block (its local count, every published tile counted) gives warpgroup 0 fill 2c and warpgroup 1
    /// fill 2c + 1. A warpgroup waits only for its own half and releases it on its own, so the producer
    /// loads the next tile's rows of warpgroup 0 without waiting for warpgroup 1's last S product.
    /// - 2 (`qh`): half w is warpgroup w's; it goes back after the warpgroup's last S product (or, with
    ///   ``stageOInQueryBuffer``, after its O staged there has been read by the store). Same bytes as one Q buffer.
    /// - 3 (`qr`, rotating): warpgroup 0's next half is the buffer this tile does not use, and each
    ///   warpgroup stages its O in its own half (``stageOInQueryBuffer``, required), released once the store
    ///   has read it; no staging in K/V stages or an own buffer. At D = 256 the three halves take the 96 KB of Q
    ///   plus ``stageOInOwnBuffer``'s buffer.
    /// - 4 (`q4`, two stages of halves; session 12, tile D ≤ 128): four 16 KB halves (at D = 128) in the bytes of two Q
    ///   tiles, so it replaces ``qStages`` 2: warpgroup 0's rows of tile c go to half 2c mod 4, warpgroup 1's to
    ///   (2c + 1) mod 4, each released after its warpgroup's last S product. The next tile's half of a warpgroup waits
    ///   only for that warpgroup of the tile before this one (not for both), and warpgroup 0's first S waits for 16 KB
    ///   of Q and its K instead of 32 KB (warpgroup 1's half follows the first K). O keeps its own staging tile
    ///   (``tmaStoreO``), not the Q halves or the K/V stages. `FLASH_ATTENTION_HOPPER_QHALVES128=1` sets it on the tile
    ///   D = 128 rows with two Q buffers and the TMA store of O (``KernelHeuristics/defaultQueryHalves128(causal:seqlenK:)``
    ///   otherwise: off).
    /// The producer copies a tile's warpgroup-0 half first, then its first K, then the warpgroup-1 half, then
    /// its first V. Dense tensors only, one Q stage, not with ``lateTileAddresses``, ``overlapEpilogue`` or two
    /// blocks per multiprocessor. `FLASH_ATTENTION_HOPPER_QHALVES=1` sets 2 and `=2` sets 3 on the tile D = 256 rows
    /// with the TMA store of O that can take it (``KernelHeuristics/defaultQueryHalves(tileHeadDim:causal:seqlenK:)``
    /// otherwise: off). Suffix `qh` / `qr`.
    public var queryHalves: Int
    /// Beside two blocks per multiprocessor (``twoBlocksPerMultiprocessor``): no producer warp. A block is
    /// the two consumer warpgroups alone (256 threads, 8 warps, `__launch_bounds__(256, 2)`: 128 registers a
    /// thread, 16 warps per SM, 4 on each sub-partition, against the 288-thread form's 96), and lane 0 of
    /// warp 4 (consumer warpgroup 1, the later of each turn) issues every copy from inside its own loop: a
    /// key step's K copy for global step g + STAGES right after warpgroup 1 has released step g's K stage
    /// (warpgroup 0, a turn ahead, released it before), the V copy the same after its P·V wait, and at the
    /// head of each tile the next tile's index (the dynamic scheduler's counter, or the persistent stride),
    /// published in the other Q buffer's slot with its Q copy. Every wait of the issuing thread is on a
    /// barrier whose other arrivals come from warps that cannot be blocked behind warpgroup 1. Tile D = 64,
    /// at most 64-key steps, two Q buffers, the persistent grid (2 × SMs), dense tensors.
    /// `FLASH_ATTENTION_HOPPER_FOLDED=1` (2 stages) or `=3` (3 stages) sets it on every dense tile D = 64
    /// row; off by default. Suffix `fp`.
    public var foldedProducer: Bool
    /// Beside ``foldedProducer``: the issuing thread copies in warpgroup 1's slack instead of right after its
    /// releases — in each key step between handing over its turn and waiting for its own S product (running on
    /// the tensor cores behind warpgroup 0's), it copies K for global steps up to the previous step + STAGES and V
    /// up to the one before + STAGES, stages both warpgroups released a step earlier (no wait is ever pending);
    /// the next tile is taken in the same slack of a tile's first step (at its head for a tile without keys).
    /// The copies go out about half a step later than the release-driven form's, so 3 stages give them the lead.
    /// `FLASH_ATTENTION_HOPPER_FOLDED=4` (3 stages) or `=5` (2 stages). Suffix `sl`. Built after the session-12
    /// call: checked in CI only (compiles clean), not yet run on a GPU.
    public var foldedCopiesInSlack: Bool
    /// The loop's wait for the previous step's P·V held behind the softmax (session 12, hopfwd21). The
    /// source waits for that product after the softmax, but ptxas hoisted the `WARPGROUP.DEPBAR` to the
    /// softmax's head (right after the mask's branch join) and used the P registers it frees as the
    /// softmax's temporaries, so a warpgroup's softmax started only once its own P·V had finished instead
    /// of running under it. A never-taken branch on the new row sum (`row_sum[0] < 0`, a trap) ends the
    /// softmax's basic block, which ptxas does not schedule across: the wait, the V release, P's
    /// conversion and the O rescale follow the exponentials and sums. Not with ``separateValueTurn``
    /// (it waits for P·V before S). `FLASH_ATTENTION_HOPPER_VALUEWAIT=1` sets it on every row of the
    /// shipped step order; off by default (0.91–0.97× the shipped kernels on an H100: ptxas's hoist was the better
    /// schedule). Suffix `vw`.
    public var valueWaitAfterSoftmax: Bool
    /// The producer's waits for a free K / V stage or Q buffer sleep on the barrier instead of spinning (session 12,
    /// hopfwd21, from cuDNN's SASS): `mbarrier.try_wait` with a suspend-time hint (10 ms), which ptxas compiles to a
    /// try-wait whose retry path is `NANOSLEEP.SYNCS` (woken by the barrier's phase change), cuDNN's form. The shipped
    /// wait retries `YIELD` / `TRYWAIT` / `BRA`: at causal D = 64 N = 512 the producer looped 1.8 M times (5.5 M
    /// instructions, a tenth of the launch's), all on the scheduler it shares with two consumer warps; cuDNN's
    /// producer retried 0.01 M times. The consumers' waits are unchanged (their first try-wait suspends until the
    /// data lands). The producer-warp forms only (not ``foldedProducer``, whose copies issue from a consumer
    /// warp). Measured level (0.98–1.02× per round, H100): the retries took no issue slots the consumers wanted.
    /// `FLASH_ATTENTION_HOPPER_PRODUCERSLEEP=1` sets it on every such row; off by default. Suffix `ps`.
    public var sleepingProducerWaits: Bool
    /// cuDNN's step order (session 12, hopfwd21, from its SASS at causal D = 64): every key step, the tile's first
    /// too, in one loop of S issue → wait S → mask, row maximum (a tree) and α → *turn* → exponentials, row sum (a
    /// tree), O·α and P's packing → hand the turn over → P·V issue → wait P·V. No warpgroup overlaps its own products
    /// with its softmax; the turn (the consumers' named-barrier pair) keeps the two warpgroups' exponentials apart
    /// instead of their product issues, so one warpgroup's MUFU work runs under the other's products, and no P·V
    /// trails the loop. Not beside the half-width diagonal step, the early rescale (this order rescales inside the
    /// turn), the exp2 emulation, the overlapped epilogue, O in the last stages or an own buffer, Q halves, per-warpgroup
    /// step counts, narrow products, separate value turns, the P·V wait form or the folded producer.
    /// `FLASH_ATTENTION_HOPPER_EXPTURN=1` sets it on every row that can take it (dropping `hd` and `er`); off by
    /// default. Built after the session's device calls: compiled, not yet run on a GPU. Suffix `xt`.
    public var exponentialTurn: Bool

    /// A lean ``exponentialTurn`` (session 12, part 2): the tile's first (diagonal) key step peeled out of cuDNN's
    /// loop, where O is still zero, so it carries no α, no O rescale and no l·α, and (with ``halfDiagonalStep``,
    /// which this form allows) a warpgroup whose rows see only the first half of that step's keys takes the
    /// mask, the row maximum, the exponentials and the sums over those keys alone; the loop's steps are `xt`'s.
    /// `xt` alone executes 59.0 M instructions at causal D = 64 N = 512 against the shipped 53.8 M, most of it on
    /// the diagonal step (full width, masked, rescaled). Needs ``exponentialTurn``.
    /// `FLASH_ATTENTION_HOPPER_EXPTURN=lean` sets it with `xt` and ``precomputedDescriptors`` on every row that can
    /// take them (keeping the row's `hd`); off by default. Suffix `xl` (after `xt`).
    public var leanExponentialTurn: Bool
    /// The lean order with each warpgroup's products overlapped with its own row maximum (session 13, hopfwd25): after
    /// handing the turn over, a warpgroup issues the next step's S and then this step's P·V back to back, waits for S
    /// alone (`wgmma.wait_group 1`) and masks it and takes its row maximum while its P·V runs, then waits for P·V and
    /// takes its turn for the exponentials. The tile's last P·V trails the loop (issued once every S has been read,
    /// after the Q buffer goes back). cuDNN's turn order is kept (the turn guards the exponentials; one sync and one
    /// arrival a step), and so is `xl`'s peeled diagonal step (its P·V issued beside the second step's S). In `xl` each
    /// step waits for S and then for P·V with nothing of its own to issue meanwhile (issue activity 37.3 % against
    /// cuDNN's 45.9 % at causal D = 64 N = 512). Holds S, P and O at once (as the shipped order does).
    /// 0: off; 1 (suffix `xo`): never-taken branches end the maximum's block and the turn's first block, since ptxas
    /// otherwise hoists the P·V wait to the maximum's head and the exponentials above the turn's `bar.sync`; 2 (suffix
    /// `xoa`): also one before the hand-over, so the turn is handed over after every exponential and P's packing
    /// (ptxas moves the `bar.arrive` into the middle of the exponentials otherwise, in `xl` too). Needs
    /// ``leanExponentialTurn``. `FLASH_ATTENTION_HOPPER_EXPOVERLAP=1|2` sets it on every row that has the lean order
    /// (with `FLASH_ATTENTION_HOPPER_EXPTURN=lean`: every row that takes it); off by default.
    public var overlappedExponentialTurn: Int
    /// Empty consumer warpgroups skip their work (session 13, hopfwd24): a consumer warpgroup whose 64 rows of the tile all
    /// lie past the query sequence's end issues no product and computes no softmax; it keeps its turn in every key step
    /// and releases each K / V stage once the stage has loaded (and the Q buffer at the tile's end), so every barrier
    /// phase and the turn ring run as in the other warpgroups, and it stores nothing (its LSE rows and its O box lie past
    /// the end). The three-warpgroup rows (192-row tiles, unmasked tile D = 64 at every length) waste a third of the last
    /// tile of a 512- or 2k-row sequence and two thirds at 1k (11 % of the products at 512 and 1k); with two warpgroups a
    /// sequence length 1…64 past a multiple of 128 leaves warpgroup 1 empty. Not beside the overlapped epilogue, O staged
    /// in the Q buffer, the K/V stages or an own buffer, Q halves, per-warpgroup step counts, narrow products, separate
    /// value turns or the folded producer (their barrier protocols differ). `FLASH_ATTENTION_HOPPER_EMPTYWG=1` sets it on
    /// every row that can take it; off by default. Suffix `ew`.
    public var skipEmptyWarpgroups: Bool
    /// The row sum from P's packed pairs (session 15, hopfwd28): the softmax no longer adds each exponential into a
    /// float32 row sum (one FADD a score); after P is packed into the P·V operand (`cvt` to f16x2 / bf16x2, as before),
    /// each row's packed words of the step are added as pairs (`add.rn.f16x2` / `add.rn.bf16x2`: one HADD2 per two
    /// scores), at most 8 words (16 scores) a partial, and each partial is widened into the float32 row sum (two
    /// conversions and two FADDs). The sum is then the sum of the rounded P that the P·V product multiplies. The packed
    /// exponential (`ex2.approx.f16x2`) was the first idea, but ptxas for sm_90a splits it into two `MUFU.EX2.F16` and a
    /// `PRMT` per pair, no fewer instructions than the float32 path. Not beside the tree reductions (``treeRowReductions``).
    /// `FLASH_ATTENTION_HOPPER_PACKSUM=1` sets it on every Hopper forward row; off by default. Suffix `pr`.
    public var packedRowSum: Bool
    /// A lazy O rescale (session 15, hopfwd28; FlashAttention-4's rule): a row keeps the maximum its exponentials use
    /// unless the step's maximum passes it by more than 8 in 2^x units (or the row had none yet), so P ≤ 2^8 and l, O
    /// and the LSE stay consistent with the kept maximum; α = 1 exactly for a row that kept it, and the step's O·α
    /// (D/2 FMULs a thread) is skipped in a warp where every row kept its maximum (the `__any_sync` vote of
    /// ``skipUnchangedRescale``). On random or peaked inputs the maximum settles in the first steps, so almost every
    /// later step skips the rescale (``skipUnchangedRescale`` alone skips only steps where no row of the warp found a
    /// new maximum at all). `FLASH_ATTENTION_HOPPER_RESCALE=lazy` sets it on every Hopper forward row; by default the
    /// three-warpgroup tile D = 64 rows take it from 8k keys, tile D = 256 unmasked from 512 keys and causal from 2k, and the
    /// causal tile D = 128 rows of the overlapped order (`xoa`, 513…1024 keys)
    /// (``KernelHeuristics/defaultLazyRescale(tileHeadDim:causal:consumerWarpgroups:varlen:seqlenK:overlappedExponentialTurn:)``).
    /// Suffix `lr`.
    public var lazyRescale: Bool
    /// A speculative row maximum (session 18): after a tile's first step the exponentials use each row's kept maximum
    /// without computing the step's (no FMNMX, no quad shuffles, no α), and each thread checks its two rows' step sums
    /// instead: a sum of at most 2^8 bounds every P of the row by 2^8 (FlashAttention-4's lazy bound), so l, O and the
    /// LSE stay consistent with the kept maximum and O needs no rescale. Where any thread of a warpgroup sees a larger
    /// sum, or one that is not finite (a score 2^128 past the kept maximum overflows, a row still at −∞ gives NaN), the
    /// warpgroup redoes the step: it votes through a named barrier's reduction (`bar.red.or`), issues S again from the
    /// still-held K stage and runs the exact softmax, which moves the maxima and rescales O. The K stage goes back after
    /// the vote. Under a causal mask the step after the diagonal block runs the exact softmax outright (the diagonal block's
    /// top rows saw a few keys: their maxima are low, and the speculative pass would ask for a redo in most tiles). Shipped
    /// step order only (not `xt` / `xl` / `xo` or `vt`), not beside the tree or packed sums, the exp2 emulation, the lazy
    /// rescale (which it replaces) or two blocks per SM, and not at tile D = 256 without `xd` + `er` or on three warpgroups
    /// without `xd` (spills). By default on the rows of
    /// ``KernelHeuristics/defaultSpeculativeMax(tileHeadDim:causal:seqlenK:)``; `FLASH_ATTENTION_HOPPER_RESCALE=spec` sets
    /// it on every Hopper forward row that can take it, `=nospec` nowhere. Suffix `sx`.
    public var speculativeMax: Bool

    /// Programmatic dependent launch (session 24): the kernel is launched with the programmatic-serialization attribute
    /// (``CUDADriver/CUDAFunction/launchAllowingDependence(grid:block:sharedMemoryBytes:stream:parameters:)``), every
    /// block executes `griddepcontrol.launch_dependents` as it starts and `griddepcontrol.wait` after its barrier set-up,
    /// before any thread reads or writes global memory (the scheduler's counter, Q/K/V, O and the LSE). So the kernel's
    /// launch, block start and set-up run under the tail of the kernel before it on the stream where that kernel lets
    /// dependents start early (another call of this forward, or any kernel that executes `launch_dependents`), and start
    /// as a plain launch would elsewhere. Persistent TMA grids of dense problems only (a varlen call uploads its offsets
    /// by a copy just before the launch). `FLASH_ATTENTION_HOPPER_PDL=1` sets it on every row that can take it, `=0`
    /// nowhere. Suffix `_pdl`.
    public var dependentLaunch: Bool = false

    /// A stream-K tail on the persistent grid (session 28). With T tiles on G blocks the static order gives each block
    /// ⌊T / G⌋ or ⌈T / G⌉ tiles, so the last round leaves part of the card idle (the reference grid's 1024 tiles at tile
    /// D = 256 fill 7.76 rounds of 132 blocks). Here the ⌊T / G⌋ whole rounds run as before, and the S = (T mod G) × steps
    /// per tile key steps of the remaining tiles are dealt out evenly (⌊S / G⌋ + 1 to the first S mod G blocks, ⌊S / G⌋ to
    /// the rest; the deal in shared memory), each block walking its share from the end, one part of a tile at a time. A part
    /// that is not the whole tile writes its float32 O fragments and row statistics to a workspace behind the tile counter's
    /// address; the part holding the tile's last key steps merges: the others release the tile's counter (per warpgroup)
    /// without waiting, and the merger — the last part its block reaches, while its partners' parts are the first of theirs —
    /// waits for them with acquire loads (lower blocks only), sums the parts straight into O and the LSE and zeroes the
    /// counter for the next launch. Dense unmasked problems on the static persistent grid of two consumer warpgroups (the
    /// key steps of every tile are the same); not beside the dynamic scheduler, the overlapped epilogue, late tile
    /// addresses, O staged in Q / K / V stages, Q halves, the folded producer or two blocks per SM; at most 128-key steps
    /// (the 176-key row spilled 140 B with it). By default on the rows of
    /// ``KernelHeuristics/defaultStreamKTail(tileHeadDim:causal:seqlenK:)``; `FLASH_ATTENTION_HOPPER_STREAMK=1` sets it on
    /// every row that can take it, `=0` nowhere. Suffix `_sk`.
    public var streamKTail: Bool = false
    /// The head dim the TMA forward's products span, when less than ``headDim``: the problem's D rounded up to 16
    /// (nil: the tile's). The tile, its shared-memory layout and copies stay; S = Q·Kᵀ stops after
    /// `productHeadDim / 16` k steps and P·V is `m64n<productHeadDim>`, so a padded tile (D = 80 / 96 on tile 128,
    /// 160 on 192, 224 on 256, 32 on 64) no longer multiplies the zero columns past D, and O takes
    /// `productHeadDim / 2` accumulator registers a thread instead of `headDim / 2`. The columns past it are zero in
    /// shared memory and never stored. Suffix `n<productHeadDim>` on the head dim.
    public var productHeadDim: Int? = nil

    /// The head dim the products span: ``productHeadDim`` or the tile's.
    public var productDim: Int { productHeadDim ?? headDim }

    public init(
        architecture: GPUArchitecture, elementType: ElementType, outputType: ElementType? = nil,
        headDim: Int, blockM: Int, blockN: Int, warps: Int, minBlocksPerMultiprocessor: Int = 1,
        mask: KernelMask = .none, softcap: Bool = false, alibi: Bool = false, dropout: Bool = false,
        varlen: Bool = false, writeLSE: Bool = true, prescaleScores: Bool? = nil, vectorized: Bool = true,
        earlyKPrefetch: Bool = false, stagedEpilogue: Bool = false, mainloop: KernelMainloop = .mmaSync,
        stages: Int = 2, persistent: Bool = false, dynamicScheduler: Bool = false, qStages: Int = 1,
        emulatedExp2Every: Int = 0, overlapEpilogue: Bool = false, tmaStoreO: Bool = false,
        lateTileAddresses: Bool = false, stageOInQueryBuffer: Bool = false, skipUnchangedRescale: Bool = false,
        stageOInLastStage: Bool = false, halfDiagonalStep: Bool = false, treeRowReductions: Bool = false,
        warpgroupStepCount: Bool = false, precomputedDescriptors: Bool = false, earlyRescale: Bool = false,
        separateValueTurn: Bool = false, narrowDiagonal: Bool = false, narrowDiagonalValues: Bool = false, stageOInOwnBuffer: Bool = false,
        queryHalves: Int = 0,
        foldedProducer: Bool = false, foldedCopiesInSlack: Bool = false, valueWaitAfterSoftmax: Bool = false,
        sleepingProducerWaits: Bool = false, exponentialTurn: Bool = false, leanExponentialTurn: Bool = false,
        overlappedExponentialTurn: Int = 0,
        skipEmptyWarpgroups: Bool = false, packedRowSum: Bool = false, lazyRescale: Bool = false,
        speculativeMax: Bool = false
    ) {
        self.architecture = architecture
        self.elementType = elementType
        self.outputType = outputType ?? elementType
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
        self.writeLSE = writeLSE
        self.prescaleScores = prescaleScores ?? (softcap || alibi)
        self.vectorized = vectorized
        self.earlyKPrefetch = earlyKPrefetch
        self.stagedEpilogue = stagedEpilogue
        self.mainloop = mainloop
        self.stages = stages
        self.persistent = persistent
        self.dynamicScheduler = dynamicScheduler
        self.qStages = qStages
        self.emulatedExp2Every = emulatedExp2Every
        self.overlapEpilogue = overlapEpilogue
        self.tmaStoreO = tmaStoreO
        self.lateTileAddresses = lateTileAddresses
        self.stageOInQueryBuffer = stageOInQueryBuffer
        self.skipUnchangedRescale = skipUnchangedRescale
        self.stageOInLastStage = stageOInLastStage
        self.halfDiagonalStep = halfDiagonalStep
        self.treeRowReductions = treeRowReductions
        self.warpgroupStepCount = warpgroupStepCount
        self.precomputedDescriptors = precomputedDescriptors
        self.earlyRescale = earlyRescale
        self.separateValueTurn = separateValueTurn
        self.narrowDiagonal = narrowDiagonal
        self.narrowDiagonalValues = narrowDiagonalValues
        self.stageOInOwnBuffer = stageOInOwnBuffer
        self.queryHalves = queryHalves
        self.foldedProducer = foldedProducer
        self.foldedCopiesInSlack = foldedCopiesInSlack
        self.valueWaitAfterSoftmax = valueWaitAfterSoftmax
        self.sleepingProducerWaits = sleepingProducerWaits
        self.exponentialTurn = exponentialTurn
        self.leanExponentialTurn = leanExponentialTurn
        self.overlappedExponentialTurn = overlappedExponentialTurn
        self.skipEmptyWarpgroups = skipEmptyWarpgroups
        self.packedRowSum = packedRowSum
        self.lazyRescale = lazyRescale
        self.speculativeMax = speculativeMax
    }

    // MARK: - Derived layout facts

    /// Consumer warpgroups of the TMA warp-specialised loop, 64 query rows each: 2 (blockM 128,
    /// 12 warps with the producer), or 3 (blockM 192, 16 warps; D = 64 with at most 128-key steps,
    /// since each consumer then has 160 registers). A third consumer keeps the tensor cores fed
    /// while two warpgroups run their softmax: at D = 64 a step's products are short beside its
    /// exponentials, so with two the pipe idles during the softmax (FlashAttention-3's D = 64
    /// shape). Rows past the sequence in a tile's last row block are computed and not stored.
    public var consumerWarpgroups: Int { mainloop == .tmaWarpSpecialized ? blockM / 64 : 0 }

    /// The TMA loop's two-blocks-per-multiprocessor form (``minBlocksPerMultiprocessor`` = 2, 9 warps,
    /// 128 rows; name `…w9b2…`): two consumer warpgroups (warps 0–7) and one producer warp (warp 8),
    /// no `setmaxnreg`, `__launch_bounds__(288, 2)` (96 registers for every thread: ptxas places
    /// 18 warps with at most 5 on one of the 4 sub-partitions' 16 K registers), so two
    /// independent persistent blocks share a multiprocessor and one block's exposed chains (a tile's
    /// first S → softmax → P·V, its epilogue) run under the other's products. The persistent grid
    /// has two blocks per multiprocessor. Tile D = 64, at most 32-key steps (64 spill 184–224 B), dense tensors, at most
    /// half a multiprocessor's shared memory. With ``foldedProducer`` the block is 8 warps (no producer warp, 128
    /// registers) and takes 64-key steps.
    public var twoBlocksPerMultiprocessor: Bool { mainloop == .tmaWarpSpecialized && minBlocksPerMultiprocessor == 2 }

    /// Shared memory one of two co-resident blocks may have: half of the H100's 228 KB per
    /// multiprocessor less the 1 KB the hardware reserves per block.
    public static let twoBlocksSharedMemoryLimit = 228 * 1024 / 2 - 1024

    /// m16 row tiles each warp owns.
    public var rowTilesPerWarp: Int { blockM / (16 * warps) }
    public var threads: Int { warps * 32 }
    /// Shared-memory row stride in elements: 16 bytes of padding make the eight row addresses
    /// of an `ldmatrix` fall in eight different bank groups (needs headDim % 16 == 0).
    public var sharedRowStride: Int { headDim + 8 }
    /// Q tile, one K tile and one V tile (wgmma: unpadded swizzled rows plus 1 KB to align them).
    public var sharedMemoryBytes: Int {
        // TMA loop: `qStages` Q tiles, `stages` K and V tiles, 1 KB of alignment slack, 256 B of mbarriers
        // (and the O staging tile of the bulk tensor store, or warpgroup 0's 64 staging rows of its own).
        if mainloop == .tmaWarpSpecialized {
            // (With ``queryHalves``, that many 64-row Q halves instead of the Q tiles.)
            let queryRows = queryHalves > 0 ? queryHalves * 64 : qStages * blockM
            return (queryRows + (tmaStoreO && !stageOInQueryBuffer && !stageOInLastStage ? blockM : 0) + 2 * stages * blockN + (stageOInOwnBuffer ? 64 : 0)) * headDim * 2 + 1024 + 256
        }
        return mainloop == .wgmma ? (blockM + 2 * blockN) * headDim * 2 + 1024 : (blockM + 2 * blockN) * sharedRowStride * 2
    }

    /// The stream-K tail's workspace for a grid of `grid` blocks (``streamKTail``): two int counters per tail tile
    /// (fewer than `grid`) padded to 256 bytes, then per block two parts of a tile (the one it hands over, its own of the
    /// one it merges), each 128 rows of float32 O fragments and row statistics (D_TILES + 1 float4 per consumer thread).
    public func streamKWorkspaceBytes(grid: Int) -> Int {
        (8 * grid + 255) / 256 * 256 + grid * 2 * consumerWarpgroups * (headDim / 8 + 1) * 128 * 16
    }

    /// Why this descriptor cannot be generated, or nil.
    public var invalidReason: String? {
        if elementType == .float32 { return "inputs must be float16 or bfloat16 (tensor cores), got float32" }
        if headDim % 16 != 0 || headDim < 16 || headDim > 256 { return "tile head dim must be a multiple of 16 in 16...256, got \(headDim)" }
        if warps < 1 || warps > 16 { return "warps must be in 1...16, got \(warps)" }
        if mainloop == .tmaWarpSpecialized {
            if architecture.computeCapability != 90 { return "the TMA warp-specialised loop needs sm_90a, got \(architecture)" }
            if headDim % 64 != 0 { return "the TMA warp-specialised loop runs head dims 64, 128, 192 and 256, got \(headDim)" }
            if dynamicScheduler && !persistent { return "the dynamic tile scheduler needs the persistent grid" }
            if dependentLaunch && (!persistent || varlen) { return "the dependent launch needs the persistent grid of a dense problem" }
            if streamKTail && (!persistent || dynamicScheduler || varlen || mask != .none || consumerWarpgroups != 2 || overlapEpilogue
                || lateTileAddresses || stageOInQueryBuffer || stageOInLastStage || stageOInOwnBuffer || queryHalves != 0 || foldedProducer
                || minBlocksPerMultiprocessor != 1 || blockN > 128) {
                return "the stream-K tail (streamKTail) needs the static persistent grid of a dense unmasked problem with two consumer warpgroups, and at most 128-key steps (the 176-key row spills with it), without the overlapped epilogue, late tile addresses, O staged in the Q / K / V buffers, Q halves, the folded producer or two blocks per SM"
            }
            if mask == .window && foldedProducer {
                return "the folded producer decodes its tiles' key steps from key 0: no sliding window"
            }
            if let p = productHeadDim, p % 16 != 0 || p < 16 || p > headDim {
                return "productHeadDim must be a multiple of 16 in 16...\(headDim) (the tile head dim), got \(p)"
            }
            if streamKTail && productDim % 32 != 0 {
                return "the stream-K tail merges O in 32-column groups: productHeadDim must be a multiple of 32, got \(productDim)"
            }
            if qStages != 1 && qStages != 2 { return "qStages must be 1 or 2, got \(qStages)" }
            if emulatedExp2Every < 0 || emulatedExp2Every > 8 { return "emulatedExp2Every must be in 0...8, got \(emulatedExp2Every)" }
            if overlapEpilogue && !persistent { return "the overlapped epilogue needs the persistent grid" }
            if qStages == 2 && !persistent { return "two Q buffers need the persistent grid (a block of the one-tile grid loads one Q)" }
            if tmaStoreO && outputType != elementType { return "the TMA store of O writes the input's 16-bit type, got output \(outputType)" }
            if tmaStoreO && overlapEpilogue { return "the TMA store of O and the overlapped epilogue exclude each other" }
            if foldedProducer && (minBlocksPerMultiprocessor != 2 || warps != 8 || blockM != 128 || headDim != 64 || blockN > 64 || qStages != 2) {
                return "the folded producer is a two-blocks-per-multiprocessor form of 8 warps (two consumer warpgroups, no producer warp): blockM 128, tile D = 64, at most 64-key steps, two Q buffers"
            }
            if foldedCopiesInSlack && !foldedProducer { return "copies in warpgroup 1's slack are a form of the folded producer" }
            if leanExponentialTurn && !exponentialTurn { return "the lean step order (leanExponentialTurn) is a form of cuDNN's step order (exponentialTurn)" }
            if overlappedExponentialTurn < 0 || overlappedExponentialTurn > 2 { return "overlappedExponentialTurn must be 0, 1 or 2, got \(overlappedExponentialTurn)" }
            if overlappedExponentialTurn != 0 && !leanExponentialTurn { return "the overlapped lean step order (overlappedExponentialTurn) is a form of the lean step order (leanExponentialTurn)" }
            if exponentialTurn && ((halfDiagonalStep && !leanExponentialTurn) || earlyRescale || emulatedExp2Every != 0 || overlapEpilogue || stageOInLastStage || stageOInOwnBuffer
                                   || queryHalves != 0 || warpgroupStepCount || narrowDiagonal || narrowDiagonalValues || separateValueTurn
                                   || valueWaitAfterSoftmax || foldedProducer) {
                return "cuDNN's step order (exponentialTurn) is its own loop: not beside hd (but with the lean form, xl), er, exp2 emulation, the overlapped epilogue, okv, ob, Q halves, ws, nd / nv, vt, vw or the folded producer"
            }
            if sleepingProducerWaits && foldedProducer { return "the folded producer has no producer warp to sleep (its copies issue from a consumer warp)" }
            if skipEmptyWarpgroups && (overlapEpilogue || stageOInQueryBuffer || stageOInLastStage || stageOInOwnBuffer || queryHalves != 0
                                       || warpgroupStepCount || narrowDiagonal || narrowDiagonalValues || separateValueTurn || foldedProducer) {
                return "empty warpgroups (skipEmptyWarpgroups) keep one turn a key step and release the stages themselves: not beside the overlapped epilogue, oq, okv, ob, Q halves, ws, nd / nv, vt or the folded producer"
            }
            // (Not built or checked together: the overlapped order's trailing P·V and the skip's stage releases were
            // written apart.)
            if skipEmptyWarpgroups && overlappedExponentialTurn != 0 { return "empty warpgroups (skipEmptyWarpgroups) are not generated beside the overlapped lean order (xo / xoa)" }
            if packedRowSum && treeRowReductions { return "the packed row sum (packedRowSum) replaces the softmax's float32 sum: not beside the tree reductions (tr)" }
            if speculativeMax && (exponentialTurn || separateValueTurn || treeRowReductions || packedRowSum || emulatedExp2Every != 0
                                  || lazyRescale || skipUnchangedRescale || minBlocksPerMultiprocessor != 1) {
                return "the speculative maximum (speculativeMax) is a form of the shipped step order's softmax: not beside xt / xl / xo, vt, the tree or packed row sums, exp2 emulation, the lazy or skipped rescale (it replaces them) or two blocks per SM"
            }
            // The redo's second S issue and exact softmax beside the speculative pass: tile D = 256 (128 O + 40 S accumulator
            // registers a thread) spilled 20–60 B without the precomputed descriptors and the early rescale (with them 8 B, the two
            // tile counts, now re-derived at each use: HopperForwardKernel.rematerializedTileCounts), the three-warpgroup rows
            // without precomputed descriptors 24 B.
            if speculativeMax && ((headDim == 256 && !(precomputedDescriptors && earlyRescale)) || (consumerWarpgroups == 3 && !precomputedDescriptors)) {
                return "the speculative maximum (speculativeMax) spills at tile D = 256 without precomputed descriptors and the early rescale (xder) and on three warpgroups without precomputed descriptors (xd)"
            }
            if valueWaitAfterSoftmax && separateValueTurn { return "the P·V wait after the softmax is a form of the shipped step order (separateValueTurn waits for P·V before S)" }
            if minBlocksPerMultiprocessor == 2 {
                if !foldedProducer && (warps != 9 || blockM != 128) { return "two blocks per multiprocessor take two consumer warpgroups and one producer warp: blockM 128 with 9 warps" }
                // (The folded producer's 8 warps get 128 registers a thread: its 64-key steps are checked above.)
                if !foldedProducer && (headDim != 64 || blockN > 32) { return "two blocks per multiprocessor (96 registers a thread) hold tile D = 64 with at most 32-key steps, got D = \(headDim), \(blockN) keys" }
                if !persistent || varlen || overlapEpilogue || stageOInQueryBuffer || stageOInLastStage || separateValueTurn || stageOInOwnBuffer
                    || narrowDiagonal || warpgroupStepCount {
                    return "two blocks per multiprocessor run the persistent grid on dense tensors, without the overlapped epilogue, O staged in Q or K/V stages, separate value turns, narrow diagonal products or per-warpgroup step counts"
                }
                if sharedMemoryBytes > Self.twoBlocksSharedMemoryLimit {
                    return "two blocks per multiprocessor need at most \(Self.twoBlocksSharedMemoryLimit) B of shared memory each, tiles need \(sharedMemoryBytes)"
                }
            } else if minBlocksPerMultiprocessor != 1 {
                return "the TMA warp-specialised loop runs one or two blocks per multiprocessor, got \(minBlocksPerMultiprocessor)"
            } else if !((warps == 12 && blockM == 128) || (warps == 16 && blockM == 192)) {
                return "the TMA warp-specialised loop is 1 producer and 2 or 3 64-row consumer warpgroups: blockM 128 with 12 warps, or 192 with 16"
            }
            if blockM == 192 && (headDim != 64 || blockN > 128) {
                return "three consumer warpgroups (160 registers each) hold at most D = 64 with 128-key steps, got D = \(headDim), \(blockN) keys"
            }
            if stageOInQueryBuffer && (!tmaStoreO || lateTileAddresses) { return "O staged in the Q buffer needs the TMA store of O and excludes late tile addresses" }
            if stageOInQueryBuffer && varlen { return "O staged in the Q buffer with the varlen fallback store spills (64 B at D = 256): dense tensors only" }
            if stageOInLastStage && (!tmaStoreO || stageOInQueryBuffer || lateTileAddresses || varlen || blockM != 128 || blockN < 64) {
                return "O staged in the last key step's K/V stages needs the TMA store of O, two consumer warpgroups, at least 64-key steps and dense tensors, and excludes O in the Q buffer and late tile addresses"
            }
            if halfDiagonalStep && (mask != .causal || blockN % 32 != 0 || overlapEpilogue) {
                return "the half-width diagonal softmax needs a causal mask and a multiple of 32 keys a step, and is not combined with the overlapped epilogue"
            }
            if narrowDiagonal && (!halfDiagonalStep || (headDim != 64 && headDim != 128) || blockM != 128 || blockN != 128 || varlen
                                  || outputType != elementType) {
                return "narrow diagonal products need the half-width diagonal softmax at tile D = 64 or 128 with two consumer warpgroups and 128-key steps, dense tensors and 16-bit outputs of the input's type"
            }
            if narrowDiagonalValues && !narrowDiagonal { return "the narrow diagonal P·V goes with the narrow diagonal S product (narrowDiagonal)" }
            if narrowDiagonal && precomputedDescriptors != (headDim == 128) {
                return "narrow diagonal products take the precomputed descriptors at tile D = 128 and not at D = 64 (otherwise ptxas serialises every wgmma: C7511)"
            }
            if warpgroupStepCount && (mask != .causal || blockM != 128 || !tmaStoreO || overlapEpilogue || halfDiagonalStep) {
                return "per-warpgroup key-step counts need a causal mask, two consumer warpgroups and the TMA store of O (with direct stores the 64-key D = 256 kernel spills 8 B), and are not combined with the overlapped epilogue or the half-width diagonal softmax"
            }
            if separateValueTurn && (headDim != 256 || blockM != 128 || blockN != 128 || stages != 1 || !precomputedDescriptors || !tmaStoreO
                                     || overlapEpilogue || halfDiagonalStep || warpgroupStepCount) {
                return "P·V and S in separate turns is a tile D = 256 form of 128-key steps in one K and one V stage: two consumer warpgroups, precomputed descriptors and the TMA store of O, and not the overlapped epilogue, the half-width diagonal softmax or per-warpgroup key-step counts"
            }
            if stageOInOwnBuffer && (!stageOInLastStage || !separateValueTurn) {
                return "warpgroup 0's O in a staging buffer of its own is a form of O staged in the last K/V stages with P·V and S in separate turns (tile D = 256, 128-key steps in one stage, dense 16-bit outputs)"
            }
            if queryHalves != 0 {
                if queryHalves < 2 || queryHalves > 4 { return "queryHalves must be 0, 2, 3 or 4, got \(queryHalves)" }
                if queryHalves == 4 && (headDim > 128 || !tmaStoreO || stageOInQueryBuffer || stageOInLastStage) {
                    return "two stages of Q halves (queryHalves 4) are a tile D ≤ 128 form with O in its own staging tile (the TMA store of O, not staged in Q or the K/V stages)"
                }
                if blockM != 128 || minBlocksPerMultiprocessor != 1 || qStages != 1 || varlen || lateTileAddresses || overlapEpilogue {
                    return "Q in per-warpgroup halves needs two consumer warpgroups (blockM 128, one block per multiprocessor), one Q stage and dense tensors, and excludes late tile addresses and the overlapped epilogue"
                }
                if headDim == 256 && blockN < 80 {
                    return "Q in per-warpgroup halves at tile D = 256 take at least 80-key steps (the 64-key kernel spills 4 B, NVRTC 13.5)"
                }
                if queryHalves == 3 && (!stageOInQueryBuffer || stageOInLastStage || stageOInOwnBuffer) {
                    return "three rotating Q halves stage each warpgroup's O in its own half (stageOInQueryBuffer), not in the K/V stages or an own buffer"
                }
            }
            if lateTileAddresses && !dynamicScheduler && !foldedProducer { return "late tile addresses read the dynamic scheduler's slot: they need the dynamic scheduler" }
            if blockM == 192 && dynamicScheduler && qStages == 2 && !lateTileAddresses {
                return "three consumer warpgroups with the dynamic scheduler and two Q buffers spill (160 registers each) without late tile addresses"
            }
            if blockN % 16 != 0 || blockN < 16 || blockN > 256 { return "blockN must be a multiple of 16 up to 256 (one TMA box), got \(blockN)" }
            if stages < 1 || stages > 4 { return "stages must be in 1...4, got \(stages)" }
            if dropout || prescaleScores || !vectorized || stagedEpilogue || earlyKPrefetch {
                return "the TMA warp-specialised loop has no dropout, prescaled scores, scalar loads or mma.sync options"
            }
            if sharedMemoryBytes > architecture.maxSharedMemoryPerBlock {
                return "tiles need \(sharedMemoryBytes) B of shared memory, \(architecture) allows \(architecture.maxSharedMemoryPerBlock)"
            }
            return nil
        }
        if blockM % (16 * warps) != 0 { return "blockM \(blockM) must be a multiple of 16·warps = \(16 * warps)" }
        if blockN % 16 != 0 || blockN < 16 { return "blockN must be a positive multiple of 16, got \(blockN)" }
        if !architecture.supportsMMASync { return "\(architecture) has no mma.sync bf16 path (needs sm_80+)" }
        if sharedMemoryBytes > architecture.maxSharedMemoryPerBlock {
            return "tiles need \(sharedMemoryBytes) B of shared memory, \(architecture) allows \(architecture.maxSharedMemoryPerBlock)"
        }
        // The TMA loop caps S in its softmax (tanh ahead of the mask, the scale folded into exp2 as everywhere there).
        if (softcap || alibi) && !prescaleScores && !(softcap && !alibi && mainloop == .tmaWarpSpecialized) {
            return "softcap and ALiBi need prescaled scores"
        }
        if dependentLaunch && mainloop != .tmaWarpSpecialized { return "the dependent launch needs the TMA warp-specialised loop" }
        if streamKTail && mainloop != .tmaWarpSpecialized { return "the stream-K tail needs the TMA warp-specialised loop" }
        if productHeadDim != nil && productDim != headDim && mainloop != .tmaWarpSpecialized {
            return "productHeadDim narrower than the tile needs the TMA warp-specialised loop"
        }
        if (persistent || dynamicScheduler || qStages != 1 || emulatedExp2Every != 0 || overlapEpilogue || tmaStoreO || lateTileAddresses || stageOInQueryBuffer || skipUnchangedRescale || stageOInLastStage || halfDiagonalStep || treeRowReductions || warpgroupStepCount || precomputedDescriptors || earlyRescale || separateValueTurn || narrowDiagonal || narrowDiagonalValues || stageOInOwnBuffer || queryHalves != 0 || foldedProducer || foldedCopiesInSlack || valueWaitAfterSoftmax || sleepingProducerWaits || exponentialTurn || leanExponentialTurn || overlappedExponentialTurn != 0 || skipEmptyWarpgroups || packedRowSum || lazyRescale || speculativeMax) && mainloop != .tmaWarpSpecialized { return "persistent, dynamicScheduler, qStages, emulatedExp2Every, overlapEpilogue, tmaStoreO, lateTileAddresses, stageOInQueryBuffer, skipUnchangedRescale, stageOInLastStage, halfDiagonalStep, treeRowReductions, warpgroupStepCount, precomputedDescriptors, earlyRescale, separateValueTurn, narrowDiagonal, narrowDiagonalValues, stageOInOwnBuffer, queryHalves, foldedProducer, foldedCopiesInSlack, valueWaitAfterSoftmax, sleepingProducerWaits, exponentialTurn, leanExponentialTurn, overlappedExponentialTurn, skipEmptyWarpgroups, packedRowSum, lazyRescale and speculativeMax need the TMA warp-specialised loop" }
        if mainloop == .wgmma {
            if architecture.computeCapability != 90 { return "wgmma needs sm_90a, got \(architecture)" }
            if headDim % 64 != 0 { return "wgmma tiles need a head dim that is a multiple of 64, got \(headDim)" }
            if warps % 4 != 0 || blockM != 16 * warps { return "wgmma needs whole warpgroups of 64 rows: blockM = 16·warps" }
            if blockN > 256 || blockN % 16 != 0 { return "wgmma blockN must be a multiple of 16 up to 256" }
            if stagedEpilogue { return "the staged epilogue assumes the padded mma.sync layout" }
        }
        return nil
    }

    /// A short, stable name: `fwd_bf16_d128_m128n64w4_causal_lse_sm_90a`.
    public var name: String {
        var parts = ["fwd", elementType == .bfloat16 ? "bf16" : "fp16"]
        if outputType != elementType { parts.append("out" + (outputType == .float32 ? "f32" : outputType == .bfloat16 ? "bf16" : "fp16")) }
        parts.append("d\(headDim)" + (productDim != headDim ? "n\(productDim)" : ""))
        parts.append("m\(blockM)n\(blockN)w\(warps)b\(minBlocksPerMultiprocessor)")
        if mask != .none { parts.append(mask.rawValue) }
        if softcap { parts.append("softcap") }
        if alibi { parts.append("alibi") }
        if dropout { parts.append("dropout") }
        if varlen { parts.append("varlen") }
        if writeLSE { parts.append("lse") }
        if prescaleScores && !(softcap || alibi) { parts.append("prescale") }
        if !vectorized { parts.append("scalar") }
        if earlyKPrefetch { parts.append("kearly") }
        if stagedEpilogue { parts.append("sto") }
        if mainloop == .wgmma { parts.append("wgmma") }
        if mainloop == .tmaWarpSpecialized { parts.append("tmaws\(stages)" + (persistent ? "p" : "") + (dynamicScheduler ? "d" : "") + (qStages == 2 ? "q2" : "") + (emulatedExp2Every > 0 ? "e\(emulatedExp2Every)" : "") + (overlapEpilogue ? "o" : "") + (tmaStoreO ? "so" : "") + (lateTileAddresses ? "lt" : "") + (stageOInQueryBuffer ? "oq" : "") + (skipUnchangedRescale ? "rs" : "") + (stageOInLastStage ? "okv" : "") + (halfDiagonalStep ? "hd" : "") + (narrowDiagonal ? "nd" : "") + (narrowDiagonalValues ? "nv" : "") + (treeRowReductions ? "tr" : "") + (warpgroupStepCount ? "ws1" : "") + (precomputedDescriptors ? "xd" : "") + (earlyRescale ? "er" : "") + (separateValueTurn ? "vt" : "") + (stageOInOwnBuffer ? "ob" : "") + (queryHalves == 2 ? "qh" : queryHalves == 3 ? "qr" : queryHalves == 4 ? "q4" : "") + (foldedProducer ? "fp" : "") + (foldedCopiesInSlack ? "sl" : "") + (valueWaitAfterSoftmax ? "vw" : "") + (sleepingProducerWaits ? "ps" : "") + (exponentialTurn ? "xt" : "") + (leanExponentialTurn ? "xl" : "") + (overlappedExponentialTurn == 1 ? "xo" : overlappedExponentialTurn == 2 ? "xoa" : "") + (skipEmptyWarpgroups ? "ew" : "") + (packedRowSum ? "pr" : "") + (lazyRescale ? "lr" : "") + (speculativeMax ? "sx" : "")) }
        if dependentLaunch { parts.append("pdl") }
        if streamKTail { parts.append("sk") }
        parts.append(architecture.targetName)
        return parts.joined(separator: "_")
    }

    public var description: String { name }
}
