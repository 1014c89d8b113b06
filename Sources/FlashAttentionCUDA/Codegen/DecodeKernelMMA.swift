import FlashAttentionCore

/// The rows-as-M tensor-core form of the decode attention kernel (`tensorCores` with
/// `rowsPerBlock` 16): by default for GQA decode (2…8 rows per KV head) on grids that are not
/// tiny with contexts above 2k keys (``DecodeHeuristics/defaultKeysFormTensorCores(rows:tasks:multiprocessors:)``);
/// `FLASH_ATTENTION_DECODE_MMA=m16|on|off` forces it or the other forms.
///
/// Why it exists: the scalar kernel is issue-bound on the H100 (ncu) — a key's dot product is
/// spread over 16 lanes (four shuffle rounds per key and row) and every lane repeats the
/// softmax of that score; at B = 8, 8k, Hk = 8 the schedulers issued on 67% of cycles while
/// DRAM ran at 63%. Here the query rows of a CTA (up to 16: the G heads of a KV head times the
/// queries) are the M side of `mma.sync` m16n8k16 tiles, as cuDNN's decode kernel does: each
/// warp takes 16 keys per step, S = Q·Kᵀ is 16 MMAs over D = 128 (two accumulator chains), the
/// softmax runs on the fragments, and P·V is another 16 MMAs with P rounded to the storage
/// type. Session 5 measured it level with the scalar kernel on the scalar kernel's 256-key
/// splits; with 2048-key splits (session 4) it is the fastest form at long GQA contexts
/// (B = 64, 8k, Hk = 8: 721 against 745 µs; B = 8, 32k: 371 against 379). The keys-as-M form
/// (DecodeKernelMMAKeys.swift) takes short contexts.
///
/// Each warp streams its own 16-key tiles through a `cp.async` pipeline in shared memory (rows
/// XOR-swizzled by 16-byte chunk so `ldmatrix` reads 8 rows without bank conflicts); the
/// pipeline is warp-private, so `__syncwarp` orders it. The rest — row bounds, masks, softcap,
/// ALiBi, paged addressing, the fused append (new keys rebuilt from k/v into the lane's own
/// slots), the split output and the warp merge through shared memory — is the scalar kernel's,
/// with warps in place of key groups. Loops are kept short and addresses per lane precomputed:
/// the first form, fully unrolled over 16 rows with 64-bit address arithmetic per copy, spent
/// 43% of its stalls fetching instructions.
extension DecodeKernel {
    /// The scalar kernel's source pieces the tensor-core kernel reuses unchanged.
    struct MMAPieces {
        var rowBounds: String
        var keyOffsets: String
        var score: String
        var finish: String
        var fusedMerge: String
        var appendSupport: String
        var appendWriter: String
        var qLoadAt: (String) -> String
        /// With `appendBehindCopies` (else empty): the new rows' L1 prefetch, opening the line after
        /// the query fragments, and the append's writer, opening the line after the main loop
        /// (`appendWriter` is empty then).
        var appendBehind: String
        var appendAfterLoop: String
    }

    /// The tensor-core forms' kernel entry: the grid's (KV head, split, query tile) and batch
    /// row, the lane's fragment coordinates (g = lane / 4, c = lane % 4) and the batch row's
    /// keys after the left padding.
    func mmaEntry() -> String {
        let d = descriptor
        return """
            extern __shared__ float smem[];
            const int* seqlens_ = (const int*)p.seqlens;
            const int* left_pad_ = (const int*)p.left_pad;
            const int* cache_rows_ = (const int*)p.cache_rows;
            const int* block_table_ = (const int*)p.block_table;
            const int hk = blockIdx.x % p.kv_heads, rest = blockIdx.x / p.kv_heads;
            const int split = rest % p.splits, tile = rest / p.splits;
            const int b = blockIdx.y;
            const int tid = threadIdx.x, warp = tid / 32, lane = tid % 32, g = lane / 4, c = lane % 4;
            const int G = p.group_size, rows = p.seqlen_q * G;
            const int end = seqlens_[b] + p.seqlen_new;
            const int pad = left_pad_[b];
            const int Sk = end - pad;
        \(d.fusedAppend ? "    const int oldLen = seqlens_[b];  // new keys sit at oldLen ..< end" : "")
        """
    }

