import FlashAttentionCore

// The two small kernels around the key/value kernel: the preprocess (D = rowsum(dO ∘ O), L in log2 units)
// and the convert (the float32 dQ accumulator → dQ in its type and strides), each in its plain and fast form.
extension HopperBackwardKernel {
    // MARK: - Preprocess

    /// One warp per (head, batch, padded row): rows past the sequence get L = +∞ (P = 0) and
    /// D = 0, so the key/value kernel needs no bounds on the statistics.
    var preprocessKernel: String {
        if descriptor.fastPasses { return fastPreprocessKernel }
        return """
        extern "C" __global__ void __launch_bounds__(256)
        \(Self.entryPoint)(const __grid_constant__ BackwardParams p) {\(preprocessLaunchesDependents)
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            const int m_pad = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M * BLOCK_M;
            const i64 r = (i64)blockIdx.x * 8 + warp;
            if (r >= (i64)p.heads * p.batch * m_pad) return;
            const int i = (int)(r % m_pad);
            const int hb = (int)(r / m_pad), h = hb / p.batch, b = hb % p.batch;
            float acc = 0.0f, l = FA_INF;
            if (i < p.seqlen_q) {
                const o_t* o_row = (const o_t*)p.o + (i64)b * p.o_batch_stride + (i64)i * p.o_row_stride + (i64)h * p.o_head_stride;
                const u16* g_row = (const u16*)p.dout + (i64)b * p.do_batch_stride + (i64)i * p.do_row_stride + (i64)h * p.do_head_stride;
                for (int d = lane; d < p.head_dim; d += 32)
                    acc = fmaf(load_o(o_row + (i64)d * p.o_dim_stride), load_in(g_row + (i64)d * p.do_dim_stride), acc);
                #pragma unroll
                for (int s = 16; s > 0; s >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, s);
                l = ((const float*)p.lse)[(i64)b * p.lse_batch_stride + (i64)h * p.lse_head_stride + (i64)i * p.lse_row_stride] * LOG2E;
            }
            if (lane == 0) {
                ((float*)p.delta)[r] = acc;
                ((float*)p.lse_log2)[r] = l;
            }
        }
        """
    }

    /// 8 elements of O at `p` (16-byte aligned) as float32: one 16-byte load (two for float32 O).
    private var loadO8: String {
        switch descriptor.outType {
        case .float32:
            return """
            FA_DEVICE void load_o8(const o_t* p, float (&v)[8]) {
                const float4 a = *(const float4*)p, b = *(const float4*)(p + 4);
                v[0] = a.x; v[1] = a.y; v[2] = a.z; v[3] = a.w; v[4] = b.x; v[5] = b.y; v[6] = b.z; v[7] = b.w;
            }
            """
        case .bfloat16, .float16:
            let cvt = descriptor.outType == .bfloat16 ? "bf16_to_f32" : "f16_to_f32"
            return """
            FA_DEVICE void load_o8(const o_t* p, float (&v)[8]) {
                const uint4 a = *(const uint4*)p;
                const u32 w[4] = {a.x, a.y, a.z, a.w};
                #pragma unroll
                for (int k = 0; k < 4; ++k) { v[2 * k] = \(cvt)((u16)(w[k] & 0xffffu)); v[2 * k + 1] = \(cvt)((u16)(w[k] >> 16)); }
            }
            """
        }
    }

