import FlashAttentionCore

// The key/value kernel's warp roles (tile D = 64/128): the producer, the dQ writers and the consumers' frame in the
// one-tile-per-CTA and the persistent grid, their per-step pieces (step decode, producer step, the writers' adds),
// and the dK/dV epilogues (direct and staged; their store texts are shared with the wide kernel).
extension HopperBackwardKernel {
    /// The producer, the dQ writers and the consumers of the one-tile-per-CTA grid (shipped text).
    var roles: String {
        String("""
            if (warp < 4) {
                asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\\n" ::: "memory");
                if (warp == 0 && lane == 0 && steps > 0) {
                    // MARK: producer
                    tma_prefetch_map(&hp.tm_q); tma_prefetch_map(&hp.tm_k); tma_prefetch_map(&hp.tm_v); tma_prefetch_map(&hp.tm_do);
                    mbar_expect_tx(bar_kv, 2 * KV_BYTES);
                    #pragma unroll
                    for (int db = 0; db < HEAD_DIM / 64; ++db) {
                        tma_load(sK + db * BLOCK_N * 128, &hp.tm_k, bar_kv, db * 64, n0, kv_head, batch);
                        tma_load(sV + db * BLOCK_N * 128, &hp.tm_v, bar_kv, db * 64, n0, kv_head, batch);
                    }\(timelineMark(1, indent: 20))
                    for (int step = 0; step < steps; ++step) {
                        \(producerStep)
                    }\(timelineMark(9, indent: 20))
                } else if (!ORDERED && warp == 1 && lane == 0) {
                    // MARK: dQ writer, arrival order (non-deterministic calls): nothing waits on an
                    // add's completion, only on its read of the buffer; the adds complete before exit.
                    for (int step = 0; step < steps; ++step) {
                        \(arrivalOrderAdd)
                    }
                    bulk_wait();\(timelineMark(6, indent: 20))
                } else if (ORDERED && DQ_WRITERS == 2 && (warp == 1 || warp == 2) && lane == 0) {
                    // MARK: dQ writers, one per buffer: warp 1 adds the even steps, warp 2 the odd ones.
                    // Each runs the one-buffer cycle on its own bulk groups, so a step's turn passes
                    // on as soon as its own add completes, never behind the next step's turn wait.
                    const int w = warp - 1;
                    for (int step = w; step < steps; step += 2) {
                        \(stepDecode)
                        const u32 src = sdQ + w * DQ_BYTES;
                        mbar_wait(bar_dq_full + 8 * w, (step >> 1) & 1);
                        \(issueOrderedAdd())
                        bulk_wait_read();
                        mbar_arrive(bar_dq_empty + 8 * w);       // the consumers may stage step + 2 here
                        bulk_wait();
                        fence_async_global();
                        red_release_inc(sem);                    // the next key block's turn
                    }\(timelineMark(6, "w == 0", indent: 20))\(timelineMark(8, "w == 1", indent: 20))
                } else if (DQ_WRITERS == 1 && warp == 1 && lane == 0) {
                    // MARK: dQ writer: adds each step's dQ_partial in key-block order
                    // With two buffers the add of step t is issued before step t − 1's completes:
                    // step t − 1's turn passes on once it has (one add in flight per writer).
                    int* pending = nullptr;
                    for (int step = 0; step < steps; ++step) {
                        \(stepDecode)
                        const int buf = DQ_BUFS == 2 ? step & 1 : 0;
                        const u32 src = sdQ + buf * DQ_BYTES;
                        mbar_wait(bar_dq_full + 8 * buf, (DQ_BUFS == 2 ? step >> 1 : step) & 1);
                        \(issueOrderedAdd(note: "// Key blocks that see query block m are 0, 1, … (no left window): block n's turn is n."))
                        if (DQ_BUFS == 2) {
                            if (pending != nullptr) {
                                bulk_wait_one();                 // step t − 1's add is complete
                                mbar_arrive(bar_dq_empty + 8 * (buf ^ 1));
                                fence_async_global();
                                red_release_inc(pending);
                            }
                            pending = sem;
                        } else {
                            bulk_wait_read();
                            mbar_arrive(bar_dq_empty);           // the consumers may stage the next tile
                            bulk_wait();
                            fence_async_global();
                            red_release_inc(sem);                // the next key block's turn (and "reached" for the convert)
                        }
                    }
                    if (pending != nullptr) {
                        bulk_wait();
                        fence_async_global();
                        red_release_inc(pending);
                    }\(timelineMark(6, indent: 20))
                }
            } else {
                // MARK: consumers
                asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\\n" ::: "memory");
                const int wg = (warp >> 2) - 1;                 // keys 64·wg … 64·wg + 63 of the block
                const int ct = tid - 128 - 128 * wg;            // thread within the warpgroup
                const int group = lane >> 2, tig = lane & 3;
                const int warp_row = wg * 64 + (warp & 3) * 16; // this warp's first key row in the block
                const int key0 = n0 + warp_row + group;         // this thread's keys: key0 + 8·r
                const u32 wg_rows = \(warpgroupRows);
                float acc_dk[D_TILES][4], acc_dv[D_TILES][4];
                #pragma unroll
                for (int dt = 0; dt < D_TILES; ++dt)
                    #pragma unroll
                    for (int e = 0; e < 4; ++e) { acc_dk[dt][e] = 0.0f; acc_dv[dt][e] = 0.0f; }
                const float scale_log2 = p.scale_log2;
                if (steps > 0) mbar_wait(bar_kv, 0);\(timelineMark(2, "tid == 128", indent: 16))

                float st[Q_TILES][4];
                if (PIPE_S) {
                    // Step 0's Sᵀ (unconditional like the loop's: ptxas then tracks one group per
                    // path and serializes nothing; with no steps it reads unused shared memory).
                    if (steps > 0) mbar_wait(bar_full, 0);
                    wgmma_fence();
                    \(issueS("sQ"))
                    wgmma_wait<0>();
                    touch_s(st);
                }\(pingPongFirstTurn)

                for (int step = 0; step < steps; ++step) {
                    \(consumerStep)\(timelineMark(3, "tid == 128 && step == 0", indent: 20))
                }\(timelineMark(4, "tid == 128", indent: 16))

                \(epilogueWithTailSplit(consumerEpilogue))\(timelineMark(5, "tid == 128", indent: 16))\(timelineMark(7, "tid == 256", indent: 16))
            }
        """.drop(while: { $0 == " " }))
    }