    /// The union [lo, hi) of the visible keys of the CTA's `rowsPerTile` query rows (row m:
    /// query m / G of head hk·G + m % G), of which the first `live` are real: every thread
    /// needs it (a short loop, not unrolled: code size matters with so few warps per SM).
    static func mmaKeyUnion(rowsPerTile t: Int, rowBounds: String) -> String {
        """
            const int live = min(\(t), rows - tile * \(t));
            int lo = 0x7fffffff, hi = -1;
            #pragma unroll 1
            for (int r = 0; r < live; ++r) {
                const int i = (tile * \(t) + r) / G;
                int a = 0, z = Sk;
                { const int diag = i + Sk - p.seqlen_q; \(rowBounds) }
                if (z > a) { lo = min(lo, pad + a); hi = max(hi, pad + z); }
            }
            if (hi <= lo) { lo = 0; hi = 0; }
        """
    }

    /// The thread's two query rows `rs` = 0, 1 (tile row `row`, a C expression of `rs`): their
    /// visible keys [rowLo, rowHi), diagonal and ALiBi slope; `keep` is a C statement that may
    /// record the row's query i and head h.
    func mmaThreadRows(rowsPerTile t: Int, row: String, keep: String, rowBounds: String) -> String {
        let d = descriptor
        return """
            #pragma unroll
            for (int rs = 0; rs < 2; ++rs) {
                const int r = \(row), m = tile * \(t) + r;
                const bool valid = r < live;
                const int i = valid ? m / G : 0, h = hk * G + (valid ? m % G : 0);
                \(keep)
                int a = 0, z = Sk;
                { const int diag = i + Sk - p.seqlen_q; \(rowBounds) }
                if (!valid || z < a) { a = 0; z = 0; }
                rowLo[rs] = pad + a;
                rowHi[rs] = pad + z;
                diag[rs] = i + Sk - p.seqlen_q;
                slope[rs] = \(d.alibi ? "valid ? ((const float*)p.alibi_slopes)[b * p.alibi_batch_stride + h * p.alibi_head_stride] * 1.4426950408889634f : 0.0f" : "0.0f");
            }
        """
    }

    /// The split's keys, whole 64-key blocks of the CTA's range, and the KV head's cache bases.
    static let mmaSplitRange = """
            const int chunk = ((hi - lo + p.splits - 1) / p.splits + 63) / 64 * 64;
            const int kBeg = min(hi, lo + split * chunk), kEnd = min(hi, kBeg + chunk);

            const u16* kc = (const u16*)p.k_cache;
            const u16* vc = (const u16*)p.v_cache;
            const long long kHead = hk * p.kc_s2, vHead = hk * p.vc_s2;
        """

