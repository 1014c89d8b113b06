import FlashAttentionCore

// The Hopper forward consumers' epilogue: the TMA store of O and where O is staged for it (its own tile, the Q
// buffer, the last step's K / V stages, warpgroup 0's own buffer), the late tile addresses and the epilogue call.
extension HopperForwardKernel {
    /// The consumers' epilogue through the TMA store of O (``AttentionKernelDescriptor/tmaStoreO``):
    /// O / l in the output type, staged by `stmatrix` into this warpgroup's 64 rows of the
    /// staging tile in the 128-byte-swizzled layout the copy engine reads (the 16-byte chunk c of
    /// row r at chunk c ^ (r mod 8)), then one bulk tensor store per 64-column block issued by
    /// the warpgroup's first thread. That thread waits for its previous store to have read the
    /// rows (a tile ago) before the warpgroup writes them again. LSE is written directly.
    var storeEpilogue: String {
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

    /// ``AttentionKernelDescriptor/stageOInQueryBuffer``: O is staged in the tile's Q buffer.
    var oq: Bool { descriptor.stageOInQueryBuffer }

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

    /// ``AttentionKernelDescriptor/stageOInLastStage``: O is staged in the last key step's K / V stage.
    var okv: Bool { descriptor.stageOInLastStage }

    /// Bytes between the 64-column blocks of the O staging rows: a block of BLOCK_M rows in the
    /// staging tile or the Q buffer, one warpgroup's 64 rows in a K/V stage or a Q half (not in the
    /// staging tile beside Q halves, `q4`: that tile keeps BLOCK_M rows a block).
    private var oBlockStride: String { okv || (qh && oq) ? "(64 * 128)" : "(BLOCK_M * 128)" }

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
    var ob: Bool { descriptor.stageOInOwnBuffer }

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

    /// ``AttentionKernelDescriptor/lateTileAddresses``: the consumers hold no tile coordinates
    /// or output addresses through the main loop.
    var late: Bool { descriptor.lateTileAddresses }

    /// The tile's O and LSE row-block addresses (the first line unindented, the second by `indent`).
    func tileAddresses(indent: Int) -> String {
        let pad = String(repeating: " ", count: indent)
        return "out_t* o_tile = (out_t*)p.o + (i64)batch * p.o_batch_stride + (i64)(q_start + m0) * p.o_row_stride + (i64)head * p.o_head_stride;\n"
            + pad + "float* lse_tile = (float*)p.lse + (i64)batch * p.lse_batch_stride + (i64)head * p.lse_head_stride + (i64)(q_start + m0) * p.lse_row_stride;\n"
            + pad
    }

    /// Late tile addresses: the tile's coordinates read again from its scheduler slot, which
    /// stays this tile's until every consumer thread has arrived on its Q-free barrier.
    var lateTileReload: String {
        let pad = String(repeating: " ", count: 12)
        return "// The tile's coordinates again from its slot (ours until Q free): no register held them through the loop.\n"
            + pad + "const int e_m_block = ld_shared_s32(slot), e_head = ld_shared_s32(slot + 4), e_batch = ld_shared_s32(slot + 8);\n"
            + pad
    }

    /// Late tile addresses: the epilogue's rows and addresses from the reloaded coordinates.
    var lateTileDecode: String {
        """

                    int e_q_start = 0, e_seqlen_q = p.seqlen_q;
                    if (VARLEN) { const int* cu_q = (const int*)p.cu_seqlens_q; e_q_start = cu_q[e_batch]; e_seqlen_q = cu_q[e_batch + 1] - e_q_start; }
                    const int e_m0 = e_m_block * BLOCK_M, e_rows = imin(BLOCK_M, e_seqlen_q - e_m0);
                    out_t* o_tile = (out_t*)p.o + (i64)e_batch * p.o_batch_stride + (i64)(e_q_start + e_m0) * p.o_row_stride + (i64)e_head * p.o_head_stride;
                    float* lse_tile = (float*)p.lse + (i64)e_batch * p.lse_batch_stride + (i64)e_head * p.lse_head_stride + (i64)(e_q_start + e_m0) * p.lse_row_stride;
        """
    }

    /// The tile's epilogue call (direct stores or the TMA store of O).
    var epilogueCall: String {
        if late {
            return descriptor.tmaStoreO
                ? "store_epilogue(o_tile, lse_tile, e_rows, (VARLEN ? e_q_start : 0) + e_m0, e_head, VARLEN ? 0 : e_batch);"
                : "epilogue(o_tile, lse_tile, e_rows);"
        }
        return descriptor.tmaStoreO ? "store_epilogue(o_tile, lse_tile, rows_here, q_row, head, t_batch);" : "epilogue(o_tile, lse_tile, rows_here);"
    }

    /// The O staging tile's address line (the plain TMA store of O, or warpgroup 0's own rows with
    /// ``AttentionKernelDescriptor/stageOInOwnBuffer``), with the next line's indentation; else nothing.
    var sOLine: String {
        if descriptor.tmaStoreO && !oq && !okv { return "const u32 sO = sV + STAGES * KV_BYTES;         // O staging tile of the bulk tensor store\n    " }
        return ob ? "const u32 sO = sV + STAGES * KV_BYTES;         // warpgroup 0's 64 O staging rows (a buffer of its own)\n    " : ""
    }
}