    /// The fast preprocess (``HopperBackwardDescriptor/fastPasses``): HEAD_DIM / 8 lanes a row,
    /// 8 contiguous elements a lane (one 16-byte load of dO, one or two of O), 8 rows a warp and
    /// 64 a block; every load of a warp's rows (and the LSE) is issued before the first
    /// reduction, so a warp keeps 4–8 KB in flight where the plain form kept 64–128 B.
    private var fastPreprocessKernel: String {
        let cvt = descriptor.elementType == .bfloat16 ? "bf16_to_f32" : "f16_to_f32"
        return loadO8 + "\n" + """
        extern "C" __global__ void __launch_bounds__(256)
        \(Self.entryPoint)(const __grid_constant__ BackwardParams p) {\(preprocessLaunchesDependents)
            constexpr int LPR = HEAD_DIM / 8;              // lanes per row
            constexpr int RPI = 32 / LPR;                  // rows per warp and pass
            constexpr int PASSES = 8 / RPI;                // 8 rows per warp
            const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
            const int m_pad = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M * BLOCK_M;
            const i64 rows = (i64)p.heads * p.batch * m_pad;
            const i64 r0 = ((i64)blockIdx.x * 8 + warp) * 8 + lane / LPR;
            const int d0 = (lane % LPR) * 8;
            float acc[PASSES], l[PASSES];
            #pragma unroll
            for (int k = 0; k < PASSES; ++k) {
                const i64 r = r0 + k * RPI;
                acc[k] = 0.0f; l[k] = FA_INF;
                const int i = (int)(r % m_pad);
                const int hb = (int)(r / m_pad), h = hb / p.batch, b = hb % p.batch;
                if (r < rows && i < p.seqlen_q) {
                    if (d0 < p.head_dim) {
                        const o_t* o_row = (const o_t*)p.o + (i64)b * p.o_batch_stride + (i64)i * p.o_row_stride + (i64)h * p.o_head_stride;
                        const u16* g_row = (const u16*)p.dout + (i64)b * p.do_batch_stride + (i64)i * p.do_row_stride + (i64)h * p.do_head_stride;
                        float o[8];
                        load_o8(o_row + d0, o);
                        const uint4 g = *(const uint4*)(g_row + d0);
                        const u32 w[4] = {g.x, g.y, g.z, g.w};
                        #pragma unroll
                        for (int e = 0; e < 4; ++e) {
                            acc[k] = fmaf(o[2 * e], \(cvt)((u16)(w[e] & 0xffffu)), acc[k]);
                            acc[k] = fmaf(o[2 * e + 1], \(cvt)((u16)(w[e] >> 16)), acc[k]);
                        }
                    }
                    if (lane % LPR == 0)
                        l[k] = ((const float*)p.lse)[(i64)b * p.lse_batch_stride + (i64)h * p.lse_head_stride + (i64)i * p.lse_row_stride] * LOG2E;
                }
            }
            #pragma unroll
            for (int k = 0; k < PASSES; ++k) {
                #pragma unroll
                for (int s = LPR / 2; s > 0; s >>= 1) acc[k] += __shfl_xor_sync(0xffffffffu, acc[k], s);
                const i64 r = r0 + k * RPI;
                if (lane % LPR == 0 && r < rows) {
                    ((float*)p.delta)[r] = acc[k];
                    ((float*)p.lse_log2)[r] = l[k];
                }
            }
        }
        """
    }

    // MARK: - Convert

    /// One block per (query block, head, batch): the accumulator tile is in the consumers'
    /// fragment order (warpgroup half — of the columns, or with `SPLIT_Q` of the query rows —,
    /// n8 tile, thread, 4 floats); a query block no key block
    /// reached (its turn counter is 0) writes zeros.
    var convertKernel: String {
        if descriptor.fastPasses { return fastConvertKernel }
        return """
        extern "C" __global__ void __launch_bounds__(256)
        \(Self.entryPoint)(const __grid_constant__ BackwardParams p) {
            const int m_block = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
            const int m_blocks = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M;
            const i64 tile = ((i64)h * p.batch + b) * m_blocks + m_block;\(dependentConvertWait)
            const bool reached = ((const int*)p.dq_sem)[tile] > 0;
            const float4* src = (const float4*)((const float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM));
            dq_t* dq_seq = (dq_t*)p.dq + (i64)b * p.dq_batch_stride + (i64)h * p.dq_head_stride;
            for (int f = threadIdx.x; f < BLOCK_M * HEAD_DIM / 4; f += 256) {
                const int half = f / (DQ_TILES * 128), nt = (f / 128) % DQ_TILES, ct = f % 128;
                const int lane = ct & 31, group = lane >> 2, tig = lane & 3;
                const int row = (SPLIT_Q ? half * 64 : 0) + (ct >> 5) * 16 + group, col = (SPLIT_Q ? 0 : half * DQ_N) + nt * 8 + tig * 2;
                float4 v = reached ? src[f] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
                const int i0 = m_block * BLOCK_M + row;
                if (col < p.head_dim) {
                    if (i0 < p.seqlen_q) store_dq2(dq_seq + (i64)i0 * p.dq_row_stride + col, v.x * p.grad_scale, v.y * p.grad_scale);
                    if (i0 + 8 < p.seqlen_q) store_dq2(dq_seq + (i64)(i0 + 8) * p.dq_row_stride + col, v.z * p.grad_scale, v.w * p.grad_scale);
                }
            }\(dependentConvertEnd)
        }
        """
    }