    func mmaSource(_ pieces: MMAPieces) -> String {
        let d = descriptor
        let DT = d.headDim, S = d.stages, W = d.warps
        let chunks = DT / 8                     // 16-byte chunks per key row
        let perLane = 16 * chunks / 32          // chunks of a 16-key tile each lane copies
        let rowBytes = DT * 2
        let tileBytes = 16 * rowBytes
        // XOR the chunk with the row's low bits: 8 rows at one logical chunk land in 8 distinct
        // 16-byte bank groups (fewer when a row has fewer than 8 chunks).
        let swizzle = min(chunks, 8) - 1
        // Two S accumulator chains (even and odd head-dim steps) halve the dependent MMA latency;
        // the rotary fused append's new-key rebuild leaves no registers for the second.
        let dual = !(d.fusedAppend && d.rotary != .none)
        let pack = d.elementType == .bfloat16 ? "pack_bf16x2" : "pack_f16x2"
        let alibi = d.alibi ? "x -= slope[rs] * fabsf((float)(diag[rs] - (j - pad)));" : ""
        // Keys at or past oldLen are this call's new keys: the pipeline skipped their cache slots
        // (another CTA may be writing them), so each lane rebuilds its own pieces of them from k/v.
        let newKeys = d.fusedAppend ? """
                    if (j0 + 15 >= oldLen) {
                        #pragma unroll 1
                        for (int it = 0; it < \(perLane); ++it) {
                            const int kr = kr0 + it * \(32 / chunks);
                            const int j = j0 + kr;
                            if (chunkLive && j >= oldLen && j < kEnd) {
                                const int t = j - oldLen;
                                const u32 off = kr * \(rowBytes) + ((ch ^ (kr & \(swizzle))) << 4);
                                st_shared_vec8(TILE(k % \(S), 0) + off, new_key8(p, b * p.kn_s0 + t * p.kn_s1 + hk * p.kn_s2, ch * 8, j));
                                st_shared_vec8(TILE(k % \(S), 1) + off, new_value8(p, b * p.vn_s0 + t * p.vn_s1 + hk * p.vn_s2, ch * 8));
                            }
                        }
                    }
        """ : ""
        // Each lane copies one 16-byte chunk column of rows kr0, kr0 + 32 / chunks, … of the
        // warp's 16-key tile (K and V); contiguous caches step a per-lane pointer.
        let issue = d.paged ? """
                #define ISSUE(k, st) { \\
                    _Pragma("unroll") \\
                    for (int it = 0; it < \(perLane); ++it) { \\
                        const int kr = kr0 + it * \(32 / chunks), j = jLane + (k) * 64 + it * \(32 / chunks); \\
                        const bool valid = chunkLive && j < kEnd\(d.fusedAppend ? " && j < oldLen" : ""); \\
                        long long ko = 0, vo = 0; \\
                        if (valid) { KEY_OFFSETS(j) } \\
                        const u32 off = kr * \(rowBytes) + ((ch ^ (kr & \(swizzle))) << 4); \\
                        cp_async16(TILE(st, 0) + off, kc + ko + ch * 8, valid); \\
                        cp_async16(TILE(st, 1) + off, vc + vo + ch * 8, valid); \\
                    } \\
                    cp_async_commit(); }
        """ : """
                #define ISSUE(k, st) { \\
                    _Pragma("unroll") \\
                    for (int it = 0; it < \(perLane); ++it) { \\
                        const int kr = kr0 + it * \(32 / chunks), j = jLane + (k) * 64 + it * \(32 / chunks); \\
                        const bool valid = chunkLive && j < kEnd\(d.fusedAppend ? " && j < oldLen" : ""); \\
                        const long long jj = valid ? j : 0; \\
                        const u32 off = kr * \(rowBytes) + ((ch ^ (kr & \(swizzle))) << 4); \\
                        cp_async16(TILE(st, 0) + off, kBase + jj * p.kc_s1, valid); \\
                        cp_async16(TILE(st, 1) + off, vBase + jj * p.vc_s1, valid); \\
                    } \\
                    cp_async_commit(); }
        """
        return """
        // \(d.name): generated by DecodeKernel.swift (tensor-core form, DecodeKernelMMA.swift) from its descriptor; do not edit.
        \(sourceHeader(appendSupport: pieces.appendSupport))

        #define R 16
        #define KG \(W)
        #define DT \(DT)
        #define KEY_OFFSETS(j) \(pieces.keyOffsets)

        extern "C" __global__ void __launch_bounds__(\(d.threads), 1)
        \(Self.entryPoint)(const __grid_constant__ DecodeParams p) {\(DecodeKernelSupport.dependentTrigger(descriptor))
        \(mmaEntry())

            // The CTA's 16 query rows (row m: query m / G of head hk·G + m % G); its real rows are
            // the first `live` ones. Every thread needs the union of their visible keys (a short
            // loop, not unrolled: code size matters with so few warps per SM); its own rows are
            // g and g + 8.
        \(Self.mmaKeyUnion(rowsPerTile: 16, rowBounds: pieces.rowBounds))
            int rowLo[2], rowHi[2], diag[2], qi[2], qh[2];
            float slope[2];
        \(mmaThreadRows(rowsPerTile: 16, row: "g + 8 * rs", keep: "qi[rs] = i; qh[rs] = h;", rowBounds: pieces.rowBounds))

        \(pieces.appendWriter)

            // This split's keys: contiguous whole 64-key blocks of the CTA's range (one step of
            // the CTA: 16 keys per warp).
        \(Self.mmaSplitRange)
            // A lane copies one chunk column (ch) of keys kr0, kr0 + \(32 / chunks), … of each 16-key tile.
            const int ch = lane % \(chunks), kr0 = lane / \(chunks);
            const bool chunkLive = ch * 8 < p.head_dim;
            const int jLane = kBeg + warp * 16 + kr0;
            \(d.paged ? "const long long tableRow = (long long)b * p.max_blocks;\n    int pgLo = -0x40000000; long long pgK = 0, pgV = 0;" : "const long long cacheRow = cache_rows_[b];\n    const u16* kBase = kc + cacheRow * p.kc_s0 + kHead + ch * 8;\n    const u16* vBase = vc + cacheRow * p.vc_s0 + vHead + ch * 8;")

            // Warp-private stages: [stage][warp][K, V][16 keys][DT], rows swizzled by chunk.
            const u32 pipe = smem_u32(smem);
            #define TILE(st, kind) (pipe + ((((st) * \(W) + warp) * 2 + (kind)) * \(tileBytes)))
            const int steps = kEnd > kBeg ? (kEnd - kBeg + 63) / 64 : 0;
            \(issue)
            #pragma unroll
            for (int st = 0; st < \(S - 1); ++st) {
                if (st < steps) ISSUE(st, st) else cp_async_commit();
            }

            // Q as m16n8k16 A fragments, rounded to the storage type (exact: q is stored in it);
            // loaded once the first K/V copies are in flight, so the two memory latencies overlap.
            u32 qa[DT / 16][4];
            #pragma unroll
            for (int kk = 0; kk < DT / 16; ++kk) {
                #pragma unroll
                for (int x = 0; x < 4; ++x) {
                    const int rs = x & 1;
                    const int col = kk * 16 + 2 * c + (x >> 1) * 8;
                    const bool valid = g + 8 * rs < live;
                    const int i = qi[rs], h = qh[rs];
                    const float v0 = valid && col < p.head_dim ? \(pieces.qLoadAt("col")) : 0.0f;
                    const float v1 = valid && col + 1 < p.head_dim ? \(pieces.qLoadAt("col + 1")) : 0.0f;
                    qa[kk][x] = \(pack)(v0, v1);
                }
            }

        \(pieces.appendBehind)    float o[DT / 8][4];
            #pragma unroll
            for (int nt = 0; nt < DT / 8; ++nt) o[nt][0] = o[nt][1] = o[nt][2] = o[nt][3] = 0.0f;
            float mrow[2] = {-FA_INF, -FA_INF}, lrow[2] = {0.0f, 0.0f};
            // ldmatrix lane addresses (before the swizzle): K as the B operand of S = Q·Kᵀ (keys
            // (lane & 7) + 8·(lane / 16), chunk half (lane / 8) & 1), V transposed for P·V
            // (keys (lane & 7) + 8·((lane / 8) & 1), chunk half lane / 16).
            const int kRowL = (lane & 7) + ((lane >> 4) << 3), kHalf = (lane >> 3) & 1;
            const int vRowL = (lane & 7) + (((lane >> 3) & 1) << 3), vHalf = lane >> 4;

            for (int k = 0; k < steps; ++k) {
                const int j0 = kBeg + k * 64 + warp * 16;
                cp_async_wait<\(S - 2)>();
        \(newKeys)
                // Every lane's copies of step k have landed, and every lane is done with the
                // stage read one step ago: refill it (\(S - 1) steps stay in flight).
                __syncwarp();
                if (k + \(S - 1) < steps) ISSUE(k + \(S - 1), (k + \(S - 1)) % \(S)) else cp_async_commit();

                // S = Q·Kᵀ over 16 keys: s[t] holds keys j0 + 8t + 2c + {0, 1} of rows g (0, 1), g + 8 (2, 3).
                // Two accumulator chains per key tile (even and odd head-dim steps) halve the
                // dependent MMA latency.
                float s[2][4], s2[2][4];
                #pragma unroll
                for (int t = 0; t < 2; ++t) {
                    #pragma unroll
                    for (int e = 0; e < 4; ++e) { s[t][e] = 0.0f; s2[t][e] = 0.0f; }
                }
                #pragma unroll
                for (int kk = 0; kk < DT / 16; ++kk) {
                    u32 kb[4];
                    const int kch = kk * 2 + kHalf;
                    ldmatrix_x4(kb, TILE(k % \(S), 0) + kRowL * \(rowBytes) + ((kch ^ (kRowL & \(swizzle))) << 4));
                    mma_16816(\(dual ? "kk % 2 ? s2[0] : " : "")s[0], qa[kk], kb[0], kb[1]);
                    mma_16816(\(dual ? "kk % 2 ? s2[1] : " : "")s[1], qa[kk], kb[2], kb[3]);
                }
                #pragma unroll
                for (int t = 0; t < 2; ++t) {
                    #pragma unroll
                    for (int e = 0; e < 4; ++e) s[t][e] += s2[t][e];
                }
                float mx[2] = {mrow[0], mrow[1]};
                #pragma unroll
                for (int t = 0; t < 2; ++t) {
                    #pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int rs = e >> 1;
                        const int j = j0 + t * 8 + 2 * c + (e & 1);
                        const float dot = s[t][e];
                        \(pieces.score)
                        \(alibi)
                        s[t][e] = (j < kEnd && j >= rowLo[rs] && j < rowHi[rs]) ? x : -FA_INF;
                        mx[rs] = fmaxf(mx[rs], s[t][e]);
                    }
                }
                float alpha[2];
                #pragma unroll
                for (int rs = 0; rs < 2; ++rs) {
                    mx[rs] = warp_max4(mx[rs]);
                    // A row that has seen no key yet keeps m = −∞; exp2 of −∞ is 0, never NaN.
                    const float safe = mx[rs] == -FA_INF ? 0.0f : mx[rs];
                    // A max that did not move leaves alpha exactly 1: padding rows (12 of 16 at
                    // G = 4) stay at −∞ and no longer force the O rescale every step.
                    alpha[rs] = mx[rs] == mrow[rs] ? 1.0f : fast_exp2(mrow[rs] - safe);
                    mrow[rs] = mx[rs];
                    lrow[rs] *= alpha[rs];
                    #pragma unroll
                    for (int t = 0; t < 2; ++t) {
                        s[t][2 * rs] = fast_exp2(s[t][2 * rs] - safe);
                        s[t][2 * rs + 1] = fast_exp2(s[t][2 * rs + 1] - safe);
                        lrow[rs] += s[t][2 * rs] + s[t][2 * rs + 1];
                    }
                }
                // Once the maxima settle, most steps move no row's max: skip the rescale then.
                if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) {
                    #pragma unroll
                    for (int nt = 0; nt < DT / 8; ++nt) {
                        o[nt][0] *= alpha[0]; o[nt][1] *= alpha[0];
                        o[nt][2] *= alpha[1]; o[nt][3] *= alpha[1];
                    }
                }
                // O += P·V: the S accumulators of two 8-key tiles are the A fragment of one k16 step.
                u32 pa[4] = {\(pack)(s[0][0], s[0][1]), \(pack)(s[0][2], s[0][3]), \(pack)(s[1][0], s[1][1]), \(pack)(s[1][2], s[1][3])};
                #pragma unroll
                for (int nt = 0; nt < DT / 8; nt += 2) {
                    u32 vb[4];
                    const int vch = nt + vHalf;
                    ldmatrix_x4_trans(vb, TILE(k % \(S), 1) + vRowL * \(rowBytes) + ((vch ^ (vRowL & \(swizzle))) << 4));
                    mma_16816(o[nt], pa, vb[0], vb[1]);
                    mma_16816(o[nt + 1], pa, vb[2], vb[3]);
                }
            }
        \(pieces.appendAfterLoop)    cp_async_wait<0>();
            __syncthreads();  // the merge below reuses the pipeline's shared memory

            // Merge the warps: acc[warp][16 rows][DT], then m and l per (warp, row).
            float* accS = smem;
            float* mS = smem + KG * R * DT;
            float* lS = mS + KG * R;
            #pragma unroll
            for (int rs = 0; rs < 2; ++rs) {
                lrow[rs] = warp_sum4(lrow[rs]);
                const int r = g + 8 * rs;
                #pragma unroll
                for (int nt = 0; nt < DT / 8; ++nt) {
                    accS[(warp * R + r) * DT + nt * 8 + 2 * c] = o[nt][2 * rs];
                    accS[(warp * R + r) * DT + nt * 8 + 2 * c + 1] = o[nt][2 * rs + 1];
                }
                if (c == 0) { mS[warp * R + r] = mrow[rs]; lS[warp * R + r] = lrow[rs]; }
            }
            __syncthreads();
        \(DecodeKernelSupport.groupMerge(rows: "live", skip: "dd >= p.head_dim", threads: d.threads, finish: pieces.finish))
        \(pieces.fusedMerge)
        }
        """
    }
}