    /// The consumer's byte offset of its warpgroup's 64 key rows. With precomputed descriptors
    /// the warpgroup index comes from lane 0 (a shuffle), which ptxas knows is warp-uniform, so the
    /// operand bases built from it stay in uniform registers (no R2UR ahead of every wgmma).
    private var warpgroupRows: String {
        descriptor.precomputedDescriptors ? "(u32)__shfl_sync(0xffffffffu, wg, 0) * 64 * 128" : "wg * 64 * 128"
    }

    /// Warpgroup 1 gives warpgroup 0 the first turn (the last turn warpgroup 1 would pass is
    /// never taken, so it passes steps − 1 turns after its steps: every named barrier completes).
    private var pingPongFirstTurn: String {
        guard descriptor.pingPong else { return "" }
        return "\n        if (wg == 1 && steps > 0) named_arrive(BAR_TURN + 0, CONSUMER_THREADS);   // warpgroup 0 issues first"
    }

    /// The step schedule, the same text in the producer, the writer and the consumers.
    var stepDecode: String {
        // The step's index in its key block: persistent tiles count this tile's steps in `tstep` (`step` counts every step
        // of the CTA: the ring's phases); a tail part starts at its first step s0.
        let t = descriptor.persistentTiles ? "tstep" : descriptor.tailSplit ? "(s0 + step)" : "step"
        return """
        const int h = kv_head * p.group_size + \(t) / m_steps;
                        const int m_block = m_blocks - 1 - \(t) % m_steps;  // last query block first
                        const int m0 = m_block * BLOCK_M;
                        (void)h; (void)m0;
        """
    }

