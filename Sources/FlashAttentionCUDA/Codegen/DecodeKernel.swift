import FlashAttentionCore

/// The split-KV attention kernel of a KV-cache call (flash-decoding), generated from a
/// ``DecodeKernelDescriptor`` of kind `.attention`.
///
/// Grid (KV heads · splits · query tiles, batch), KV heads fastest. A CTA owns `rowsPerBlock` query rows of one KV
/// head (row m is query m / G of head hk·G + m % G, G the group size), so every query head of
/// a KV head shares each key the CTA reads: the cache is read once per split, not once per
/// query head. Threads form key groups of `headDim / 8` lanes, each lane owning 8 features; a
/// group takes `keysPerStep` keys per step and issues all their 16-byte K and V loads before
/// using any (loads in flight hide the memory latency; the CTA's groups read neighbouring keys
/// at once). Scores are reduced across the group's lanes with shuffles, masked (causal/window
/// bottom-right with respect to the row's visible keys, the left pad), capped and biased, and
/// folded into a per-row online softmax in the log2 domain. At the end the groups' partial
/// (max, sum, acc) are merged through shared memory and the CTA writes either the final out and
/// LSE (one split) or an fp32 partial out and log2-domain LSE per split for the combine kernel.
///
/// The CTA's keys are the union of its rows' visible intervals, cut into `splits` contiguous
/// ranges of whole 64-key blocks; a split whose range is empty writes LSE −∞ and out 0.
///
/// Two fusions, each a descriptor flag: `fusedAppend` folds the append kernel in (queries
/// rotated on load; new keys rebuilt from k/v into the thread's own pipeline slots, never read
/// from the cache slots split 0 of tile 0 writes in the same launch), and `fusedCombine` lets
/// the last split CTA of a tile merge the partials in split order (a ticket per tile).
///
/// With `clusterSplits` (sm_90) a task's splits are one thread-block cluster (split = rank,
/// splits fastest in the grid) that merges the partials through distributed shared memory and
/// writes the final out and LSE itself: no partials in global memory, no combine kernel.
///
/// With `tensorCores` the same pieces wrap an `mma.sync` main loop instead (DecodeKernelMMA.swift).
public struct DecodeKernel: Sendable {
    public static let entryPoint = "flash_decode_attention"
    public let descriptor: DecodeKernelDescriptor

    public init(descriptor: DecodeKernelDescriptor) throws {
        guard descriptor.kind == .attention else { throw FlashAttentionError.invalidArgument(name: "descriptor", expected: "an attention descriptor, got \(descriptor.kind)") }
        if let reason = descriptor.invalidReason { throw FlashAttentionError.invalidArgument(name: "descriptor", expected: reason) }
        self.descriptor = descriptor
    }

    /// The fused append moved off the copies' path (``DecodeKernelDescriptor/appendBehindCopies``):
    /// once the first K/V copies and q are issued, the CTAs that rebuild this call's new keys
    /// (their split holds them) and the writer CTA fetch the new rows of k and v into L1 (a hint:
    /// the 128-byte lines of each row); the writer stores them into the cache after its main loop
    /// (``appendWriterAfterLoop``), from L1 by then. In the shipped order the writer CTA stalled on
    /// its k/v loads before issuing a copy (H100 timeline, B = 1, 1k, Hk = 8: its copies went out
    /// 3.8 µs after entry against 1.0 µs for the others), and the CTA holding the new keys loaded
    /// them from memory in its last step. Ends with a newline (it opens a line of the caller's source).
    static func appendPrefetch(threads: Int) -> String {
        """
            // Behind the first K/V copies and q: the new rows of k/v into L1 for the CTAs that
            // rebuild them and for the writer (which stores them after its main loop).
            if (kEnd > oldLen || (split == 0 && tile == 0)) {
                const int lines = (p.head_dim + 63) / 64;
                for (int idx = tid; idx < p.seqlen_new * 2 * lines; idx += \(threads)) {
                    const int t = idx / (2 * lines), c = idx % lines;
                    const u16* src = (idx / lines) % 2 == 0
                        ? (const u16*)p.k_new + b * p.kn_s0 + t * p.kn_s1 + hk * p.kn_s2 + (long long)(c * 64) * p.kn_s3
                        : (const u16*)p.v_new + b * p.vn_s0 + t * p.vn_s1 + hk * p.vn_s2 + (long long)(c * 64) * p.vn_s3;
                    asm volatile("prefetch.global.L1 [%0];\\n" :: "l"(src));
                }
            }

        """
    }

    /// The append's cache writes after the main loop (``DecodeKernelDescriptor/appendBehindCopies``),
    /// opening a line of the caller's source; no CTA of the launch reads the slots written.
    static func appendWriterAfterLoop(_ appendWriter: String) -> String {
        "    // The append's cache writes, off the copies' path (the rows are in L1 by now).\n" + appendWriter + "\n"
    }

