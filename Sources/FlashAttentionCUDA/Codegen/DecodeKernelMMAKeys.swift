import FlashAttentionCore

/// The keys-as-M tensor-core form of the decode attention kernel (`tensorCores` with
/// `rowsPerBlock` 8): Sᵀ = K·Qᵀ and Oᵀ += Vᵀ·Pᵀ on `mma.sync` m16n8k16, so the 16 keys of a
/// warp step are the M side and the CTA's (up to 8) query rows the N side.
///
/// Why: in the rows-as-M form (``DecodeKernel/mmaSource(_:)``) a GQA group of 4 heads fills 4 of
/// the 16 M rows, so half of each S and P·V product is padding (32 MMAs per 16 keys), the O
/// accumulators take 64 registers per thread (199 in all, two CTAs per SM), and its per-copy
/// `cp.async` address arithmetic made the loop 607 SASS instructions per 16-key step (ncu on
/// the H100, B = 8, 8k, Hk = 8: 26% issue-active, DRAM 73%: latency-bound). Here: 8 MMAs for Sᵀ
/// (the 16 keys × 8 rows tile, Qᵀ held as B fragments, 16 registers at D = 128), 8 for Oᵀ
/// (32 accumulator registers), the scores' transpose into the B operand of P·V through a
/// 256-byte shared tile per warp (two 32-bit stores, one `ldmatrix.x2.trans`), and cheap copy
/// addresses: key rows padded by 16 bytes in the stages (no swizzle: 8 rows at one chunk fall
/// in 8 distinct bank groups), so a lane's destinations differ by immediates, and on contiguous
/// caches its sources by a row stride from one pointer per step, unpredicated when the tile is
/// in range. Each warp copy instruction reads two whole 256-byte key rows (D = 128): a first
/// version that gave each lane pair one key (16 rows per instruction, 32 bytes each) ran at 58%
/// of DRAM bandwidth at B = 8, 8k, Hk = 8, slower than the scalar kernel.
///
/// Masks, options, paged addressing (the page of a lane's last key kept), the fused append
/// (a lane rebuilds its own pieces of new keys), split output and the warp merge are the
/// scalar kernel's pieces, as in the rows-as-M form. A row of the tile that is padding (past
/// the CTA's real rows) never moves its max, so it never forces the O rescale.
extension DecodeKernel {
    /// Bytes per key row of a stage tile: the head dim's bytes plus 16 of padding.
    static func keysFormPitch(headDim: Int) -> Int { headDim * 2 + 16 }