    /// One producer step (both grid forms): wait for a free ring stage, then load its Q, dO, L and D.
    private var producerStep: String {
        String("""
                        \(stepDecode)
                        const int stage = step % STAGES;
                        mbar_wait(bar_free + 8 * stage, ((step / STAGES) & 1) ^ 1);
                        const u32 full = bar_full + 8 * stage;
                        mbar_expect_tx(full, 2 * QT_BYTES + 2 * STAT_BYTES);
                        #pragma unroll
                        for (int db = 0; db < HEAD_DIM / 64; ++db) {
                            tma_load(sQ + stage * QT_BYTES + db * BLOCK_M * 128, &hp.tm_q, full, db * 64, m0, h, batch);
                            tma_load(sdO + stage * QT_BYTES + db * BLOCK_M * 128, &hp.tm_do, full, db * 64, m0, h, batch);
                        }
                        const i64 stat = ((i64)h * p.batch + batch) * (m_blocks * BLOCK_M) + m0;\(statisticsWait)
                        bulk_load(sL + stage * STAT_BYTES, (const float*)p.lse_log2 + stat, STAT_BYTES, full);
                        bulk_load(sDelta + stage * STAT_BYTES, (const float*)p.delta + stat, STAT_BYTES, full);
        """.drop(while: { $0 == " " }))
    }

    /// One step of the arrival-order dQ writer (both grid forms): add the staged dQ_partial, free
    /// the buffer once read, count the query block as reached.
    private var arrivalOrderAdd: String {
        String("""
                        \(stepDecode)
                        const int buf = step % DQ_BUFS;
                        mbar_wait(bar_dq_full + 8 * buf, (step / DQ_BUFS) & 1);
                        const i64 tile = ((i64)h * p.batch + batch) * m_blocks + m_block;
                        bulk_reduce_add((float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM), sdQ + buf * DQ_BYTES, DQ_BYTES);
                        bulk_commit();
                        bulk_wait_read();
                        mbar_arrive(bar_dq_empty + 8 * buf);   // the consumers may stage into it again
                        red_relaxed_inc((int*)p.dq_sem + tile);  // "reached", for the convert kernel
        """.drop(while: { $0 == " " }))
    }

    /// One step's add by an ordered dQ writer (the same text in the one- and two-writer forms):
    /// the (head, query block) tile's turn counter and accumulator, the wait for this key block's
    /// turn, then the bulk add (the first key block stores) from `src`, committed as one bulk group.
    /// `note`, a comment line ahead of the turn logic.
    private func issueOrderedAdd(note: String? = nil) -> String {
        let comment = note.map { "\n                " + $0 } ?? ""
        return """
        const i64 tile = ((i64)h * p.batch + batch) * m_blocks + m_block;
                        int* sem = (int*)p.dq_sem + tile;
                        float* dst = (float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM);\(comment)
                        if (ORDERED) {
                            if (n_block > 0) {
                                while (ld_acquire(sem) != n_block) { }
                                fence_async_global();
                                bulk_reduce_add(dst, src, DQ_BYTES);
                            } else {
                                bulk_store(dst, src, DQ_BYTES);  // the first turn: nothing to add to
                            }
                        } else {
                            bulk_reduce_add(dst, src, DQ_BYTES);
                        }
                        bulk_commit();
        """
    }

    // MARK: - Persistent tiles (``HopperBackwardDescriptor/persistentTiles``)

