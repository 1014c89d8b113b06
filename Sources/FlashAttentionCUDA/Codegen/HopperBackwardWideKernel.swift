import FlashAttentionCore

/// The key/value kernel of the Hopper backward at tile head dim 256 (``HopperBackwardKernel``
/// generates it for a descriptor with `headDim == 256`; the preprocess and convert kernels are
/// the common ones).
///
/// At D = 256 one consumer warpgroup cannot hold dK and dV for its keys (64 keys × 256 columns,
/// two float32 accumulators: 256 registers a thread), so the two consumer warpgroups share one
/// block of 64 keys and split the head dim instead:
///
/// ```
/// per step (64 queries of one head; Q double-buffered with stages = 2, dO single):
///   WG0: Sᵀ = K·Qᵀ           WG1: dPᵀ = V·dOᵀ         (the same m64n64k16 code, operands per WG)
///   WG0: Pᵀ = 2^(Sᵀ·scale − L), masked → sP (bf16, swizzled) and sPf (float32, fragment order)
///   ── named barrier P ──
///   both: dV[:, 128·wg…] += Pᵀ·dO[:, 128·wg…]                    (m64n128k16, A and B in shared memory)
///   WG1: dSᵀ = Pᵀ ∘ (dPᵀ − D) from sPf → sdS (bf16, swizzled)
///   ── named barrier dS ──
///   both: dK[:, 128·wg…] += dSᵀ·Q[:, 128·wg…]
///         dQ_partial[:, 128·wg + 64·c…] = dS·K[:, 128·wg + 64·c…]   (c = 0, 1: two m64n64 chunks)
///   dQ_partial → shared memory → the writer warp (ordered bulk adds, as at tile D = 64/128)
/// ```
///
/// With one Q stage (`stages` = 1) both chunks go to a 64 KB staging at the end of the step (the
/// first while the second is still computed). With two, the staging is 32 KB: round 0 (each
/// warpgroup's first chunk) at the end of the step, round 1 at the start of the next step while
/// its first product runs, so the writer reads round 0 (after its turn wait) off the consumers'
/// path; the last step's round 1 follows the loop.
///
/// The two warpgroups do the same tensor work per step (one 64×64×256 product each for Sᵀ/dPᵀ,
/// then three 64×128×64 ones). Shared memory: K, V 32 KB each; Q 32 KB per stage; dO 32 KB; sP,
/// sdS 8 KB each; sPf 16 KB; the dQ staging 64 KB with one Q stage (one add per step) or 32 KB
/// with two (two rounds a step, 16 KB per warpgroup each).
///
/// Every shared buffer is reused only after a wait that implies its readers are done: sP of step
/// t + 1 is written after dO of step t + 1 arrived (so both dV products of step t, which read sP,
/// completed: dO's free barrier counts their completion); sdS of step t + 1 after barrier P of
/// step t + 1 (the other warpgroup finished step t); sPf of step t + 1 after barrier dS of step t.
extension HopperBackwardKernel {
    /// The constants of the tile D = 256 kernels (all three passes: the convert kernel reads
    /// `DQ_N`/`DQ_TILES` for the accumulator's fragment order, here 64-column chunks).
    var wideConstants: String {
        let d = descriptor
        func flag(_ b: Bool) -> String { b ? "true" : "false" }
        return """
        constexpr int HEAD_DIM = 256;              // tile head dim (problem D ≤ this; zero-filled)
        constexpr int BLOCK_M = 64;                // queries per step
        constexpr int BLOCK_N = 64;                // keys per thread block (both consumer warpgroups)
        constexpr bool SPLIT_Q = false;
        constexpr int Q_STAGES = \(d.stages);      // Q pipeline depth (dO has one stage)
        constexpr int DQ_ROUNDS = Q_STAGES == 1 ? 1 : 2;  // dQ_partial staged whole (64 KB) or in two 32 KB rounds
        constexpr int THREADS = \(d.threads);
        constexpr int CONSUMER_THREADS = 256;
        constexpr int DQ_N = 64;                   // columns of one dQ_partial chunk (accumulator fragment order)
        constexpr int DQ_TILES = DQ_N / 8;
        constexpr int HALF_TILES = 16;             // n8 tiles of a warpgroup's 128 dK/dV columns
        constexpr unsigned KV_BYTES = BLOCK_N * HEAD_DIM * 2;
        constexpr unsigned QT_BYTES = BLOCK_M * HEAD_DIM * 2;
        constexpr unsigned COL_BLOCK = 64 * 128;   // one 64-column block of a 64-row tile
        constexpr unsigned STAT_BYTES = BLOCK_M * 4;
        constexpr unsigned PT_BYTES = BLOCK_N * BLOCK_M * 2;      // Pᵀ or dSᵀ, bf16/fp16
        constexpr unsigned PF_BYTES = BLOCK_N * BLOCK_M * 4;      // Pᵀ, float32
        constexpr unsigned CHUNK_BYTES = BLOCK_M * DQ_N * 4;      // one 64-column dQ_partial chunk
        constexpr unsigned DQ_STAGE_BYTES = (4 / DQ_ROUNDS) * CHUNK_BYTES;
        constexpr bool CAUSAL = \(flag(d.mask == .causal));
        constexpr float LOG2E = 1.4426950408889634f;
        constexpr int BAR_P = 1;                   // named barrier: Pᵀ is in shared memory
        constexpr int BAR_DS = 2;                  // named barrier: dSᵀ is in shared memory
        FA_DEVICE int imin(int a, int b) { return a < b ? a : b; }
        FA_DEVICE int imax(int a, int b) { return a > b ? a : b; }
        struct __align__(64) TensorMap { u64 w[16]; };
        struct __align__(64) HopperBwdParams { TensorMap tm_q; TensorMap tm_k; TensorMap tm_v; TensorMap tm_do; BackwardParams p; };
        static_assert(sizeof(HopperBwdParams) == \(Self.parameterStructSize), "parameter layout drifted from the Swift packing");\(wideQRingConstants)
        """
    }

