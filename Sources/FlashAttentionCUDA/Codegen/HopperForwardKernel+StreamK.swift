import FlashAttentionCore

// The Hopper forward's stream-K tail (``AttentionKernelDescriptor/streamKTail``): the tile loop's head that deals the
// last round's key steps out evenly, the key range of a part of a tile, and the warpgroups' hand-over and merge of a
// tile's parts.
extension HopperForwardKernel {
    /// ``AttentionKernelDescriptor/streamKTail``.
    var sk: Bool { descriptor.streamKTail }

    /// Constants of the stream-K tail: the named barriers of a warpgroup's hand-over and the deal.
    var streamKConstants: String {
        guard sk else { return "" }
        return """

        constexpr int BAR_SK = 13;                  // named barriers 13 and 14: a consumer warpgroup's hand-over of a part
        // The tail's deal: whole rounds are tiles 0 … dp − 1; of the S = (tiles − dp) × spt tail key steps (every tile of a dense
        // unmasked problem has spt), the first r = S mod G blocks take q + 1 (q = ⌊S / G⌋) and the rest q, block b steps
        // s0 … s1 − 1 (32-bit: no tail where S could pass 2³¹).
        struct SkDeal { int spt, dp, q, r, s0, s1; };
        FA_DEVICE SkDeal sk_deal(int tiles, int seqlen_k) {
            SkDeal d;
            const int G = (int)gridDim.x, b = (int)blockIdx.x;
            d.spt = (seqlen_k + BLOCK_N - 1) / BLOCK_N;
            d.dp = d.spt > 0 && d.spt < (1 << 30) / G ? tiles - tiles % G : tiles;
            const int S = (tiles - d.dp) * d.spt;
            d.q = S / G; d.r = S % G;
            d.s0 = b * d.q + imin(b, d.r); d.s1 = d.s0 + d.q + (b < d.r ? 1 : 0);
            return d;
        }
        """
    }

    /// The stream-K tail's device helpers after the shared-memory accessors: float4 global accesses that bypass L1 (a
    /// part written by another multiprocessor is never read through a stale line), the hand-over's release and acquire,
    /// and the cursor's step.
    var streamKHelpers: String {
        guard sk else { return "" }
        return """
        FA_DEVICE void st_cg4(float4* a, float4 v) {
            asm volatile("st.global.cg.v4.f32 [%0], {%1, %2, %3, %4};" :: "l"(a), "f"(v.x), "f"(v.y), "f"(v.z), "f"(v.w) : "memory");
        }
        FA_DEVICE float4 ld_cg4(const float4* a) {
            float4 v;
            asm volatile("ld.global.cg.v4.f32 {%0, %1, %2, %3}, [%4];" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "l"(a) : "memory");
            return v;
        }
        FA_DEVICE void red_release_add(int* a, int v) { asm volatile("red.release.gpu.global.add.s32 [%0], %1;" :: "l"(a), "r"(v) : "memory"); }
        FA_DEVICE int ld_acquire(const int* a) { int v; asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(a) : "memory"); return v; }
        // This block's deal sits in shared memory (thread 0 writes it before the roles start: its divisions stay off the tile
        // loop's head, and no register holds it across tiles): dp, s0, s1, spt, and the loop's end dp + s1 − s0 at
        // sk_slot + 0 / 4 / 8 / 12 / 16. The tail runs through the block's steps from the last to the first, one part of a
        // tile at a time: cursor dp + c is the part that ends c steps before s1.
        // The cursor after `unit`: the next whole-round tile, or the tail's first part after the last whole round; in the tail,
        // the part before this one.
        FA_DEVICE int sk_next(u32 sk_slot, int unit) {
            const int dp = ld_shared_s32(sk_slot);
            if (unit < dp) { unit += (int)gridDim.x; return unit >= dp ? dp : unit; }
            const int s0 = ld_shared_s32(sk_slot + 4), s1 = ld_shared_s32(sk_slot + 8), spt = ld_shared_s32(sk_slot + 12);
            const int e = s1 - (unit - dp), t = (e - 1) / spt;
            return dp + s1 - imax(s0, t * spt);
        }
        """
    }

