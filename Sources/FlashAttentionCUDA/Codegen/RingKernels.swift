import FlashAttentionCore

/// CUDA source of the small kernels context parallelism runs between attention calls: the
/// (out, LSE) merge, elementwise copies with type conversion, and float32 accumulation, all
/// on strided views of rank ≤ 4. Pure: the same text for every call, so it compiles once per
/// architecture into the kernel cache.
///
/// Every kernel takes one by-value parameter struct (``RingKernelParameters`` packs it).
public enum RingKernelSource {
    /// Type tags used in kernel names.
    public static func tag(_ type: ElementType) -> String {
        switch type {
        case .float32: "f32"
        case .float16: "f16"
        case .bfloat16: "bf16"
        }
    }

    static let types: [ElementType] = [.float32, .float16, .bfloat16]

    public static func copyName(from source: ElementType, to destination: ElementType) -> String {
        "ring_copy_\(tag(source))_\(tag(destination))"
    }
    public static func addName(from source: ElementType) -> String { "ring_add_\(tag(source))" }
    public static func mergeName(part: ElementType) -> String { "ring_merge_\(tag(part))" }

    public static var source: String {
        var text = """
        typedef unsigned short u16;
        typedef long long i64;
        typedef unsigned long long u64;

        struct Elementwise { u64 src; u64 dst; i64 shape[4]; i64 srcStride[4]; i64 dstStride[4]; i64 count; };
        // Rows (b, s, h) of D elements; the LSE is indexed (b, h, s).
        struct Merge {
            u64 accOut; u64 accLse; u64 partOut; u64 partLse;
            i64 batch; i64 seq; i64 heads; i64 dim;
            i64 accOutStride[4]; i64 partOutStride[4]; i64 accLseStride[3]; i64 partLseStride[3];
        };

        __device__ __forceinline__ float ld(const float* p, i64 o) { return p[o]; }
        __device__ __forceinline__ float ld(const u16* p, i64 o) { return __uint_as_float(((unsigned)p[o]) << 16); }
        struct Half { u16 bits; };
        __device__ __forceinline__ float ld(const Half* p, i64 o) { float f; asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(p[o].bits)); return f; }
        __device__ __forceinline__ void st(float* p, i64 o, float x) { p[o] = x; }
        __device__ __forceinline__ void st(u16* p, i64 o, float x) { u16 r; asm("cvt.rn.bf16.f32 %0, %1;" : "=h"(r) : "f"(x)); p[o] = r; }
        __device__ __forceinline__ void st(Half* p, i64 o, float x) { u16 r; asm("cvt.rn.f16.f32 %0, %1;" : "=h"(r) : "f"(x)); p[o].bits = r; }

        // Element i of a row-major index space of shape[4] → offsets in both views.
        __device__ __forceinline__ void offsets(const Elementwise& p, i64 i, i64& s, i64& d) {
            i64 i3 = i % p.shape[3]; i /= p.shape[3];
            i64 i2 = i % p.shape[2]; i /= p.shape[2];
            i64 i1 = i % p.shape[1]; i64 i0 = i / p.shape[1];
            s = i0 * p.srcStride[0] + i1 * p.srcStride[1] + i2 * p.srcStride[2] + i3 * p.srcStride[3];
            d = i0 * p.dstStride[0] + i1 * p.dstStride[1] + i2 * p.dstStride[2] + i3 * p.dstStride[3];
        }

        template <typename S, typename D> __device__ void copy_kernel(const Elementwise& p) {
            const S* src = (const S*)p.src; D* dst = (D*)p.dst;
            for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += (i64)gridDim.x * blockDim.x) {
                i64 s, d; offsets(p, i, s, d); st(dst, d, ld(src, s));
            }
        }

        template <typename S> __device__ void add_kernel(const Elementwise& p) {
            const S* src = (const S*)p.src; float* dst = (float*)p.dst;
            for (i64 i = (i64)blockIdx.x * blockDim.x + threadIdx.x; i < p.count; i += (i64)gridDim.x * blockDim.x) {
                i64 s, d; offsets(p, i, s, d); dst[d] += ld(src, s);
            }
        }

        // One warp per row: lane 0 reads both LSEs, the weights go to every lane, lane 0 writes
        // the merged LSE after the row's outputs are read (no other warp touches the row).
        // An LSE of ±inf marks a part that saw no key: weight 0, its out never read.
        template <typename P> __device__ void merge_kernel(const Merge& p) {
            i64 rows = p.batch * p.seq * p.heads;
            i64 row = ((i64)blockIdx.x * blockDim.x + threadIdx.x) / 32;
            int lane = threadIdx.x & 31;
            if (row >= rows) return;
            i64 h = row % p.heads, s = (row / p.heads) % p.seq, b = row / (p.heads * p.seq);
            float* accLse = (float*)p.accLse; const float* partLse = (const float*)p.partLse;
            i64 al = b * p.accLseStride[0] + h * p.accLseStride[1] + s * p.accLseStride[2];
            i64 pl = b * p.partLseStride[0] + h * p.partLseStride[1] + s * p.partLseStride[2];
            float a = accLse[al], q = partLse[pl];
            bool nan = a != a || q != q, av = fabsf(a) != __int_as_float(0x7f800000), pv = fabsf(q) != __int_as_float(0x7f800000);
            float wa = 0.f, wp = 0.f, merged;
            if (nan) { merged = __int_as_float(0x7fc00000); }
            else if (!av && !pv) { merged = __int_as_float(0x7f800000); }
            else {
                float m = av && pv ? fmaxf(a, q) : (av ? a : q);
                float sum = (av ? expf(a - m) : 0.f) + (pv ? expf(q - m) : 0.f);
                merged = m + logf(sum);
                wa = av ? expf(a - merged) : 0.f; wp = pv ? expf(q - merged) : 0.f;
            }
            float* acc = (float*)p.accOut; const P* part = (const P*)p.partOut;
            i64 ao = b * p.accOutStride[0] + s * p.accOutStride[1] + h * p.accOutStride[2];
            i64 po = b * p.partOutStride[0] + s * p.partOutStride[1] + h * p.partOutStride[2];
            for (i64 e = lane; e < p.dim; e += 32) {
                float x;
                if (nan) x = merged;
                else x = (wa != 0.f ? wa * acc[ao + e * p.accOutStride[3]] : 0.f) + (wp != 0.f ? wp * ld(part, po + e * p.partOutStride[3]) : 0.f);
                acc[ao + e * p.accOutStride[3]] = x;
            }
            if (lane == 0) accLse[al] = merged;
        }

        """
        func ctype(_ t: ElementType) -> String {
            switch t {
            case .float32: "float"
            case .float16: "Half"
            case .bfloat16: "u16"
            }
        }
        for s in types {
            for d in types {
                text += "extern \"C\" __global__ void __launch_bounds__(256) \(copyName(from: s, to: d))(const Elementwise p) { copy_kernel<\(ctype(s)), \(ctype(d))>(p); }\n"
            }
            text += "extern \"C\" __global__ void __launch_bounds__(256) \(addName(from: s))(const Elementwise p) { add_kernel<\(ctype(s))>(p); }\n"
            text += "extern \"C\" __global__ void __launch_bounds__(256) \(mergeName(part: s))(const Merge p) { merge_kernel<\(ctype(s))>(p); }\n"
        }
        return text
    }
}

