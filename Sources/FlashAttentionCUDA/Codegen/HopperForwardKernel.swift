import FlashAttentionCore

/// Generates the Hopper (sm_90a) warp-specialised forward kernel: TMA loads, an mbarrier
/// pipeline, a producer warp and two ping-ponging consumer warpgroups.
///
/// A pure function of the descriptor, like ``AttentionKernel`` (which calls this for
/// ``KernelMainloop/tmaWarpSpecialized``). One thread block of 384 threads owns a tile of 128
/// query rows (with ``AttentionKernelDescriptor/persistent``, one block per multiprocessor
/// walks the tiles, and the next tile's loads overlap this one's last product and epilogue):
///
/// ```
/// warpgroup 0 (producer, 24 registers): one thread issues TMA copies
///     per tile: wait until its Q buffer is free, Q; then for each key block, last to first: wait
///     until stage s is free, K → stage s, V → stage s (each completing on that stage's "full"
///     mbarrier). With two Q buffers (``AttentionKernelDescriptor/qStages``) the next tile's Q
///     goes out right after this tile's last V copy, a key step or more before this tile's
///     last S product frees the buffer the one-buffer kernel waits for.
/// warpgroups 1 and 2 (consumers, 240 registers), 64 query rows each:
///     S₀ = Q·K₀ᵀ; softmax → P₀
///     for j = 1 …:  [my turn]  S_j = Q·K_jᵀ (async); O = O·α; O += P_{j−1}·V_{j−1} (async)  [your turn]
///                   wait S_j; release K_j; mask; softmax → α, P_j; wait O; release V_{j−1}
///     O = O·α; O += P_last·V_last; O /= l
/// ```
/// With ``AttentionKernelDescriptor/earlyRescale`` the `O = O·α` of each step moves to the end of the
/// step before it (after "wait O"), out of the turn, and the first step has none (O is still zero).
/// With ``AttentionKernelDescriptor/separateValueTurn`` (D = 256, 128-key steps in one K and one V
/// stage) each loop step takes two turns, `[my turn] O += P_{j−1}·V_{j−1} [your turn]`, wait O,
/// release V_{j−1}, `[my turn] S_j = Q·K_jᵀ [your turn]`, so S and P are never live together.
/// With ``AttentionKernelDescriptor/consumerWarpgroups`` = 3 (D = 64) a block has 512 threads and
/// 192 query rows; the consumers have 160 registers each and the turns go round all three.
///
/// The turn-taking ("ping-pong") is a pair of named barriers: a warpgroup issues its two
/// products only after the other has issued its own, so while one warpgroup runs its softmax
/// the tensor cores work on the other's products. Within a warpgroup, the softmax of step j
/// overlaps the P·V product of step j − 1. Every exponential is one `ex2` with the scale
/// folded in (FFMA of the raw score), causal tiles past the diagonal are never loaded, and
/// only tiles that cross a row's last visible key are masked.
///
/// Tiles arrive in shared memory in the 128-byte-swizzled layout `wgmma` reads (64-column
/// blocks of ROWS × 128 B); the copy engine zero-fills rows past the tensor's end, and the
/// mask removes keys past the sequence end, so no tile needs a bounds check.
public struct HopperForwardKernel: Sendable {
    public let descriptor: AttentionKernelDescriptor

    public init(descriptor: AttentionKernelDescriptor) throws {
        guard descriptor.mainloop == .tmaWarpSpecialized else {
            throw FlashAttentionError.unsupported("kernel \(descriptor.name): not a TMA warp-specialised descriptor")
        }
        if let reason = descriptor.invalidReason {
            throw FlashAttentionError.unsupported("kernel \(descriptor.name): \(reason)")
        }
        self.descriptor = descriptor
    }

    /// For ``AttentionKernel``, which has validated the descriptor already.
    init(checked descriptor: AttentionKernelDescriptor) { self.descriptor = descriptor }

    /// Bytes of the three tensor maps in front of ``ForwardParameters`` in the kernel's
    /// parameter struct (Q, K, V; 128 bytes each, 64-byte aligned).
    public static let tensorMapBytes = 3 * 128

    /// The size of the generated `HopperParams` struct: the maps, the forward parameters, the
    /// dynamic scheduler's counter address, padded to the struct's 64-byte alignment.
    public static var parameterStructSize: Int { parameterStructSize(tensorMaps: 3) }

    /// The struct's size with `count` 128-byte maps in front (4: O's after V's, for
    /// ``AttentionKernelDescriptor/tmaStoreO``).
    public static func parameterStructSize(tensorMaps count: Int) -> Int { (count * 128 + ForwardParameters.structSize + 8 + 63) / 64 * 64 }