    /// The tile D = 256 wgmma wrappers (all operands in shared memory) and the float32
    /// fragment load.
    var wideWrappers: String {
        let t = descriptor.elementType == .bfloat16 ? "bf16" : "f16"
        func operands(_ array: String, tiles: Int) -> String { WGMMAText.accumulators(array, tiles: tiles) }
        let registers = WGMMAText.registers
        return """
        // Sᵀ or dPᵀ (64 keys × 64 queries) (+)= A·Bᵀ: both K-major (128-byte swizzle).
        FA_DEVICE void wgmma_sp(float (&s)[8][4], u64 da, u64 db, int accumulate) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %34, 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32.\(t).\(t) {\(registers(32))}, %32, %33, p, 1, 1, 0, 0;\\n}\\n"
                         : \(operands("s", tiles: 8))
                         : "l"(da), "l"(db), "r"(accumulate));
        }
        // dK/dV half (64 keys × 128 columns) += A·B: A = Pᵀ or dSᵀ (K-major), B = dO or Q (queries × D, MN-major).
        FA_DEVICE void wgmma_half(float (&acc)[HALF_TILES][4], u64 da, u64 db) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %66, 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n128k16.f32.\(t).\(t) {\(registers(64))}, %64, %65, p, 1, 1, 0, 1;\\n}\\n"
                         : \(operands("acc", tiles: 16))
                         : "l"(da), "l"(db), "r"(1));
        }
        // dQ_partial chunk (64 queries × 64 columns) (+)= dS·K: A = dSᵀ and B = K, both MN-major.
        FA_DEVICE void wgmma_chunk(float (&acc)[DQ_TILES][4], u64 da, u64 db, int accumulate) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %34, 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n64k16.f32.\(t).\(t) {\(registers(32))}, %32, %33, p, 1, 1, 1, 1;\\n}\\n"
                         : \(operands("acc", tiles: 8))
                         : "l"(da), "l"(db), "r"(accumulate));
        }
        FA_DEVICE void touch_sp(float (&s)[8][4]) { asm volatile("" : \(operands("s", tiles: 8)) :: "memory"); }
        FA_DEVICE void touch_half(float (&acc)[HALF_TILES][4]) { asm volatile("" : \(operands("acc", tiles: 16)) :: "memory"); }
        FA_DEVICE void touch_chunk(float (&acc)[DQ_TILES][4]) { asm volatile("" : \(operands("acc", tiles: 8)) :: "memory"); }
        FA_DEVICE float4 ld_shared_f4(u32 a) {
            float4 v;
            asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];\\n" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(a) : "memory");
            return v;
        }\(wideChunkTurnHelpers)\(wideQRingHelpers)\(wideStagedEpilogueHelpers)
        """ + (descriptor.precomputedDescriptors ? "\n" + descriptorHelpers : "")
    }

    /// A 64 × 64 accumulator `v` of this thread (rows `row_lo`, `row_lo + 8`) → bf16/fp16 pairs
    /// in a keys × queries tile at `tile` (128-byte rows, chunk c of row r at c ^ (r % 8)).
    private static func swizzledStore(_ v: String, _ tile: String) -> String {
        """
        {
                            const u32 lo = \(tile) + row_lo * 128 + tig * 4, hi = lo + 8 * 128;
                            #pragma unroll
                            for (int nt = 0; nt < 8; ++nt) {
                                const u32 c = (nt ^ group) << 4;
                                st_shared_u32(lo + c, pack_input2(\(v)[nt][0], \(v)[nt][1]));
                                st_shared_u32(hi + c, pack_input2(\(v)[nt][2], \(v)[nt][3]));
                            }
                        }
        """
    }

    /// Two-round staging: the second dQ_partial chunk (`held`) of buffer use `use` (round 1
    /// of a step) into this warpgroup's half of the staging once the writer has read round 0.
    private static func stageSecondChunk(_ use: String, full: String = "bar_dq_full") -> String {
        """
        mbar_wait(bar_dq_empty, ((\(use)) & 1) ^ 1);
                            {
                                const u32 dst = sdQ + wg * CHUNK_BYTES + ct * 16;
                                #pragma unroll
                                for (int nt = 0; nt < DQ_TILES; ++nt) st_shared_f4(dst + nt * 128 * 16, held[nt][0], held[nt][1], held[nt][2], held[nt][3]);
                            }
                            fence_async_shared();
                            mbar_arrive(\(full));
        """
    }

    /// The dQ writer's loop (warp 1, lane 0). Key-block order (`orderedDQ`, every deterministic
    /// call): each (head, query block) tile's adds follow its turn counter, so the writer waits
    /// for the previous key block's add to complete before its own, and for its own to complete
    /// before it passes the turn on. Arrival order (`orderedDQ` off, non-deterministic calls):
    /// the accumulator starts zeroed (the runtime fills it), every key block adds, and the writer
    /// waits only for each add's read of the staging; the adds complete before the kernel exits.
    var wideWriterLoop: String {
        if wideTwoWriters { return wideTwoWriterLoop }
        if descriptor.orderedDQ && descriptor.wideChunkTurns { return wideChunkTurnWriterLoop }
        guard !descriptor.orderedDQ else { return orderedWriterLoop(twoWriters: false) }
        return """
        // MARK: dQ writer, arrival order: no turn waits, no completion waits between steps
                    // (session 7: the turn chain and the completion waits kept the consumers
                    // waiting for the staging about a fifth of their time at 2k keys).
                    for (int step = 0; step < steps; ++step) {
                        \(stepDecode)
                        const i64 tile = ((i64)h * p.batch + batch) * m_blocks + m_block;
                        float* dst = (float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM);
                        #pragma unroll
                        for (int r = 0; r < DQ_ROUNDS; ++r) {
                            mbar_wait(bar_dq_full, (step * DQ_ROUNDS + r) & 1);
                            if (DQ_ROUNDS == 1) {
                                bulk_reduce_add(dst, sdQ, DQ_STAGE_BYTES);
                            } else {
                                bulk_reduce_add(dst + r * (CHUNK_BYTES / 4), sdQ, CHUNK_BYTES);
                                bulk_reduce_add(dst + (2 + r) * (CHUNK_BYTES / 4), sdQ + CHUNK_BYTES, CHUNK_BYTES);
                            }
                            bulk_commit();
                            bulk_wait_read();
                            mbar_arrive(bar_dq_empty);               // the consumers may stage the next round
                        }
                        red_relaxed_inc((int*)p.dq_sem + tile);      // "reached", for the convert kernel
                    }
                    bulk_wait();
        """
    }