    /// The roles of the persistent grid. Phases across tiles: `step` counts every step the CTA
    /// runs, so the Q/dO ring (stage, parity), the dSᵀ double buffer and the dQ staging continue
    /// their sequences from tile to tile; `it` counts the tiles with steps, and bar_kv / bar_kv_free
    /// complete once per such tile (parity it & 1). The producer loads a later tile's first Q/dO
    /// stage as soon as the ring frees it (the previous tile's second-to-last step), then waits
    /// for the consumers' K/V-free arrival (after the last step's products, before the dK/dV
    /// stores) to load K and V, so the load runs under the epilogue; then the remaining steps.
    var persistentRoles: String {
        """
        if (warp < 4) {
                asm volatile("setmaxnreg.dec.sync.aligned.u32 24;\\n" ::: "memory");
                if (warp == 0 && lane == 0) {
                    // MARK: producer (persistent)
                    tma_prefetch_map(&hp.tm_q); tma_prefetch_map(&hp.tm_k); tma_prefetch_map(&hp.tm_v); tma_prefetch_map(&hp.tm_do);
                    int step = 0, it = 0;
                    for (int kv_tile = blockIdx.x; kv_tile < num_tiles; kv_tile += gridDim.x) {
                        \(persistentTileDecode)
                        if (steps == 0) continue;
                        // K and V of this tile: the first tile's ahead of its first stage; a later tile's
                        // after its first stage (which needs only a freed ring stage), once the consumers
                        // have released the previous tile's K and V (a one-step tile: ahead of it).
                        const int kv_at = it > 0 && steps > 1 ? 1 : 0;
                        for (int tstep = 0; tstep < steps; ++tstep, ++step) {
                            if (tstep == kv_at) {
                                if (it > 0) mbar_wait(bar_kv_free, (it - 1) & 1);
                                mbar_expect_tx(bar_kv, 2 * KV_BYTES);
                                #pragma unroll
                                for (int db = 0; db < HEAD_DIM / 64; ++db) {
                                    tma_load(sK + db * BLOCK_N * 128, &hp.tm_k, bar_kv, db * 64, n0, kv_head, batch);
                                    tma_load(sV + db * BLOCK_N * 128, &hp.tm_v, bar_kv, db * 64, n0, kv_head, batch);
                                }
                            }
                            \(producerStep)
                        }
                        ++it;
                    }
                } else if (warp == 1 && lane == 0) {
                    // MARK: dQ writer, arrival order (persistent): the staging's sequence runs on across tiles.
                    int step = 0;
                    for (int kv_tile = blockIdx.x; kv_tile < num_tiles; kv_tile += gridDim.x) {
                        \(persistentTileDecode)
                        for (int tstep = 0; tstep < steps; ++tstep, ++step) {
                            \(arrivalOrderAdd)
                        }
                    }
                    bulk_wait();
                }
            } else {
                // MARK: consumers (persistent)
                asm volatile("setmaxnreg.inc.sync.aligned.u32 240;\\n" ::: "memory");
                const int wg = (warp >> 2) - 1;                 // keys 64·wg … 64·wg + 63 of the block
                const int ct = tid - 128 - 128 * wg;            // thread within the warpgroup
                const int group = lane >> 2, tig = lane & 3;
                const int warp_row = wg * 64 + (warp & 3) * 16; // this warp's first key row in the block
                const u32 wg_rows = \(warpgroupRows);
                const float scale_log2 = p.scale_log2;
                int step = 0, it = 0;
                for (int kv_tile = blockIdx.x; kv_tile < num_tiles; kv_tile += gridDim.x) {
                    \(persistentTileDecode)
                    const int key0 = n0 + warp_row + group;         // this thread's keys: key0 + 8·r
                    float acc_dk[D_TILES][4], acc_dv[D_TILES][4];
                    #pragma unroll
                    for (int dt = 0; dt < D_TILES; ++dt)
                        #pragma unroll
                        for (int e = 0; e < 4; ++e) { acc_dk[dt][e] = 0.0f; acc_dv[dt][e] = 0.0f; }
                    if (steps > 0) mbar_wait(bar_kv, it & 1);
                    float st[Q_TILES][4];
                    for (int tstep = 0; tstep < steps; ++tstep, ++step) {
                        \(consumerStep)
                    }
                    if (steps > 0) {
                        // Every product of the tile has completed (the step tail waits for all):
                        // the producer may load the next tile's K and V under these stores.
                        mbar_arrive(bar_kv_free);
                        ++it;
                    }
                    \(consumerEpilogue)
                }
            }
        """
    }

    /// One tile's decode at the top of each role's tile loop, then the key block's steps.
    private var persistentTileDecode: String {
        """
        const int batch = kv_tile / (kv_heads * n_blocks), in_batch = kv_tile % (kv_heads * n_blocks);
                const int kv_head = in_batch / n_blocks, n_block = in_batch % n_blocks;
                \(HopperBackwardKernel.keyBlockSteps.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n        "))
        """
    }

    // MARK: - dK/dV epilogue