    /// The fast conversion (``HopperBackwardDescriptor/fastPasses``): each thread loads its
    /// BLOCK_M · HEAD_DIM / 1024 float4 of the tile (8 at tile D = 128, 16 at 256; fragment order) before any store, writes them scaled and converted
    /// into a row-major shared tile (rows padded by 16 bytes: the fragment-order writes of a
    /// warp hit 32 different banks), then the block stores dQ in 16-byte row chunks.
    var fastConvertKernel: String {
        """
        extern "C" __global__ void __launch_bounds__(256)
        \(Self.entryPoint)(const __grid_constant__ BackwardParams p) {
            constexpr int PITCH = HEAD_DIM + 16 / (int)sizeof(dq_t);   // elements per shared row
            constexpr int PER_THREAD = BLOCK_M * HEAD_DIM / 4 / 256;
            constexpr int CHUNKS = HEAD_DIM * (int)sizeof(dq_t) / 16;  // 16-byte chunks per row
            __shared__ __align__(16) dq_t tile_s[BLOCK_M * PITCH];
            const int m_block = blockIdx.x, h = blockIdx.y, b = blockIdx.z;
            const int m_blocks = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M;
            const i64 tile = ((i64)h * p.batch + b) * m_blocks + m_block;\(dependentConvertWait)
            const bool reached = ((const int*)p.dq_sem)[tile] > 0;
            const float4* __restrict__ src = (const float4*)((const float*)p.dq_accum + tile * (BLOCK_M * HEAD_DIM));
            float4 v[PER_THREAD];
            #pragma unroll
            for (int k = 0; k < PER_THREAD; ++k) v[k] = reached ? src[threadIdx.x + 256 * k] : make_float4(0.0f, 0.0f, 0.0f, 0.0f);
            #pragma unroll
            for (int k = 0; k < PER_THREAD; ++k) {
                const int f = threadIdx.x + 256 * k;
                const int half = f / (DQ_TILES * 128), nt = (f / 128) % DQ_TILES, ct = f % 128;
                const int lane = ct & 31, group = lane >> 2, tig = lane & 3;
                const int row = (SPLIT_Q ? half * 64 : 0) + (ct >> 5) * 16 + group, col = (SPLIT_Q ? 0 : half * DQ_N) + nt * 8 + tig * 2;
                store_dq2(tile_s + row * PITCH + col, v[k].x * p.grad_scale, v[k].y * p.grad_scale);
                store_dq2(tile_s + (row + 8) * PITCH + col, v[k].z * p.grad_scale, v[k].w * p.grad_scale);
            }
            __syncthreads();
            dq_t* dq_seq = (dq_t*)p.dq + (i64)b * p.dq_batch_stride + (i64)h * p.dq_head_stride;
            constexpr int PER_CHUNK = 16 / (int)sizeof(dq_t);
            #pragma unroll
            for (int c = threadIdx.x; c < BLOCK_M * CHUNKS; c += 256) {
                const int row = c / CHUNKS, col = (c % CHUNKS) * PER_CHUNK;
                const int i = m_block * BLOCK_M + row;
                if (i < p.seqlen_q && col < p.head_dim)
                    *(uint4*)(dq_seq + (i64)i * p.dq_row_stride + col) = *(const uint4*)(tile_s + row * PITCH + col);
            }\(dependentConvertEnd)
        }
        """
    }
}