    /// Whether two writer threads take alternate steps (``HopperBackwardDescriptor/wideWriters``).
    var wideTwoWriters: Bool { descriptor.wideWriters == 2 }

    /// The dQ staging's full barrier of step `step`: one barrier, or with two writers one per step
    /// parity (a writer waits only on its own steps' barrier, so it is never two phases behind).
    func wideFullBarrier(_ step: String) -> String {
        wideTwoWriters ? "(((\(step)) & 1) ? bar_dq_full2 : bar_dq_full)" : "bar_dq_full"
    }

    /// Key-block order with two writer threads (`wideWriters` = 2): warp 1 takes the even steps,
    /// warp 2 the odd ones, each waiting on its own full barrier. A writer frees the one staging
    /// once its add has read it, then waits for the add's completion and passes the turn on while
    /// the other writer reads the next step, so the completion wait and the release fence leave
    /// the per-step cycle (session 7: the writer spent about 47 % of a step reading, 24 % on the
    /// completion and the release, 16 % spinning; arrival order, which waits for neither, timed
    /// 1.07–1.23× at D = 256). Same adds in the same order per element: bitwise reproducible.
    var wideTwoWriterLoop: String { orderedWriterLoop(twoWriters: true) }

    /// The key-block-order writer loop, for one writer thread (every step) or two (alternate
    /// steps, each on its own full barrier, the other writer reading the next step while this
    /// one waits for its add's completion).
    private func orderedWriterLoop(twoWriters: Bool) -> String {
        let pad = "\n            "
        let head = twoWriters
            ? ["// MARK: dQ writers (two, alternate steps): key-block order, as the one-writer loop.",
               "const int w = warp - 1;                      // 0: even steps, 1: odd steps",
               "const u32 my_full = w ? bar_dq_full2 : bar_dq_full;",
               "for (int step = w; step < steps; step += 2) {"].joined(separator: pad)
            : ["// MARK: dQ writer: adds each step's dQ_partial in key-block order. Key blocks that",
               "// see query block m are 0, 1, … (no left window): block n's turn is n.",
               "for (int step = 0; step < steps; ++step) {"].joined(separator: pad)
        let wait = twoWriters ? "mbar_wait(my_full, ((step >> 1) * DQ_ROUNDS + r) & 1);" : "mbar_wait(bar_dq_full, (step * DQ_ROUNDS + r) & 1);"
        let completion = twoWriters ? "bulk_wait();                                 // the other writer reads the next step meanwhile" : "bulk_wait();"
        let release = twoWriters ? "red_release_inc(sem);" : "red_release_inc(sem);                        // the next key block's turn (and \"reached\" for the convert)"
        return """
        \(head)
                        \(stepDecode)
                        const i64 tile = ((i64)h * p.batch + batch) * m_blocks + m_block;
                        int* sem = (int*)p.dq_sem + tile;
                        float* dst = (float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM);
                        #pragma unroll
                        for (int r = 0; r < DQ_ROUNDS; ++r) {
                            \(wait)
                            if (r == 0 && n_block > 0) {
                                while (ld_acquire(sem) != n_block) { }
                                fence_async_global();
                            }
                            if (DQ_ROUNDS == 1) {
                                // The staging holds the four chunks in accumulator order.
                                if (n_block > 0) bulk_reduce_add(dst, sdQ, DQ_STAGE_BYTES);
                                else bulk_store(dst, sdQ, DQ_STAGE_BYTES);  // the first turn: nothing to add to
                            } else {
                                // Round r: warpgroup 0's chunk r, warpgroup 1's chunk 2 + r.
                                float* d0 = dst + r * (CHUNK_BYTES / 4);
                                float* d1 = dst + (2 + r) * (CHUNK_BYTES / 4);
                                if (n_block > 0) {
                                    bulk_reduce_add(d0, sdQ, CHUNK_BYTES);
                                    bulk_reduce_add(d1, sdQ + CHUNK_BYTES, CHUNK_BYTES);
                                } else {
                                    bulk_store(d0, sdQ, CHUNK_BYTES);
                                    bulk_store(d1, sdQ + CHUNK_BYTES, CHUNK_BYTES);
                                }
                            }
                            bulk_commit();
                            bulk_wait_read();
                            mbar_arrive(bar_dq_empty);               // the consumers may stage the next round
                        }
                        \(completion)
                        fence_async_global();
                        \(release)
                    }
        """
    }

    /// The waits on a few bulk groups (chunk turns only; other variants keep their text).
    var wideChunkTurnHelpers: String {
        guard descriptor.orderedDQ && descriptor.wideChunkTurns else { return "" }
        return """

        template <int N> FA_DEVICE void bulk_wait_group() { asm volatile("cp.async.bulk.wait_group %0;\\n" :: "n"(N) : "memory"); }
        """
    }

