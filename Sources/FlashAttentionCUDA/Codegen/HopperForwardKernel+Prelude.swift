import FlashAttentionCore

// The Hopper forward's prelude text: the constants block, the sm_90 async helpers (the producer's sleeping wait, the
// TMA store's half), the turn barriers and the consumers' register budget, and the wgmma wrappers (S = Q·Kᵀ plain,
// with precomputed descriptors, fresh and narrow), with the form flags and Q-buffer names those texts read.
extension HopperForwardKernel {
    var constants: String {
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
        constexpr int PRODUCT_DIM = \(d.productDim);   // head dim the products span (the problem's D rounded up to 16; the columns past it are zero)
        constexpr int D_TILES = PRODUCT_DIM / 8;    // n8 column tiles of O per warp
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
        \(threeConsumers ? turnConstants : "")\(d.tmaStoreO ? storeConstants : "")static_assert(HEAD_DIM % 64 == 0 && PRODUCT_DIM % 16 == 0 && PRODUCT_DIM <= HEAD_DIM && BLOCK_N % 16 == 0 && BLOCK_M == \(64 * d.consumerWarpgroups), "tile shape");
        static_assert(!DYNAMIC || PERSISTENT, "the dynamic scheduler runs the persistent grid");
        FA_DEVICE int imin(int a, int b) { return a < b ? a : b; }
        FA_DEVICE int imax(int a, int b) { return a > b ? a : b; }\(rematerializedTileCounts ? opaqueHelper : "")\(streamKConstants)

        // The copy engine's descriptors, then the forward parameters, in one __grid_constant__
        // struct: the maps are read in place in parameter space (their generic address).
        struct __align__(64) TensorMap { u64 w[16]; };
        struct __align__(64) HopperParams { TensorMap tm_q; TensorMap tm_k; TensorMap tm_v;\(d.tmaStoreO ? " TensorMap tm_o;" : "") FlashParams p; u64 tile_counter; };
        static_assert(sizeof(HopperParams) == \(Self.parameterStructSize(tensorMaps: d.tmaStoreO ? 4 : 3)), "parameter layout drifted from the Swift packing");
        """
    }

    /// A value the compiler cannot see through, so a computation on it is redone where it is used
    /// (``rematerializedTileCounts``).
    private var opaqueHelper: String {
        "\nFA_DEVICE int opaque_s32(int x) { asm volatile(\"\" : \"+r\"(x)); return x; }"
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

    /// The shared sm_90 helpers, plus the scheduler's shared-memory slot accessors and the
    /// consumers' named-barrier arrival.
    var asyncHelpers: String {
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
        """ + (descriptor.tmaStoreO ? "\n" + storeHelpers : "") + (descriptor.packedRowSum ? "\n" + packedSumHelpers : "")
            + (descriptor.lazyRescale ? "\n" + lazyMaxHelper : "") + (descriptor.speculativeMax ? "\n" + speculativeHelpers : "")
    }

    /// ``AttentionKernelDescriptor/speculativeMax``: the warpgroup's redo vote (nothing in the other forms). A named
    /// barrier per consumer warpgroup after the turns, stores and O-in-K/V barriers; the reduction makes the vote the same
    /// in all four warps (the redo issues a warpgroup-wide product), lane 0's copy makes it warp-uniform to ptxas, which
    /// serialises every wgmma under a branch it cannot tell is.
    private var speculativeHelpers: String {
        """
        constexpr int BAR_SPEC = \(3 + 2 * descriptor.consumerWarpgroups);                 // named barriers BAR_SPEC + wg: a warpgroup's redo vote
        static_assert(BAR_SPEC + \(descriptor.consumerWarpgroups) <= 16, "named barriers");
        // Speculative maximum: whether any thread of this warpgroup asks for the step to be redone.
        FA_DEVICE int warpgroup_any(int wg, bool ask) {
            int any;
            asm volatile("{\\n.reg .pred p, q;\\nsetp.ne.u32 p, %1, 0;\\nbar.red.or.pred q, %2, 128, p;\\nselp.u32 %0, 1, 0, q;\\n}\\n"
                         : "=r"(any) : "r"((u32)ask), "r"(BAR_SPEC + wg) : "memory");
            return __shfl_sync(0xffffffffu, any, 0);
        }
        """
    }

    /// ``AttentionKernelDescriptor/lazyRescale``: the maximum a row's exponentials use from this step on (nothing in
    /// the other forms).
    private var lazyMaxHelper: String {
        """
        // Lazy rescale: a row keeps the maximum it has (its P then stay ≤ 2^8, l, O and the LSE consistent with it) unless
        // the step's maximum passes it by more than 8 in 2^x units or the row had none yet (−∞).
        FA_DEVICE float lazy_max(float m_old, float m_new, float scale_log2) {
            return (m_old != -FA_INF && (m_new - m_old) * scale_log2 <= 8.0f) ? m_old : m_new;
        }
        """
    }