    /// dK and dV of the tile from the consumers' registers (both grid forms), or with
    /// ``HopperBackwardDescriptor/stagedEpilogue`` through the Q/dO ring in 16-byte pieces.
    private var consumerEpilogue: String {
        if descriptor.stagedEpilogue { return String(stagedEpilogueText.drop(while: { $0 == " " })) }
        return String(Self.directKeyValueStores(tiles: "D_TILES", firstColumn: "").drop(while: { $0 == " " }))
    }

    /// The staged epilogue's barrier ids and 16-byte shared load (``HopperBackwardDescriptor/stagedEpilogue``).
    var stagedEpilogueHelpers: String {
        """
        constexpr int BAR_EPI = 6;                 // named barrier 6: both consumers are done with the Q/dO ring; 7 + wg: a warpgroup's dK/dV are staged
        \(Self.sharedLoad16)
        """
    }

    /// The staged epilogue (``HopperBackwardDescriptor/stagedEpilogue``: tile D = 64/128, 16-bit dK and dV,
    /// one tile per CTA). After the last step both warpgroups' products have completed (each step tail
    /// waits for all of its groups; the pipelined Sᵀ's last issue re-reads its own stage and completes in
    /// the step), so once both pass a 256-thread named barrier nothing reads the Q/dO ring and the producer
    /// loads nothing more. Warpgroup wg packs its dK and dV (64 keys × the tile's columns) into the ring, rows
    /// of HEAD_DIM · 2 bytes with the 16-byte piece c of row r at c ^ (r % 8) (the eight rows of a store
    /// instruction hit 32 different banks), syncs its own 128 threads, and stores 16-byte pieces: a warp
    /// writes two whole rows at tile D = 128 (four at tile D = 64), where the plain form's warp instructions
    /// each touch eight rows with 4 bytes a lane. Tile D = 128: 16 KB each, bytes [32 KB·wg, 32 KB·wg + 32 KB)
    /// of the 64 KB ring (Q's two stages, then dO's). Tile D = 64: 8 KB each, [16 KB·wg, 16 KB·wg + 16 KB),
    /// which is Q's two 16 KB stages (128-query steps).
    private var stagedEpilogueText: String {
        let rowBytes = descriptor.headDim * 2
        let share = descriptor.headDim == 64 ? "16 KB" : "32 KB"
        return Self.stagedKeyValueStores(
            descriptor, entry: "// dK = scale · Σ dSᵀ·Q;  dV = Σ Pᵀ·dO, staged in this warpgroup's \(share) of the Q/dO ring, then"
                + "\n        // stored in 16-byte pieces (keys past the end and columns past D are not stored)."
                + "\n        named_sync(BAR_EPI, CONSUMER_THREADS);          // both warpgroups' last products have read Q and dO",
            base: "sQ", keys: "64", rowLine: "const int row = (warp & 3) * 16 + group + 8 * r;   // of this warpgroup's 64 keys",
            tiles: "D_TILES", stagedSync: "named_sync(BAR_EPI + 1 + wg, 128);          // this warpgroup's dK and dV are staged",
            keyColumnLine: "const int j = n0 + wg * 64 + row, col = c * 8;", rowBytes: rowBytes)
    }

    /// The 16-byte shared-memory load both staged dK/dV epilogues store from (this one's and the wide kernel's).
    static let sharedLoad16 = """
        FA_DEVICE uint4 ld_shared_u4(u32 a) {
            uint4 v;
            asm volatile("ld.shared.v4.b32 {%0, %1, %2, %3}, [%4];\\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(a) : "memory");
            return v;
        }
        """