    /// The bytes of the kernel's one parameter: the encoded maps (Q, K, V, and O's with
    /// ``AttentionKernelDescriptor/tmaStoreO``), then `parameters`, then
    /// `tileCounter` (two zeroed uint32 in device memory; only
    /// ``AttentionKernelDescriptor/dynamicScheduler`` kernels read it, and leave it zero again).
    public static func packedParameters(tensorMaps: [[UInt8]], parameters: ForwardParameters, tileCounter: UInt64 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(parameterStructSize(tensorMaps: tensorMaps.count))
        for map in tensorMaps { bytes += map + [UInt8](repeating: 0, count: max(0, 128 - map.count)) }
        bytes += parameters.packed()
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: tileCounter >> (8 * UInt64(i)))) }
        while bytes.count < parameterStructSize(tensorMaps: tensorMaps.count) { bytes.append(0) }
        return bytes
    }

    public var source: String {
        let d = descriptor
        let input = d.elementType == .bfloat16 ? "bf16" : "f16"
        let helpers = AttentionKernel(unchecked: d).elementHelpers
        return [
            "// FlashAttention forward (Hopper, TMA, warp-specialised): \(d.name)",
            "// Generated by swift-flash-attention from its kernel descriptor; do not edit.",
            DevicePrelude.source(elementType: input),
            ForwardParameters.cDeclaration(),
            constants,
            helpers,
            asyncHelpers,
            wgmmaWrappers,
            kernel,
        ].joined(separator: "\n\n") + "\n"
    }

    private var constants: String {
        let d = descriptor
        func flag(_ b: Bool) -> String { b ? "true" : "false" }
        return """
        constexpr int HEAD_DIM = \(d.headDim);      // tile head dim (problem D ≤ this; the copy engine zero-fills the rest)
        constexpr int BLOCK_M = \(d.blockM);        // query rows per thread block (\(d.consumerWarpgroups) consumer warpgroups × 64)
        constexpr int BLOCK_N = \(d.blockN);        // keys per main-loop step
        constexpr int STAGES = \(d.stages);         // K/V pipeline depth
        constexpr int EXP2_EMU = \(d.emulatedExp2Every);    // every EXP2_EMU-th n8 tile of S exponentiates on the FMA pipe (0: none)
        constexpr bool OVERLAP = \(flag(d.overlapEpilogue));  // a tile's last P·V runs under the next tile's head and first S issue
        constexpr int Q_STAGES = \(d.qStages);      // Q buffers (2: the next tile's Q loads under this tile's last steps)\(qh ? halvesConstants : "")
        constexpr int THREADS = \(d.threads);
        constexpr int CONSUMER_THREADS = \(d.consumerWarpgroups * 128);
        constexpr int N_TILES = BLOCK_N / 8;        // n8 column tiles of S per warp
        constexpr int D_TILES = HEAD_DIM / 8;       // n8 column tiles of O per warp
        constexpr int D_BLOCKS = HEAD_DIM / 64;     // 64-column (128-byte) swizzle blocks per row
        constexpr unsigned Q_BYTES = BLOCK_M * HEAD_DIM * 2;
        constexpr unsigned KV_BYTES = BLOCK_N * HEAD_DIM * 2;
        constexpr bool CAUSAL = \(flag(d.mask == .causal));
        constexpr bool VARLEN = \(flag(d.varlen));
        constexpr bool WRITE_LSE = \(flag(d.writeLSE));
        constexpr bool PERSISTENT = \(flag(d.persistent));  // one block per SM walks tiles blockIdx.x, + gridDim.x, …
        constexpr bool DYNAMIC = \(flag(d.dynamicScheduler));  // … or takes the next tile from a device counter
        // Dynamic order: (batch, head) pairs in sections whose K and V fit this much of the L2
        // (50 MB on the H100, split in two halves), heaviest row blocks first within a section.
        constexpr long long SCHED_L2_BYTES = 16ll << 20;
        constexpr float LN2 = 0.6931471805599453f;
        constexpr int BAR_TURN = 1;                 // named barriers \(threeConsumers ? "1, 2 and 3" : "1 and 2"): consumer warpgroup turns (0 is __syncthreads)
        \(threeConsumers ? turnConstants : "")\(d.tmaStoreO ? storeConstants : "")static_assert(HEAD_DIM % 64 == 0 && BLOCK_N % 16 == 0 && BLOCK_M == \(64 * d.consumerWarpgroups), "tile shape");
        static_assert(!DYNAMIC || PERSISTENT, "the dynamic scheduler runs the persistent grid");
        FA_DEVICE int imin(int a, int b) { return a < b ? a : b; }
        FA_DEVICE int imax(int a, int b) { return a > b ? a : b; }

        // The copy engine's descriptors, then the forward parameters, in one __grid_constant__
        // struct: the maps are read in place in parameter space (their generic address).
        struct __align__(64) TensorMap { u64 w[16]; };
        struct __align__(64) HopperParams { TensorMap tm_q; TensorMap tm_k; TensorMap tm_v;\(d.tmaStoreO ? " TensorMap tm_o;" : "") FlashParams p; u64 tile_counter; };
        static_assert(sizeof(HopperParams) == \(Self.parameterStructSize(tensorMaps: d.tmaStoreO ? 4 : 3)), "parameter layout drifted from the Swift packing");
        """
    }

    /// ``AttentionKernelDescriptor/sleepingProducerWaits``: the producer's parity wait with a suspend-time hint
    /// (10 ms, cuDNN's), which ptxas turns into a try-wait whose retry sleeps on the barrier (`NANOSLEEP.SYNCS`,
    /// woken by the phase change) instead of the `YIELD` / `TRYWAIT` / `BRA` spin of ``HopperAsyncPrelude``'s
    /// `mbar_wait`; nothing in the other forms (their sources stay byte-identical).
    private var sleepingWaitHelper: String {
        guard descriptor.sleepingProducerWaits else { return "" }
        return """
        // The producer's wait: try-waits with a suspend-time hint sleep on the barrier until its phase completes
        // (or the hint's 10 ms pass) instead of spinning (1.8 M retries at causal D = 64 N = 512; cuDNN's form).
        FA_DEVICE void mbar_wait_sleep(u32 bar, u32 parity) {
            u32 done;
            do {
                asm volatile("{\\n.reg .pred p;\\nmbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2, %3;\\nselp.u32 %0, 1, 0, p;\\n}\\n"
                             : "=r"(done) : "r"(bar), "r"(parity), "r"(10000000u) : "memory");
            } while (!done);
        }

        """
    }

    /// The producer's wait for a free stage or Q buffer: `mbar_wait`, or `mbar_wait_sleep` with
    /// ``AttentionKernelDescriptor/sleepingProducerWaits``.
    private var producerWaitCall: String { descriptor.sleepingProducerWaits ? "mbar_wait_sleep" : "mbar_wait" }

    /// The shared sm_90 helpers, plus the scheduler's shared-memory slot accessors and the
    /// consumers' named-barrier arrival.
    private var asyncHelpers: String {
        HopperAsyncPrelude.source + "\n" + sleepingWaitHelper + """
        FA_DEVICE void st_shared_s32(u32 addr, int v) { asm volatile("st.shared.s32 [%0], %1;\\n" :: "r"(addr), "r"(v) : "memory"); }
        FA_DEVICE int ld_shared_s32(u32 addr) { int v; asm volatile("ld.shared.s32 %0, [%1];\\n" : "=r"(v) : "r"(addr) : "memory"); return v; }
        FA_DEVICE void named_arrive(int id, int count) { asm volatile("bar.arrive %0, %1;\\n" :: "r"(id), "r"(count) : "memory"); }
        // 2^x without the MUFU: x = k + f with k = round(x) (the 1.5·2²³ shift leaves k in t's low
        // mantissa bits) and |f| ≤ ½; 2^f by a degree-3 polynomial (relative error ≤ 1.1e-4, under
        // half an fp16 ulp of P); k added to the exponent field. x < −126 (masked keys: −∞) gives 0.
        FA_DEVICE float exp2_fma(float x) {
            const float t = __fadd_rn(x, 12582912.0f);
            const float f = __fsub_rn(x, __fsub_rn(t, 12582912.0f));
            const float p = fmaf(fmaf(fmaf(0.0550083665f, f, 0.242209848f), f, 0.693282866f), f, 1.0f);
            const float r = __uint_as_float(__float_as_uint(p) + (__float_as_uint(t) << 23));
            return x >= -126.0f ? r : 0.0f;
        }
        """ + (descriptor.tmaStoreO ? "\n" + storeHelpers : "")
    }

    /// Three consumer warpgroups (192-row tiles, ``AttentionKernelDescriptor/consumerWarpgroups``).
    private var threeConsumers: Bool { descriptor.consumerWarpgroups == 3 }

    /// Threads a turn barrier counts: with two consumer warpgroups every consumer thread (the
    /// text the two-warpgroup kernels have always had); with three, the warpgroup taking its
    /// turn and the one handing it over.
    private var turnThreads: String { threeConsumers ? "TURN_THREADS" : "CONSUMER_THREADS" }

    /// The warpgroup whose turn follows `wg`'s.
    private var nextWarpgroup: String { threeConsumers ? "(wg == 2 ? 0 : wg + 1)" : "(1 - wg)" }

    /// The consumers' register budget after `setmaxnreg`: 240 beside one 24-register producer
    /// warpgroup with two consumer warpgroups (24·128 + 240·256 ≤ 64 K), 160 with three
    /// (24·128 + 160·384 ≤ 64 K).
    static func consumerRegisters(_ d: AttentionKernelDescriptor) -> Int { d.consumerWarpgroups == 3 ? 160 : 240 }

    /// Three consumer warpgroups only: a turn barrier is one warpgroup's sync and the previous one's arrival.
    private var turnConstants: String {
        """
        constexpr int TURN_THREADS = 256;           // a turn barrier: the warpgroup taking its turn and the one handing it over

        """
    }

    /// Constants of the TMA store of O (``AttentionKernelDescriptor/tmaStoreO`` only).
    private var storeConstants: String {
        """
        constexpr unsigned O_BYTES = BLOCK_M * HEAD_DIM * 2;  // O staging tile of the bulk tensor store
        constexpr int BAR_STORE = \(1 + descriptor.consumerWarpgroups);                // named barriers \(threeConsumers ? "4, 5 and 6" : "3 and 4"): a consumer warpgroup's staging of O
        \(okv ? okvConstants : "")
        """
    }

    /// The shared-memory → global half of the copy engine, for the TMA store of O
    /// (``AttentionKernelDescriptor/tmaStoreO`` only).
    private var storeHelpers: String {
        """
        // Four 8×8 tiles of 16-bit values, one 32-bit register of each per thread (the mma
        // accumulator layout), to the row addresses lanes 0–7, 8–15, 16–23, 24–31 give.
        FA_DEVICE void stmatrix_x4(u32 addr, u32 r0, u32 r1, u32 r2, u32 r3) {
            asm volatile("stmatrix.sync.aligned.m8n8.x4.shared.b16 [%0], {%1, %2, %3, %4};\\n" :: "r"(addr), "r"(r0), "r"(r1), "r"(r2), "r"(r3) : "memory");
        }
        // Ordinary shared-memory writes made visible to the copy engine (each writing thread, before the barrier).
        FA_DEVICE void fence_proxy_async_shared() { asm volatile("fence.proxy.async.shared::cta;\\n" ::: "memory"); }
        // A box of shared memory → a 4-D map's tile (rows and columns past the tensor's end are not written).
        FA_DEVICE void tma_store(const TensorMap* map, u32 src, int c0, int c1, int c2, int c3) {
            asm volatile("cp.async.bulk.tensor.4d.global.shared::cta.bulk_group [%0, {%2, %3, %4, %5}], [%1];\\n"
                         :: "l"((u64)map), "r"(src), "r"(c0), "r"(c1), "r"(c2), "r"(c3) : "memory");
        }
        FA_DEVICE void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\\n" ::: "memory"); }
        // This thread's committed stores have read their shared memory (it may be written again).
        FA_DEVICE void bulk_wait_read0() { asm volatile("cp.async.bulk.wait_group.read 0;\\n" ::: "memory"); }
        // This thread's committed stores have completed.
        FA_DEVICE void bulk_wait0() { asm volatile("cp.async.bulk.wait_group 0;\\n" ::: "memory"); }
        """
    }

    /// The dynamic scheduler's tile index `tile` → `<prefix>m_block`, `<prefix>head`, `<prefix>batch`:
    /// sections of (batch, head) pairs sized to the L2, row blocks heaviest first. Lines after the
    /// first are indented by `indent` spaces.
    private static func sectionTileDecode(tile: String, prefix n: String, indent: Int) -> String {
        [
            "const int \(n)sched_pairs = p.heads * p.batch;",
            "const int \(n)sched_sect = imax(1, imin(\(n)sched_pairs, (int)(SCHED_L2_BYTES / ((long long)imax(p.seqlen_k, 1) * HEAD_DIM * 4))));",
            "const int \(n)sched_per_sect = \(n)sched_sect * m_blocks;",
            "const int \(n)sect_idx = \(tile) / \(n)sched_per_sect, \(n)within = \(tile) - \(n)sect_idx * \(n)sched_per_sect;",
            "const int \(n)sect_pairs = imin(\(n)sched_sect, \(n)sched_pairs - \(n)sect_idx * \(n)sched_sect);",
            "const int \(n)m_block = m_blocks - 1 - \(n)within / \(n)sect_pairs;",
            "const int \(n)pair = \(n)sect_idx * \(n)sched_sect + \(n)within % \(n)sect_pairs;",
            "const int \(n)head = \(n)pair % p.heads;",
            "const int \(n)batch = \(n)pair / p.heads;",
        ].joined(separator: "\n" + String(repeating: " ", count: indent))
    }

    /// The two wgmma wrappers, every accumulator register named (and with precomputed descriptors
    /// their forms taking descriptor low words).
    private var wgmmaWrappers: String {
        let d = descriptor
        let t = d.elementType == .bfloat16 ? "bf16" : "f16"
        func operands(_ array: String, tiles: Int) -> String { WGMMAText.accumulators(array, tiles: tiles) }
        let registers = WGMMAText.registers
        let o = d.headDim / 2
        // ``AttentionKernelDescriptor/precomputedDescriptors``: the low word of a descriptor and the
        // two products taking each descriptor as a low word plus the constant high word, assembled by
        // `mov.b64` inside the product's asm (so an offset is a 32-bit add ptxas can keep on the
        // uniform datapath).
        let precomputed = """
        // A descriptor's low word: (shared address >> 4) in bits 0–13 (addresses stay below 228 KB),
        // the leading byte offset >> 4 in bits 16–29. A 16-byte-aligned offset adds to it without a
        // carry out of the address field: desc(addr + off) = desc(addr) + off / 16.
        FA_DEVICE u32 desc_lo(u32 addr, u32 leading_bytes) { return (addr >> 4) | ((leading_bytes >> 4) << 16); }
        // The high word, the same for Q, K and V: stride 1024 B (8 rows of 128 B), 128-byte swizzle.
        constexpr u32 DESC_HI = (1024u >> 4) | (1u << 30);
        \(qkWrapper(precomputed: true, fresh: false))
        FA_DEVICE void wgmma_pv_d(float (&acc_o)[D_TILES][4], const u32 (&a)[4], u32 b_lo, u32 hi) {
            asm volatile("{\\n.reg .pred p;\\n.reg .b64 db;\\nsetp.ne.b32 p, %\(o + 6), 0;\\n"
                         "mov.b64 db, {%\(o + 4), %\(o + 5)};\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(d.headDim)k16.f32.\(t).\(t) {\(registers(o))}, {%\(o), %\(o + 1), %\(o + 2), %\(o + 3)}, db, p, 1, 1, 1;\\n}\\n"
                         : \(operands("acc_o", tiles: d.headDim / 8))
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b_lo), "r"(hi), "r"(1));
        }
        """
        return """
        // S(64×\(d.blockN)) = Q·Kᵀ (+ S if accumulate): both from shared-memory descriptors, K-major.
        \(qkWrapper(precomputed: false, fresh: false))
        // O(64×\(d.headDim)) += P·V: P from registers, V from shared memory, MN-major (transposed).
        FA_DEVICE void wgmma_pv(float (&acc_o)[D_TILES][4], const u32 (&a)[4], u64 db) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(o + 5), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(d.headDim)k16.f32.\(t).\(t) {\(registers(o))}, {%\(o), %\(o + 1), %\(o + 2), %\(o + 3)}, %\(o + 4), p, 1, 1, 1;\\n}\\n"
                         : \(operands("acc_o", tiles: d.headDim / 8))
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
        }\(xd ? "\n" + precomputed : "")\(vt ? "\n" + freshWrapper : "")\(nd ? "\n" + narrowWrapper : "")
        """
    }

    /// ``AttentionKernelDescriptor/narrowDiagonal``.
    private var nd: Bool { descriptor.narrowDiagonal }

    /// Narrow diagonal products: S over the first blockN / 2 keys (m64n(blockN/2)k16), its
    /// accumulators the first half of S's n8 tiles; the upper half is neither read nor written.
    private var narrowWrapper: String {
        "// S over the first half of the step's keys (the diagonal step of a warpgroup that sees no more): S's first n8 tiles only.\n"
            + qkWrapper(precomputed: xd, fresh: false, narrow: true)
    }

    /// ``AttentionKernelDescriptor/separateValueTurn``.
    private var vt: Bool { descriptor.separateValueTurn }

    /// ``AttentionKernelDescriptor/queryHalves``: Q in per-warpgroup 64-row halves.
    private var qh: Bool { descriptor.queryHalves > 0 }

    /// Rows between Q's 64-column blocks in shared memory: the tile's, or a half's 64.
    private var qRows: String { qh ? "64" : "BLOCK_M" }

    /// The Q buffers' count in the layout: Q tiles, or 64-row halves.
    private var qBuffers: String { qh ? "Q_HALVES" : "Q_STAGES" }

    /// Q in halves: the half buffers' constants (after the Q_STAGES line).
    private var halvesConstants: String {
        "\nconstexpr int Q_HALVES = \(descriptor.queryHalves);      // Q in per-warpgroup 64-row halves, one full / free barrier pair each (\(descriptor.queryHalves == 2 ? "half w is warpgroup w's" : descriptor.queryHalves == 3 ? "rotating: fill f in half f mod 3" : "two stages: fill f in half f mod 4, warpgroup 0's in 0 / 2, warpgroup 1's in 1 / 3"))"
            + "\nconstexpr unsigned Q_HALF_BYTES = 64 * HEAD_DIM * 2;"
    }

    /// Q in halves: this tile's half of a consumer warpgroup (fill 2·q_iter + wg) waited for, `qb` its index
    /// (lines after the first indented by `indent`).
    private func halfWait(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "// This warpgroup's half of the tile's Q: fill 2·q_iter + wg of the Q_HALVES half buffers.\n"
            + pad + "qb = (2 * q_iter + wg) % Q_HALVES;\n"
            + pad + "mbar_wait(bar_q + 8 * qb, ((2 * q_iter + wg) / Q_HALVES) & 1);\n"
            + pad + "++q_iter;"
    }

    /// Q in halves, the producer: warpgroup 0's half of the tile (fill 2·q_iter) waited free, `qb` its index
    /// (lines after the first indented by `indent`).
    private func producerHalfWait(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "// Warpgroup 0's half of the tile (fill 2·q_iter) free; warpgroup 1's (fill 2·q_iter + 1) follows the tile's first K.\n"
            + pad + "qb = (2 * q_iter) % Q_HALVES;\n"
            + pad + "\(producerWaitCall)(bar_q_free + 8 * qb, (((2 * q_iter) / Q_HALVES) & 1) ^ 1);\n"
            + pad + "++q_iter;"
    }

    /// Q in halves, the producer: warpgroup 1's half of the tile (fill 2·q_iter − 1, q_iter already
    /// counted), once free: `body` with its index `qb1` (one line).
    private func secondHalf(_ body: String) -> String {
        "{ const int qf1 = 2 * q_iter - 1, qb1 = qf1 % Q_HALVES; \(producerWaitCall)(bar_q_free + 8 * qb1, ((qf1 / Q_HALVES) & 1) ^ 1); " + body + " }"
    }

    /// Q in halves, the producer: warpgroup 1's slot written with this tile (dynamic scheduler only).
    private var secondSlot: String {
        "if (DYNAMIC) { const u32 slot1 = sched_slot + 16 * qb1; st_shared_s32(slot1, m_block); st_shared_s32(slot1 + 4, head); st_shared_s32(slot1 + 8, batch); }"
    }

    /// Q in halves, the producer: a tile without keys (or past its sequence) publishes warpgroup 1's half too.
    private var secondSkip: String { secondHalf(secondSlot + " mbar_arrive(bar_q + 8 * qb1);") }

    /// The producer's Q of a tile (one buffer of BLOCK_M rows), after its wait for the buffer outside the dynamic scheduler.
    private var producerQLoad: String {
        """
        if (!DYNAMIC) {
                            // The buffer's last Q is no longer read once both consumers release it.
                            qb = q_iter % Q_STAGES;
                            \(producerWaitCall)(bar_q_free + 8 * qb, ((q_iter / Q_STAGES) & 1) ^ 1);
                            ++q_iter;
                        }
                        mbar_expect_tx(bar_q + 8 * qb, Q_BYTES);
                        #pragma unroll
                        for (int db = 0; db < D_BLOCKS; ++db) tma_load(sQ + qb * Q_BYTES + db * BLOCK_M * 128, &hp.tm_q, bar_q + 8 * qb, db * 64, q_row, head, t_batch);
        """
    }

    /// Q in halves, the producer: warpgroup 0's half of the tile (rows 0–63), 64-row boxes.
    private var producerHalfLoad: String {
        """
        if (!DYNAMIC) {
                            \(producerHalfWait(indent: 20))
                        }
                        mbar_expect_tx(bar_q + 8 * qb, Q_HALF_BYTES);
                        #pragma unroll
                        for (int db = 0; db < D_BLOCKS; ++db) tma_load(sQ + qb * Q_HALF_BYTES + db * 64 * 128, &hp.tm_q, bar_q + 8 * qb, db * 64, q_row, head, t_batch);
        """
    }

    /// Q in halves, the producer: warpgroup 1's half of the tile (rows 64–127) after the tile's first K copy
    /// (warpgroup 1 needs it for its first S, after warpgroup 0's; V only after a softmax).
    private var producerSecondLoad: String {
        let pad = String(repeating: " ", count: 20)
        return "\n" + pad + "// Warpgroup 1's half of the tile, after the first K (its first S follows warpgroup 0's).\n"
            + pad + "if (it == 0) " + secondHalf(secondSlot + "\n" + pad + "    mbar_expect_tx(bar_q + 8 * qb1, Q_HALF_BYTES);\n"
                + pad + "    #pragma unroll\n"
                + pad + "    for (int db = 0; db < D_BLOCKS; ++db) tma_load(sQ + qb1 * Q_HALF_BYTES + db * 64 * 128, &hp.tm_q, bar_q + 8 * qb1, db * 64, q_row + 64, head, t_batch);\n" + String(repeating: " ", count: 19))
    }

    /// The consumers' Q operand base for the tile: this warpgroup's rows of the Q buffer, or its half.
    private var qLine: String {
        if qh {
            return xd ? "q_lo = __shfl_sync(0xffffffffu, desc_lo(sQ + qb * Q_HALF_BYTES, 16), 0);  // this warpgroup's Q half (lane 0's: warp-uniform)"
                : "q_base = sQ + qb * Q_HALF_BYTES;  // this warpgroup's Q half"
        }
        return xd ? "q_lo = __shfl_sync(0xffffffffu, desc_lo(sQ + qb * Q_BYTES + wg * 64 * 128, 16), 0);  // this warpgroup's rows of the tile's Q buffer (lane 0's: warp-uniform)" : "q_base = sQ + qb * Q_BYTES + wg * 64 * 128;"
    }

    /// The S = Q·Kᵀ wrapper (m64n<blockN>k16, both operands K-major descriptors), every accumulator
    /// register named: with `precomputed` (``AttentionKernelDescriptor/precomputedDescriptors``) taking
    /// descriptor low words and the constant high word, assembled by `mov.b64` inside the asm; with
    /// `fresh` (``AttentionKernelDescriptor/separateValueTurn``'s first k step) writing its accumulators
    /// without reading them (`"=f"`, scale-d false), so S's last values (the packed P) are dead before it.
    private func qkWrapper(precomputed: Bool, fresh: Bool, narrow: Bool = false) -> String {
        let d = descriptor
        let t = d.elementType == .bfloat16 ? "bf16" : "f16"
        // `narrow` (``AttentionKernelDescriptor/narrowDiagonal``): half the keys, half the n8 tiles.
        let keys = narrow ? d.blockN / 2 : d.blockN
        let n = keys / 2
        let operands = fresh
            ? (0..<(keys / 8)).flatMap { nt in (0..<4).map { "\"=f\"(s[\(nt)][\($0)])" } }.joined(separator: ", ")
            : WGMMAText.accumulators("s", tiles: keys / 8)
        let mma = "wgmma.mma_async.sync.aligned.m64n\(keys)k16.f32.\(t).\(t) {\(WGMMAText.registers(n))}"
        let name = "wgmma_qk" + (narrow ? "_n" : "") + (fresh ? "_first" : "") + (precomputed ? "_d" : "")
        let flag = fresh ? "" : ", int accumulate", accumulate = fresh ? "0" : "accumulate"
        return precomputed
            ? """
            FA_DEVICE void \(name)(float (&s)[N_TILES][4], u32 a_lo, u32 b_lo, u32 hi\(flag)) {
                asm volatile("{\\n.reg .pred p;\\n.reg .b64 da, db;\\nsetp.ne.b32 p, %\(n + 3), 0;\\n"
                             "mov.b64 da, {%\(n), %\(n + 2)};\\nmov.b64 db, {%\(n + 1), %\(n + 2)};\\n"
                             "\(mma), da, db, p, 1, 1, 0, 0;\\n}\\n"
                             : \(operands)
                             : "r"(a_lo), "r"(b_lo), "r"(hi), "r"(\(accumulate)));
            }
            """
            : """
            FA_DEVICE void \(name)(float (&s)[N_TILES][4], u64 da, u64 db\(flag)) {
                asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(n + 2), 0;\\n"
                             "\(mma), %\(n), %\(n + 1), p, 1, 1, 0, 0;\\n}\\n"
                             : \(operands)
                             : "l"(da), "l"(db), "r"(\(accumulate)));
            }
            """
    }

    /// P·V and S in separate turns: S's first k step as a product that only writes its accumulators.
    private var freshWrapper: String {
        "// S = Q·Kᵀ's first k step: only writes its registers (\"=f\": S's last values, the packed P, are dead before it).\n"
            + qkWrapper(precomputed: xd, fresh: true)
    }

    /// P·V and S in separate turns: S issued and committed, its first k step through the `"=f"` product.
    private var freshIssue: String {
        let pad = String(repeating: " ", count: 8)
        let base = xd ? "const u32 k_lo = __shfl_sync(0xffffffffu, k_lo0 + stage * (KV_BYTES >> 4), 0);" : "const u32 k_base = sK + stage * KV_BYTES;"
        let products = xd
            ? ["if (ks == 0) wgmma_qk_first_d(s, q_lo + off_q, k_lo + off_k, DESC_HI);",
               "else wgmma_qk_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, 1);"]
            : ["const u64 da = smem_desc(q_base + block * \(qRows) * 128 + within, 16, 1024), db = smem_desc(k_base + block * BLOCK_N * 128 + within, 16, 1024);",
               "if (ks == 0) wgmma_qk_first(s, da, db);",
               "else wgmma_qk(s, da, db, 1);"]
        return "\n" + pad + "// S = Q·K_stageᵀ, issued (not waited for); its first k step writes S without reading it.\n"
            + pad + "auto issue_qk_fresh = [&](int stage) {\n" + pad + base + "\n" + pad + scoreLoop(indent: 8, body: products) + "\n"
            + pad + "    wgmma_commit();\n" + pad + "};"
    }

    /// S's k loop (HEAD_DIM / 16 k16 steps): each step's operand offsets (descriptor low-word offsets
    /// `off_q` / `off_k` with ``AttentionKernelDescriptor/precomputedDescriptors``, else the byte offsets
    /// `block` / `within`), then `body`, the step's product lines. The first line carries no
    /// indentation, the rest `indent` spaces (the loop) and four more (its body).
    private func scoreLoop(indent: Int, body: [String]) -> String {
        let pad = String(repeating: " ", count: indent), inner = pad + "    "
        let offsets = xd
            ? "const u32 off_q = ((ks >> 2) * \(qRows) * 128 + (ks & 3) * 32) >> 4, off_k = ((ks >> 2) * BLOCK_N * 128 + (ks & 3) * 32) >> 4;"
            : "const u32 block = ks >> 2, within = (ks & 3) * 32;"
        return "#pragma unroll\n" + pad + "for (int ks = 0; ks < HEAD_DIM / 16; ++ks) {\n" + ([offsets] + body).map { inner + $0 + "\n" }.joined() + pad + "}"
    }

    /// The tile loop's head, the same text in the producer and the consumers so both walk
    /// the same tiles: decodes a tile into its rows, head and batch and skips it when empty.
    ///
    /// With the dynamic scheduler the producer takes each tile index from the device counter,
    /// decodes it and publishes (row block, head, batch) in shared memory with the tile's Q (the
    /// "Q full" barrier; a plain arrival for a tile without keys, and row block −1 for the end);
    /// the consumers read it there after that barrier, so both roles still walk the same tiles.
    /// The producer rewrites the slot only after "Q free", which every consumer thread passes
    /// after reading it.
    private func tileLoop(producer: Bool) -> String {
        if descriptor.dynamicScheduler {
            // The producer decodes the tile and publishes (m_block, head, batch); the consumers
            // only read them (no scheduler arithmetic in their registers).
            let take = """
            // The next index is taken once this tile's copies are queued: its latency hides behind
            // the producer's waits for free stages, and no register holds it across the copies.
            for (int tile = (int)blockIdx.x;; tile = (int)gridDim.x + (int)atomicAdd((unsigned int*)hp.tile_counter, 1u)) {
            """
            let producerWait = qh ? producerHalfWait(indent: 12) : """
            // Publish the tile (or the end) once both consumers are done with this Q buffer's last tile.
                        qb = q_iter % Q_STAGES;
                        \(producerWaitCall)(bar_q_free + 8 * qb, ((q_iter / Q_STAGES) & 1) ^ 1);
                        ++q_iter;
            """
            let consumerWait = qh ? halfWait(indent: 12) : """
            qb = q_iter % Q_STAGES;
                        mbar_wait(bar_q + 8 * qb, (q_iter / Q_STAGES) & 1);
                        ++q_iter;
            """
            // Q in halves: the end is published in warpgroup 1's half as well.
            let endSecond = qh ? " " + secondHalf("st_shared_s32(sched_slot + 16 * qb1, -1); mbar_arrive(bar_q + 8 * qb1);") : ""
            let head = producer ? take + "\n" + """
                        \(producerWait)
                        const u32 slot = sched_slot + 16 * qb;
                        if (tile >= total_tiles) { st_shared_s32(slot, -1); mbar_arrive(bar_q + 8 * qb);\(endSecond) break; }
                        // Sections of (batch, head) pairs sized to the L2, row blocks heaviest first.
                        \(Self.sectionTileDecode(tile: "tile", prefix: "", indent: 12))
                        st_shared_s32(slot, m_block); st_shared_s32(slot + 4, head); st_shared_s32(slot + 8, batch);
            """ : """
            for (;;) {
                        \(consumerWait)
                        const u32 slot = sched_slot + 16 * qb;
                        const int m_block = ld_shared_s32(slot);
                        if (m_block < 0) break;
                        const int head = ld_shared_s32(slot + 4), batch = ld_shared_s32(slot + 8);
            """
            return head + tileDecodeTail(skip: producer ? "{ mbar_arrive(bar_q + 8 * qb); \(qh ? secondSkip + " " : "")continue; }" : "{ mbar_arrive(bar_q_free + 8 * qb); continue; }")
        }
        return """
        for (int tile = PERSISTENT ? (int)blockIdx.x : 0; tile < (PERSISTENT ? total_tiles : 1); tile += PERSISTENT ? (int)gridDim.x : 1) {
                    // Heaviest row blocks (most keys under a causal mask) first; in the persistent
                    // grid, consecutive tiles share a head so its K/V stay in L2.
                    const int m_block = PERSISTENT ? m_blocks - 1 - tile % m_blocks : (int)(gridDim.x - 1 - blockIdx.x);
                    const int head = PERSISTENT ? (tile / m_blocks) % p.heads : (int)blockIdx.y;
                    const int batch = PERSISTENT ? tile / (m_blocks * p.heads) : (int)blockIdx.z + p.batch_offset;
        """ + tileDecodeTail(skip: "continue;")
    }

    /// `skip` leaves a tile past its sequence's end (varlen): the dynamic scheduler's roles
    /// still complete the tile's barrier phases.
    private func tileDecodeTail(skip: String) -> String {
        """

                    int q_start = 0, k_start = 0, seqlen_q = p.seqlen_q, seqlen_k = p.seqlen_k;
                    if (VARLEN) {
                        const int* cu_q = (const int*)p.cu_seqlens_q;
                        const int* cu_k = (const int*)p.cu_seqlens_k;
                        q_start = cu_q[batch]; seqlen_q = cu_q[batch + 1] - q_start;
                        k_start = cu_k[batch]; seqlen_k = cu_k[batch + 1] - k_start;
                    }
                    const int m0 = m_block * BLOCK_M;
                    if (m0 >= seqlen_q) \(skip)
                    const int rows_here = imin(BLOCK_M, seqlen_q - m0);
                    const int kv_head = head / p.group_size;
                    const int diag = seqlen_k - seqlen_q;  // query i's diagonal is key i + diag (bottom-right)
                    // Keys [0, block_hi) are seen by some row of the block (causal: the last row's edge).
                    const int block_hi = CAUSAL ? imin(seqlen_k, m0 + rows_here - 1 + diag + 1) : seqlen_k;
                    const int n_blocks = block_hi > 0 ? (block_hi + BLOCK_N - 1) / BLOCK_N : 0;
                    // Dense tensors: row coordinate within the sequence, batch coordinate b. Varlen
                    // tensors are one batch of all tokens: the row coordinate is the token.
                    const int q_row = (VARLEN ? q_start : 0) + m0, k_row0 = VARLEN ? k_start : 0;
                    const int t_batch = VARLEN ? 0 : batch;
                    (void)q_row; (void)k_row0; (void)t_batch; (void)kv_head;
        """
    }

    /// The consumers' epilogue through the TMA store of O (``AttentionKernelDescriptor/tmaStoreO``):
    /// O / l in the output type, staged by `stmatrix` into this warpgroup's 64 rows of the
    /// staging tile in the 128-byte-swizzled layout the copy engine reads (the 16-byte chunk c of
    /// row r at chunk c ^ (r mod 8)), then one bulk tensor store per 64-column block issued by
    /// the warpgroup's first thread. That thread waits for its previous store to have read the
    /// rows (a tile ago) before the warpgroup writes them again. LSE is written directly.
    private var storeEpilogue: String {
        """

                // MARK: epilogue through the TMA store of O
                const bool store_issuer = (ctid & 127) == 0;   // one thread per warpgroup issues its stores
                \(oq ? "// O is staged in this warpgroup's 64 rows of the tile's Q buffer (free once its last S product is done)" : ob ? "// O is staged in warpgroup 0's own 64 rows (sO) or the last key step's V stage (warpgroup 1, held until the store has read it)" : okv ? "// O is staged in the last key step's K stage (warpgroup 0) or V stage (warpgroup 1), held until the store has read it" : "const u32 o_stage = sO + wg * 64 * 128;        // this warpgroup's 64 rows of each 64-column block")
                auto store_epilogue = [&](out_t* o_tile, float* lse_tile, int rows_here, int o_row, int o_head, int o_batch) {
                    // A varlen box past the sequence's end would write the next sequence's rows.
                    if (VARLEN && wg * 64 + 64 > rows_here) { \(okvFallbackHead)epilogue(o_tile, lse_tile, rows_here); \(oq ? "mbar_arrive(bar_q_free + 8 * qb); " : okvFallbackTail)return; }
                    float inv[2];
                    #pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        const float l = warp_sum4(row_sum[r]);
                        inv[r] = l > 0.0f ? 1.0f / l : 0.0f;
                        const int row = row_in_block + 8 * r;
                        if (WRITE_LSE && tig == 0 && row < rows_here)
                            lse_tile[(i64)row * p.lse_row_stride] = l > 0.0f ? (row_max[r] * scale_log2 + fast_log2(l)) * LN2 : FA_INF;
                    }
                    \(oq ? oqStageHead : ob ? obStageHead : okv ? okvStageHead : "// The previous tile's store has read the staging rows.\n            if (store_issuer) bulk_wait_read0();\n            ")named_sync(BAR_STORE + wg, 128);
                    // stmatrix x4: matrices (rows +0, n8 tile dt), (+8, dt), (+0, dt + 1), (+8, dt + 1); lane l
                    // gives row (l mod 8) of matrix l / 8.
                    const int mat = lane >> 3, mrow = lane & 7;
                    const u32 row_addr = o_stage + ((warp & 3) * 16 + 8 * (mat & 1) + mrow) * 128;
                    #pragma unroll
                    for (int dt = 0; dt < D_TILES; dt += 2) {
                        const u32 addr = row_addr + (dt >> 3) * \(oBlockStride) + ((((dt & 7) + (mat >> 1)) ^ mrow) << 4);
                        stmatrix_x4(addr, pack_input2(acc_o[dt][0] * inv[0], acc_o[dt][1] * inv[0]),
                                    pack_input2(acc_o[dt][2] * inv[1], acc_o[dt][3] * inv[1]),
                                    pack_input2(acc_o[dt + 1][0] * inv[0], acc_o[dt + 1][1] * inv[0]),
                                    pack_input2(acc_o[dt + 1][2] * inv[1], acc_o[dt + 1][3] * inv[1]));
                    }
                    fence_proxy_async_shared();
                    named_sync(BAR_STORE + wg, 128);
                    if (store_issuer && wg * 64 < rows_here) {
                        #pragma unroll
                        for (int db = 0; db < D_BLOCKS; ++db) tma_store(&hp.tm_o, o_stage + db * \(oBlockStride), db * 64, o_row + wg * 64, o_head, o_batch);
                        bulk_commit();
                    }\(oq ? oqStageTail : ob ? obStageTail : okv ? okvStageTail : "")
                };
        """
    }

    /// The O rescale of a step: every step, or (``AttentionKernelDescriptor/skipUnchangedRescale``)
    /// only in a warp where some row's maximum moved (α = 1 exactly otherwise). The vote is
    /// warp-uniform; the wgmma products around it are warpgroup-wide and reconverge after it.
    private var rescale: String {
        guard descriptor.skipUnchangedRescale else { return "rescale_o();" }
        return "if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) rescale_o();  // α = 1 in every row of the warp: O unchanged"
    }

    /// ``AttentionKernelDescriptor/earlyRescale``.
    private var early: Bool { descriptor.earlyRescale }

    /// The rescale ahead of a P·V issue (the loop's, inside the turn, and the tile's last), with the
    /// line break and the next line's indentation (the source's `indent` minus the literal's 8);
    /// nothing with ``AttentionKernelDescriptor/earlyRescale``, where each step's end has done it.
    private func turnRescale(indent: Int) -> String {
        early ? "" : rescale + "\n" + String(repeating: " ", count: indent - 8)
    }

    /// ``AttentionKernelDescriptor/earlyRescale``: O·α of this step at its end, once the previous
    /// P·V has completed (the wait above), so the next turn issues S and P·V back to back. The
    /// tile's first step needs none: O is zero until its first P·V.
    private var stepEndRescale: String {
        guard early else { return "" }
        return "\n" + String(repeating: " ", count: 16) + "// O·α now (the previous P·V has completed), before the next turn, not inside it.\n"
            + String(repeating: " ", count: 16) + rescale
    }

    /// ``AttentionKernelDescriptor/stageOInQueryBuffer``: O is staged in the tile's Q buffer.
    private var oq: Bool { descriptor.stageOInQueryBuffer }

    /// O staged in the Q buffer: the warpgroup's rows of it, once all four of its warps are past
    /// their last S product (the barrier after this).
    private var oqStageHead: String {
        (qh ? "// This warpgroup's Q half: only its own S products read it, all done.\n"
            + String(repeating: " ", count: 12) + "const u32 o_stage = sQ + qb * Q_HALF_BYTES;\n"
            : "// This warpgroup's 64 rows of the Q buffer: only its own S products read them, all done.\n"
            + String(repeating: " ", count: 12) + "const u32 o_stage = sQ + qb * Q_BYTES + wg * 64 * 128;\n")
            + String(repeating: " ", count: 12)
    }

    /// O staged in the Q buffer: the Q-free arrival waits until the store has read the rows.
    private var oqStageTail: String {
        "\n" + String(repeating: " ", count: 12) + "// The store has read these rows: the producer may load the next tile's Q into the buffer.\n"
            + String(repeating: " ", count: 12) + "if (store_issuer) bulk_wait_read0();\n"
            + String(repeating: " ", count: 12) + "mbar_arrive(bar_q_free + 8 * qb);"
    }

    /// The consumers' mask + online softmax over `tiles` n8 tiles of S (`width` keys) as a lambda
    /// `name`. The first line carries no indentation, the rest their place in the consumer loop.
    ///
    /// With ``AttentionKernelDescriptor/treeRowReductions`` each row's maximum and sum are kept in
    /// four partial values (n8 tile `nt` feeds partial `nt % 4`), combined pairwise at the end, so
    /// the dependent chains are a quarter as long; the mask and the exponentials are the same.
    private func softmaxLambda(name: String, tiles: String, width: String) -> String {
        let tree = descriptor.treeRowReductions
        // A line break into the row loop's body (the places below start on such lines).
        let line = "\n" + String(repeating: " ", count: 20)
        // The row maximum over this step's tiles, starting from the running maximum.
        let rowMax = tree
            ? "// Four partial maxima (exact: the same maximum as one chain)." + line
                + "float mp[4] = {row_max[r], row_max[r], row_max[r], row_max[r]};" + line
                + "#pragma unroll" + line
                + "for (int nt = 0; nt < \(tiles); ++nt) mp[nt % 4] = fmaxf(mp[nt % 4], fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));" + line
                + "float mx = fmaxf(fmaxf(mp[0], mp[1]), fmaxf(mp[2], mp[3]));"
            : "float mx = row_max[r];" + line
                + "#pragma unroll" + line
                + "for (int nt = 0; nt < \(tiles); ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));"
        // The row sum of this step's P: one chain, or four partial sums added pairwise (float32
        // throughout; another rounding order).
        let sumInit = tree
            ? "// Four partial sums, added pairwise (float32 throughout; another rounding order)." + line
                + "float sp[4] = {0.0f, 0.0f, 0.0f, 0.0f};"
            : "float sum = 0.0f;"
        let sumAdd = tree ? "sp[nt % 4] += pv;" : "sum += pv;"
        let sumTotal = tree ? "((sp[0] + sp[1]) + (sp[2] + sp[3]))" : "sum"
        return """
        auto \(name) = [&](int n0) {
                        if (n0 + \(width) > full_hi) {
                            #pragma unroll
                            for (int r = 0; r < 2; ++r) {
                                const int i = row0 + 8 * r;
                                const int hi = (CAUSAL ? imin(seqlen_k, i + diag + 1) : seqlen_k) - (n0 + tig * 2);
                                #pragma unroll
                                for (int nt = 0; nt < \(tiles); ++nt)
                                    #pragma unroll
                                    for (int c = 0; c < 2; ++c)
                                        if (nt * 8 + c >= hi) s[nt][2 * r + c] = -FA_INF;
                            }
                        }
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            \(rowMax)
                            mx = warp_max4(mx);
                            // A row that has seen no key yet keeps m = −∞; exponentiate against 0 so P = 0, not NaN.
                            const float m_scaled = mx == -FA_INF ? 0.0f : mx * scale_log2;
                            alpha[r] = fast_exp2(row_max[r] * scale_log2 - m_scaled);
                            row_max[r] = mx;
                            \(sumInit)
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt)
                                #pragma unroll
                                for (int c = 0; c < 2; ++c) {
                                    const float x = fmaf(s[nt][2 * r + c], scale_log2, -m_scaled);
                                    const float pv = (EXP2_EMU > 0 && nt % EXP2_EMU == EXP2_EMU - 1) ? exp2_fma(x) : fast_exp2(x);
                                    \(sumAdd)
                                    s[nt][2 * r + c] = pv;
                                }
                            row_sum[r] = row_sum[r] * alpha[r] + \(sumTotal);
                        }
                    };
        """
    }

    /// ``AttentionKernelDescriptor/halfDiagonalStep``.
    private var halfDiagonal: Bool { descriptor.halfDiagonalStep }

    /// P of the half-width diagonal step: the first half converted, the second half zero (the
    /// full-width P·V reads it).
    private var convertHalf: String {
        """

                auto convert_p_half = [&]() {
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) {
                        if (ks < BLOCK_N / 32) {
                            pk[ks][0] = pack_input2(s[2 * ks][0], s[2 * ks][1]);
                            pk[ks][1] = pack_input2(s[2 * ks][2], s[2 * ks][3]);
                            pk[ks][2] = pack_input2(s[2 * ks + 1][0], s[2 * ks + 1][1]);
                            pk[ks][3] = pack_input2(s[2 * ks + 1][2], s[2 * ks + 1][3]);
                        }\(nv ? "" : " else {\n" + String(repeating: " ", count: 16) + "    pk[ks][0] = pk[ks][1] = pk[ks][2] = pk[ks][3] = 0u;\n" + String(repeating: " ", count: 16) + "}")
                    }
                };
        """
    }

    /// The first (diagonal) step's softmax: half-width when this warpgroup's last row sees at most
    /// the first half of the step's keys (uniform over the warpgroup; the S product stays full
    /// width: a branch around it made ptxas serialise every wgmma, C7519 / C7515).
    private var halfSoftmax: String {
        (nd ? "" : "const bool half = \(halfTest("(n_blocks - 1)"));\n" + String(repeating: " ", count: 16)) + "if (half) { softmax_half((n_blocks - 1) * BLOCK_N); convert_p_half(); } else { softmax((n_blocks - 1) * BLOCK_N); convert_p(); }"
    }

    /// ``AttentionKernelDescriptor/stageOInLastStage``: O is staged in the last key step's K / V stage.
    private var okv: Bool { descriptor.stageOInLastStage }

    /// Bytes between the 64-column blocks of the O staging rows: a block of BLOCK_M rows in the
    /// staging tile or the Q buffer, one warpgroup's 64 rows in a K/V stage or a Q half (not in the
    /// staging tile beside Q halves, `q4`: that tile keeps BLOCK_M rows a block).
    private var oBlockStride: String { okv || (qh && oq) ? "(64 * 128)" : "(BLOCK_M * 128)" }

    /// O staged in the last step's stages: the named barriers that hand a stage from the other
    /// warpgroup's last product to this warpgroup's staging.
    private var okvConstants: String {
        if ob {
            return "constexpr int BAR_OKV = \(1 + 2 * descriptor.consumerWarpgroups);                  // named barrier 6 (BAR_OKV + 1): warpgroup 0 past its last P·V (V stage → warpgroup 1)\n"
                + "constexpr unsigned O_OWN_BYTES = 64 * HEAD_DIM * 2;  // warpgroup 0's O staging rows, a buffer of its own\n"
        }
        return "constexpr int BAR_OKV = \(1 + 2 * descriptor.consumerWarpgroups);                  // named barriers 5 and 6: warpgroup 1 past its last S (K stage → warpgroup 0), warpgroup 0 past its last P·V (V stage → warpgroup 1)\n"
    }

    /// O staged in the last step's stages: warpgroup 0 writes over that step's K stage once
    /// warpgroup 1's last S product has read it, warpgroup 1 over its V stage once warpgroup 0's
    /// last P·V has (the 256-thread barrier also gathers this warpgroup's four warps). The
    /// previous store from a stage was waited for before that stage was released, a tile ago.
    private var okvStageHead: String {
        let pad = String(repeating: " ", count: 12)
        return "// The last key step's stage: K for warpgroup 0, V for warpgroup 1 (64 rows × HEAD_DIM fit a stage of ≥ 64 keys).\n"
            + pad + "const int okv_stage = (kv_iter - 1) % STAGES;\n"
            + pad + "const u32 o_stage = (wg == 0 ? sK : sV) + okv_stage * KV_BYTES;\n"
            + pad + "named_sync(BAR_OKV + wg, 256);  // the other warpgroup's last product from this stage is done\n"
            + pad
    }

    /// O staged in the last step's stages: this warpgroup's arrival on the stage's free barrier
    /// (held back since its product) once the store has read the rows.
    private var okvStageTail: String {
        let pad = String(repeating: " ", count: 12)
        return "\n" + pad + "// The store has read these rows: the producer may load the stage again.\n"
            + pad + "if (store_issuer) bulk_wait_read0();\n"
            + pad + "mbar_arrive((wg == 0 ? bar_k_free : bar_v_free) + 8 * okv_stage);"
    }

    /// O staged in the last step's stages, the varlen fallback store's text (never generated: the form
    /// is dense only, but the text stays consistent): the wait for the stage, then its release.
    private var okvFallbackHead: String {
        !okv ? "" : ob ? "if (wg == 1) named_sync(BAR_OKV + 1, 256); " : "named_sync(BAR_OKV + wg, 256); "
    }
    private var okvFallbackTail: String {
        !okv ? "" : ob ? "if (wg == 1) mbar_arrive(bar_v_free + 8 * ((kv_iter - 1) % STAGES)); "
            : "mbar_arrive((wg == 0 ? bar_k_free : bar_v_free) + 8 * ((kv_iter - 1) % STAGES)); "
    }

    /// ``AttentionKernelDescriptor/stageOInOwnBuffer`` (with ``stageOInLastStage``): warpgroup 0 stages
    /// O in a buffer of its own, so the last step's K stage goes back at its last S like every other.
    private var ob: Bool { descriptor.stageOInOwnBuffer }

    /// Warpgroup 0's own staging rows: its store issuer waits for the previous tile's store to have
    /// read them (long done: a tile ago); warpgroup 1 waits, as with ``stageOInLastStage``, until
    /// warpgroup 0's last P·V has read the V stage it writes over.
    private var obStageHead: String {
        let pad = String(repeating: " ", count: 12)
        return "// Warpgroup 0: its own 64 staging rows (its previous store has read them); warpgroup 1: the last key step's V stage.\n"
            + pad + "const int okv_stage = (kv_iter - 1) % STAGES;\n"
            + pad + "const u32 o_stage = wg == 0 ? sO : sV + okv_stage * KV_BYTES;\n"
            + pad + "if (wg == 0) { if (store_issuer) bulk_wait_read0(); }\n"
            + pad + "else named_sync(BAR_OKV + 1, 256);  // warpgroup 0's last P·V from this V stage is done\n"
            + pad
    }

    /// Warpgroup 1 holds back its arrival on the V stage's free barrier until its store has read the
    /// rows; warpgroup 0's buffer is waited for before its next use instead.
    private var obStageTail: String {
        let pad = String(repeating: " ", count: 12)
        return "\n" + pad + "if (wg == 1) {\n"
            + pad + "    // The store has read these rows: the producer may load the V stage again.\n"
            + pad + "    if (store_issuer) bulk_wait_read0();\n"
            + pad + "    mbar_arrive(bar_v_free + 8 * okv_stage);\n"
            + pad + "}"
    }

    /// ``AttentionKernelDescriptor/warpgroupStepCount``: per-warpgroup key-step counts.
    private var ws: Bool { descriptor.warpgroupStepCount }

    /// The ring index of this warpgroup's first key step (one later where it skips the diagonal block).
    private var firstIter: String { ws ? "(kv_iter + ws_first)" : "kv_iter" }

    /// The main loop's first index (the step after this warpgroup's first), which equals n_blocks
    /// on a tile whose first step is this warpgroup's last.
    private var firstLoopStep: String { ws ? "1 + ws_first" : "1" }

    /// The key block of this warpgroup's first step (the highest it sees).
    private var firstKeyBlock: String { ws ? "n_blocks - 1 - ws_first" : "n_blocks - 1" }

    /// Per-warpgroup step counts: whether this warpgroup skips the tile's first step (its diagonal
    /// block, the highest keys), and for a skipped step the turn it still takes and hands over, so
    /// the turns keep alternating. Only warpgroup 0 (the tile's first 64 rows) can skip, only when a
    /// step is left, and only where its last row (tile row 63, keys up to its index + diag) sees
    /// none of the block. No `wgmma` below depends on it through a branch: it sets the first step's
    /// stage and the loop's first index.
    private var wsHead: String {
        let pad = "\n" + String(repeating: " ", count: 12)
        return pad + "// Key steps of this warpgroup: warpgroup 0 skips the diagonal block when its last row sees none of it."
            + pad + "const int ws_first = (wg == 0 && n_blocks > 1 && imin(seqlen_k, m0 + 64 + diag) <= (n_blocks - 1) * BLOCK_N) ? 1 : 0;"
            + pad + "if (ws_first) { named_sync(BAR_TURN + 0, CONSUMER_THREADS); named_arrive(BAR_TURN + 1, CONSUMER_THREADS); }  // the skipped step's turn"
    }

    /// Per-warpgroup step counts: the skipped step's K and V stages released, after this warpgroup's
    /// first issued step's turn (warpgroup 1 has then arrived for every earlier use of those stages).
    private var wsRelease: String {
        "\n" + String(repeating: " ", count: 16)
            + "if (ws_first) { mbar_arrive(bar_k_free + 8 * (kv_iter % STAGES)); mbar_arrive(bar_v_free + 8 * (kv_iter % STAGES)); }  // the skipped step's stages"
    }

    /// ``AttentionKernelDescriptor/lateTileAddresses``: the consumers hold no tile coordinates
    /// or output addresses through the main loop.
    private var late: Bool { descriptor.lateTileAddresses }

    /// The tile's O and LSE row-block addresses (the first line unindented, the second by `indent`).
    private func tileAddresses(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "out_t* o_tile = (out_t*)p.o + (i64)batch * p.o_batch_stride + (i64)(q_start + m0) * p.o_row_stride + (i64)head * p.o_head_stride;\n"
            + pad + "float* lse_tile = (float*)p.lse + (i64)batch * p.lse_batch_stride + (i64)head * p.lse_head_stride + (i64)(q_start + m0) * p.lse_row_stride;\n"
            + pad
    }

    /// Late tile addresses: the tile's coordinates read again from its scheduler slot, which
    /// stays this tile's until every consumer thread has arrived on its Q-free barrier.
    private var lateTileReload: String {
        let pad = String(repeating: " ", count: 12)
        return "// The tile's coordinates again from its slot (ours until Q free): no register held them through the loop.\n"
            + pad + "const int e_m_block = ld_shared_s32(slot), e_head = ld_shared_s32(slot + 4), e_batch = ld_shared_s32(slot + 8);\n"
            + pad
    }

    /// Late tile addresses: the epilogue's rows and addresses from the reloaded coordinates.
    private var lateTileDecode: String {
        """

                    int e_q_start = 0, e_seqlen_q = p.seqlen_q;
                    if (VARLEN) { const int* cu_q = (const int*)p.cu_seqlens_q; e_q_start = cu_q[e_batch]; e_seqlen_q = cu_q[e_batch + 1] - e_q_start; }
                    const int e_m0 = e_m_block * BLOCK_M, e_rows = imin(BLOCK_M, e_seqlen_q - e_m0);
                    out_t* o_tile = (out_t*)p.o + (i64)e_batch * p.o_batch_stride + (i64)(e_q_start + e_m0) * p.o_row_stride + (i64)e_head * p.o_head_stride;
                    float* lse_tile = (float*)p.lse + (i64)e_batch * p.lse_batch_stride + (i64)e_head * p.lse_head_stride + (i64)(e_q_start + e_m0) * p.lse_row_stride;
        """
    }

    /// The tile's epilogue call (direct stores or the TMA store of O).
    private var epilogueCall: String {
        if late {
            return descriptor.tmaStoreO
                ? "store_epilogue(o_tile, lse_tile, e_rows, (VARLEN ? e_q_start : 0) + e_m0, e_head, VARLEN ? 0 : e_batch);"
                : "epilogue(o_tile, lse_tile, e_rows);"
        }
        return descriptor.tmaStoreO ? "store_epilogue(o_tile, lse_tile, rows_here, q_row, head, t_batch);" : "epilogue(o_tile, lse_tile, rows_here);"
    }

    /// ``AttentionKernelDescriptor/precomputedDescriptors``.
    private var xd: Bool { descriptor.precomputedDescriptors }

    /// Precomputed descriptors: the operands' base low words (Q per tile, set at the tile's head).
    private var xdSetup: String {
        "u32 q_lo = desc_lo(sQ + wg * 64 * 128, 16);     // this warpgroup's rows of the tile's Q buffer\n"
            + String(repeating: " ", count: 8) + "const u32 k_lo0 = desc_lo(sK, 16), v_lo0 = desc_lo(sV, BLOCK_N * 128);  // stage 0's K and V"
    }

    /// Precomputed descriptors: the products' issue, each descriptor its operand's base plus an immediate.
    private var xdIssue: String {
        """
        // S = Q·K_stageᵀ, issued (not waited for); each descriptor is the stage's base plus an immediate.
                auto issue_qk = [&](int stage) {
                    const u32 k_lo = __shfl_sync(0xffffffffu, k_lo0 + stage * (KV_BYTES >> 4), 0);  // lane 0's: warp-uniform to ptxas (one R2UR a step)
                    \(scoreLoop(indent: 12, body: ["wgmma_qk_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, ks > 0 ? 1 : 0);"]))
                    wgmma_commit();
                };
                // O += P·V_stage, issued (not waited for).
                auto issue_pv = [&](int stage) {
                    const u32 v_lo = __shfl_sync(0xffffffffu, v_lo0 + stage * (KV_BYTES >> 4), 0);
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) wgmma_pv_d(acc_o, pk[ks], v_lo + ks * ((16 * 128) >> 4), DESC_HI);
                    wgmma_commit();
                };
        """
    }

    /// Narrow diagonal products: the diagonal step's S over the first half of its keys, and (with
    /// ``AttentionKernelDescriptor/narrowDiagonalValues``) its P·V over the first half of the k16 steps
    /// (P's other half is all masked), each issued and committed.
    private var narrowIssue: String {
        let pad = String(repeating: " ", count: 8)
        let sBase = xd ? "const u32 k_lo = __shfl_sync(0xffffffffu, k_lo0 + stage * (KV_BYTES >> 4), 0);" : "const u32 k_base = sK + stage * KV_BYTES;"
        let sBody = xd
            ? ["wgmma_qk_n_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, ks > 0 ? 1 : 0);"]
            : ["wgmma_qk_n(s, smem_desc(q_base + block * \(qRows) * 128 + within, 16, 1024),",
               "           smem_desc(k_base + block * BLOCK_N * 128 + within, 16, 1024), ks > 0 ? 1 : 0);"]
        let vBase = xd ? "const u32 v_lo = __shfl_sync(0xffffffffu, v_lo0 + stage * (KV_BYTES >> 4), 0);" : "const u32 v_base = sV + stage * KV_BYTES;"
        let product = xd ? "wgmma_pv_d(acc_o, pk[ks], v_lo + ks * ((16 * 128) >> 4), DESC_HI);"
            : "wgmma_pv(acc_o, pk[ks], smem_desc(v_base + ks * 16 * 128, BLOCK_N * 128, 1024));"
        return "\n" + pad + "// The diagonal step of a warpgroup that sees only its first half: S over those keys (S's upper n8 tiles untouched).\n"
            + pad + "auto issue_qk_narrow = [&](int stage) {\n"
            + pad + "    " + sBase + "\n"
            + pad + "    " + scoreLoop(indent: 12, body: sBody) + "\n"
            + pad + "    wgmma_commit();\n" + pad + "};" + (nv ? "\n"
            + pad + "// ... and its P·V over the same keys: the first half of the k16 steps (P's other half is all masked).\n"
            + pad + "auto issue_pv_narrow = [&](int stage) {\n"
            + pad + "    " + vBase + "\n"
            + pad + "    #pragma unroll\n"
            + pad + "    for (int ks = 0; ks < BLOCK_N / 32; ++ks) " + product + "\n"
            + pad + "    wgmma_commit();\n" + pad + "};" : "")
    }

    /// The consumers' product issues through `smem_desc` of each product's full address (the
    /// shipped text, without ``AttentionKernelDescriptor/precomputedDescriptors``).
    private var plainIssue: String {
        """
        // S = Q·K_stageᵀ, issued (not waited for).
                auto issue_qk = [&](int stage) {
                    const u32 k_base = sK + stage * KV_BYTES;
                    \(scoreLoop(indent: 12, body: ["wgmma_qk(s, smem_desc(q_base + block * \(qRows) * 128 + within, 16, 1024),",
                                                   "         smem_desc(k_base + block * BLOCK_N * 128 + within, 16, 1024), ks > 0 ? 1 : 0);"]))
                    wgmma_commit();
                };
                // O += P·V_stage, issued (not waited for).
                auto issue_pv = [&](int stage) {
                    const u32 v_base = sV + stage * KV_BYTES;
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) wgmma_pv(acc_o, pk[ks], smem_desc(v_base + ks * 16 * 128, BLOCK_N * 128, 1024));
                    wgmma_commit();
                };
        """
    }

    /// The tile's last P·V after the loop (issued in the last step's value turn of the shipped order), with the
    /// line break and the next line's indentation; none with ``AttentionKernelDescriptor/exponentialTurn``.
    private var trailingValueBlock: String {
        """
        {
                        const int last = kv_iter + n_blocks - 1, stage = last % STAGES;
                        \(turnRescale(indent: 24))mbar_wait(bar_v_full + 8 * stage, (last / STAGES) & 1);
                        \(lastValueIssue)
                            \(okv ? "if (wg == 0) { mbar_arrive(bar_v_free + 8 * stage); named_arrive(BAR_OKV + 1, 256); }  // warpgroup 1 stages O in this V stage" : "mbar_arrive(bar_v_free + 8 * stage);")\(foldedCopy("v", released: "last", indent: 20))
                        }
                    }
        """ + "\n" + String(repeating: " ", count: 12)
    }

    /// The tile's key steps up to its last P·V: the first (S and its softmax), then the loop, each
    /// step issuing its S and the previous step's P·V in its turn (the shipped order; with
    /// ``AttentionKernelDescriptor/separateValueTurn``, ``valueTurnSteps``).
    private var mainSteps: String { xo ? overlappedTurnSteps : xt ? exponentialTurnSteps : vt ? valueTurnSteps : shippedSteps }

    /// ``AttentionKernelDescriptor/exponentialTurn``.
    private var xt: Bool { descriptor.exponentialTurn }

    /// ``AttentionKernelDescriptor/exponentialTurn``: the softmax in two lambdas around the turn — `softmax_max` (the
    /// mask, each row's maximum as a tree over the step's n8 tiles, α, the new maximum) and `softmax_exp` (the
    /// exponentials, each row's sum as a tree, l = l·α + sum). The tree's pairings are fixed at compile time (every
    /// index a constant after unrolling), so its partial values stay in registers.
    private var splitSoftmaxLambdas: String {
        "float m_scaled_r[2];  // each row's new maximum · scale (0 for a row that has seen no key), from softmax_max\n"
            + String(repeating: " ", count: 12) + splitSoftmaxPair(suffix: "", tiles: "N_TILES", width: "BLOCK_N", first: false)
            + (leanTurn ? "\n" + String(repeating: " ", count: 12) + leanFirstLambdas : "")
    }

    /// ``AttentionKernelDescriptor/leanExponentialTurn``.
    private var leanTurn: Bool { descriptor.leanExponentialTurn }

    /// ``AttentionKernelDescriptor/leanExponentialTurn``: the first (diagonal) step's pair, without α and l·α (O and
    /// l are zero there), and with ``AttentionKernelDescriptor/halfDiagonalStep`` a pair over the first half of the
    /// step's keys (the second half of S left as it is: `convert_p_half` packs zeros for it).
    private var leanFirstLambdas: String {
        splitSoftmaxPair(suffix: "_first", tiles: "N_TILES", width: "BLOCK_N", first: true)
            + (halfDiagonal ? "\n" + String(repeating: " ", count: 12) + splitSoftmaxPair(suffix: "_first_half", tiles: "(N_TILES / 2)", width: "(BLOCK_N / 2)", first: true) : "")
    }

    /// The two lambdas of ``splitSoftmaxLambdas`` over `tiles` n8 tiles (`width` keys), named `softmax_max<suffix>`
    /// and `softmax_exp<suffix>`; `first`: the tile's first step (no α, l = the step's sum). The first line carries no
    /// indentation.
    private func splitSoftmaxPair(suffix: String, tiles: String, width: String, first: Bool) -> String {
        let alphaLine = first ? "" : "\n" + String(repeating: " ", count: 20) + "alpha[r] = fast_exp2(row_max[r] * scale_log2 - m_scaled);"
        let sumLine = first ? "row_sum[r] = t[0];  // the tile's first step: l was 0" : "row_sum[r] = row_sum[r] * alpha[r] + t[0];"
        let maxLine = first ? "const float mx = warp_max4(t[0]);  // the tile's first step: m was −∞" : "const float mx = warp_max4(fmaxf(row_max[r], t[0]));"
        return """
        auto softmax_max\(suffix) = [&](int n0) {
                        if (n0 + \(width) > full_hi) {
                            #pragma unroll
                            for (int r = 0; r < 2; ++r) {
                                const int i = row0 + 8 * r;
                                const int hi = (CAUSAL ? imin(seqlen_k, i + diag + 1) : seqlen_k) - (n0 + tig * 2);
                                #pragma unroll
                                for (int nt = 0; nt < \(tiles); ++nt)
                                    #pragma unroll
                                    for (int c = 0; c < 2; ++c)
                                        if (nt * 8 + c >= hi) s[nt][2 * r + c] = -FA_INF;
                            }
                        }
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            // A tree: log2(N_TILES) dependent levels instead of a chain of N_TILES (exact: the same maximum).
                            float t[N_TILES];
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt) t[nt] = fmaxf(s[nt][2 * r], s[nt][2 * r + 1]);
                            #pragma unroll
                            for (int w = 1; w < \(tiles); w *= 2)
                                #pragma unroll
                                for (int nt = 0; nt + w < \(tiles); nt += 2 * w) t[nt] = fmaxf(t[nt], t[nt + w]);
                            \(maxLine)
                            // A row that has seen no key yet keeps m = −∞; exponentiate against 0 so P = 0, not NaN.
                            const float m_scaled = mx == -FA_INF ? 0.0f : mx * scale_log2;\(alphaLine)
                            row_max[r] = mx;
                            m_scaled_r[r] = m_scaled;
                        }
                    };
                    auto softmax_exp\(suffix) = [&]() {
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt)
                                #pragma unroll
                                for (int c = 0; c < 2; ++c) s[nt][2 * r + c] = fast_exp2(fmaf(s[nt][2 * r + c], scale_log2, -m_scaled_r[r]));
                            // The row sum as a tree too (float32 throughout; another rounding order than one chain).
                            float t[N_TILES];
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt) t[nt] = s[nt][2 * r] + s[nt][2 * r + 1];
                            #pragma unroll
                            for (int w = 1; w < \(tiles); w *= 2)
                                #pragma unroll
                                for (int nt = 0; nt + w < \(tiles); nt += 2 * w) t[nt] += t[nt + w];
                            \(sumLine)
                        }
                    };
        """
    }

    /// ``AttentionKernelDescriptor/exponentialTurn``: cuDNN's order. Every key step of the tile (the diagonal one
    /// too) in one loop: S issued and waited for, the row maximum and α, then this warpgroup's turn for the
    /// exponentials, O·α and P's packing, the turn handed over, P·V issued and waited for. No product of a
    /// warpgroup runs under its own softmax; the turn keeps the two warpgroups' exponentials (the MUFU) apart, so
    /// one warpgroup's exponentials run under the other's products. No P·V trails the loop.
    private var exponentialTurnSteps: String {
        """
        \(leanTurn ? leanFirstStep : "")// cuDNN's order: S → wait → max, α → [turn] exponentials, O·α, P → [hand over] → P·V → wait, every step.
                    for (int it = \(leanTurn ? 1 : 0); it < n_blocks; ++it) {
                        const int cur = kv_iter + it, stage = cur % STAGES;
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        wgmma_fence();
                        issue_qk(stage);
                        wgmma_wait<0>();
                        mbar_arrive(bar_k_free + 8 * stage);
                        softmax_max((n_blocks - 1 - it) * BLOCK_N);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        softmax_exp();
                        \(rescale)
                        convert_p();
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                        mbar_wait(bar_v_full + 8 * stage, (cur / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(stage);
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * stage);
                    }
        """
    }

    /// ``AttentionKernelDescriptor/leanExponentialTurn``: the tile's first (diagonal) step in cuDNN's order, peeled
    /// out of the loop: no α, no O·α (O is zero until this step's P·V), and with
    /// ``AttentionKernelDescriptor/halfDiagonalStep`` the mask, maximum, exponentials and sums at half width in a
    /// warpgroup whose rows see only the first half of the step's keys (the branch is around the softmax only; the
    /// products stay full width: a branch around a product group made ptxas serialise every wgmma). With the line
    /// break and the indentation of the loop that follows.
    private var leanFirstStep: String {
        let pad = String(repeating: " ", count: 16)
        let head = "// The tile's first (diagonal) step, peeled: O and l are still zero, so no α and no O·α.\n"
            + String(repeating: " ", count: 12) + "{\n"
            + pad + "const int stage = kv_iter % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "wgmma_fence();\n"
            + pad + "issue_qk(stage);\n"
            + pad + "wgmma_wait<0>();\n"
            + pad + "mbar_arrive(bar_k_free + 8 * stage);\n"
        let softmax = halfDiagonal
            ? pad + "const bool half = " + halfTest("(n_blocks - 1)") + ";  // this warpgroup's rows see only the step's first half\n"
                + pad + "if (half) softmax_max_first_half((n_blocks - 1) * BLOCK_N); else softmax_max_first((n_blocks - 1) * BLOCK_N);\n"
                + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
                + pad + "if (half) { softmax_exp_first_half(); convert_p_half(); } else { softmax_exp_first(); convert_p(); }\n"
            : pad + "softmax_max_first((n_blocks - 1) * BLOCK_N);\n"
                + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
                + pad + "softmax_exp_first();\n"
                + pad + "convert_p();\n"
        return head + softmax
            + pad + "named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));\n"
            + pad + "mbar_wait(bar_v_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "wgmma_fence();\n"
            + pad + "issue_pv(stage);\n"
            + pad + "wgmma_wait<0>();\n"
            + pad + "mbar_arrive(bar_v_free + 8 * stage);\n"
            + String(repeating: " ", count: 12) + "}\n" + String(repeating: " ", count: 12)
    }

    /// ``AttentionKernelDescriptor/separateValueTurn``: two turns a step, the last step's P·V in the
    /// first, this step's S in the second (after that P·V has retired, between the turns, where its
    /// V stage is released); K is waited for before the second turn.
    private var valueTurnSteps: String {
        """
        // First step: S = Q·K_lastᵀ, softmax.
                    {
                        \(firstStepIssue("issue_qk_fresh"))
                        wgmma_wait<0>();
                        \(keyRelease(notLast: "n_blocks != 1"))
                        softmax((n_blocks - 1) * BLOCK_N);
                        convert_p();
                    }
                    for (int it = 1; it < n_blocks; ++it) {
                        const int cur = kv_iter + it, prv = cur - 1;
                        const int stage = cur % STAGES, prev = prv % STAGES;
                        // Turn 1: the last step's P·V.
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        \(turnRescale(indent: 24))mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(prev);
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                        // Between the turns: that P·V retires (P's registers free for S), its V stage goes back.
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * prev);
                        // Turn 2: this step's S (after the other warpgroup's P·V).
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        wgmma_fence();
                        issue_qk_fresh(stage);
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                        wgmma_wait<0>();  // S landed
                        \(keyRelease(notLast: "it != n_blocks - 1"))
                        softmax((n_blocks - 1 - it) * BLOCK_N);
                        convert_p();\(stepEndRescale)
                    }
        """
    }

    /// A tile's first step up to its S issue (`issue`: the lambda that issues and commits S): wait for
    /// the step's K stage, take the turn, issue, pass the turn on; the first line carries no indentation.
    private func firstStepIssue(_ issue: String) -> String {
        let pad = String(repeating: " ", count: 16)
        return "const int stage = \(firstIter) % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (\(firstIter) / STAGES) & 1);\n"
            + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
            + pad + "wgmma_fence();\n"
            + pad + "\(issue)(stage);\n"
            + pad + "named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));"
    }

    /// A step's K stage goes back once its S has landed; with ``AttentionKernelDescriptor/stageOInLastStage``
    /// warpgroup 0 keeps the tile's last one (where `notLast` is false), in which it stages O.
    private func keyRelease(notLast: String) -> String {
        okv && !ob ? "if (wg != 0 || \(notLast)) mbar_arrive(bar_k_free + 8 * stage);  // warpgroup 0 stages O in the last step's K stage"
            : "mbar_arrive(bar_k_free + 8 * stage);"
    }

    /// ``AttentionKernelDescriptor/valueWaitAfterSoftmax``: a never-taken branch on the step's new row sum
    /// between the softmax and the P·V wait (with the line break and indentation; nothing in the other forms).
    /// It ends the softmax's basic block: without it ptxas hoisted the `WARPGROUP.DEPBAR` of the wait to the
    /// softmax's head (to reuse P's registers as temporaries), so the softmax waited for this warpgroup's P·V.
    /// The row sum is a sum of exponentials (≥ 0; NaN compares false), so the trap never runs.
    private var valueWaitFence: String {
        guard descriptor.valueWaitAfterSoftmax else { return "" }
        return "\n" + String(repeating: " ", count: 16)
            + "if (row_sum[0] < 0.0f) __trap();  // never taken: ends the softmax's block, so ptxas keeps the P·V wait below after it"
    }

    /// The shipped key steps: S of step j lands while P·V of step j − 1 (P in its own registers) runs.
    private var shippedSteps: String {
        """
        \(nd ? narrowHead : "")// First step: S = Q·K_lastᵀ, softmax.
                    {
                        \(nd ? narrowFirstIssue : firstStepIssue("issue_qk"))\(foldedSlackCopies(step: "kv_iter", first: true, indent: 16))
                        if (OVERLAP) {
                            // The previous tile's P·V ran under this tile's head and this S's issue.
                            // Waiting for P·V alone (wait_group 1, the epilogue under this S) made
                            // ptxas serialise every wgmma of the kernel (C7514; 0.62–1.00× on the
                            // H100), so both products are waited for here.
                            wgmma_wait<0>();
                            if (pending) finish_pending();
                            init_rows();
                        }
                        \(nd ? "" : "wgmma_wait<0>();\n" + String(repeating: " ", count: 16))\(keyRelease(notLast: "n_blocks != \(firstLoopStep)"))\(ws ? wsRelease : "")\(foldedCopy("k", released: "kv_iter", indent: 16))
                        \(halfDiagonal ? halfSoftmax : "softmax((\(firstKeyBlock)) * BLOCK_N);\n" + String(repeating: " ", count: 16) + "convert_p();")
                    }
                    for (int it = \(firstLoopStep); it < n_blocks; ++it) {
                        const int cur = kv_iter + it, prv = cur - 1;
                        const int stage = cur % STAGES, prev = prv % STAGES;
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        wgmma_fence();
                        issue_qk(stage);
                        \(turnRescale(indent: 24))mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);
                        wgmma_fence();
                        \(nv ? narrowLoopValueIssue : "issue_pv(prev);")
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));\(foldedSlackCopies(step: "cur", first: false, indent: 16))
                        wgmma_wait<1>();  // S landed; P·V may still run
                        \(keyRelease(notLast: "it != n_blocks - 1"))\(foldedCopy("k", released: "cur", indent: 16))
                        softmax((n_blocks - 1 - it) * BLOCK_N);\(valueWaitFence)
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * prev);\(foldedCopy("v", released: "prv", indent: 16))
                        convert_p();\(stepEndRescale)
                    }
        """
    }

    /// Narrow diagonal products (``AttentionKernelDescriptor/narrowDiagonal``): whether this
    /// warpgroup's last row sees at most the first half of the tile's diagonal block (its first
    /// step), decided before that step's issue; lane 0's value, so ptxas can tell it is warp-uniform.
    private var narrowHead: String {
        "// This warpgroup's rows see at most the first half of the diagonal block: that step's products at half width\n"
            + String(repeating: " ", count: 12) + "// (lane 0's value: warp-uniform to ptxas, which serialises every wgmma under a branch it cannot tell is).\n"
            + String(repeating: " ", count: 12) + "const bool half = __shfl_sync(0xffffffffu, (int)(\(halfTest("(n_blocks - 1)"))), 0) != 0;\n"
            + String(repeating: " ", count: 12)
    }

    /// Narrow diagonal products: the first step's S at half or full width, each branch a whole product
    /// group from its fence to its wait (with the turn's hand-over inside; a branch around the issue
    /// alone left the group's accumulators defined by a join, C7515).
    private var narrowFirstIssue: String {
        let pad = String(repeating: " ", count: 16)
        return "const int stage = kv_iter % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
            + pad + "if (half) { wgmma_fence(); issue_qk_narrow(stage); named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads)); wgmma_wait<0>(); }\n"
            + pad + "else { wgmma_fence(); issue_qk(stage); named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads)); wgmma_wait<0>(); }"
    }

    /// ``AttentionKernelDescriptor/narrowDiagonalValues``.
    private var nv: Bool { descriptor.narrowDiagonalValues }

    /// Narrow diagonal products: whether this warpgroup's last row sees at most the first half of key
    /// block `block` (the tile's diagonal block when `block` is `n_blocks - 1`).
    private func halfTest(_ block: String) -> String {
        "imin(seqlen_k, m0 + wg * 64 + 64 + diag) <= \(block) * BLOCK_N + BLOCK_N / 2"
    }

    /// Narrow diagonal P·V in the loop: the first loop step issues the diagonal step's P·V, at half
    /// width where that step was narrow. The flag is taken from lane 0, so the branch inside the
    /// product group is one ptxas can tell is warp-uniform (without the shuffle: C7519; evaluated
    /// from the tile here instead of from `half`, or from a per-tile step index: C7511 at D = 128 with
    /// precomputed descriptors). The first form peeled the loop's first step instead (a second copy
    /// of the step): 0.84–0.93× the shipped kernel on an H100.
    private var narrowLoopValueIssue: String {
        let pad = String(repeating: " ", count: 16)
        return "const bool narrow = __shfl_sync(0xffffffffu, (int)(it == 1 && half), 0) != 0;  // the diagonal step's P·V, narrow\n"
            + pad + "if (narrow) issue_pv_narrow(prev); else issue_pv(prev);"
    }

    /// The tile's last P·V (issued, waited for): at half width where it is the diagonal step's of a
    /// narrow warpgroup (a one-step tile), each branch a whole product group. Not with
    /// ``AttentionKernelDescriptor/overlapEpilogue`` (refused beside the half-width softmax).
    private var lastValueIssue: String {
        let pad = String(repeating: " ", count: 16)
        guard nv else { return "wgmma_fence();\n" + pad + "issue_pv(stage);\n" + pad + "if (!OVERLAP) {\n" + pad + "    wgmma_wait<0>();" }
        // `half && n_blocks == 1`, evaluated again from the tile: with `half` here the first form's D = 128
        // kernel with precomputed descriptors had every wgmma serialised (C7511, registers).
        return "const bool narrow_last = __shfl_sync(0xffffffffu, (int)(n_blocks == 1 && \(halfTest("0"))), 0) != 0;\n"
            + pad + "if (narrow_last) { wgmma_fence(); issue_pv_narrow(stage); wgmma_wait<0>(); }\n"
            + pad + "else { wgmma_fence(); issue_pv(stage); wgmma_wait<0>(); }\n"
            + pad + "if (!OVERLAP) {"
    }

    /// The producer's copy of a key step's K or V (`operand` "k" or "v") into its stage.
    private func stageLoad(operand o: String) -> String {
        let big = o.uppercased()
        return """
        \(producerWaitCall)(bar_\(o)_free + 8 * stage, phase ^ 1);
                            mbar_expect_tx(bar_\(o)_full + 8 * stage, KV_BYTES);
                            #pragma unroll
                            for (int db = 0; db < D_BLOCKS; ++db)
                                tma_load(s\(big) + stage * KV_BYTES + db * BLOCK_N * 128, &hp.tm_\(o), bar_\(o)_full + 8 * stage, db * 64, row, kv_head, t_batch);
        """
    }

    /// The O staging tile's address line (the plain TMA store of O, or warpgroup 0's own rows with
    /// ``AttentionKernelDescriptor/stageOInOwnBuffer``), with the next line's indentation; else nothing.
    private var sOLine: String {
        if descriptor.tmaStoreO && !oq && !okv { return "const u32 sO = sV + STAGES * KV_BYTES;         // O staging tile of the bulk tensor store\n    " }
        return ob ? "const u32 sO = sV + STAGES * KV_BYTES;         // warpgroup 0's 64 O staging rows (a buffer of its own)\n    " : ""
    }

    /// ``AttentionKernelDescriptor/twoBlocksPerMultiprocessor``: 288 threads, consumers in warps 0–7,
    /// the producer warp 8, no `setmaxnreg` (96 registers for every thread at two blocks per SM).
    private var two: Bool { descriptor.twoBlocksPerMultiprocessor }

    /// The producer's branch head: warpgroup 0, its registers given back to the consumers.
    private var producerHead: String {
        """
        if (warp < 4) {
                // MARK: producer warpgroup: one thread issues every copy
                asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\\n" ::: "memory");
                if (warp == 0 && lane == 0) {
        """
    }

    /// Two blocks per SM: the producer is warp 8 after the consumers' warpgroups (so their
    /// warpgroups stay aligned for wgmma), and every thread keeps the launch bound's 96 registers.
    private var twoBlocksProducerHead: String {
        """
        if (warp == 2 * 4) {
                // MARK: producer warp (after the two consumer warpgroups): one thread issues every copy
                if (lane == 0) {
        """
    }

    /// The consumers' head: their registers raised, warpgroup index and consumer thread index.
    private var consumerHead: String {
        """
        // MARK: consumer warpgroups
                asm volatile("setmaxnreg.inc.sync.aligned.u32 \(Self.consumerRegisters(descriptor));\\n" ::: "memory");
                const int wg = \(xd ? "__shfl_sync(0xffffffffu, (warp >> 2) - 1, 0);  " : "(warp >> 2) - 1;                  ")// \(threeConsumers ? "0, 1 or 2" : "0 or 1"): rows 64·wg … 64·wg + 63 of a tile
                const int ctid = tid - 128;                      // \(threeConsumers ? "0 … 383 over the three" : "0 … 255 over both") consumer warpgroups
        """
    }

    /// Two blocks per SM: the consumers are warps 0–7 (no `setmaxnreg`: the launch bound gives 96).
    private var twoBlocksConsumerHead: String {
        """
        // MARK: consumer warpgroups (warps 0–7; every thread has the launch bound's registers)
                const int wg = \(xd ? "__shfl_sync(0xffffffffu, warp >> 2, 0);  " : "warp >> 2;                  ")// 0 or 1: rows 64·wg … 64·wg + 63 of a tile
                const int ctid = tid;                            // 0 … 255 over both consumer warpgroups
        """
    }

    /// ``AttentionKernelDescriptor/foldedProducer``: no producer warp; lane 0 of warp 4 issues every copy.
    private var fp: Bool { descriptor.foldedProducer }

    /// The one-buffer grid's wait for the tile's Q (every form but the folded producer, whose tile loop
    /// waits for each tile's Q at its head), with the next line's indentation.
    private var staticQueryWait: String {
        let pad = String(repeating: " ", count: 12)
        let wait = qh ? halfWait(indent: 16)
            : "qb = q_iter % Q_STAGES;\n" + pad + "    mbar_wait(bar_q + 8 * qb, (q_iter / Q_STAGES) & 1);\n" + pad + "    ++q_iter;"
        return "if (!DYNAMIC) {\n" + pad + "    " + wait + "\n" + pad + "}\n" + pad
    }

    /// The folded producer's copies after this warpgroup released key step `released`'s K or V stage
    /// (`operand` "k" or "v"): the issuing thread copies every step up to `released` + STAGES whose tile it
    /// has taken (the stage's other warpgroup released it a turn earlier), then its warp reconverges before
    /// the next product. Nothing in the other forms.
    private func foldedCopy(_ operand: String, released: String, indent: Int) -> String {
        guard fp && !sl else { return "" }
        let pad = String(repeating: " ", count: indent)
        return "\n" + pad + "if (issuer) copy_steps(bar_\(operand)_full, bar_\(operand)_free, s\(operand.uppercased()), &hp.tm_\(operand), copy_next\(operand == "v" ? " + 4" : ""), \(released) + STAGES + 1);\n"
            + pad + "__syncwarp();  // lane 0 of warp 4 rejoins its warp before the next wgmma (.sync.aligned)"
    }

    /// ``AttentionKernelDescriptor/foldedCopiesInSlack``: the folded producer copies in warpgroup 1's slack.
    private var sl: Bool { descriptor.foldedCopiesInSlack }

    /// Copies in the slack (``AttentionKernelDescriptor/foldedCopiesInSlack``), after this warpgroup handed over the
    /// turn of global step `step` and before it waits for its S: K up to step − 1 + STAGES and V up to step − 2 + STAGES
    /// (both warpgroups released those stages' last uses before this turn; at a tile's first step every use of the
    /// previous tiles, so V too up to step − 1 + STAGES), after taking the next tile at a tile's first step.
    /// Nothing in the other forms.
    private func foldedSlackCopies(step: String, first: Bool, indent: Int) -> String {
        guard sl else { return "" }
        let pad = String(repeating: " ", count: indent)
        let take = first ? "take_next(); " : ""
        return "\n" + pad + "if (issuer) { \(take)copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, \(step) + STAGES); "
            + "copy_steps(bar_v_full, bar_v_free, sV, &hp.tm_v, copy_next + 4, \(step) + STAGES\(first ? "" : " - 1")); }\n"
            + pad + "__syncwarp();  // (in the wait for this warpgroup's S: the copies' stages were released a step ago)"
    }

    /// The folded producer's state and its two copy routines, and the prologue (tile 0's slot and Q, the
    /// first STAGES key steps' K and V), in the consumers' scope.
    ///
    /// Each Q buffer has a 32-byte slot: the tile's row block (−1: the end), head, batch, key steps, the
    /// global index of its first key step and its scheduler index. The issuing thread takes tile c + 1 at
    /// the head of tile c (so the K/V ring can run on into it), after both warpgroups have released that
    /// buffer's tile c − 1 (its last S products and the slot read). It waits only on barriers whose other
    /// arrivals come from threads that cannot be blocked behind warpgroup 1: "Q free" (both warpgroups'
    /// last S of tile c − 1, already past), and a stage's "free" for a use this warpgroup has just
    /// released, which warpgroup 0, a turn ahead, released before it could wait for warpgroup 1.
    private var foldedIssuer: String {
        "\n" + """
                // MARK: the folded producer (no producer warp): lane 0 of warp 4 (warpgroup 1, the later of each turn)
                // issues every copy. A tile's slot (32 B per Q buffer): row block (−1: the end), head, batch, key
                // steps, its first key step's global index, its scheduler index, the K/V row of global step 0 and
                // the K/V head; then the next K step to copy, V's.
                const bool issuer = warp == 4 && lane == 0;
                const u32 copy_next = sched_slot + 32 * Q_STAGES;
                // Tile `tile` (first key step `base`) into Q buffer q_iter % Q_STAGES, once both warpgroups are done
                // with that buffer's last tile: its slot, then its Q (a plain "Q full" arrival without keys or at the end).
                auto take_tile = [&](int tile, int base) {
                    const int b = q_iter % Q_STAGES;
                    mbar_wait(bar_q_free + 8 * b, ((q_iter / Q_STAGES) & 1) ^ 1);
                    const u32 ns = sched_slot + 32 * b;
                    if (tile >= total_tiles) {
                        st_shared_s32(ns, -1); st_shared_s32(ns + 12, 0); st_shared_s32(ns + 16, base);
                        mbar_arrive(bar_q + 8 * b);
                        if (DYNAMIC) {
                            // This block has taken its last index: the last block to get here leaves the
                            // counters zero for the next launch on this stream.
                            __threadfence();
                            unsigned int* tile_counter = (unsigned int*)hp.tile_counter;
                            if (atomicAdd(tile_counter + 1, 1u) == gridDim.x - 1) { atomicExch(tile_counter, 0u); atomicExch(tile_counter + 1, 0u); }
                        }
                        return;
                    }
                    int t_m_block, t_head, t_batch;
                    if (DYNAMIC) {
                        // Sections of (batch, head) pairs sized to the L2, row blocks heaviest first.
                        \(Self.sectionTileDecode(tile: "tile", prefix: "x_", indent: 16))
                        t_m_block = x_m_block; t_head = x_head; t_batch = x_batch;
                    } else {
                        t_m_block = m_blocks - 1 - tile % m_blocks; t_head = (tile / m_blocks) % p.heads; t_batch = tile / (m_blocks * p.heads);
                    }
                    const int t_m0 = t_m_block * BLOCK_M, t_rows = imin(BLOCK_M, p.seqlen_q - t_m0);
                    const int t_hi = CAUSAL ? imin(p.seqlen_k, t_m0 + t_rows - 1 + (p.seqlen_k - p.seqlen_q) + 1) : p.seqlen_k;
                    const int t_steps = t_hi > 0 ? (t_hi + BLOCK_N - 1) / BLOCK_N : 0;
                    st_shared_s32(ns, t_m_block); st_shared_s32(ns + 4, t_head); st_shared_s32(ns + 8, t_batch);
                    st_shared_s32(ns + 12, t_steps); st_shared_s32(ns + 16, base); st_shared_s32(ns + 20, tile);
                    // For the copies: global step g of this tile loads key row (base + steps − 1 − g)·BLOCK_N of K/V head head / group.
                    st_shared_s32(ns + 24, (base + t_steps - 1) * BLOCK_N); st_shared_s32(ns + 28, t_head / p.group_size);
                    if (t_steps == 0) { mbar_arrive(bar_q + 8 * b); return; }
                    mbar_expect_tx(bar_q + 8 * b, Q_BYTES);
                    #pragma unroll
                    for (int db = 0; db < D_BLOCKS; ++db) tma_load(sQ + b * Q_BYTES + db * BLOCK_M * 128, &hp.tm_q, bar_q + 8 * b, db * 64, t_m0, t_head, t_batch);
                };
                // The K or V copies of global key steps up to limit − 1 from the next one not yet copied (kept at
                // next_addr), as far as the newest taken tile reaches (q_iter's buffer; steps before its first are the
                // previous tile's): each once its stage's last use is released (a fresh barrier counts as released).
                auto copy_steps = [&](u32 bar_full, u32 bar_free, u32 s_base, const TensorMap* map, u32 next_addr, int limit) {
                    const u32 ns = sched_slot + 32 * (q_iter % Q_STAGES), os = sched_slot + 32 * ((q_iter + 1) % Q_STAGES);
                    const int n_base = ld_shared_s32(ns + 16);
                    limit = imin(limit, n_base + ld_shared_s32(ns + 12));
                    for (int next = ld_shared_s32(next_addr); next < limit; ++next) {
                        const u32 ts = next >= n_base ? ns : os;
                        const int stage = next % STAGES;
                        mbar_wait(bar_free + 8 * stage, ((next / STAGES) & 1) ^ 1);
                        mbar_expect_tx(bar_full + 8 * stage, KV_BYTES);
                        // Key blocks last to first within a tile (the slot's row for global step 0, less next's).
                        const int row = ld_shared_s32(ts + 24) - next * BLOCK_N;
                        #pragma unroll
                        for (int db = 0; db < D_BLOCKS; ++db)
                            tma_load(s_base + stage * KV_BYTES + db * BLOCK_N * 128, map, bar_full + 8 * stage, db * 64, row, ld_shared_s32(ts + 28), ld_shared_s32(ts + 8));
                        st_shared_s32(next_addr, next + 1);
                    }
                };
                // Prologue: tile 0's slot and Q, the first STAGES key steps' K and V.
                if (issuer) {
                    tma_prefetch_map(&hp.tm_q); tma_prefetch_map(&hp.tm_k); tma_prefetch_map(&hp.tm_v);\(descriptor.tmaStoreO ? " tma_prefetch_map(&hp.tm_o);" : "")
                    st_shared_s32(copy_next, 0); st_shared_s32(copy_next + 4, 0);
                    take_tile((int)blockIdx.x, 0);
                    copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, STAGES);
                    copy_steps(bar_v_full, bar_v_free, sV, &hp.tm_v, copy_next + 4, STAGES);
                }
                __syncwarp();
        """
    }

    /// The folded producer's work at a tile's head (the release-driven form): the next tile, then the copies now due.
    /// (With ``AttentionKernelDescriptor/foldedCopiesInSlack`` only for a tile without keys, which has no slack.) The first
    /// line carries no indentation, the rest `indent` spaces.
    private func foldedHeadCopies(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "if (issuer) {\n" + pad + "    take_next();\n"
            + pad + "    copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, kv_iter + STAGES);\n"
            + pad + "    copy_steps(bar_v_full, bar_v_free, sV, &hp.tm_v, copy_next + 4, kv_iter + STAGES);\n"
            + pad + "}\n" + pad + "__syncwarp();"
    }

    /// The folded producer's tile loop head: every thread waits for the tile's Q and reads its slot; the
    /// issuing thread then takes the next tile (a tile ahead) and copies the key steps now due (those of
    /// the next tile when this one has fewer than STAGES).
    private var foldedTileLoop: String {
        """
        for (;;) {
                    qb = q_iter % Q_STAGES;
                    mbar_wait(bar_q + 8 * qb, (q_iter / Q_STAGES) & 1);
                    ++q_iter;
                    const u32 slot = sched_slot + 32 * qb;
                    const int m_block = ld_shared_s32(slot);
                    if (m_block < 0) break;
                    const int head = ld_shared_s32(slot + 4), batch = ld_shared_s32(slot + 8);
                    // The next tile: from the device counter, or this one's index + the grid (persistent order).
                    auto take_next = [&]() {
                        take_tile(DYNAMIC ? (int)gridDim.x + (int)atomicAdd((unsigned int*)hp.tile_counter, 1u) : ld_shared_s32(slot + 20) + (int)gridDim.x,
                                  ld_shared_s32(slot + 16) + ld_shared_s32(slot + 12));
                    };
                    \(sl ? "// (Copies in the slack: the issuer takes the next tile in its first step's S wait, or below for a tile without keys.)" : foldedHeadCopies(indent: 12))
        """ + tileDecodeTail(skip: "{ mbar_arrive(bar_q_free + 8 * qb); continue; }")
    }

    /// The producer's branch (every form but ``AttentionKernelDescriptor/foldedProducer``), through the
    /// `} else {` that opens the consumers' branch.
    private var producerSection: String {
        """
        \(two ? twoBlocksProducerHead : producerHead)
                    tma_prefetch_map(&hp.tm_q); tma_prefetch_map(&hp.tm_k); tma_prefetch_map(&hp.tm_v);\(descriptor.tmaStoreO ? " tma_prefetch_map(&hp.tm_o);" : "")
                    int kv_iter = 0, q_iter = 0;  // pipeline positions across tiles
                    int qb = 0;                   // this tile's Q buffer
                    \(tileLoop(producer: true))
                        if (n_blocks == 0) { if (DYNAMIC) \(qh ? "{ mbar_arrive(bar_q + 8 * qb); " + secondSkip + " }" : "mbar_arrive(bar_q + 8 * qb);") continue; }
                        \(qh ? producerHalfLoad : producerQLoad)
                        for (int it = 0; it < n_blocks; ++it, ++kv_iter) {
                            const int stage = kv_iter % STAGES;
                            const u32 phase = (kv_iter / STAGES) & 1;
                            const int row = k_row0 + (n_blocks - 1 - it) * BLOCK_N;
                            // A fresh barrier counts as having completed the phase before its first (parity 1).
                            \(stageLoad(operand: "k"))\(qh ? producerSecondLoad : "")
                            \(stageLoad(operand: "v"))
                        }
                    }
                    if (DYNAMIC) {
                        // Every block has taken its last index: the last one to get here leaves the
                        // counters zero for the next launch on this stream.
                        __threadfence();
                        unsigned int* tile_counter = (unsigned int*)hp.tile_counter;
                        if (atomicAdd(tile_counter + 1, 1u) == gridDim.x - 1) { atomicExch(tile_counter, 0u); atomicExch(tile_counter + 1, 0u); }
                    }
                }
            } else {
        """
    }

    // MARK: empty warpgroups (session 13, hopfwd24)

    /// ``AttentionKernelDescriptor/skipEmptyWarpgroups``.
    private var ew: Bool { descriptor.skipEmptyWarpgroups }

    /// Empty warpgroups: a warpgroup whose 64 rows all lie past the sequence's end takes one turn a key step
    /// (every step order it allows takes one) and releases each K / V stage after that stage's "full" phase,
    /// so its arrivals count toward the phase the other warpgroups' do (a stage is refilled only after every
    /// consumer released it), then the Q buffer, and goes on to the next tile without an epilogue. No wgmma
    /// group is open here (the previous tile waited for all of them), and the test is lane 0's value, so
    /// ptxas sees a warp-uniform branch in front of the products.
    private var emptyWarpgroupSkip: String {
        let pad = "\n" + String(repeating: " ", count: 12)
        return pad + "// This warpgroup's rows all lie past the sequence's end: no product, no softmax, nothing stored; its turns and releases only."
            + pad + "if (__shfl_sync(0xffffffffu, (int)(wg * 64 >= rows_here), 0) != 0) {"
            + pad + "    for (int it = 0; it < n_blocks; ++it) {"
            + pad + "        const int cur = kv_iter + it, stage = cur % STAGES;"
            + pad + "        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);"
            + pad + "        named_sync(BAR_TURN + wg, \(turnThreads));"
            + pad + "        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));"
            + pad + "        mbar_arrive(bar_k_free + 8 * stage);"
            + pad + "        mbar_wait(bar_v_full + 8 * stage, (cur / STAGES) & 1);"
            + pad + "        mbar_arrive(bar_v_free + 8 * stage);"
            + pad + "    }"
            + pad + "    mbar_arrive(bar_q_free + 8 * qb);"
            + pad + "    kv_iter += n_blocks;"
            + pad + "    continue;"
            + pad + "}"
    }

    private var kernel: String {
        """
        extern "C" __global__ void __launch_bounds__(THREADS, \(two ? 2 : 1))
        \(AttentionKernel.entryPoint)(const __grid_constant__ HopperParams hp) {
            const FlashParams& p = hp.p;
            extern __shared__ __align__(1024) unsigned char smem_raw[];
            // Swizzle atoms need 1024-byte alignment; the launch asks for 1 KB of slack.
            unsigned char* base = smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023);
            const u32 sQ = smem_u32(base);
            const u32 sK = sQ + \(qh ? "Q_HALVES * Q_HALF_BYTES;" : "Q_STAGES * Q_BYTES;     ")   // STAGES tiles
            const u32 sV = sK + STAGES * KV_BYTES;         // STAGES tiles
            \(sOLine)const u32 bar_q = \(descriptor.tmaStoreO && !oq && !okv ? "sO + O_BYTES;          " : ob ? "sO + O_OWN_BYTES;      " : "sV + STAGES * KV_BYTES;")      // per Q buffer: Q full, then Q free; per stage: K full, V full, K free, V free
            const u32 bar_q_free = bar_q + 8 * \(qBuffers);
            const u32 bar_k_full = bar_q_free + 8 * \(qBuffers), bar_v_full = bar_k_full + 8 * STAGES;
            const u32 bar_k_free = bar_v_full + 8 * STAGES, bar_v_free = bar_k_free + 8 * STAGES;
            const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
            const int m_blocks = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M;
            const int total_tiles = m_blocks * p.heads * p.batch;
            (void)total_tiles;
            // Dynamic scheduler: the published tile (m_block or −1 at the end, head, batch), one
            // 16-byte slot per Q buffer after the barriers, and the device counters (tiles taken, blocks done).
            const u32 sched_slot = bar_q + 16 * \(qBuffers) + 32 * STAGES;
            (void)sched_slot;

            if (tid == 0) {
                for (int q = 0; q < \(qBuffers); ++q) {
                    mbar_init(bar_q + 8 * q, 1);
                    mbar_init(bar_q_free + 8 * q, \(qh ? "128);               // one warpgroup releases a half" : "CONSUMER_THREADS);")
                }
                for (int s = 0; s < STAGES; ++s) {
                    mbar_init(bar_k_full + 8 * s, 1);
                    mbar_init(bar_v_full + 8 * s, 1);
                    mbar_init(bar_k_free + 8 * s, CONSUMER_THREADS);
                    mbar_init(bar_v_free + 8 * s, CONSUMER_THREADS);
                }
                asm volatile("fence.mbarrier_init.release.cluster;\\n" ::: "memory");
            }
            __syncthreads();

            \(fp ? "{" : producerSection)
                \(two ? twoBlocksConsumerHead : consumerHead)
                const int group = lane >> 2, tig = lane & 3;     // accumulator fragment coordinates
                const int row_in_block = wg * 64 + (warp & 3) * 16 + group;  // this thread's rows: +0 and +8
                const float scale_log2 = p.scale_log2;
                // Matrix descriptors (128-byte swizzle). Q and K are K-major: 8-row groups 1024 B
                // apart, a 16-column k step is +32 B inside a 64-column block, blocks ROWS·128 B
                // apart. V is read MN-major: 64-column blocks BLOCK_N·128 B apart along N,
                // 8-key groups 1024 B apart along K.
                \(xd ? xdSetup : "u32 q_base = sQ + wg * 64 * 128;                 // this warpgroup's rows of the tile's Q buffer")
                float acc_o[D_TILES][4];
                float row_max[2], row_sum[2], alpha[2];
                float s[N_TILES][4];
                u32 pk[BLOCK_N / 16][4];

                \(xd ? xdIssue : plainIssue)\(vt ? freshIssue : "")\(nd ? narrowIssue : "")
                // P in the input precision as A fragments: two adjacent n8 tiles of S are one k16 step.
                auto convert_p = [&]() {
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) {
                        pk[ks][0] = pack_input2(s[2 * ks][0], s[2 * ks][1]);
                        pk[ks][1] = pack_input2(s[2 * ks][2], s[2 * ks][3]);
                        pk[ks][2] = pack_input2(s[2 * ks + 1][0], s[2 * ks + 1][1]);
                        pk[ks][3] = pack_input2(s[2 * ks + 1][2], s[2 * ks + 1][3]);
                    }
                };\(halfDiagonal ? convertHalf : "")
                auto rescale_o = [&]() {
                    #pragma unroll
                    for (int dt = 0; dt < D_TILES; ++dt) {
                        acc_o[dt][0] *= alpha[0]; acc_o[dt][1] *= alpha[0];
                        acc_o[dt][2] *= alpha[1]; acc_o[dt][3] *= alpha[1];
                    }
                };

                \(threeConsumers ? "// Turns go round WG 0, WG 1, WG 2, WG 0, … across all tiles (all walk the same steps):" : "// Turns alternate WG 0, WG 1, WG 0, … across all tiles (both walk the same steps):")
                // warpgroup 0 takes the first.
                if (wg == \(descriptor.consumerWarpgroups - 1)) named_arrive(BAR_TURN + 0, \(turnThreads));
                int kv_iter = 0, q_iter = 0;
                int qb = 0;  // this tile's Q buffer\(fp ? foldedIssuer : "")

                // MARK: epilogue: O = O / l; LSE = (m·s + log2 l)·ln 2; a row with l = 0 writes O = 0, LSE = +∞
                auto epilogue = [&](out_t* o_tile, float* lse_tile, int rows_here) {
                    #pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        const float l = warp_sum4(row_sum[r]);
                        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
                        const int row = row_in_block + 8 * r;
                        if (row < rows_here) {
                            out_t* o_row = o_tile + (i64)row * p.o_row_stride;
                            #pragma unroll
                            for (int dt = 0; dt < D_TILES; ++dt) {
                                const int col = dt * 8 + tig * 2;
                                if (col < p.head_dim) store_out2(o_row + col, acc_o[dt][2 * r] * inv, acc_o[dt][2 * r + 1] * inv);
                            }
                            if (WRITE_LSE && tig == 0)
                                lse_tile[(i64)row * p.lse_row_stride] = l > 0.0f ? (row_max[r] * scale_log2 + fast_log2(l)) * LN2 : FA_INF;
                        }
                    }
                };
                // OVERLAP: the previous tile's last P·V was issued and not waited for; once it has
                // completed (the caller waits), release its V stage and write its O and LSE.
                bool pending = false;
                out_t* prev_o = nullptr;
                float* prev_lse = nullptr;
                int prev_rows = 0;
                auto finish_pending = [&]() {
                    mbar_arrive(bar_v_free + 8 * ((kv_iter - 1) % STAGES));
                    epilogue(prev_o, prev_lse, prev_rows);
                    pending = false;
                };\(descriptor.tmaStoreO ? storeEpilogue : "")
                \(fp ? foldedTileLoop : tileLoop(producer: false))
                    \(late ? "" : tileAddresses(indent: 12))if (n_blocks == 0) {
                        \(late ? tileAddresses(indent: 16) : "")// Waits unconditionally: ptxas cannot tell that nothing is in flight without `pending`.
                        if (OVERLAP) { wgmma_wait<0>(); if (pending) finish_pending(); }
                        // No row of this tile sees a key: O = 0, LSE = +∞.
                        for (int e = ctid; e < rows_here * HEAD_DIM; e += CONSUMER_THREADS) {
                            const int r = e / HEAD_DIM, c = e % HEAD_DIM;
                            if (c < p.head_dim) store_out1(o_tile + (i64)r * p.o_row_stride + c, 0.0f);
                        }
                        if (WRITE_LSE) for (int r = ctid; r < rows_here; r += CONSUMER_THREADS) lse_tile[(i64)r * p.lse_row_stride] = FA_INF;
                        \(fp ? "mbar_arrive(bar_q_free + 8 * qb);  // (the folded producer's slots: any order)" : "if (DYNAMIC) mbar_arrive(bar_q_free + 8 * qb);")\(sl ? "\n" + String(repeating: " ", count: 16) + foldedHeadCopies(indent: 16) : "")
                        continue;
                    }
                    const int row0 = m0 + row_in_block;
                    // Keys every row of this warpgroup sees: tiles wholly below need no mask.
                    const int full_hi = CAUSAL ? imin(seqlen_k, m0 + wg * 64 + diag + 1) : seqlen_k;
                    auto init_rows = [&]() {
                        #pragma unroll
                        for (int dt = 0; dt < D_TILES; ++dt) acc_o[dt][0] = acc_o[dt][1] = acc_o[dt][2] = acc_o[dt][3] = 0.0f;
                        row_max[0] = row_max[1] = -FA_INF;
                        row_sum[0] = row_sum[1] = 0.0f;
                    };
                    if (!OVERLAP) init_rows();
                    // Mask S to this thread's rows' keys (sequence end; causal edge), then the online
                    // softmax: m' = max(m, rowmax S); α = 2^((m − m')·s); P = 2^(S·s − m'·s); l = l·α + rowsum P.
                    \(xt ? splitSoftmaxLambdas : softmaxLambda(name: "softmax", tiles: "N_TILES", width: "BLOCK_N"))\(halfDiagonal && !xt ? "\n            " + softmaxLambda(name: "softmax_half", tiles: "N_TILES / 2", width: "(BLOCK_N / 2)") : "")

                    \(fp ? "" : staticQueryWait)\(qLine)\(ws ? wsHead : "")\(ew ? emptyWarpgroupSkip : "")
                    \(mainSteps)
                    \(late ? lateTileReload : "")// Every product with Q has completed: the producer may load the next tile's Q.
                    \(oq ? "// (The Q buffer is released after the epilogue's store has read O from it.)\n            " : "mbar_arrive(bar_q_free + 8 * qb);")\(okv && !ob ? "\n            if (wg == 1) named_arrive(BAR_OKV, 256);  // this warpgroup's last S has read the last step's K stage" : "")\(late ? lateTileDecode : "")
                    \(xo ? overlappedTrailingValue : xt ? "" : trailingValueBlock)kv_iter += n_blocks;
                    if (OVERLAP) {
                        pending = true;
                        prev_o = o_tile; prev_lse = lse_tile; prev_rows = \(late ? "e_rows" : "rows_here");
                        continue;
                    }
                    \(epilogueCall)
                }
                if (OVERLAP) { wgmma_wait<0>(); if (pending) finish_pending(); }\(descriptor.tmaStoreO ? "\n        // The last stores complete before the block exits.\n        if (store_issuer) bulk_wait0();" : "")

                // Warpgroup 0 received one more turn signal than it used: take it, so \(threeConsumers ? "all" : "both")
                // named barriers end the kernel idle.
                if (wg == 0) named_sync(BAR_TURN + 0, \(turnThreads));
            }
        }
        """
    }
}