    /// Key-block order with a turn counter per 64-column chunk (`wideChunkTurns`): chunk k of a
    /// (head, query block) tile has its own counter (k · tiles further on), so key block n + 1 adds
    /// chunk 0 as soon as block n's chunk 0 is complete instead of after all 64 KB, and a turn
    /// chain of key blocks started together builds a quarter of the skew (session 7: ncu at
    /// D = 256 2k keys, the consumers waited for the staging about a fifth of their time while the
    /// writer waited on turns and whole-tile completions). Each chunk's add is its own bulk group;
    /// its turn passes on once that group completes. The same adds in the same order per element:
    /// still bitwise reproducible.
    var wideChunkTurnWriterLoop: String {
        """
        // MARK: dQ writer: key-block order, a turn counter per 64-column chunk.
                    const i64 sem_chunk = (i64)p.heads * p.batch * m_blocks;   // counters of chunk k at k · tiles
                    for (int step = 0; step < steps; ++step) {
                        \(stepDecode)
                        const i64 tile = ((i64)h * p.batch + batch) * m_blocks + m_block;
                        int* sem = (int*)p.dq_sem + tile;
                        float* dst = (float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM);
                        #pragma unroll
                        for (int r = 0; r < DQ_ROUNDS; ++r) {
                            mbar_wait(bar_dq_full, (step * DQ_ROUNDS + r) & 1);
                            // One round: the four chunks in accumulator order. Two: warpgroup 0's chunk r, warpgroup 1's 2 + r.
                            #pragma unroll
                            for (int c = 0; c < 4 / DQ_ROUNDS; ++c) {
                                const int k = DQ_ROUNDS == 1 ? c : r + 2 * c;
                                if (n_block > 0) {
                                    while (ld_acquire(sem + k * sem_chunk) != n_block) { }
                                    fence_async_global();
                                    bulk_reduce_add(dst + k * (CHUNK_BYTES / 4), sdQ + c * CHUNK_BYTES, CHUNK_BYTES);
                                } else {
                                    bulk_store(dst + k * (CHUNK_BYTES / 4), sdQ + c * CHUNK_BYTES, CHUNK_BYTES);
                                }
                                bulk_commit();
                            }
                            // Each chunk's turn passes on as its group completes; the staging frees once all are read.
                            if (DQ_ROUNDS == 1) {
                                bulk_wait_group<3>(); fence_async_global(); red_release_inc(sem);
                                bulk_wait_group<2>(); fence_async_global(); red_release_inc(sem + sem_chunk);
                                bulk_wait_read();
                                mbar_arrive(bar_dq_empty);
                                bulk_wait_group<1>(); fence_async_global(); red_release_inc(sem + 2 * sem_chunk);
                                bulk_wait(); fence_async_global(); red_release_inc(sem + 3 * sem_chunk);
                            } else {
                                bulk_wait_group<1>(); fence_async_global(); red_release_inc(sem + r * sem_chunk);
                                bulk_wait_read();
                                mbar_arrive(bar_dq_empty);
                                bulk_wait(); fence_async_global(); red_release_inc(sem + (2 + r) * sem_chunk);
                            }
                        }
                    }
        """
    }

    /// The consumers' dK/dV stores after the last step: 4-byte pairs straight from the accumulators,
    /// or (``HopperBackwardDescriptor/wideStagedEpilogue``) through the dQ staging in 16-byte pieces.
    var wideEpilogue: String {
        if descriptor.wideStagedEpilogue { return wideStagedEpilogueText }
        return Self.directKeyValueStores(tiles: "HALF_TILES", firstColumn: "wg * 128 + ")
    }

    /// The staged epilogue (``HopperBackwardDescriptor/wideStagedEpilogue``, one Q stage, 16-bit dK
    /// and dV). Once the writer has read the last step's dQ_partial (the empty barrier's phase of
    /// step `steps`), each warpgroup packs its dK and dV halves (64 keys × 128 columns, 16 KB each)
    /// into its 32 KB of the staging, rows of 256 B with the 16-byte piece c of row r at c ^ (r % 8)
    /// (the eight rows of a store instruction hit 32 different banks), syncs its 128 threads on a
    /// named barrier of its own, and stores 16-byte pieces: a warp writes two whole rows of its
    /// half. The plain form issues 64 four-byte stores a thread, each warp instruction touching
    /// eight rows (session 7, hopbwd10: the epilogue's stores were 8.6 % of the consumers' samples
    /// at causal 2k, where a block has few steps). The writer no longer reads the staging, and
    /// nothing else does: its last bulk add completes on its own.
    var wideStagedEpilogueText: String {
        Self.stagedKeyValueStores(
            descriptor, entry: "// dK = scale · Σ dSᵀ·Q;  dV = Σ Pᵀ·dO, staged in this warpgroup's 32 KB of the dQ staging"
                + "\n        // (free once the writer has read the last step's dQ_partial), then stored in 16-byte"
                + "\n        // pieces (keys past the end and columns past D are not stored)."
                + "\n        mbar_wait(bar_dq_empty, (steps & 1) ^ 1);",
            base: "sdQ", keys: "BLOCK_N", rowLine: "const int row = row_lo + 8 * r;", tiles: "HALF_TILES",
            stagedSync: "named_sync(BAR_STAGED + wg, 128);           // this warpgroup's halves are staged",
            keyColumnLine: "const int j = n0 + row, col = wg * 128 + c * 8;")
    }