    /// A staged dK/dV epilogue (tile D = 64/128's through the Q/dO ring, the wide kernel's through the dQ staging): after
    /// `entry` (which waits until the staging bytes are free), each warpgroup packs its `keys` rows of scaled dK and of dV
    /// (`tiles` accumulator tiles a row) at `base` + 2 · keys · rowBytes · wg as rows of `rowBytes` (256, or 128 at tile
    /// D = 64), the 16-byte piece c of row r at c ^ (r % 8), passes `stagedSync`, and stores whole 16-byte row pieces;
    /// keys past the end and columns past D are not stored. The 256-byte text is the one shipped before tile D = 64 had it.
    static func stagedKeyValueStores(_ d: HopperBackwardDescriptor, entry: String, base: String, keys: String, rowLine: String,
                                     tiles: String, stagedSync: String, keyColumnLine: String, rowBytes: Int = 256) -> String {
        func pack(_ t: ElementType) -> String { t == .bfloat16 ? "pack_bf16x2" : "pack_f16x2" }
        precondition(rowBytes == 256 || rowBytes == 128, "staged rows of 16 or 8 pieces")
        // 16-byte pieces a row (a power of two), and the shift that turns a piece index into its row.
        let pieces = rowBytes / 16, pieceShift = pieces.trailingZeroBitCount
        return """
                \(entry)
                {
                    const u32 se_k = \(base) + wg * 2 * (\(keys) * \(rowBytes)), se_v = se_k + \(keys) * \(rowBytes);
                    const float factor = p.grad_scale;
                    #pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        \(rowLine)
                        const u32 rk = se_k + row * \(rowBytes) + tig * 4, rv = se_v + row * \(rowBytes) + tig * 4;
                        #pragma unroll
                        for (int dt = 0; dt < \(tiles); ++dt) {
                            const u32 c = (dt ^ (row & 7)) << 4;
                            st_shared_u32(rk + c, \(pack(d.dkType))(acc_dk[dt][2 * r] * factor, acc_dk[dt][2 * r + 1] * factor));
                            st_shared_u32(rv + c, \(pack(d.dvType))(acc_dv[dt][2 * r], acc_dv[dt][2 * r + 1]));
                        }
                    }
                    \(stagedSync)
                    dk_t* dk_tile = (dk_t*)p.dk + (i64)batch * p.dk_batch_stride + (i64)kv_head * p.dk_head_stride;
                    dv_t* dv_tile = (dv_t*)p.dv + (i64)batch * p.dv_batch_stride + (i64)kv_head * p.dv_head_stride;
                    #pragma unroll
                    for (int i = 0; i < \(keys) * \(pieces) / 128; ++i) {
                        const int idx = i * 128 + ct, row = idx >> \(pieceShift), c = idx & \(pieces - 1);
                        \(keyColumnLine)
                        const u32 off = row * \(rowBytes) + ((c ^ (row & 7)) << 4);
                        if (j < seqlen_k && col < p.head_dim) {
                            *(uint4*)(dk_tile + (i64)j * p.dk_row_stride + col) = ld_shared_u4(se_k + off);
                            *(uint4*)(dv_tile + (i64)j * p.dv_row_stride + col) = ld_shared_u4(se_v + off);
                        }
                    }
                }
        """
    }

    /// dK and dV stored from the consumers' accumulators as 4-byte pairs, keys past the end skipped:
    /// the tile D = 64/128 epilogue (`D_TILES` accumulator tiles from column 0) and the wide kernel's
    /// plain one (`HALF_TILES` from this warpgroup's first column, `wg * 128`).
    static func directKeyValueStores(tiles: String, firstColumn: String) -> String {
        """
                // dK = scale · Σ dSᵀ·Q;  dV = Σ Pᵀ·dO  (keys past the end are not stored)
                dk_t* dk_tile = (dk_t*)p.dk + (i64)batch * p.dk_batch_stride + (i64)kv_head * p.dk_head_stride;
                dv_t* dv_tile = (dv_t*)p.dv + (i64)batch * p.dv_batch_stride + (i64)kv_head * p.dv_head_stride;
                const float factor = p.grad_scale;
                #pragma unroll
                for (int r = 0; r < 2; ++r) {
                    const int j = key0 + 8 * r;
                    if (j < seqlen_k) {
                        dk_t* dk_row = dk_tile + (i64)j * p.dk_row_stride;
                        dv_t* dv_row = dv_tile + (i64)j * p.dv_row_stride;
                        #pragma unroll
                        for (int dt = 0; dt < \(tiles); ++dt) {
                            const int col = \(firstColumn)dt * 8 + tig * 2;
                            if (col < p.head_dim) {
                                store_dk2(dk_row + col, acc_dk[dt][2 * r] * factor, acc_dk[dt][2 * r + 1] * factor);
                                store_dv2(dv_row + col, acc_dv[dt][2 * r], acc_dv[dt][2 * r + 1]);
                            }
                        }
                    }
                }
        """
    }
}