    /// The static persistent tile loop's head with the stream-K tail: whole rounds of tiles as before
    /// (tile blockIdx.x, + gridDim.x, …), then this block's share of the tail's key steps, one part of a tile at a
    /// time from the share's end (`sk_k0` … `sk_k1` of the tile's steps). The producer and the consumers run the same text.
    ///
    /// A counted loop (condition at the head, the step in the increment): with a `for (;;)` and a `break` inside, ptxas
    /// kept the consumers' wgmma descriptors in ordinary registers and moved them to uniform ones at every product (80
    /// R2UR a key step against 33, 1017 instructions against 968).
    var streamKTileLoop: String {
        """
        // Stream-K tail: the tiles past the last whole round are dealt out by key steps (sk_deal, in shared memory). Only the
                    // cursor `unit` lives across tiles: a tile index in the whole rounds, then dp + the steps done from the share's end.
                    for (int unit = imin((int)blockIdx.x, ld_shared_s32(sk_slot)); unit < ld_shared_s32(sk_slot + 16); unit = sk_next(sk_slot, unit)) {
                        int tile = unit, sk_k0 = 0, sk_k1 = ld_shared_s32(sk_slot + 12);
                        if (unit >= ld_shared_s32(sk_slot)) {
                            const int dp = ld_shared_s32(sk_slot), spt = sk_k1, e = ld_shared_s32(sk_slot + 8) - (unit - dp), t = (e - 1) / spt;
                            tile = dp + t; sk_k0 = imax(ld_shared_s32(sk_slot + 4), t * spt) - t * spt; sk_k1 = e - t * spt;
                        }
                        const int m_block = m_blocks - 1 - tile % m_blocks;
                        const int head = (tile / m_blocks) % p.heads;
                        const int batch = tile / (m_blocks * p.heads);
        """
    }

    /// Thread 0's deal into shared memory beside the barriers' set-up (the kernel's __syncthreads publishes it).
    var streamKDealInit: String {
        guard sk else { return "" }
        return "\n" + String(repeating: " ", count: 12) + "{\n"
            + String(repeating: " ", count: 16) + "const SkDeal d = sk_deal(total_tiles, p.seqlen_k);\n"
            + String(repeating: " ", count: 16) + "st_shared_s32(sk_slot, d.dp); st_shared_s32(sk_slot + 4, d.s0); st_shared_s32(sk_slot + 8, d.s1);\n"
            + String(repeating: " ", count: 16) + "st_shared_s32(sk_slot + 12, d.spt); st_shared_s32(sk_slot + 16, d.dp + d.s1 - d.s0);\n"
            + String(repeating: " ", count: 12) + "}"
    }

    /// After the tile decode's sequence lengths: a part of a tile sees keys sk_k0·BLOCK_N … of the sequence as its own
    /// keys 0 …, so the key rows and the sequence-end mask follow from `k_start` and `seqlen_k` (a part that ends before
    /// the sequence's last block needs no mask: its keys all lie below the end).
    var streamKKeyRange: String {
        guard sk else { return "" }
        return "\n" + String(repeating: " ", count: 12)
            + "k_start = sk_k0 * BLOCK_N; seqlen_k -= k_start;  // this part's keys"
    }