    func mmaKeysSource(_ pieces: MMAPieces) -> String {
        let d = descriptor
        let DT = d.headDim, S = d.stages, W = d.warps
        let chunks = DT / 8                     // 16-byte chunks per key row
        let perLane = 16 * chunks / 32          // chunks of a 16-key tile each lane copies
        let pitch = Self.keysFormPitch(headDim: DT)
        let tileBytes = 16 * pitch
        let pOffset = S * W * 2 * tileBytes     // the warps' Pᵀ tiles follow the stages
        let pack = d.elementType == .bfloat16 ? "pack_bf16x2" : "pack_f16x2"
        let alibi = d.alibi ? "x -= slope[rs] * fabsf((float)(diag[rs] - (j - pad)));" : ""
        let minBlocks = max(1, min(4, (227 * 1024) / max(1, d.sharedMemoryBytes + 1024)))
        // Keys at or past oldLen are this call's new keys: the copies skipped their cache slots
        // (another CTA may be writing them), so the lane rebuilds the chunks of its own key from k/v.
        let newKeys = d.fusedAppend ? """
                    if (chunkLive && j0 + 15 >= oldLen) {
                        const u32 kd = TILE(k % \(S), 0) + dRow, vd = TILE(k % \(S), 1) + dRow;
                        #pragma unroll 1
                        for (int it = 0; it < \(perLane); ++it) {
                            const int j = jLane + k * \(16 * W) + it * \(32 / chunks);
                            if (j >= oldLen && j < kEnd) {
                                const int t = j - oldLen;
                                st_shared_vec8(kd + it * \(32 / chunks * pitch), new_key8(p, b * p.kn_s0 + t * p.kn_s1 + hk * p.kn_s2, ch * 8, j));
                                st_shared_vec8(vd + it * \(32 / chunks * pitch), new_value8(p, b * p.vn_s0 + t * p.vn_s1 + hk * p.vn_s2, ch * 8));
                            }
                        }
                    }
        """ : ""
        let limit = d.fusedAppend ? "min(kEnd, oldLen)" : "kEnd"
        let rowStep = 32 / chunks               // key rows one warp instruction copies
        // Paged caches look each key's page up (the page of the lane's last key is kept, so the
        // table is read once per page); contiguous ones step a row pointer, and a tile whose keys
        // are all in range issues its copies with no predicate.
        let pagedIssue = """
            #define ISSUE(k, st) { \\
                const int jt = jLane + (k) * \(16 * W); \\
                const u32 kd = TILE(st, 0) + dRow, vd = TILE(st, 1) + dRow; \\
                _Pragma("unroll") \\
                for (int it = 0; it < \(perLane); ++it) { \\
                    const int j = jt + it * \(rowStep); \\
                    const bool valid = chunkLive && j < lim; \\
                    long long ko = 0, vo = 0; \\
                    if (valid) { KEY_OFFSETS(j) } \\
                    cp_async16(kd + it * \(rowStep * pitch), kc + ko + ch * 8, valid); \\
                    cp_async16(vd + it * \(rowStep * pitch), vc + vo + ch * 8, valid); \\
                } \\
                cp_async_commit(); }
        """
        let contiguousIssue = """
            #define ISSUE(k, st) { \\
                const int jt = jLane + (k) * \(16 * W); \\
                const u32 kd = TILE(st, 0) + dRow, vd = TILE(st, 1) + dRow; \\
                const u16* kp = kc + kRow + (long long)jt * p.kc_s1 + ch * 8; \\
                const u16* vp = vc + vRow + (long long)jt * p.vc_s1 + ch * 8; \\
                if (chunkLive && jt + \((perLane - 1) * rowStep) < lim) { \\
                    _Pragma("unroll") \\
                    for (int it = 0; it < \(perLane); ++it) { \\
                        cp_async16(kd + it * \(rowStep * pitch), kp + it * kRowStep, true); \\
                        cp_async16(vd + it * \(rowStep * pitch), vp + it * vRowStep, true); \\
                    } \\
                } else { \\
                    _Pragma("unroll") \\
                    for (int it = 0; it < \(perLane); ++it) { \\
                        const bool valid = chunkLive && jt + it * \(rowStep) < lim; \\
                        cp_async16(kd + it * \(rowStep * pitch), valid ? kp + it * kRowStep : kc, valid); \\
                        cp_async16(vd + it * \(rowStep * pitch), valid ? vp + it * vRowStep : vc, valid); \\
                    } \\
                } \\
                cp_async_commit(); }
        """
        return """
        // \(d.name): generated by DecodeKernel.swift (keys-as-M tensor-core form, DecodeKernelMMAKeys.swift) from its descriptor; do not edit.
        \(sourceHeader(appendSupport: pieces.appendSupport))
        FA_DEVICE void st_shared_u32(u32 addr, u32 v) { asm volatile("st.shared.u32 [%0], %1;\\n" :: "r"(addr), "r"(v) : "memory"); }
        // Two 8×8 b16 matrices transposed on the way (lanes 0-15 give the row addresses).
        FA_DEVICE void ldmatrix_x2_trans(u32 (&r)[2], u32 addr) {
            asm volatile("ldmatrix.sync.aligned.m8n8.x2.trans.shared.b16 {%0, %1}, [%2];\\n" : "=r"(r[0]), "=r"(r[1]) : "r"(addr) : "memory");
        }

        #define R 8
        #define KG \(W)
        #define DT \(DT)
        #define KEY_OFFSETS(j) \(pieces.keyOffsets)

        extern "C" __global__ void __launch_bounds__(\(d.threads), \(minBlocks))
        \(Self.entryPoint)(const __grid_constant__ DecodeParams p) {\(DecodeKernelSupport.dependentTrigger(descriptor))
        \(mmaEntry())

            // The CTA's 8 query rows (row m: query m / G of head hk·G + m % G); its real rows are
            // the first `live` ones. Every thread needs the union of their visible keys; its
            // score rows are 2c and 2c + 1, its Qᵀ row (B operand) is g.
        \(Self.mmaKeyUnion(rowsPerTile: 8, rowBounds: pieces.rowBounds))
            int rowLo[2], rowHi[2], diag[2];
            float slope[2];
        \(mmaThreadRows(rowsPerTile: 8, row: "2 * c + rs", keep: "(void)h;", rowBounds: pieces.rowBounds))
        \(pieces.appendWriter)

            // This split's keys: contiguous whole 64-key blocks of the CTA's range (a step of
            // the CTA: 16 keys per warp).
        \(Self.mmaSplitRange)
            // Lane l copies chunk ch = l % \(chunks) of keys kr0 + \(rowStep)·i (kr0 = l / \(chunks)) of each
            // 16-key tile: one warp instruction reads \(32 / chunks) whole key rows (coalesced).
            const int ch = lane % \(chunks), kr0 = lane / \(chunks);
            const bool chunkLive = ch * 8 < p.head_dim;
            const int jLane = kBeg + warp * 16 + kr0;
            const int lim = \(limit);
            \(d.paged ? "" : "const long long kRowStep = \(rowStep) * p.kc_s1, vRowStep = \(rowStep) * p.vc_s1;")
            \(d.paged ? "const long long tableRow = (long long)b * p.max_blocks;\n    int pgLo = -0x40000000; long long pgK = 0, pgV = 0;" : "const long long cacheRow = cache_rows_[b];\n    const long long kRow = cacheRow * p.kc_s0 + kHead, vRow = cacheRow * p.vc_s0 + vHead;")

            // Warp-private stages: [stage][warp][K, V][16 keys][pitch bytes].
            const u32 pipe = smem_u32(smem);
            const u32 dRow = kr0 * \(pitch) + ch * 16;
            #define TILE(st, kind) (pipe + ((((st) * \(W) + warp) * 2 + (kind)) * \(tileBytes)))
            const int steps = kEnd > kBeg ? (kEnd - kBeg + \(16 * W - 1)) / \(16 * W) : 0;
        \(d.paged ? pagedIssue : contiguousIssue)
            #pragma unroll
            for (int st = 0; st < \(S - 1); ++st) {
                if (st < steps) ISSUE(st, st) else cp_async_commit();
            }

            // Qᵀ as m16n8k16 B fragments (row g; dims kk·16 + 2c, +1 and kk·16 + 2c + 8, +9),
            // rounded to the storage type (exact: q is stored in it); loaded once the first K/V
            // copies are in flight.
            u32 qb[DT / 16][2];
            {
                const bool valid = g < live;
                const int m = tile * 8 + g;
                const int i = valid ? m / G : 0, h = hk * G + (valid ? m % G : 0);
                #pragma unroll
                for (int kk = 0; kk < DT / 16; ++kk) {
                    #pragma unroll
                    for (int x = 0; x < 2; ++x) {
                        const int col = kk * 16 + 2 * c + 8 * x;
                        const float v0 = valid && col < p.head_dim ? \(pieces.qLoadAt("col")) : 0.0f;
                        const float v1 = valid && col + 1 < p.head_dim ? \(pieces.qLoadAt("col + 1")) : 0.0f;
                        qb[kk][x] = \(pack)(v0, v1);
                    }
                }
            }

        \(pieces.appendBehind)    float o[DT / 16][4];
            #pragma unroll
            for (int mt = 0; mt < DT / 16; ++mt) o[mt][0] = o[mt][1] = o[mt][2] = o[mt][3] = 0.0f;
            float mrow[2] = {-FA_INF, -FA_INF}, lrow[2] = {0.0f, 0.0f};
            // ldmatrix lane addresses: K as the A operand of Sᵀ (keys (lane & 7) + 8·((lane / 8) & 1),
            // chunk half lane / 16); V transposed as the A operand of Oᵀ (keys (lane & 7) + 8·(lane / 16),
            // chunk half (lane / 8) & 1).
            const u32 kLd = ((lane & 7) + (((lane >> 3) & 1) << 3)) * \(pitch) + (lane >> 4) * 16;
            const u32 vLd = ((lane & 7) + ((lane >> 4) << 3)) * \(pitch) + ((lane >> 3) & 1) * 16;
            // The warp's Pᵀ tile: [16 keys][8 rows] 16-bit, 256 bytes after the stages.
            const u32 pT = pipe + \(pOffset) + warp * 256;

            for (int k = 0; k < steps; ++k) {
                const int j0 = kBeg + k * \(16 * W) + warp * 16;
                cp_async_wait<\(S - 2)>();
        \(newKeys)
                // Every lane's copies of step k have landed, and every lane is done with the
                // stage read one step ago: refill it (\(S - 1) steps stay in flight).
                __syncwarp();
                if (k + \(S - 1) < steps) ISSUE(k + \(S - 1), (k + \(S - 1)) % \(S)) else cp_async_commit();

                \(Self.keysTileMath(tiles: "const u32 kt = TILE(k % \(S), 0) + kLd, vt = TILE(k % \(S), 1) + vLd;", score: pieces.score, alibi: alibi, pack: pack, indent: "        "))
                __syncwarp();  // every lane has read the Pᵀ tile before the next step rewrites it
            }
        \(pieces.appendAfterLoop)    cp_async_wait<0>();
            __syncthreads();  // the merge below reuses the pipeline's shared memory

            // Merge the warps: acc[warp][8 rows][DT], then m and l per (warp, row).
            float* accS = smem;
            float* mS = smem + KG * R * DT;
            float* lS = mS + KG * R;
            \(Self.keysWarpPartials(indent: "    "))
            __syncthreads();
        \(DecodeKernelSupport.groupMerge(rows: "live", skip: "dd >= p.head_dim", threads: d.threads, finish: pieces.finish))
        \(pieces.fusedMerge)
        }
        """
    }