    /// The tile D = 256 key/value kernel.
    var wideKeyValueKernel: String {
        """
        extern "C" __global__ void __launch_bounds__(THREADS, 1)
        \(Self.entryPoint)(const __grid_constant__ HopperBwdParams hp) {\(launchDependents)
            const BackwardParams& p = hp.p;
            extern __shared__ __align__(1024) unsigned char smem_raw[];
            unsigned char* base = smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023);
            const u32 sK = smem_u32(base);                  // 64-column blocks of 64 rows × 128 B
            const u32 sV = sK + KV_BYTES;
        \(wideLayout)
            const u32 sL = sdQ + DQ_STAGE_BYTES;            // Q_STAGES rows of L, then one row of D
            const u32 sDelta = sL + Q_STAGES * STAT_BYTES;
            const u32 bar = sDelta + STAT_BYTES;            // kv; q full/free per stage; dO full/free; dQ full/empty
            const u32 bar_kv = bar, bar_q_full = bar + 8, bar_q_free = bar_q_full + 8 * \(qBuffers);
            const u32 bar_do_full = bar_q_free + 8 * \(qBuffers), bar_do_free = bar_do_full + 8;
            const u32 bar_dq_full = bar_do_free + 8, bar_dq_empty = bar_dq_full + 8;\(wideTwoWriters ? "\n            const u32 bar_dq_full2 = bar_dq_empty + 8;   // odd steps' staging (two writers)" : "")
            const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;

            \(HopperBackwardKernel.blockDecode(headGroup: descriptor.headGroup))
            \(HopperBackwardKernel.keyBlockSteps)

            if (tid == 0) {
                mbar_init(bar_kv, 1);
                for (int s = 0; s < \(qBuffers); ++s) {
                    mbar_init(bar_q_full + 8 * s, 1);
                    mbar_init(bar_q_free + 8 * s, CONSUMER_THREADS);
                }
                mbar_init(bar_do_full, 1);
                mbar_init(bar_do_free, CONSUMER_THREADS);
                mbar_init(bar_dq_full, CONSUMER_THREADS);
                mbar_init(bar_dq_empty, 1);\(wideTwoWriters ? "\n                mbar_init(bar_dq_full2, CONSUMER_THREADS);" : "")
                asm volatile("fence.mbarrier_init.release.cluster;\\n" ::: "memory");
            }
            __syncthreads();

            if (warp < 4) {
                asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\\n" ::: "memory");
                if (warp == 0 && lane == 0 && steps > 0) {
                    // MARK: producer
                    tma_prefetch_map(&hp.tm_q); tma_prefetch_map(&hp.tm_k); tma_prefetch_map(&hp.tm_v); tma_prefetch_map(&hp.tm_do);
                    mbar_expect_tx(bar_kv, 2 * KV_BYTES);
                    #pragma unroll
                    for (int db = 0; db < HEAD_DIM / 64; ++db) {
                        tma_load(sK + db * COL_BLOCK, &hp.tm_k, bar_kv, db * 64, n0, kv_head, batch);
                        tma_load(sV + db * COL_BLOCK, &hp.tm_v, bar_kv, db * 64, n0, kv_head, batch);
                    }
                    for (int step = 0; step < steps; ++step) {
                        \(stepDecode)
                        const i64 stat = ((i64)h * p.batch + batch) * (m_blocks * BLOCK_M) + m0;
        \(wideProducerQHalf0)                // dO first: its buffer frees once step − 1's dV products complete, before Q's.
                        mbar_wait(bar_do_free, (step & 1) ^ 1);
                        mbar_expect_tx(bar_do_full, QT_BYTES + STAT_BYTES);
                        #pragma unroll
                        for (int db = 0; db < HEAD_DIM / 64; ++db) tma_load(sdO + db * COL_BLOCK, &hp.tm_do, bar_do_full, db * 64, m0, h, batch);
                        bulk_load(sDelta, (const float*)p.delta + stat, STAT_BYTES, bar_do_full);
        \(wideProducerQ)
                    }
                } else if (\(wideTwoWriters ? "(warp == 1 || warp == 2)" : "warp == 1") && lane == 0) {
                    \(wideWriterLoop)
                }
            } else {
                // MARK: consumers
                asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\\n" ::: "memory");
                const int wg = \(wideWarpgroupIndex);                 // 0: Sᵀ and Pᵀ; 1: dPᵀ and dSᵀ; columns 128·wg … of dK, dV, dQ
                const int ct = tid - 128 - 128 * wg;            // thread within the warpgroup
                const int group = lane >> 2, tig = lane & 3;
                const int row_lo = (warp & 3) * 16 + group;     // this thread's key rows: row_lo, row_lo + 8
                const int key0 = n0 + row_lo;
                const u32 half_cols = wg * 2 * COL_BLOCK;       // this warpgroup's two 64-column blocks
                float acc_dk[HALF_TILES][4], acc_dv[HALF_TILES][4];
                #pragma unroll
                for (int dt = 0; dt < HALF_TILES; ++dt)
                    #pragma unroll
                    for (int e = 0; e < 4; ++e) { acc_dk[dt][e] = 0.0f; acc_dv[dt][e] = 0.0f; }
                const float scale_log2 = p.scale_log2;
                if (steps > 0) mbar_wait(bar_kv, 0);
                // The first product's operands: K and Q (warpgroup 0) or V and dO (warpgroup 1).
                const u32 first_a = wg == 0 ? sK : sV;
                // Two rounds: the second dQ_partial chunk is staged while the next step's first
                // product runs (the writer reads round 0 meanwhile), so it lives across steps in
                // `held`, a copy made by arithmetic (x + 0, not foldable in IEEE) so that ptxas sees
                // registers no wgmma defines and injects no wait for them (C7517).
                float held[DQ_TILES][4];

                for (int step = 0; step < steps; ++step) {
                    \(stepDecode)
        \(wideFirstProduct)
                    if (DQ_ROUNDS == 2 && step > 0) {
                        \(Self.stageSecondChunk("2 * step - 1", full: wideFullBarrier("step - 1")))
                    }
                    wgmma_wait<0>();
                    touch_sp(sp);

                    if (wg == 0) {
                        // Pᵀ = 2^(scale·log2e·Sᵀ − L), masked (keys past the end; causal: j > i + diag).
                        const bool edge = n0 + BLOCK_N > seqlen_k || (CAUSAL && n0 + BLOCK_N - 1 > m0 + diag);
                        const float* l_row = (const float*)(base + (sL - sK) + stage * STAT_BYTES) + tig * 2;
                        \(edgeMaskedExponentials(array: "sp", tiles: "8", maskedL: "l_row[col]", unmaskedL: "l_row[nt * 8 + (e & 1)]", indent: 16))
        \(wideQRing ? "                " : Self.floatPStore)\(Self.swizzledStore("sp", "sP"))
                        fence_async_shared();
                    }
                    named_sync(BAR_P, CONSUMER_THREADS);

                    // dV[:, 128·wg …] += Pᵀ·dO[:, 128·wg …], one group.
                    wgmma_fence();
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks)
                        wgmma_half(acc_dv, \(operand("sP", "ks * 32", "16")), \(operand("sdO + half_cols", "ks * 16 * 128", "COL_BLOCK")));
                    wgmma_commit();

                    if (wg == 1) {
        \(wideDS)
                        \(Self.swizzledStore("sp", "sdS"))
                        fence_async_shared();
                    }
                    named_sync(BAR_DS, CONSUMER_THREADS);

                    // dK[:, 128·wg …] += dSᵀ·Q[:, 128·wg …]; dQ_partial chunks 2·wg and 2·wg + 1 = dS·K[:, chunk].
                    float acc_q0[DQ_TILES][4], acc_q1[DQ_TILES][4];\(wideQRing ? "\n            if (wg == 1) mbar_wait(bar_q_full + 8 * slot1, ((2 * step + 1) / Q_SLOTS) & 1);   // Q half 1 (warpgroup 0 waited in Sᵀ)" : "")
                    wgmma_fence();
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks)
                        wgmma_half(acc_dk, \(operand("sdS", "ks * 32", "16")), \(operand(wideQRing ? "q_half" : "q_base + half_cols", "ks * 16 * 128", "COL_BLOCK")));
                    wgmma_commit();
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks)
                        wgmma_chunk(acc_q0, \(operand("sdS", "ks * 16 * 128", "COL_BLOCK")),
                                    \(operand("sK + half_cols", "ks * 16 * 128", "COL_BLOCK")), ks > 0 ? 1 : 0);
                    wgmma_commit();
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks)
                        wgmma_chunk(acc_q1, \(operand("sdS", "ks * 16 * 128", "COL_BLOCK")),
                                    \(operand("sK + half_cols + COL_BLOCK", "ks * 16 * 128", "COL_BLOCK")), ks > 0 ? 1 : 0);
                    wgmma_commit();
                    wgmma_wait<3>();                     // dV complete: dO (and D) of this step are no longer read
                    touch_half(acc_dv);
                    mbar_arrive(bar_do_free);
                    wgmma_wait<2>();                     // dK complete: Q (and L) of this stage are no longer read
                    touch_half(acc_dk);
                    \(wideQRing ? "mbar_arrive(bar_q_free + 8 * slot0);            // both halves of this step's Q\n            mbar_arrive(bar_q_free + 8 * slot1);" : "mbar_arrive(bar_q_free + 8 * stage);")
                    wgmma_wait<1>();
                    touch_chunk(acc_q0);
                    // Stage dQ_partial for the writer once it has sent the previous round.
                    mbar_wait(bar_dq_empty, ((step * DQ_ROUNDS) & 1) ^ 1);
                    {
                        const u32 dst = sdQ + (DQ_ROUNDS == 1 ? 2 * wg : wg) * CHUNK_BYTES + ct * 16;
                        #pragma unroll
                        for (int nt = 0; nt < DQ_TILES; ++nt) st_shared_f4(dst + nt * 128 * 16, acc_q0[nt][0], acc_q0[nt][1], acc_q0[nt][2], acc_q0[nt][3]);
                    }
                    if (DQ_ROUNDS == 2) {
                        fence_async_shared();
                        mbar_arrive(\(wideFullBarrier("step")));
                    }
                    wgmma_wait<0>();
                    touch_chunk(acc_q1);
                    if (DQ_ROUNDS == 2) {
                        #pragma unroll
                        for (int nt = 0; nt < DQ_TILES; ++nt)
                            #pragma unroll
                            for (int e = 0; e < 4; ++e) held[nt][e] = acc_q1[nt][e] + 0.0f;
                    }
                    if (DQ_ROUNDS == 1) {
                        // Chunk 2·wg + 1 beside chunk 2·wg; one hand-over a step.
                        const u32 dst = sdQ + (2 * wg + 1) * CHUNK_BYTES + ct * 16;
                        #pragma unroll
                        for (int nt = 0; nt < DQ_TILES; ++nt) st_shared_f4(dst + nt * 128 * 16, acc_q1[nt][0], acc_q1[nt][1], acc_q1[nt][2], acc_q1[nt][3]);
                        fence_async_shared();
                        mbar_arrive(\(wideFullBarrier("step")));
                    }
                }
                if (DQ_ROUNDS == 2 && steps > 0) {
                    // The last step's second chunk.
                    \(Self.stageSecondChunk("2 * steps - 1", full: wideFullBarrier("steps - 1")))
                }

        \(wideEpilogue)
            }
        }
        """
    }
}