    /// ``AttentionKernelDescriptor/packedRowSum``: the packed pair add in the input precision and the widening of a
    /// packed partial sum into float32 (nothing in the other forms: their sources stay byte-identical).
    private var packedSumHelpers: String {
        let bf = descriptor.elementType == .bfloat16
        // bf16: a lane's float32 is its 16 bits as the high half (exact); f16: a conversion each.
        let widen = bf
            ? "return __uint_as_float(w << 16) + __uint_as_float(w & 0xffff0000u);"
            : "u16 lo, hi; asm(\"mov.b32 {%0, %1}, %2;\" : \"=h\"(lo), \"=h\"(hi) : \"r\"(w)); return f16_to_f32(lo) + f16_to_f32(hi);"
        return """
        // Packed row sums: two pairs of P (as packed for the P·V operand) added lane-wise, one HADD2.
        FA_DEVICE u32 add_input2(u32 a, u32 b) { u32 r; asm("add.rn.\(bf ? "bf16x2" : "f16x2") %0, %1, %2;" : "=r"(r) : "r"(a), "r"(b)); return r; }
        // A packed partial sum's two lanes, widened and added in float32.
        FA_DEVICE float widen_sum2(u32 w) { \(widen) }
        """
    }

    /// Three consumer warpgroups (192-row tiles, ``AttentionKernelDescriptor/consumerWarpgroups``).
    var threeConsumers: Bool { descriptor.consumerWarpgroups == 3 }

    /// Threads a turn barrier counts: with two consumer warpgroups every consumer thread (the
    /// text the two-warpgroup kernels have always had); with three, the warpgroup taking its
    /// turn and the one handing it over.
    var turnThreads: String { threeConsumers ? "TURN_THREADS" : "CONSUMER_THREADS" }

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

    /// The two wgmma wrappers, every accumulator register named (and with precomputed descriptors
    /// their forms taking descriptor low words).
    var wgmmaWrappers: String {
        let d = descriptor
        let t = d.elementType == .bfloat16 ? "bf16" : "f16"
        func operands(_ array: String, tiles: Int) -> String { WGMMAText.accumulators(array, tiles: tiles) }
        let registers = WGMMAText.registers
        let o = d.productDim / 2
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
                         "wgmma.mma_async.sync.aligned.m64n\(d.productDim)k16.f32.\(t).\(t) {\(registers(o))}, {%\(o), %\(o + 1), %\(o + 2), %\(o + 3)}, db, p, 1, 1, 1;\\n}\\n"
                         : \(operands("acc_o", tiles: d.productDim / 8))
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b_lo), "r"(hi), "r"(1));
        }
        """
        return """
        // S(64×\(d.blockN)) = Q·Kᵀ (+ S if accumulate): both from shared-memory descriptors, K-major.
        \(qkWrapper(precomputed: false, fresh: false))
        // O(64×\(d.productDim)) += P·V: P from registers, V from shared memory, MN-major (transposed).
        FA_DEVICE void wgmma_pv(float (&acc_o)[D_TILES][4], const u32 (&a)[4], u64 db) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(o + 5), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(d.productDim)k16.f32.\(t).\(t) {\(registers(o))}, {%\(o), %\(o + 1), %\(o + 2), %\(o + 3)}, %\(o + 4), p, 1, 1, 1;\\n}\\n"
                         : \(operands("acc_o", tiles: d.productDim / 8))
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
        }\(xd ? "\n" + precomputed : "")\(vt ? "\n" + freshWrapper : "")\(nd ? "\n" + narrowWrapper : "")
        """
    }

    /// ``AttentionKernelDescriptor/narrowDiagonal``.
    var nd: Bool { descriptor.narrowDiagonal }

    /// Narrow diagonal products: S over the first blockN / 2 keys (m64n(blockN/2)k16), its
    /// accumulators the first half of S's n8 tiles; the upper half is neither read nor written.
    private var narrowWrapper: String {
        "// S over the first half of the step's keys (the diagonal step of a warpgroup that sees no more): S's first n8 tiles only.\n"
            + qkWrapper(precomputed: xd, fresh: false, narrow: true)
    }

    /// ``AttentionKernelDescriptor/separateValueTurn``.
    var vt: Bool { descriptor.separateValueTurn }

    /// ``AttentionKernelDescriptor/queryHalves``: Q in per-warpgroup 64-row halves.
    var qh: Bool { descriptor.queryHalves > 0 }

    /// The Q buffers' count in the layout: Q tiles, or 64-row halves.
    var qBuffers: String { qh ? "Q_HALVES" : "Q_STAGES" }

    /// Q in halves: the half buffers' constants (after the Q_STAGES line).
    private var halvesConstants: String {
        "\nconstexpr int Q_HALVES = \(descriptor.queryHalves);      // Q in per-warpgroup 64-row halves, one full / free barrier pair each (\(descriptor.queryHalves == 2 ? "half w is warpgroup w's" : descriptor.queryHalves == 3 ? "rotating: fill f in half f mod 3" : "two stages: fill f in half f mod 4, warpgroup 0's in 0 / 2, warpgroup 1's in 1 / 3"))"
            + "\nconstexpr unsigned Q_HALF_BYTES = 64 * HEAD_DIM * 2;"
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

    /// O staged in the last step's stages: the named barriers that hand a stage from the other
    /// warpgroup's last product to this warpgroup's staging.
    private var okvConstants: String {
        if ob {
            return "constexpr int BAR_OKV = \(1 + 2 * descriptor.consumerWarpgroups);                  // named barrier 6 (BAR_OKV + 1): warpgroup 0 past its last P·V (V stage → warpgroup 1)\n"
                + "constexpr unsigned O_OWN_BYTES = 64 * HEAD_DIM * 2;  // warpgroup 0's O staging rows, a buffer of its own\n"
        }
        return "constexpr int BAR_OKV = \(1 + 2 * descriptor.consumerWarpgroups);                  // named barriers 5 and 6: warpgroup 1 past its last S (K stage → warpgroup 0), warpgroup 0 past its last P·V (V stage → warpgroup 1)\n"
    }
}