    /// One 16-key tile of the keys form: Sᵀ = K·Qᵀ from the tile `tiles` points at (it declares
    /// `kt` and `vt`), the online softmax with the rescale skip, and Oᵀ += Vᵀ·Pᵀ through the
    /// warp's Pᵀ tile. Shared with the streaming form, whose tiles come from its ring; `indent`
    /// is the column the text is interpolated at (every line after the first gets it).
    static func keysTileMath(tiles: String, score: String, alibi: String, pack: String, indent: String) -> String {
        let text = """
        // Sᵀ = K·Qᵀ over the 16 keys, two accumulator chains (even and odd dim steps):
        // s[e] is key j0 + g + 8·(e / 2) of row 2c + (e % 2).
        float s[4] = {0.0f, 0.0f, 0.0f, 0.0f}, s2[4] = {0.0f, 0.0f, 0.0f, 0.0f};
        \(tiles)
        #pragma unroll
        for (int kk = 0; kk < DT / 16; ++kk) {
            u32 ka[4];
            ldmatrix_x4(ka, kt + kk * 32);
            mma_16816(kk % 2 ? s2 : s, ka, qb[kk][0], qb[kk][1]);
        }
        float mx[2] = {mrow[0], mrow[1]};
        #pragma unroll
        for (int e = 0; e < 4; ++e) {
            const int rs = e & 1;
            const int j = j0 + g + 8 * (e >> 1);
            const float dot = s[e] + s2[e];
            \(score)
            \(alibi)
            s[e] = (j < kEnd && j >= rowLo[rs] && j < rowHi[rs]) ? x : -FA_INF;
            mx[rs] = fmaxf(mx[rs], s[e]);
        }
        float alpha[2];
        #pragma unroll
        for (int rs = 0; rs < 2; ++rs) {
            mx[rs] = fmaxf(mx[rs], __shfl_xor_sync(0xffffffffu, mx[rs], 4));
            mx[rs] = fmaxf(mx[rs], __shfl_xor_sync(0xffffffffu, mx[rs], 8));
            mx[rs] = fmaxf(mx[rs], __shfl_xor_sync(0xffffffffu, mx[rs], 16));
            // A row that has seen no key yet keeps m = −∞; exp2 of −∞ is 0, never NaN.
            // A max that did not move (padding rows included) leaves alpha exactly 1.
            const float safe = mx[rs] == -FA_INF ? 0.0f : mx[rs];
            alpha[rs] = mx[rs] == mrow[rs] ? 1.0f : fast_exp2(mrow[rs] - safe);
            mrow[rs] = mx[rs];
            lrow[rs] *= alpha[rs];
            s[rs] = fast_exp2(s[rs] - safe);
            s[rs + 2] = fast_exp2(s[rs + 2] - safe);
            lrow[rs] += s[rs] + s[rs + 2];
        }
        // Once the maxima settle, most steps move no row's max: skip the rescale then.
        if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
            #pragma unroll
            for (int mt = 0; mt < DT / 16; ++mt) {
                o[mt][0] *= alpha[0]; o[mt][1] *= alpha[1];
                o[mt][2] *= alpha[0]; o[mt][3] *= alpha[1];
            }
        }
        // Pᵀ through the warp's shared tile ([key][row] pairs, P rounded to the storage
        // type), read back transposed as the B fragment of Oᵀ += Vᵀ·Pᵀ.
        st_shared_u32(pT + g * 16 + c * 4, \(pack)(s[0], s[1]));
        st_shared_u32(pT + (g + 8) * 16 + c * 4, \(pack)(s[2], s[3]));
        __syncwarp();
        u32 pb[2];
        ldmatrix_x2_trans(pb, pT + (lane & 15) * 16);
        #pragma unroll
        for (int mt = 0; mt < DT / 16; ++mt) {
            u32 va[4];
            ldmatrix_x4_trans(va, vt + mt * 32);
            mma_16816(o[mt], va, pb[0], pb[1]);
        }
        """
        return text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n" + indent)
    }

    /// A keys-form warp's partial out, max and sum for its 8 rows into the merge area (`accS`,
    /// `mS`, `lS`), after the row sums are reduced over the quad; shared with the streaming form.
    /// `indent` is the column the text is interpolated at (every line after the first gets it).
    static func keysWarpPartials(indent: String) -> String {
        let text = """
        #pragma unroll
        for (int rs = 0; rs < 2; ++rs) {
            lrow[rs] += __shfl_xor_sync(0xffffffffu, lrow[rs], 4);
            lrow[rs] += __shfl_xor_sync(0xffffffffu, lrow[rs], 8);
            lrow[rs] += __shfl_xor_sync(0xffffffffu, lrow[rs], 16);
            const int r = 2 * c + rs;
            #pragma unroll
            for (int mt = 0; mt < DT / 16; ++mt) {
                accS[(warp * R + r) * DT + mt * 16 + g] = o[mt][rs];
                accS[(warp * R + r) * DT + mt * 16 + g + 8] = o[mt][2 + rs];
            }
            if (g == 0) { mS[warp * R + r] = mrow[rs]; lS[warp * R + r] = lrow[rs]; }
        }
        """
        return text.split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n" + indent)
    }
}