    public var source: String {
        let d = descriptor
        let T = d.threadsPerKey, KG = d.keyGroups, R = d.rowsPerBlock, N = d.keysPerStep, DT = d.headDim
        let rowBounds: String
        switch d.mask {
        case .none: rowBounds = ""
        case .causal: rowBounds = "z = min(z, diag + 1);"
        case .window: rowBounds = "if (p.window_left >= 0) a = max(a, diag - p.window_left); if (p.window_right >= 0) z = min(z, diag + p.window_right + 1);"
        }
        let address = d.paged
            ? """
                            const int blk = block_table_[tableRow + j / p.page_size];
                            const long long slot = j % p.page_size;
                            const long long ko = blk * p.kc_s0 + slot * p.kc_s1 + kHead;
                            const long long vo = blk * p.vc_s0 + slot * p.vc_s1 + vHead;
            """
            : """
                            const long long ko = kRow + (long long)j * p.kc_s1;
                            const long long vo = vRow + (long long)j * p.vc_s1;
            """
        let load = d.vectorized
            ? """
                            // Lanes past D (a tile wider than D) read nothing: their q is 0, but
                            // memory past the row could be NaN or unmapped.
                            kv[n] = live ? ld_vec8(kc + ko) : Vec8{0u, 0u, 0u, 0u};
                            vv[n] = live ? ld_vec8(vc + vo) : Vec8{0u, 0u, 0u, 0u};
            """
            : """
                            u32 kw[4], vw[4];
                            #pragma unroll
                            for (int e = 0; e < 4; ++e) {
                                // ko/vo already point at feature d0; f counts from there.
                                const int f0 = 2 * e, f1 = f0 + 1;
                                const bool in0 = d0 + f0 < p.head_dim, in1 = d0 + f1 < p.head_dim;
                                const u32 k0 = in0 ? kc[ko + f0 * p.kc_s3] : 0, k1 = in1 ? kc[ko + f1 * p.kc_s3] : 0;
                                const u32 v0 = in0 ? vc[vo + f0 * p.vc_s3] : 0, v1 = in1 ? vc[vo + f1 * p.vc_s3] : 0;
                                kw[e] = k0 | (k1 << 16);
                                vw[e] = v0 | (v1 << 16);
                            }
                            kv[n] = Vec8{kw[0], kw[1], kw[2], kw[3]};
                            vv[n] = Vec8{vw[0], vw[1], vw[2], vw[3]};
            """
        let score = d.softcap
            ? "float x = p.scale_log2 * accurate_tanh(dot * p.softcap_input_scale);"
            : "float x = dot * p.scale_log2;"
        let alibi = d.alibi ? "x -= slope[r] * fabsf((float)(diag[r] - (j - pad)));" : ""
        let finalFinish = """
                    st_out((void*)p.out, b * p.o_s0 + i * p.o_s1 + h * p.o_s2 + dd * p.o_s3, L > 0.0f ? o / L : 0.0f);
            """ + (d.writeLSE ? """

                    if (dd == 0) ((float*)p.lse)[b * p.lse_s0 + h * p.lse_s1 + i * p.lse_s2] = L > 0.0f ? (mx + log2f(L)) * 0.6931471805599453f : FA_INF;
            """ : "")
        let CS = d.clusterSplits
        let finish: String
        if d.splitOutput {
            finish = """
                    const long long row = (((long long)split * p.batch + b) * p.heads + h) * p.seqlen_q + i;
                    ((float*)p.partial_out)[row * \(DT) + dd] = L > 0.0f ? o / L : 0.0f;
                    if (dd == 0) ((float*)p.partial_lse)[row] = L > 0.0f ? mx + log2f(L) : -FA_INF;
            """
        } else if CS > 1 && d.clusterPush {
            // The split's normalized out goes straight to the owner of the output, its
            // log2-domain LSE to every owner of the row's outputs (one word each, no round trip).
            finish = """
                    {
                        const int xi = r * DT + dd;
                        st_cluster_f32(cluster_map(xBase, (u32)(xi / \(d.clusterChunk))) + 4u * (u32)(split * \(d.clusterChunk) + xi % \(d.clusterChunk)), L > 0.0f ? o / L : 0.0f);
                    }
                    if (dd == 0) {
                        const float lse2 = L > 0.0f ? mx + log2f(L) : -FA_INF;
                        for (int ow = (r * DT) / \(d.clusterChunk); ow <= (r * DT + DT - 1) / \(d.clusterChunk) && ow < \(CS); ++ow)
                            st_cluster_f32(cluster_map(xBase, (u32)ow) + 4u * (u32)(\(CS * d.clusterChunk) + split * R + r), lse2);
                    }
            """
        } else if CS > 1 {
            // The split's unnormalized partial stays in this CTA's shared memory for the cluster.
            finish = """
                    xO[r * DT + dd] = o;
                    if (dd == 0) { xM[r] = mx; xL[r] = L; }
            """
        } else {
            finish = finalFinish
        }
        // The cluster merge: once every split of the cluster has its partial in shared memory
        // (the cluster barrier releases and acquires it), the cluster's CTAs share the R·DT
        // outputs between them; each reads the splits' (out, max, sum) through distributed shared
        // memory in split order (the same bits whichever CTA runs first) and writes the final
        // out and LSE. The second barrier keeps every CTA's shared memory alive until all reads
        // of it are done.
        let clusterMerge = """
            cluster_barrier();
            {
                const u32 xBase = smem_u32(xO);
                for (int idx = split * \(d.threads) + tid; idx < R * DT; idx += \(CS * d.threads)) {
                    const int r = idx / DT, dd = idx % DT;
                    const int m = tile * R + r;
                    if (m >= rows || dd >= p.head_dim) continue;
                    float ms[\(CS)], ls[\(CS)], os[\(CS)];
                    #pragma unroll
                    for (int s = 0; s < \(CS); ++s) {
                        const u32 remote = cluster_map(xBase, (u32)s);
                        os[s] = ld_cluster_f32(remote + 4u * (u32)(r * DT + dd));
                        ms[s] = ld_cluster_f32(remote + 4u * (u32)(R * DT + r));
                        ls[s] = ld_cluster_f32(remote + 4u * (u32)(R * DT + R + r));
                    }
                    float mx = -FA_INF;
                    #pragma unroll
                    for (int s = 0; s < \(CS); ++s) mx = fmaxf(mx, ms[s]);
                    float L = 0.0f, o = 0.0f;
                    if (mx != -FA_INF) {
                        #pragma unroll
                        for (int s = 0; s < \(CS); ++s) {
                            const float w = fast_exp2(ms[s] - mx);
                            L = fmaf(ls[s], w, L);
                            o = fmaf(os[s], w, o);
                        }
                    }
                    const int i = m / G, h = hk * G + m % G;
            \(finalFinish)
                }
            }
            cluster_barrier();
        """
        // The pushed merge (``DecodeKernelDescriptor/clusterPush``): every split's out and LSE
        // are in this CTA's exchange area once the barrier has released them; the CTA merges the
        // outputs it owns in split order from local shared memory. Nothing reads another CTA's
        // shared memory after this barrier, so no second one keeps it alive.
        let clusterPushMerge = """
            cluster_barrier();  // release/acquire: every split's pushed out and LSE are here
            {
                const float* xO = smem + \(d.clusterExchangeOffset / 4);
                const float* xL = xO + \(CS * d.clusterChunk);
                for (int li = tid; li < \(d.clusterChunk); li += \(d.threads)) {
                    const int idx = split * \(d.clusterChunk) + li;
                    if (idx >= R * DT) break;
                    const int r = idx / DT, dd = idx % DT;
                    const int m = tile * R + r;
                    if (m >= rows || dd >= p.head_dim) continue;
                    float mx = -FA_INF;
                    #pragma unroll
                    for (int s = 0; s < \(CS); ++s) mx = fmaxf(mx, xL[s * R + r]);
                    float L = 0.0f, o = 0.0f;
                    if (mx != -FA_INF) {
                        #pragma unroll
                        for (int s = 0; s < \(CS); ++s) {
                            const float w = fast_exp2(xL[s * R + r] - mx);
                            L += w;
                            o = fmaf(w, xO[s * \(d.clusterChunk) + li], o);
                        }
                    }
                    const int i = m / G, h = hk * G + m % G;
            \(finalFinish)
                }
            }
        """
        // A cluster's CTAs are neighbours in x: splits fastest there (split = rank in the cluster).
        let gridMap = CS > 1
            ? "const int split = blockIdx.x % \(CS), rest = blockIdx.x / \(CS);\n    const int hk = rest % p.kv_heads, tile = rest / p.kv_heads;"
            : "const int hk = blockIdx.x % p.kv_heads, rest = blockIdx.x / p.kv_heads;\n    const int split = rest % p.splits, tile = rest / p.splits;"
        let clusterSupport = """
        // Thread-block cluster pieces (sm_90): a full cluster barrier (release/acquire), the
        // shared::cluster address of a shared-memory word in CTA `rank`, a load from it.
        FA_DEVICE void cluster_barrier() {
            asm volatile("barrier.cluster.arrive.release.aligned;\\n\\tbarrier.cluster.wait.acquire.aligned;\\n" ::: "memory");
        }
        FA_DEVICE u32 cluster_map(u32 addr, u32 rank) {
            u32 r;
            asm volatile("mapa.shared::cluster.u32 %0, %1, %2;\\n" : "=r"(r) : "r"(addr), "r"(rank));
            return r;
        }
        FA_DEVICE float ld_cluster_f32(u32 addr) {
            float v;
            asm volatile("ld.shared::cluster.f32 %0, [%1];\\n" : "=f"(v) : "r"(addr) : "memory");
            return v;
        }
        """ + (d.clusterPush ? """

        // The pushed merge's pieces: the barrier's two halves apart (a relaxed arrive as the CTA
        // starts, the wait before its first remote store) and a store to a shared::cluster address.
        FA_DEVICE void cluster_arrive_relaxed() {
            asm volatile("barrier.cluster.arrive.relaxed.aligned;\\n" ::: "memory");
        }
        FA_DEVICE void cluster_wait() {
            asm volatile("barrier.cluster.wait.aligned;\\n" ::: "memory");
        }
        FA_DEVICE void st_cluster_f32(u32 addr, float v) {
            asm volatile("st.shared::cluster.f32 [%0], %1;\\n" :: "r"(addr), "f"(v) : "memory");
        }
        """ : "")
        // The fused combine: every CTA publishes its partials (fence, then a ticket); the CTA
        // that draws the last ticket of its (b, hk, tile) resets the ticket for the next call and
        // merges all splits' partials in split order from L2, so the bits never depend on which
        // CTA came last.
        let fusedMerge = """
            __threadfence();
            __syncthreads();  // also: the group merge above is done with shared memory
            bool last = false;
            if (tid == 0) {
                int* ticket = (int*)p.tickets + ((long long)b * p.kv_heads + hk) * p.query_tiles + tile;
                last = atomicAdd(ticket, 1) == p.splits - 1;
                if (last) *ticket = 0;  // every split has arrived: ready for the next launch
            }
            // Broadcast through the barrier, not a static shared word: the kernel's shared memory
            // stays exactly the dynamic 64 KB that three CTAs per SM fit around.
            if (!__syncthreads_or(last)) return;
            __threadfence();
            const long long perSplit = (long long)p.batch * p.heads * p.seqlen_q;
            float* lseS = smem;  // [R][splits]
            for (int idx = tid; idx < R * p.splits; idx += \(d.threads)) {
                const int r = idx / p.splits, s = idx % p.splits, m = tile * R + r;
                float l = -FA_INF;
                if (m < rows) {
                    const int i = m / G, h = hk * G + m % G;
                    l = __ldcg((const float*)p.partial_lse + s * perSplit + ((long long)b * p.heads + h) * p.seqlen_q + i);
                }
                lseS[idx] = l;
            }
            __syncthreads();
            for (int idx = tid; idx < R * DT; idx += \(d.threads)) {
                const int r = idx / DT, dd = idx % DT;
                const int m = tile * R + r;
                if (m >= rows || dd >= p.head_dim) continue;
                const int i = m / G, h = hk * G + m % G;
                const float* ls = lseS + r * p.splits;
                float mx = -FA_INF;
                for (int s = 0; s < p.splits; ++s) mx = fmaxf(mx, ls[s]);
                float L = 0.0f, o = 0.0f;
                if (mx != -FA_INF) {
                    const float* po = (const float*)p.partial_out + (((long long)b * p.heads + h) * p.seqlen_q + i) * DT + dd;
                    #pragma unroll 16
                    for (int s = 0; s < p.splits; ++s) {
                        const float w = fast_exp2(ls[s] - mx);
                        L += w;
                        o = fmaf(w, __ldcg(po + s * perSplit * DT), o);
                    }
                }
                st_out((void*)p.out, b * p.o_s0 + i * p.o_s1 + h * p.o_s2 + dd * p.o_s3, L > 0.0f ? o / L : 0.0f);
        \(d.writeLSE ? "        if (dd == 0) ((float*)p.lse)[b * p.lse_s0 + h * p.lse_s1 + i * p.lse_s2] = L > 0.0f ? (mx + log2f(L)) * 0.6931471805599453f : FA_INF;" : "")
            }
        """
        let pipelined = d.pipelined
        let toBits = d.elementType == .bfloat16 ? "f32_to_bf16" : "f32_to_f16"
        let fromBits = d.elementType == .bfloat16 ? "bf16_to_f32" : "f16_to_f32"
        // Element `dim` of query row (b, i, h), as a float32 expression.
        func qLoadAt(_ dim: String) -> String {
            let rotatedQuery = "rotated((const void*)p.q_src, b * p.qs_s0 + i * p.qs_s1 + h * p.qs_s2, p.qs_s3, \(dim), oldLen + (p.query_positions_advance ? i : 0), rotary_of(p))"
            // A rotated query is rounded to the storage type, as the append kernel stores it and the
            // CPU backend computes it: both paths then see the same query bits.
            return d.fusedAppend
                ? (d.rotary == .none ? rotatedQuery : "\(fromBits)(\(toBits)(\(rotatedQuery)))")
                : "ld_x((const void*)p.q, b * p.q_s0 + i * p.q_s1 + h * p.q_s2 + (\(dim)) * p.q_s3)"
        }
        let qLoad = qLoadAt("d0 + e")
        // The fused append's pieces. New keys are rounded to the storage type exactly as the
        // cache store rounds them, so attention sees the bits the cache will hold.
        let appendSupport = """
        \(DecodeKernelSupport.storeFunction("st_x", d.elementType))
        \(DecodeKernelSupport.loadFunction("ld_rot", d.rotaryTableType))
        \(KVAppendKernel.rotaryStruct)
        \(KVAppendKernel.rotateFunction(d.rotary))
        // Features d0 … d0 + 7 of new key / value row `base` (D % 8 == 0 on this path).
        // Built from the (constant-bank) parameters where used, so nothing stays live in registers.
        FA_DEVICE Rotary rotary_of(const DecodeParams& p) {
            return Rotary{(const void*)p.rotary_cos, (const void*)p.rotary_sin, p.cos_s0, p.cos_s1, p.sin_s0, p.sin_s1, p.rotary_dim};
        }
        FA_DEVICE Vec8 new_key8(const DecodeParams& p, long long base, int d0, int pos) {
            const Rotary ro = rotary_of(p);
            u32 w[4];
            #pragma unroll
            for (int e = 0; e < 4; ++e) {
                const u32 lo = \(toBits)(rotated((const void*)p.k_new, base, p.kn_s3, d0 + 2 * e, pos, ro));
                const u32 hi = \(toBits)(rotated((const void*)p.k_new, base, p.kn_s3, d0 + 2 * e + 1, pos, ro));
                w[e] = lo | (hi << 16);
            }
            return Vec8{w[0], w[1], w[2], w[3]};
        }
        FA_DEVICE void st_shared_vec8(u32 addr, const Vec8& v) {
            asm volatile("st.shared.v4.u32 [%0], {%1, %2, %3, %4};\\n" :: "r"(addr), "r"(v.x), "r"(v.y), "r"(v.z), "r"(v.w) : "memory");
        }
        FA_DEVICE Vec8 new_value8(const DecodeParams& p, long long base, int d0) {
            const u16* v = (const u16*)p.v_new;
            u32 w[4];
            #pragma unroll
            for (int e = 0; e < 4; ++e) w[e] = (u32)v[base + (d0 + 2 * e) * p.vn_s3] | ((u32)v[base + (d0 + 2 * e + 1) * p.vn_s3] << 16);
            return Vec8{w[0], w[1], w[2], w[3]};
        }
        """
        // Keys at or past oldLen are this call's new keys: the pipeline skipped their cache slots
        // (another CTA may be writing them), so they come from k/v here, into the thread's own
        // (already landed, zero-filled) pipeline slots: nothing stays live in registers.
        let newKeys = """
                        if (live && base + (N - 1) * KG + group >= oldLen) {
                            #pragma unroll 1
                            for (int n = 0; n < N; ++n) {
                                const int j = base + n * KG + group;
                                if (j >= oldLen && j < kEnd) {
                                    const int t = j - oldLen;
                                    st_shared_vec8(SLOT(k % \(d.stages), n, 0), new_key8(p, b * p.kn_s0 + t * p.kn_s1 + hk * p.kn_s2, d0, j));
                                    st_shared_vec8(SLOT(k % \(d.stages), n, 1), new_value8(p, b * p.vn_s0 + t * p.vn_s1 + hk * p.vn_s2, d0));
                                }
                            }
                        }
        """
        let slot = d.paged
            ? "const long long page = block_table_[(long long)b * p.max_blocks + pos / p.page_size]; const long long slot = pos % p.page_size; const long long kBase = page * p.kc_s0 + slot * p.kc_s1 + hk * p.kc_s2, vBase = page * p.vc_s0 + slot * p.vc_s1 + hk * p.vc_s2;"
            : "const long long row = cache_rows_[b]; const long long kBase = row * p.kc_s0 + (long long)pos * p.kc_s1 + hk * p.kc_s2, vBase = row * p.vc_s0 + (long long)pos * p.vc_s1 + hk * p.vc_s2;"
        // One CTA per (b, hk) writes the new rows into the cache; no CTA of this launch reads them there.
        let appendWriter = """
            if (split == 0 && tile == 0) {
                for (int idx = tid; idx < p.seqlen_new * p.head_dim; idx += \(d.threads)) {
                    const int t = idx / p.head_dim, e = idx % p.head_dim, pos = oldLen + t;
                    \(slot)
                    st_x((void*)p.k_cache, kBase + e * p.kc_s3, rotated((const void*)p.k_new, b * p.kn_s0 + t * p.kn_s1 + hk * p.kn_s2, p.kn_s3, e, pos, rotary_of(p)));
                    ((u16*)p.v_cache)[vBase + e * p.vc_s3] = ((const u16*)p.v_new)[b * p.vn_s0 + t * p.vn_s1 + hk * p.vn_s2 + e * p.vn_s3];
                }
            }
        """
        let loopHead: String
        var prologue = ""
        if pipelined {
            let S = d.stages
            // Each thread copies its own 16-byte pieces and later reads exactly those back, so
            // the pipeline needs no barrier: cp.async.wait_group orders a thread's own copies.
            prologue = """
                    const u32 pipe = smem_u32(smem);
                    \(d.paged ? "// The page of the thread's last key: the table is read once per page, not per key.\n        int pgLo = -0x40000000; long long pgK = 0, pgV = 0;" : "")
                    const int steps = kEnd > kBeg ? (kEnd - kBeg + KG * N - 1) / (KG * N) : 0;
                    #define SLOT(st, n, kind) (pipe + ((((st) * N + (n)) * 2 + (kind)) * \(d.threads) + tid) * 16)
                    #define ISSUE(k, st) { \\
                        _Pragma("unroll") \\
                        for (int n = 0; n < N; ++n) { \\
                            const int j = kBeg + (k) * KG * N + n * KG + group; \\
                            const bool valid = live && j < kEnd\(d.fusedAppend ? " && j < oldLen" : ""); \\
                            long long ko = 0, vo = 0; \\
                            if (valid) { KEY_OFFSETS(j) } \\
                            cp_async16(SLOT(st, n, 0), kc + ko, valid); \\
                            cp_async16(SLOT(st, n, 1), vc + vo, valid); \\
                        } \\
                        cp_async_commit(); }
                    #pragma unroll
                    for (int st = 0; st < \(S - 1); ++st) {
                        if (st < steps) ISSUE(st, st) else cp_async_commit();
                    }
            """
            loopHead = """
                    for (int k = 0; k < steps; ++k) {
                        const int base = kBeg + k * KG * N;
                        Vec8 kv[N], vv[N];
                        cp_async_wait<\(S - 2)>();\(d.timeline ? "\n            if (k == 0) { FA_TL_MARK(4, true) }" : "")
                \(d.fusedAppend ? newKeys : "")
                        #pragma unroll
                        for (int n = 0; n < N; ++n) {
                            kv[n] = ld_shared_vec8(SLOT(k % \(S), n, 0));
                            vv[n] = ld_shared_vec8(SLOT(k % \(S), n, 1));
                        }
                        // Refill the stage read one step ago: \(S - 1) steps stay in flight.
                        if (k + \(S - 1) < steps) ISSUE(k + \(S - 1), (k + \(S - 1)) % \(S)) else cp_async_commit();
            """
        } else {
            loopHead = """
                    for (int base = kBeg; base < kEnd; base += KG * N) {
                        Vec8 kv[N], vv[N];
                        // Every load of the step first, then the math.
                        #pragma unroll
                        for (int n = 0; n < N; ++n) {
                            const int j = base + n * KG + group;
                            if (j < kEnd) {
                \(address)
                \(load)
                            } else {
                                kv[n] = Vec8{0u, 0u, 0u, 0u};
                                vv[n] = Vec8{0u, 0u, 0u, 0u};
                            }
                        }
            """
        }
        let keyOffsets = d.paged
            ? "if (j < pgLo || j >= pgLo + p.page_size) { const int pg = j / p.page_size; const long long blk = block_table_[tableRow + pg]; pgLo = pg * p.page_size; pgK = blk * p.kc_s0 + kHead; pgV = blk * p.vc_s0 + vHead; } ko = pgK + (long long)(j - pgLo) * p.kc_s1; vo = pgV + (long long)(j - pgLo) * p.vc_s1;"
            : "ko = kRow + (long long)j * p.kc_s1; vo = vRow + (long long)j * p.vc_s1;"
        // The step's scores. Lane form: every lane reduces each (key, row) dot product over the
        // group's T lanes on its own (log2 T shuffles per product) and scores all of them.
        // Transposed form: the N·R partial sums are reduced together, each butterfly stage
        // handing half of the values a lane still holds to its partner (N·R − 1 shuffles for the
        // step), so a lane ends with the full sums of P = max(1, N·R / T) (key, row) pairs, scores
        // and masks only those, and broadcasts them back (N·R shuffles).
        let V = N * R, P = max(1, V / T), laneBlock = T / min(V, T)
        let scoreBlock: String
        let laneSetup: String
        if d.transposedReduce {
            var stages = ""
            var held = V
            var off = T / 2
            while off >= 1 {
                if held > 1 {
                    let half = held / 2
                    // A lane with bit `off` keeps the upper half of its values (index bit held/2).
                    stages += """
                            {
                                const bool up = (sub & \(off)) != 0;
                                #pragma unroll
                                for (int i = 0; i < \(half); ++i) {
                                    const float send = up ? part[i] : part[i + \(half)];
                                    const float keep = up ? part[i + \(half)] : part[i];
                                    part[i] = keep + __shfl_xor_sync(0xffffffffu, send, \(off));
                                }
                            }

                    """
                    held = half
                } else {
                    stages += "            part[0] += __shfl_xor_sync(0xffffffffu, part[0], \(off));\n"
                }
                off /= 2
            }
            let laneAlibi = d.alibi ? "x -= mySlope[i] * fabsf((float)(myDiag[i] - (j - pad)));" : ""
            scoreBlock = """
                    // Partial dot products of the step's (key n, row r) pairs, index n·R + r.
                    float part[\(V)];
                    #pragma unroll
                    for (int n = 0; n < N; ++n) {
                        float kf[8];
                        unpack8(kv[n], kf);
                        #pragma unroll
                        for (int r = 0; r < R; ++r) {
                            float dot = 0.0f;
                            #pragma unroll
                            for (int e = 0; e < 8; ++e) dot = fmaf(q[r][e], kf[e], dot);
                            part[n * R + r] = dot;
                        }
                    }
            \(stages)
                    // This lane's sums are pairs slot·P + i: score and mask them here, once.
                    float xs[\(P)];
                    #pragma unroll
                    for (int i = 0; i < \(P); ++i) {
                        const int j = base + myJ[i];
                        const float dot = part[i];
                        \(score)
                        \(laneAlibi)
                        xs[i] = (j < kEnd && j >= myLo[i] && j < myHi[i]) ? x : -FA_INF;
                    }
                    float s[N][R];
                    #pragma unroll
                    for (int n = 0; n < N; ++n) {
                        #pragma unroll
                        for (int r = 0; r < R; ++r) s[n][r] = __shfl_sync(0xffffffffu, xs[(n * R + r) % \(P)], ((n * R + r) / \(P)) * \(laneBlock), T);
                    }
            """
            // The (key, row) pairs a lane scores never change: their key offset, visible keys and
            // ALiBi terms are picked once (selects over the unrolled rows, no local memory).
            laneSetup = """
                const int slot = sub / \(laneBlock);
                int myJ[\(P)], myLo[\(P)], myHi[\(P)], myDiag[\(P)];
                float mySlope[\(P)];
                #pragma unroll
                for (int i = 0; i < \(P); ++i) {
                    const int v = slot * \(P) + i, rr = v % R;
                    myJ[i] = (v / R) * KG + group;
                    myLo[i] = rowLo[0]; myHi[i] = rowHi[0]; myDiag[i] = diag[0]; mySlope[i] = slope[0];
                    #pragma unroll
                    for (int r = 1; r < R; ++r) {
                        if (rr == r) { myLo[i] = rowLo[r]; myHi[i] = rowHi[r]; myDiag[i] = diag[r]; mySlope[i] = slope[r]; }
                    }
                }
                (void)myDiag; (void)mySlope;
            """
        } else {
            laneSetup = ""
            scoreBlock = """
                    float s[N][R];
                    #pragma unroll
                    for (int n = 0; n < N; ++n) {
                        const int j = base + n * KG + group;
                        float kf[8];
                        unpack8(kv[n], kf);
                        #pragma unroll
                        for (int r = 0; r < R; ++r) {
                            float dot = 0.0f;
                            #pragma unroll
                            for (int e = 0; e < 8; ++e) dot = fmaf(q[r][e], kf[e], dot);
                            #pragma unroll
                            for (int off = T / 2; off > 0; off >>= 1) dot += __shfl_xor_sync(0xffffffffu, dot, off);
                            \(score)
                            \(alibi)
                            s[n][r] = (j < kEnd && j >= rowLo[r] && j < rowHi[r]) ? x : -FA_INF;
                        }
                    }
            """
        }
        // A row whose max did not move has alpha = 1 exactly (or acc = l = 0 while it is −∞):
        // the transposed form skips its rescale.
        let rescale = d.transposedReduce
            ? """
                            mrow[r] = mx;
                            #pragma unroll
                            for (int n = 0; n < N; ++n) { s[n][r] = fast_exp2(s[n][r] - safe); }
                            if (mx != mOld) {
                                alpha[r] = fast_exp2(mOld - safe);
                                lrow[r] *= alpha[r];
                                #pragma unroll
                                for (int e = 0; e < 8; ++e) acc[r][e] *= alpha[r];
                            }
                            #pragma unroll
                            for (int n = 0; n < N; ++n) lrow[r] += s[n][r];
            """
            : """
                            alpha[r] = fast_exp2(mrow[r] - safe);
                            mrow[r] = mx;
                            lrow[r] *= alpha[r];
                            #pragma unroll
                            for (int n = 0; n < N; ++n) { s[n][r] = fast_exp2(s[n][r] - safe); lrow[r] += s[n][r]; }
                            #pragma unroll
                            for (int e = 0; e < 8; ++e) acc[r][e] *= alpha[r];
            """
        if d.tensorCores {
            let form = d.streamRing ? mmaStreamSource : d.rowsPerBlock == 8 ? mmaKeysSource : mmaSource
            return form(MMAPieces(
                rowBounds: rowBounds, keyOffsets: keyOffsets, score: score, finish: finish,
                fusedMerge: d.fusedCombine ? fusedMerge : "", appendSupport: d.fusedAppend ? appendSupport : "",
                appendWriter: d.fusedAppend && !d.appendBehindCopies ? appendWriter : "", qLoadAt: qLoadAt,
                appendBehind: d.appendBehindCopies ? Self.appendPrefetch(threads: d.threads) : "",
                appendAfterLoop: d.appendBehindCopies ? Self.appendWriterAfterLoop(appendWriter) : ""))
        }
        return """
        // \(d.name): generated by DecodeKernel.swift from its descriptor; do not edit.
        \(sourceHeader(appendSupport: d.fusedAppend ? appendSupport : ""))
        \(CS > 1 ? clusterSupport : "")

        \(DecodeTimeline.support(d.timeline))#define T \(T)
        #define KG \(KG)
        #define R \(R)
        #define N \(N)
        #define DT \(DT)
        #define KEY_OFFSETS(j) \(keyOffsets)

        extern "C" __global__ void \(CS > 1 ? "__cluster_dims__(\(CS), 1, 1) " : "")__launch_bounds__(\(d.threads))
        \(Self.entryPoint)(const __grid_constant__ DecodeParams p) {\(DecodeKernelSupport.dependentTrigger(descriptor))\(DecodeTimeline.entry(d.timeline))\(d.clusterPush ? "\n    cluster_arrive_relaxed();  // this CTA has started (waited on before the first remote store)" : "")
            extern __shared__ float smem[];
            const int* seqlens_ = (const int*)p.seqlens;
            const int* left_pad_ = (const int*)p.left_pad;
            const int* cache_rows_ = (const int*)p.cache_rows;
            const int* block_table_ = (const int*)p.block_table;
            \(gridMap)
            const int b = blockIdx.y;
            const int tid = threadIdx.x, group = tid / T, sub = tid % T, d0 = sub * 8;
            const bool live = d0 < p.head_dim;
            const int G = p.group_size, rows = p.seqlen_q * G;
            const int end = seqlens_[b] + p.seqlen_new;
            const int pad = left_pad_[b];
            const int Sk = end - pad;
        \(d.cacheRowEarly ? "    const long long cacheRow = cache_rows_[b];  // with the lengths: two index loads at once, not one after the other\n" : "")\(DecodeTimeline.mark(d.timeline, 1, "Sk > -0x40000000"))\(d.fusedAppend ? "    const int oldLen = seqlens_[b];  // new keys sit at oldLen ..< end" : "")

            // The CTA's query rows: visible keys, ALiBi slope (q is loaded once the first K/V
            // copies are in flight, so the two memory latencies overlap).
            int rowLo[R], rowHi[R], diag[R];
            float slope[R];
            int lo = 0x7fffffff, hi = -1;
            #pragma unroll
            for (int r = 0; r < R; ++r) {
                const int m = tile * R + r;
                const bool valid = m < rows;
                const int i = valid ? m / G : 0, h = hk * G + (valid ? m % G : 0);
                (void)h;
                diag[r] = i + Sk - p.seqlen_q;
                int a = 0, z = Sk;
                { const int diag = i + Sk - p.seqlen_q; \(rowBounds) }
                if (!valid || z < a) { a = 0; z = 0; }
                rowLo[r] = pad + a;
                rowHi[r] = pad + z;
                if (z > a) { lo = min(lo, pad + a); hi = max(hi, pad + z); }
                slope[r] = \(d.alibi ? "((const float*)p.alibi_slopes)[b * p.alibi_batch_stride + h * p.alibi_head_stride] * 1.4426950408889634f" : "0.0f");
            }
            if (hi <= lo) { lo = 0; hi = 0; }
        \(d.fusedAppend && !d.appendBehindCopies ? appendWriter : "")

            // This split's keys: contiguous whole 64-key blocks of the CTA's range.
            const int chunk = ((hi - lo + p.splits - 1) / p.splits + 63) / 64 * 64;
            const int kBeg = min(hi, lo + split * chunk), kEnd = min(hi, kBeg + chunk);

            const u16* kc = (const u16*)p.k_cache;
            const u16* vc = (const u16*)p.v_cache;
            const long long kHead = hk * p.kc_s2 + d0 * p.kc_s3, vHead = hk * p.vc_s2 + d0 * p.vc_s3;
            \(d.paged ? "const long long tableRow = (long long)b * p.max_blocks;" : (d.cacheRowEarly ? "" : "const long long cacheRow = cache_rows_[b];\n    ") + "const long long kRow = cacheRow * p.kc_s0 + kHead, vRow = cacheRow * p.vc_s0 + vHead;")

        \(laneSetup)
        \(pipelined ? prologue : "")
        \(DecodeTimeline.mark(d.timeline, 2))    // q (rotated already when rotary is on, or rotated here with the fused append).
            float q[R][8];
            #pragma unroll
            for (int r = 0; r < R; ++r) {
                const int m = tile * R + r;
                const bool valid = m < rows;
                const int i = valid ? m / G : 0, h = hk * G + (valid ? m % G : 0);
                #pragma unroll
                for (int e = 0; e < 8; ++e) {
                    q[r][e] = valid && d0 + e < p.head_dim ? \(qLoad) : 0.0f;
                }
            }
        \(DecodeTimeline.mark(d.timeline, 3, "__float_as_uint(q[0][0]) != 0x7fc00001u"))\(d.appendBehindCopies ? Self.appendPrefetch(threads: d.threads) : "")    float acc[R][8], mrow[R], lrow[R];
            #pragma unroll
            for (int r = 0; r < R; ++r) {
                mrow[r] = -FA_INF; lrow[r] = 0.0f;
                #pragma unroll
                for (int e = 0; e < 8; ++e) acc[r][e] = 0.0f;
            }

        \(loopHead)
        \(scoreBlock)
                float mnew[R], alpha[R];
                #pragma unroll
                for (int r = 0; r < R; ++r) {
                    float mx = mrow[r];
                    const float mOld = mx; (void)mOld;
                    #pragma unroll
                    for (int n = 0; n < N; ++n) mx = fmaxf(mx, s[n][r]);
                    mnew[r] = mx;
                    // A row that has seen no key yet keeps m = −∞; exp2 of −∞ is 0, never NaN.
                    const float safe = mx == -FA_INF ? 0.0f : mx;
        \(rescale)
                }
                #pragma unroll
                for (int n = 0; n < N; ++n) {
                    float vf[8];
                    unpack8(vv[n], vf);
                    #pragma unroll
                    for (int r = 0; r < R; ++r) {
                        #pragma unroll
                        for (int e = 0; e < 8; ++e) acc[r][e] = fmaf(s[n][r], vf[e], acc[r][e]);
                    }
                }
            }

        \(DecodeTimeline.mark(d.timeline, 5))\(d.appendBehindCopies ? Self.appendWriterAfterLoop(appendWriter) : "")    \(pipelined ? "__syncthreads();  // the merge below reuses the pipeline's shared memory" : "")
            // Merge the key groups: acc[KG][R][DT], then m and l per (group, row).
            float* accS = smem;
            float* mS = smem + KG * R * DT;
            float* lS = mS + KG * R;
            \(CS > 1 && !d.clusterPush ? "float* xO = lS + KG * R; float* xM = xO + R * DT; float* xL = xM + R;  // the cluster's exchange area" : "")
            #pragma unroll
            for (int r = 0; r < R; ++r) {
                #pragma unroll
                for (int e = 0; e < 8; ++e) accS[(group * R + r) * DT + d0 + e] = acc[r][e];
                if (sub == 0) { mS[group * R + r] = mrow[r]; lS[group * R + r] = lrow[r]; }
            }
            __syncthreads();
        \(d.clusterPush ? "    cluster_wait();  // every CTA of the cluster has started: its exchange area may be written\n    const u32 xBase = smem_u32(smem) + \(d.clusterExchangeOffset)u;\n" : "")\(DecodeKernelSupport.groupMerge(rows: "R", skip: "m >= rows || dd >= p.head_dim", threads: d.threads, finish: finish))
        \(DecodeTimeline.mark(d.timeline, 6))\(d.fusedCombine ? fusedMerge : "")
        \(CS > 1 ? (d.clusterPush ? clusterPushMerge : clusterMerge) : "")\(DecodeTimeline.store(d.timeline))
        }
        """
    }
}