    /// The consumers' hand-over and merge of a tail tile's parts, a lambda over this thread's O fragments and row statistics.
    ///
    /// The part holding a tile's last key steps merges: it is the highest block of the tile's parts (owner(x) is the block
    /// whose share holds tail step x, so the others are owner(first step) … this block − 1), and, since every share runs
    /// from its end, the part it reaches last, while the others are the first parts of theirs. So a block hands over at
    /// most one part (its share's last tile) and merges at most one (its first), and a merger waits only for lower blocks,
    /// which launched no later and hand over before they wait for anything.
    ///
    /// Workspace (the tile counter's address): an int per (tail tile, warpgroup) — zero, and zero again after each
    /// launch — padded to 256 B, then per (block, slot, warpgroup) D_TILES + 1 float4 per consumer thread, element-major (a
    /// warp's access is 512 contiguous bytes): O's fragments, then (m₀, m₁, l₀, l₁); slot 0 a block's hand-over, slot 1 its own
    /// part of the tile it merges (writing that into slot 0 raced with the reader of its hand-over). Every part writes; a handing-over
    /// warpgroup then meets at its named barrier and its first thread adds 1 with release semantics (no wait); the merging
    /// warpgroup's first thread waits with acquire loads for the count of the others and zeroes it, and the warpgroup sums
    /// the parts from the workspace straight into O and the LSE, four n8 tiles at a time (its registers' O is dead by then:
    /// summing into it spilled at tile D = 256).
    var streamKMerge: String {
        guard sk else { return "" }
        return """

                // MARK: stream-K tail: a warpgroup's part of tail tile t; the merger (the part with the tile's last steps) writes O and the LSE
                auto sk_part = [&](int t, bool merger, out_t* o_tile, float* lse_tile, int rows_here) {
                    int* counter = (int*)hp.tile_counter + 2 * t + wg;
                    float4* parts = (float4*)(hp.tile_counter + ((8ll * (int)gridDim.x + 255) & ~255ll)) + (ctid & 127);
                    // Slot 0 of a block holds the part it hands over, slot 1 its own part of the tile it merges (its hand-over
                    // may not have been read yet).
                    float4* mine = parts + (((long long)blockIdx.x * 2 + (merger ? 1 : 0)) * 2 + wg) * (D_TILES + 1) * 128;
                    #pragma unroll
                    for (int dt = 0; dt < D_TILES; ++dt) st_cg4(mine + dt * 128, make_float4(acc_o[dt][0], acc_o[dt][1], acc_o[dt][2], acc_o[dt][3]));
                    st_cg4(mine + D_TILES * 128, make_float4(row_max[0], row_max[1], row_sum[0], row_sum[1]));
                    if (!merger) {
                        named_sync(BAR_SK + wg, 128);  // every thread's part is written (CTA scope) before the release
                        if ((ctid & 127) == 0) red_release_add(counter, 1);
                        return;
                    }
                    // The tile's first step's block: owner(x) = x / (q + 1) in the first r shares, r + (x − r (q + 1)) / q past them.
                    const int G = (int)gridDim.x, spt = ld_shared_s32(sk_slot + 12), S = (total_tiles - ld_shared_s32(sk_slot)) * spt;
                    const int q = S / G, r = S % G, x = t * spt;
                    const int b_lo = x < r * (q + 1) ? x / (q + 1) : r + (x - r * (q + 1)) / q;
                    if ((ctid & 127) == 0) {
                        while (ld_acquire(counter) != (int)blockIdx.x - b_lo) {}
                        *counter = 0;  // every other part has been handed over: zero for the next launch
                    }
                    named_sync(BAR_SK + wg, 128);
                    // The common maximum and the row sums over the parts (every part saw a key: each maximum is finite).
                    float mx[2] = {-FA_INF, -FA_INF}, l[2] = {0.0f, 0.0f};
                    // The tile's parts: slot 0 of blocks b_lo … this block − 1, then this block's slot 1.
                    auto part_of = [&](int b) { return parts + (((long long)b * 2 + (b == (int)blockIdx.x ? 1 : 0)) * 2 + wg) * (D_TILES + 1) * 128; };
                    for (int b = b_lo; b <= (int)blockIdx.x; ++b) {
                        const float4 st = ld_cg4(part_of(b) + D_TILES * 128);
                        mx[0] = fmaxf(mx[0], st.x); mx[1] = fmaxf(mx[1], st.y);
                    }
                    for (int b = b_lo; b <= (int)blockIdx.x; ++b) {
                        const float4 st = ld_cg4(part_of(b) + D_TILES * 128);
                        l[0] += exp2f((st.x - mx[0]) * scale_log2) * st.z; l[1] += exp2f((st.y - mx[1]) * scale_log2) * st.w;
                    }
                    float inv[2];
                    #pragma unroll
                    for (int r2 = 0; r2 < 2; ++r2) {
                        const float lr = warp_sum4(l[r2]);
                        inv[r2] = lr > 0.0f ? 1.0f / lr : 0.0f;
                        const int row = row_in_block + 8 * r2;
                        if (WRITE_LSE && tig == 0 && row < rows_here)
                            lse_tile[(i64)row * p.lse_row_stride] = lr > 0.0f ? (mx[r2] * scale_log2 + fast_log2(lr)) * LN2 : FA_INF;
                    }
                    #pragma unroll 1
                    for (int d0 = 0; d0 < D_TILES; d0 += 4) {
                        float o[4][4] = {};
                        for (int b = b_lo; b <= (int)blockIdx.x; ++b) {
                            const float4* part = part_of(b);
                            const float4 st = ld_cg4(part + D_TILES * 128);
                            const float g0 = exp2f((st.x - mx[0]) * scale_log2) * inv[0], g1 = exp2f((st.y - mx[1]) * scale_log2) * inv[1];
                            #pragma unroll
                            for (int i = 0; i < 4; ++i) {
                                const float4 v = ld_cg4(part + (d0 + i) * 128);
                                o[i][0] += g0 * v.x; o[i][1] += g0 * v.y; o[i][2] += g1 * v.z; o[i][3] += g1 * v.w;
                            }
                        }
                        #pragma unroll
                        for (int r2 = 0; r2 < 2; ++r2) {
                            const int row = row_in_block + 8 * r2;
                            if (row < rows_here) {
                                #pragma unroll
                                for (int i = 0; i < 4; ++i) {
                                    const int col = (d0 + i) * 8 + tig * 2;
                                    if (col < p.head_dim) store_out2(o_tile + (i64)row * p.o_row_stride + col, o[i][2 * r2], o[i][2 * r2 + 1]);
                                }
                            }
                        }
                    }
                };
        """
    }

    /// Before the tile's epilogue: a part of a tail tile (fewer steps than the tile's) hands over, or, holding the tile's
    /// last steps, merges and writes O and the LSE itself; either way the tile's epilogue is skipped. With the next line's
    /// indentation.
    var streamKEpilogueGuard: String {
        guard sk else { return "" }
        let pad = String(repeating: " ", count: 12)
        return "if (n_blocks < ld_shared_s32(sk_slot + 12)) {  // a part of a tail tile\n"
            + pad + "    const int spt = ld_shared_s32(sk_slot + 12), e = ld_shared_s32(sk_slot + 8) - (unit - ld_shared_s32(sk_slot)), t = (e - 1) / spt;\n"
            + pad + "    sk_part(t, e == (t + 1) * spt, o_tile, lse_tile, rows_here);\n"
            + pad + "    continue;\n"
            + pad + "}\n" + pad
    }
}