// MARK: - The lean cuDNN order with each warpgroup's products under its own row maximum (session 13, hopfwd25)

extension HopperForwardKernel {
    /// ``AttentionKernelDescriptor/overlappedExponentialTurn``.
    fileprivate var xo: Bool { descriptor.overlappedExponentialTurn != 0 }

    /// ``AttentionKernelDescriptor/overlappedExponentialTurn``: the tile's first (diagonal) step peeled as in `xl`, up to
    /// the hand-over (its P·V is issued beside the second step's S); then per step, after the hand-over: the step's S
    /// and the previous step's P·V issued back to back (S first, so `wgmma_wait<1>` is S alone), the mask and the row
    /// maximum while that P·V runs, the wait for it, the turn for the exponentials, O·α and P. Every wgmma outside any
    /// branch (ptxas serialises a product group under one, C75xx). With the line break and the indentation of the
    /// line after.
    fileprivate var overlappedTurnSteps: String {
        let pad = String(repeating: " ", count: 16)
        let head = "// The tile's first (diagonal) step, peeled: O and l are still zero, so no α and no O·α; its P·V is issued with the next S.\n"
            + String(repeating: " ", count: 12) + "{\n"
            + pad + "const int stage = kv_iter % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "wgmma_fence();\n"
            + pad + "issue_qk(stage);\n"
            + pad + "wgmma_wait<0>();\n"
            + pad + "mbar_arrive(bar_k_free + 8 * stage);\n"
        let softmax = halfDiagonal
            ? pad + "const bool half = " + halfTest("(n_blocks - 1)") + ";  // this warpgroup's rows see only the step's first half\n"
                + pad + "if (half) softmax_max_first_half((n_blocks - 1) * BLOCK_N); else softmax_max_first((n_blocks - 1) * BLOCK_N);\n"
                + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
                + pad + "if (half) { softmax_exp_first_half(); convert_p_half(); } else { softmax_exp_first(); convert_p(); }\n"
            : pad + "softmax_max_first((n_blocks - 1) * BLOCK_N);\n"
                + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
                + pad + "softmax_exp_first();\n"
                + pad + "convert_p();\n"
        let first = head + softmax
            + pad + "named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));\n"
            + String(repeating: " ", count: 12) + "}\n" + String(repeating: " ", count: 12)
        return first + """
        // cuDNN's turn order, overlapped: S_j and P·V_{j−1} → wait S → mask, max, α (under P·V) → wait P·V → [turn] exponentials, O·α, P → [hand over].
                    for (int it = 1; it < n_blocks; ++it) {
                        const int cur = kv_iter + it, prv = cur - 1;
                        const int stage = cur % STAGES, prev = prv % STAGES;
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        wgmma_fence();
                        issue_qk(stage);
                        mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(prev);
                        wgmma_wait<1>();  // S landed (committed first); P·V may still run
                        mbar_arrive(bar_k_free + 8 * stage);
                        softmax_max((n_blocks - 1 - it) * BLOCK_N);
                        \(overlapFence)  // ends the maximum's block: ptxas keeps the P·V wait below after it
                        wgmma_wait<0>();  // P·V landed: O may be rescaled, P's registers rewritten
                        mbar_arrive(bar_v_free + 8 * prev);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        \(overlapFence)  // ends the turn's first block: ptxas keeps the exponentials below after the sync
                        softmax_exp();
                        \(rescale)
                        convert_p();\(handOverFence)
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                    }
        """
    }

