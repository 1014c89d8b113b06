import FlashAttentionCore

// The Hopper forward's producer: its branch (the warpgroup, or warp 8 at two blocks per SM, issuing the TMA copies
// of Q, K and V), the tile loop head it shares with the consumers (static and dynamic schedulers, varlen decode,
// the consumers' Q waits), and the folded producer's issuer and tile loop (lane 0 of warp 4, in the consumers' scope).
extension HopperForwardKernel {
    /// The producer's wait for a free stage or Q buffer: `mbar_wait`, or `mbar_wait_sleep` with
    /// ``AttentionKernelDescriptor/sleepingProducerWaits``.
    private var producerWaitCall: String { descriptor.sleepingProducerWaits ? "mbar_wait_sleep" : "mbar_wait" }

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

    /// The tile loop's head, the same text in the producer and the consumers so both walk
    /// the same tiles: decodes a tile into its rows, head and batch and skips it when empty.
    ///
    /// With the dynamic scheduler the producer takes each tile index from the device counter,
    /// decodes it and publishes (row block, head, batch) in shared memory with the tile's Q (the
    /// "Q full" barrier; a plain arrival for a tile without keys, and row block −1 for the end);
    /// the consumers read it there after that barrier, so both roles still walk the same tiles.
    /// The producer rewrites the slot only after "Q free", which every consumer thread passes
    /// after reading it.
    func tileLoop(producer: Bool) -> String {
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
        if sk { return streamKTileLoop + tileDecodeTail(skip: "continue;") }
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
                    }\(streamKKeyRange)
                    const int m0 = m_block * BLOCK_M;
                    if (m0 >= seqlen_q) \(skip)
                    const int rows_here = imin(BLOCK_M, seqlen_q - m0);
                    const int kv_head = head / p.group_size;
        \(window ? windowKeyRange : keyRange)
                    // Dense tensors: row coordinate within the sequence, batch coordinate b. Varlen
                    // tensors are one batch of all tokens: the row coordinate is the token.
                    const int q_row = (VARLEN ? q_start : 0) + m0, k_row0 = \(sk || window ? "k_start" : "VARLEN ? k_start : 0");
                    const int t_batch = VARLEN ? 0 : batch;
                    (void)q_row; (void)k_row0; (void)t_batch; (void)kv_head;
        """
    }

    /// The tile's key steps from key 0: `diag`, `block_hi` (keys [0, block_hi) are seen by some row of the block) and
    /// `n_blocks`; every line carries its indentation, no line break at the end.
    private var keyRange: String {
        """
                    const int diag = seqlen_k - seqlen_q;  // query i's diagonal is key i + diag (bottom-right)
                    // Keys [0, block_hi) are seen by some row of the block (causal: the last row's edge).
                    const int block_hi = CAUSAL ? imin(seqlen_k, m0 + rows_here - 1 + diag + 1) : seqlen_k;
                    const int n_blocks = \(sk ? "sk_k1 - sk_k0;  // this part's steps" : "block_hi > 0 ? (block_hi + BLOCK_N - 1) / BLOCK_N : 0;")
        """
    }

    /// ``KernelMask/window``: a sliding window's run-time edges (`p.window_left`, `p.window_right`, −1 unbounded).
    var window: Bool { descriptor.mask == .window }

    /// A sliding window's key steps (``KernelMask/window``): keys [w_lo, w_hi) are seen by some row of the block (the
    /// first row's left edge, the last row's right edge). The tile starts at w_lo's step, and `k_start`, `seqlen_k` and
    /// `diag` move by that step's first key, so the copies, the masks and the step offsets below read keys in that frame
    /// as they read them from key 0 without a window (the stream-K tail's parts move their keys the same way).
    var windowKeyRange: String {
        """
                    int diag = seqlen_k - seqlen_q;  // query i's diagonal is key i + diag (bottom-right)
                    const int w_hi = p.window_right < 0 ? seqlen_k : imax(0, imin(seqlen_k, m0 + rows_here - 1 + diag + p.window_right + 1));
                    const int w_lo = p.window_left < 0 ? 0 : imin(seqlen_k, imax(0, m0 + diag - p.window_left));
                    const int n_lo = w_lo / BLOCK_N;  // the first step's block
                    const int n_blocks = w_hi > w_lo ? (w_hi + BLOCK_N - 1) / BLOCK_N - n_lo : 0;
                    k_start += n_lo * BLOCK_N; seqlen_k -= n_lo * BLOCK_N; diag -= n_lo * BLOCK_N;
        """
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

    /// ``AttentionKernelDescriptor/twoBlocksPerMultiprocessor``: 288 threads, consumers in warps 0–7,
    /// the producer warp 8, no `setmaxnreg` (96 registers for every thread at two blocks per SM).
    var two: Bool { descriptor.twoBlocksPerMultiprocessor }

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

    /// ``AttentionKernelDescriptor/foldedProducer``: no producer warp; lane 0 of warp 4 issues every copy.
    var fp: Bool { descriptor.foldedProducer }

    /// The one-buffer grid's wait for the tile's Q (every form but the folded producer, whose tile loop
    /// waits for each tile's Q at its head), with the next line's indentation.
    var staticQueryWait: String {
        let pad = String(repeating: " ", count: 12)
        let wait = qh ? halfWait(indent: 16)
            : "qb = q_iter % Q_STAGES;\n" + pad + "    mbar_wait(bar_q + 8 * qb, (q_iter / Q_STAGES) & 1);\n" + pad + "    ++q_iter;"
        return "if (!DYNAMIC) {\n" + pad + "    " + wait + "\n" + pad + "}\n" + pad
    }

    /// ``AttentionKernelDescriptor/foldedCopiesInSlack``: the folded producer copies in warpgroup 1's slack.
    var sl: Bool { descriptor.foldedCopiesInSlack }

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
    var foldedIssuer: String {
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
    func foldedHeadCopies(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "if (issuer) {\n" + pad + "    take_next();\n"
            + pad + "    copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, kv_iter + STAGES);\n"
            + pad + "    copy_steps(bar_v_full, bar_v_free, sV, &hp.tm_v, copy_next + 4, kv_iter + STAGES);\n"
            + pad + "}\n" + pad + "__syncwarp();"
    }

    /// The folded producer's tile loop head: every thread waits for the tile's Q and reads its slot; the
    /// issuing thread then takes the next tile (a tile ahead) and copies the key steps now due (those of
    /// the next tile when this one has fewer than STAGES).
    var foldedTileLoop: String {
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
    var producerSection: String {
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
}
