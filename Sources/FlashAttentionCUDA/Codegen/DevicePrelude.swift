/// The device-side mechanics every generated kernel shares, as CUDA C++ text.
///
/// NVRTC compiles without the CUDA headers, so this prelude is self-contained: element
/// conversions, `cp.async`, `ldmatrix` and `mma.sync` are written as inline PTX. The kernel
/// body then reads as the algorithm, calling these by name.
enum DevicePrelude {
    static func source(elementType: String) -> String {
        let mmaType = elementType == "bf16" ? "bf16" : "f16"
        return """
        // Flags and helpers a variant does not use are expected: keep the log to what matters.
        #pragma nv_diag_suppress 177
        #pragma nv_diag_suppress 550
        typedef unsigned int u32;
        typedef unsigned short u16;
        typedef unsigned long long u64;
        typedef long long i64;

        #define FA_INF __int_as_float(0x7f800000)
        #define FA_DEVICE __device__ __forceinline__

        // MARK: shared-memory addresses and asynchronous copies (sm_80+)

        FA_DEVICE u32 smem_u32(const void* p) { return (u32)__cvta_generic_to_shared(p); }

        // 16-byte global → shared copy; `valid == false` writes 16 zero bytes and reads nothing.
        FA_DEVICE void cp_async16(u32 dst, const void* src, bool valid) {
            int bytes = valid ? 16 : 0;
            asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\\n" :: "r"(dst), "l"(src), "r"(bytes) : "memory");
        }
        FA_DEVICE void cp_async_commit() { asm volatile("cp.async.commit_group;\\n" ::: "memory"); }
        template <int N> FA_DEVICE void cp_async_wait() { asm volatile("cp.async.wait_group %0;\\n" :: "n"(N) : "memory"); }

        FA_DEVICE void st_shared_v4(u32 dst, u32 a, u32 b, u32 c, u32 d) {
            asm volatile("st.shared.v4.b32 [%0], {%1, %2, %3, %4};\\n" :: "r"(dst), "r"(a), "r"(b), "r"(c), "r"(d) : "memory");
        }

        // MARK: tensor-core fragments

        // Four 8×8 b16 matrices; lane l supplies the address of row l % 8 of matrix l / 8.
        FA_DEVICE void ldmatrix_x4(u32 (&r)[4], u32 addr) {
            asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\\n"
                         : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
        }
        // The same, each matrix transposed on the way (B operands stored k-major).
        FA_DEVICE void ldmatrix_x4_trans(u32 (&r)[4], u32 addr) {
            asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\\n"
                         : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3]) : "r"(addr));
        }
        // D = A·B + D on a 16×8×16 tile, \(mmaType) inputs, float32 accumulators.
        FA_DEVICE void mma_16816(float (&d)[4], const u32 (&a)[4], u32 b0, u32 b1) {
            asm volatile("mma.sync.aligned.m16n8k16.row.col.f32.\(mmaType).\(mmaType).f32 "
                         "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\\n"
                         : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3])
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b0), "r"(b1));
        }

        // MARK: warpgroup MMA (sm_90a)

        // Shared-memory matrix descriptor: start, leading and stride byte offsets (16-byte units),
        // 128-byte swizzle (mode 1 in bits 62-63).
        FA_DEVICE u64 smem_desc(u32 addr, u32 leading_bytes, u32 stride_bytes) {
            return (u64)((addr & 0x3FFFF) >> 4) | ((u64)((leading_bytes >> 4) & 0x3FFF) << 16)
                 | ((u64)((stride_bytes >> 4) & 0x3FFF) << 32) | (1ull << 62);
        }
        FA_DEVICE void wgmma_fence() { asm volatile("wgmma.fence.sync.aligned;\\n" ::: "memory"); }
        FA_DEVICE void wgmma_commit() { asm volatile("wgmma.commit_group.sync.aligned;\\n" ::: "memory"); }
        FA_DEVICE void wgmma_wait0() { asm volatile("wgmma.wait_group.sync.aligned 0;\\n" ::: "memory"); }

        // MARK: element conversions (round to nearest even, as HalfConversion in Swift)

        FA_DEVICE u32 pack_bf16x2(float lo, float hi) {
            u32 r; asm("cvt.rn.bf16x2.f32 %0, %1, %2;\\n" : "=r"(r) : "f"(hi), "f"(lo)); return r;
        }
        FA_DEVICE u32 pack_f16x2(float lo, float hi) {
            u32 r; asm("cvt.rn.f16x2.f32 %0, %1, %2;\\n" : "=r"(r) : "f"(hi), "f"(lo)); return r;
        }
        FA_DEVICE float bf16_to_f32(u16 x) { return __uint_as_float(((u32)x) << 16); }
        FA_DEVICE float f16_to_f32(u16 x) { float f; asm("cvt.f32.f16 %0, %1;\\n" : "=f"(f) : "h"(x)); return f; }
        FA_DEVICE u16 f32_to_bf16(float x) { u16 r; asm("cvt.rn.bf16.f32 %0, %1;\\n" : "=h"(r) : "f"(x)); return r; }
        FA_DEVICE u16 f32_to_f16(float x) { u16 r; asm("cvt.rn.f16.f32 %0, %1;\\n" : "=h"(r) : "f"(x)); return r; }

        // MARK: math

        FA_DEVICE float fast_exp2(float x) { float y; asm("ex2.approx.ftz.f32 %0, %1;\\n" : "=f"(y) : "f"(x)); return y; }
        FA_DEVICE float fast_log2(float x) { float y; asm("lg2.approx.f32 %0, %1;\\n" : "=f"(y) : "f"(x)); return y; }
        FA_DEVICE float fast_rcp(float x) { float y; asm("rcp.approx.ftz.f32 %0, %1;\\n" : "=f"(y) : "f"(x)); return y; }
        // tanh from exp2: absolute error a few ulp of 1, which is what a capped score needs
        // (tanh.approx's 2^-11 relative error would show after multiplying by the cap).
        FA_DEVICE float accurate_tanh(float x) {
            float e = fast_exp2(x * 2.885390081777927f);  // exp(2x)
            return 1.0f - 2.0f * fast_rcp(e + 1.0f);
        }
        FA_DEVICE float warp_max4(float x) {
            x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 1));
            return fmaxf(x, __shfl_xor_sync(0xffffffffu, x, 2));
        }
        FA_DEVICE float warp_sum4(float x) {
            x += __shfl_xor_sync(0xffffffffu, x, 1);
            return x + __shfl_xor_sync(0xffffffffu, x, 2);
        }

        // MARK: dropout (bit-exact with DropoutMask.swift: two SplitMix64 finaliser rounds)

        FA_DEVICE u64 splitmix(u64 x) {
            u64 z = x + 0x9E3779B97F4A7C15ull;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
            return z ^ (z >> 31);
        }
        FA_DEVICE u64 dropout_stream_key(u64 seed, int batch, int head) {
            return splitmix(seed ^ splitmix((((u64)(u32)batch) << 32) | (u64)(u32)head));
        }
        FA_DEVICE bool dropout_keep(u64 stream, int row, int col, u32 threshold) {
            u64 r = splitmix(stream + ((((u64)(u32)row) << 32) | (u64)(u32)col));
            return (u32)(r >> 40) >= threshold;
        }
        """
    }
}