/// Byte packing of the kernels' parameter structs (all fields 8 bytes, no padding).
public enum RingKernelParameters {
    /// `Elementwise` for `source` → `destination` (same shape, rank ≤ 4, any strides).
    public static func elementwise(source: TensorView, destination: TensorView) -> [UInt8] {
        let (shape, s) = padded(source.shape, source.strides)
        let (_, d) = padded(destination.shape, destination.strides)
        var fields: [Int64] = [Int64(Int(bitPattern: source.data)), Int64(Int(bitPattern: destination.data))]
        fields += shape + s + d + [Int64(source.elementCount)]
        return bytes(fields)
    }

    /// `Merge` for out views (B, S, H, D) or (T, H, D) and LSE views (B, H, S) or (H, T).
    public static func merge(accOut: TensorView, accLSE: TensorView, partOut: TensorView, partLSE: TensorView) -> [UInt8] {
        func outDims(_ v: TensorView) -> ([Int64], [Int64]) {
            v.rank == 4 ? (v.shape.map(Int64.init), v.strides.map(Int64.init))
                : ([1] + v.shape.map(Int64.init), [0] + v.strides.map(Int64.init))
        }
        func lseStrides(_ v: TensorView) -> [Int64] {
            v.rank == 3 ? v.strides.map(Int64.init) : [0] + v.strides.map(Int64.init)
        }
        let (shape, accStrides) = outDims(accOut)
        let (_, partStrides) = outDims(partOut)
        var fields: [Int64] = [accOut.data, accLSE.data, partOut.data, partLSE.data].map { Int64(Int(bitPattern: $0)) }
        fields += shape + accStrides + partStrides + lseStrides(accLSE) + lseStrides(partLSE)
        return bytes(fields)
    }

    static func padded(_ shape: [Int], _ strides: [Int]) -> ([Int64], [Int64]) {
        let pad = 4 - shape.count
        return ([Int64](repeating: 1, count: pad) + shape.map(Int64.init), [Int64](repeating: 0, count: pad) + strides.map(Int64.init))
    }

    static func bytes(_ fields: [Int64]) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(fields.count * 8)
        for f in fields { withUnsafeBytes(of: f.littleEndian) { out += $0 } }
        return out
    }
}