/// The Q ring of the one-stage form (``HopperBackwardDescriptor/wideQRing``): the pieces of the
/// key/value kernel that differ from the plain layout. Each returns the plain form's text
/// unchanged when the ring is off.
///
/// Q comes in halves of two 64-column blocks (16 KB): half h of step t sits in slot (2t + h) mod 3
/// of a three-slot ring (48 KB), so the slots of a half tile never wrap (2t mod 3 is where half 0
/// goes; its pair of blocks is contiguous), and dK's MN-major operand Q[:, 128·wg …] is one slot.
/// Half 0 of step t + 1 reuses step t − 1's half-1 slot (free since step t − 1's dK), so the
/// producer loads it while step t runs; half 1 (with L) reuses step t's half-0 slot, freed when
/// step t's dK products complete, as the one-stage tile was. Warpgroup 0 issues Sᵀ's first eight
/// k-steps on half 0 and waits for half 1 only then. The 16 KB come from dropping the float32
/// copy of Pᵀ: warpgroup 1 reads the bf16/fp16 Pᵀ that warpgroup 0 staged for dV (the same
/// thread-to-fragment map, so each thread loads the pairs it would have stored), which is the
/// rounding naive attention in that precision applies to P before dS. Hazards: WG1 reads sP of
/// step t before barrier dS of step t, and WG0 writes sP of step t + 1 after it.
extension HopperBackwardKernel {
    var wideQRing: Bool { descriptor.wideQRing }

    /// Q's full/free barrier pairs: one per stage, or three ring slots.
    var qBuffers: String { wideQRing ? "Q_SLOTS" : "Q_STAGES" }