    /// ``AttentionKernelDescriptor/overlappedExponentialTurn`` 2: a never-taken branch on the new row sums (sums of
    /// exponentials: ≥ 0, and NaN compares false) before the hand-over, which ends the exponentials' block, so ptxas
    /// keeps the `bar.arrive` after every exponential and P's packing (with the line break and indentation); nothing
    /// with 1.
    fileprivate var handOverFence: String {
        guard descriptor.overlappedExponentialTurn == 2 else { return "" }
        return "\n" + String(repeating: " ", count: 16)
            + "if (row_sum[0] < 0.0f || row_sum[1] < 0.0f) __trap();  // never taken: ends the exponentials' block, so the turn is handed over after them"
    }

    /// A branch that is never taken, on both rows' new maxima (a NaN pattern that no arithmetic produces: GPU
    /// arithmetic returns the canonical NaN 0x7fffffff, and fmaxf drops NaN operands), that ends a basic block. ptxas
    /// schedules within a block only: without these it hoisted the P·V wait to the maximum's head (so the maximum did
    /// not run under P·V) and the exponentials above the turn's `bar.sync` (so the turn no longer kept the two
    /// warpgroups' MUFU work apart). The condition uses both rows, so neither row's maximum sinks past the branch.
    fileprivate var overlapFence: String {
        "if ((__float_as_uint(m_scaled_r[0]) & __float_as_uint(m_scaled_r[1])) == 0x7fbfffffu) __trap();"
    }

    /// ``AttentionKernelDescriptor/overlappedExponentialTurn``: the tile's last P·V, after the Q buffer has gone back (every
    /// S has been read); O·α and P were done in the last step's turn, so it takes no turn. With the line break and the
    /// next line's indentation.
    fileprivate var overlappedTrailingValue: String {
        """
        {
                        // The tile's last P·V (no turn: its exponentials, O·α and P were the last step's turn).
                        const int last = kv_iter + n_blocks - 1, stage = last % STAGES;
                        mbar_wait(bar_v_full + 8 * stage, (last / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(stage);
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * stage);
                    }
        """ + "\n" + String(repeating: " ", count: 12)
    }
}