    var wideQRingConstants: String {
        guard wideQRing else { return "" }
        return """

        constexpr int Q_SLOTS = 3;                 // Q ring: three half tiles (two 64-column blocks each)
        constexpr unsigned QH_BYTES = QT_BYTES / 2;
        static_assert(Q_STAGES == 1, "the Q ring is the one-stage form (64 KB dQ staging)");
        """
    }

    var wideQRingHelpers: String {
        guard wideQRing else { return "" }
        let unpack = descriptor.elementType == .bfloat16
            ? "lo = __uint_as_float(w << 16); hi = __uint_as_float(w & 0xffff0000u);"
            : "lo = f16_to_f32((u16)(w & 0xffffu)); hi = f16_to_f32((u16)(w >> 16));"
        return """

        FA_DEVICE u32 ld_shared_u32(u32 a) { u32 v; asm volatile("ld.shared.b32 %0, [%1];\\n" : "=r"(v) : "r"(a) : "memory"); return v; }
        // A pair packed by pack_input2 (low half first) back to float32.
        FA_DEVICE void unpack_input2(u32 w, float& lo, float& hi) { \(unpack) }
        """
    }

    /// The staged epilogue's barrier ids and 16-byte shared load (only with ``HopperBackwardDescriptor/wideStagedEpilogue``).
    var wideStagedEpilogueHelpers: String {
        guard descriptor.wideStagedEpilogue else { return "" }
        return """

        constexpr int BAR_STAGED = 3;              // named barriers 3 + wg: a warpgroup's dK/dV halves are staged
        \(Self.sharedLoad16)
        """
    }

    /// The shared-memory layout from Q to the dQ staging.
    var wideLayout: String {
        guard wideQRing else {
            return """
                const u32 sQ = sV + KV_BYTES;                   // Q_STAGES tiles, same layout
                const u32 sdO = sQ + Q_STAGES * QT_BYTES;
                const u32 sP = sdO + QT_BYTES;                  // Pᵀ (keys × queries, 128-byte swizzled rows)
                const u32 sdS = sP + PT_BYTES;                  // dSᵀ, same layout
                const u32 sPf = sdS + PT_BYTES;                 // Pᵀ, float32, fragment order
                const u32 sdQ = sPf + PF_BYTES;                 // dQ_partial staging, float32, fragment order
            """
        }
        return """
            const u32 sQ = sV + KV_BYTES;                   // Q ring: Q_SLOTS half tiles of two 64-column blocks
            const u32 sdO = sQ + Q_SLOTS * QH_BYTES;
            const u32 sP = sdO + QT_BYTES;                  // Pᵀ (keys × queries, 128-byte swizzled rows); dSᵀ reads it too
            const u32 sdS = sP + PT_BYTES;                  // dSᵀ, same layout
            const u32 sdQ = sdS + PT_BYTES;                 // dQ_partial staging, float32, fragment order (no float32 Pᵀ)
        """
    }

    /// The producer's Q load of one step.
    var wideProducerQ: String {
        guard wideQRing else {
            return """
                            const int stage = step % Q_STAGES;
                            const u32 q_full = bar_q_full + 8 * stage;
                            mbar_wait(bar_q_free + 8 * stage, ((step / Q_STAGES) & 1) ^ 1);
                            mbar_expect_tx(q_full, QT_BYTES + STAT_BYTES);
                            #pragma unroll
                            for (int db = 0; db < HEAD_DIM / 64; ++db)
                                tma_load(sQ + stage * QT_BYTES + db * COL_BLOCK, &hp.tm_q, q_full, db * 64, m0, h, batch);
                            bulk_load(sL + stage * STAT_BYTES, (const float*)p.lse_log2 + stat, STAT_BYTES, q_full);
            """
        }
        return """
                        // Q half 1 (columns 128…255) and L: its slot held step − 1's half 0, free once
                        // step − 1's dK products complete. (Half 0 went out before dO, a step early.)
                        {
                            const int use = 2 * step + 1, slot = use % Q_SLOTS;
                            const u32 q_full = bar_q_full + 8 * slot;
                            mbar_wait(bar_q_free + 8 * slot, ((use / Q_SLOTS) & 1) ^ 1);
                            mbar_expect_tx(q_full, QH_BYTES + STAT_BYTES);
                            #pragma unroll
                            for (int db = 0; db < 2; ++db)
                                tma_load(sQ + slot * QH_BYTES + db * COL_BLOCK, &hp.tm_q, q_full, (2 + db) * 64, m0, h, batch);
                            bulk_load(sL, (const float*)p.lse_log2 + stat, STAT_BYTES, q_full);
                        }
        """
    }

    /// The ring's half 0 of a step, loaded ahead of dO: its slot held step − 2's half 1.
    var wideProducerQHalf0: String {
        guard wideQRing else { return "" }
        return """
                        {
                            // Q half 0 (columns 0…127): its slot held step − 2's half 1, long free.
                            const int use = 2 * step, slot = use % Q_SLOTS;
                            const u32 q_full = bar_q_full + 8 * slot;
                            mbar_wait(bar_q_free + 8 * slot, ((use / Q_SLOTS) & 1) ^ 1);
                            mbar_expect_tx(q_full, QH_BYTES);
                            #pragma unroll
                            for (int db = 0; db < 2; ++db)
                                tma_load(sQ + slot * QH_BYTES + db * COL_BLOCK, &hp.tm_q, q_full, db * 64, m0, h, batch);
                        }

        """
    }

    /// The consumer's warpgroup index; with precomputed descriptors through a lane-0 shuffle, so that
    /// ptxas knows it is warp-uniform and keeps every operand base chosen by it in uniform registers.
    var wideWarpgroupIndex: String {
        descriptor.precomputedDescriptors ? "__shfl_sync(0xffffffffu, (warp >> 2) - 1, 0)" : "(warp >> 2) - 1"
    }

    /// The Q-ring form's second-half B operand: Q half 1 at `half_off` (warpgroup 0) or dO at `off`.
    var secondHalfOperand: String {
        guard descriptor.precomputedDescriptors else { return "smem_desc((wg == 0 ? q_hi + half_off : sdO + off), 16, 1024)" }
        return "desc_at((wg == 0 ? desc_word(q_hi) + (half_off >> 4) : desc_word(sdO) + (off >> 4)) + (16 >> 4 << 16))"
    }

    /// A step's waits and first product (Sᵀ or dPᵀ).
    var wideFirstProduct: String {
        guard wideQRing else {
            return """
                        const int stage = step % Q_STAGES;
                        const u32 q_base = sQ + stage * QT_BYTES;
                        mbar_wait(bar_q_full + 8 * stage, (step / Q_STAGES) & 1);
                        mbar_wait(bar_do_full, step & 1);

                        // Sᵀ = K·Qᵀ (warpgroup 0) or dPᵀ = V·dOᵀ (warpgroup 1), one group.
                        float sp[8][4];
                        const u32 first_b = wg == 0 ? q_base : sdO;
                        wgmma_fence();
                        #pragma unroll
                        for (int ks = 0; ks < HEAD_DIM / 16; ++ks) {
                            const u32 off = (ks >> 2) * COL_BLOCK + (ks & 3) * 32;
                            wgmma_sp(sp, \(operand("first_a", "off", "16")), \(operand("first_b", "off", "16")), ks > 0 ? 1 : 0);
                        }
                        wgmma_commit();
            """
        }
        return """
                    const int stage = 0;                            // L's row (one)
                    const int slot0 = (2 * step) % Q_SLOTS, slot1 = (2 * step + 1) % Q_SLOTS;
                    const u32 q_lo = sQ + slot0 * QH_BYTES, q_hi = sQ + slot1 * QH_BYTES;
                    const u32 q_half = wg == 0 ? q_lo : q_hi;       // dK's operand Q[:, 128·wg …]
                    // Each warpgroup waits for what it reads: warpgroup 0 Q's halves (the second one
                    // after the first half of its k-loop is issued), then dO (for dV); warpgroup 1 dO,
                    // then Q half 1 before dK.
                    if (wg == 0) mbar_wait(bar_q_full + 8 * slot0, ((2 * step) / Q_SLOTS) & 1);
                    else mbar_wait(bar_do_full, step & 1);

                    // Sᵀ = K·Qᵀ (warpgroup 0) or dPᵀ = V·dOᵀ (warpgroup 1), two groups (columns 0…127, 128…255).
                    float sp[8][4];
                    wgmma_fence();
                    #pragma unroll
                    for (int ks = 0; ks < HEAD_DIM / 32; ++ks) {
                        const u32 off = (ks >> 2) * COL_BLOCK + (ks & 3) * 32;
                        wgmma_sp(sp, \(operand("first_a", "off", "16")), \(operand("(wg == 0 ? q_lo : sdO)", "off", "16")), ks > 0 ? 1 : 0);
                    }
                    wgmma_commit();
                    if (wg == 0) mbar_wait(bar_q_full + 8 * slot1, ((2 * step + 1) / Q_SLOTS) & 1);
                    wgmma_fence();
                    #pragma unroll
                    for (int ks = HEAD_DIM / 32; ks < HEAD_DIM / 16; ++ks) {
                        const u32 off = (ks >> 2) * COL_BLOCK + (ks & 3) * 32, half_off = off - 2 * COL_BLOCK;
                        wgmma_sp(sp, \(operand("first_a", "off", "16")), \(secondHalfOperand), 1);
                    }
                    wgmma_commit();
                    if (wg == 0) mbar_wait(bar_do_full, step & 1);
        """
    }

    /// Warpgroup 0's float32 copy of Pᵀ (not in the ring form).
    static let floatPStore = "                #pragma unroll\n                for (int nt = 0; nt < 8; ++nt) st_shared_f4(sPf + (nt * 128 + ct) * 16, sp[nt][0], sp[nt][1], sp[nt][2], sp[nt][3]);\n                "

    /// Warpgroup 1's dSᵀ = Pᵀ ∘ (dPᵀ − D) in registers: P from the float32 copy, or (ring) from sP.
    var wideDS: String {
        guard wideQRing else {
            return """
                            // dSᵀ = Pᵀ ∘ (dPᵀ − D), P in float32 from warpgroup 0.
                            const float* d_row = (const float*)(base + (sDelta - sK)) + tig * 2;
                            #pragma unroll
                            for (int nt = 0; nt < 8; ++nt) {
                                const float4 pr = ld_shared_f4(sPf + (nt * 128 + ct) * 16);
                                sp[nt][0] = pr.x * (sp[nt][0] - d_row[nt * 8]);
                                sp[nt][1] = pr.y * (sp[nt][1] - d_row[nt * 8 + 1]);
                                sp[nt][2] = pr.z * (sp[nt][2] - d_row[nt * 8]);
                                sp[nt][3] = pr.w * (sp[nt][3] - d_row[nt * 8 + 1]);
                            }
            """
        }
        return """
                        // dSᵀ = Pᵀ ∘ (dPᵀ − D), P as warpgroup 0 staged it for dV (bf16/fp16; naive attention in
                        // that precision rounds P there too). Same thread → fragment map: the pairs this thread
                        // would have stored, at the swizzled addresses of swizzledStore.
                        const float* d_row = (const float*)(base + (sDelta - sK)) + tig * 2;
                        const u32 p_lo = sP + row_lo * 128 + tig * 4, p_hi = p_lo + 8 * 128;
                        #pragma unroll
                        for (int nt = 0; nt < 8; ++nt) {
                            const u32 c = (nt ^ group) << 4;
                            float p0, p1, p2, p3;
                            unpack_input2(ld_shared_u32(p_lo + c), p0, p1);
                            unpack_input2(ld_shared_u32(p_hi + c), p2, p3);
                            sp[nt][0] = p0 * (sp[nt][0] - d_row[nt * 8]);
                            sp[nt][1] = p1 * (sp[nt][1] - d_row[nt * 8 + 1]);
                            sp[nt][2] = p2 * (sp[nt][2] - d_row[nt * 8]);
                            sp[nt][3] = p3 * (sp[nt][3] - d_row[nt * 8 + 1]);
                        }
        """
    }
}
