import FlashAttentionCore

/// Source pieces the three decode-path kernels share: typed element loads and stores, and the
/// 16-byte vector the attention kernel reads the cache with.
enum DecodeKernelSupport {
    /// Programmatic dependent launch (sm_90, ``DecodeKernelDescriptor/dependentLaunch``): the
    /// split attention kernel lets its combine kernel launch as soon as every CTA has started
    /// (appended to the kernel's opening line; empty otherwise, so other sources do not change).
    static func dependentTrigger(_ d: DecodeKernelDescriptor) -> String {
        d.dependentLaunch ? "\n    asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");" : ""
    }

    /// The combine kernel's side: wait until the attention grid has completed and its partials
    /// are visible before reading any (the launch itself may have overlapped its tail).
    static func dependentWait(_ d: DecodeKernelDescriptor) -> String {
        d.dependentLaunch ? "\n    asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");" : ""
    }

    /// The prelude's conversions to float32 for a storage type, as a C expression of `bits`/`f`.
    static func loadFunction(_ name: String, _ type: ElementType) -> String {
        switch type {
        case .float32:
            return "FA_DEVICE float \(name)(const void* p, long long i) { return ((const float*)p)[i]; }"
        case .bfloat16:
            return "FA_DEVICE float \(name)(const void* p, long long i) { return bf16_to_f32(((const u16*)p)[i]); }"
        case .float16:
            return "FA_DEVICE float \(name)(const void* p, long long i) { return f16_to_f32(((const u16*)p)[i]); }"
        }
    }

    /// Rounds a float32 to the storage type (nearest even) and stores it.
    static func storeFunction(_ name: String, _ type: ElementType) -> String {
        switch type {
        case .float32:
            return "FA_DEVICE void \(name)(void* p, long long i, float x) { ((float*)p)[i] = x; }"
        case .bfloat16:
            return "FA_DEVICE void \(name)(void* p, long long i, float x) { ((u16*)p)[i] = f32_to_bf16(x); }"
        case .float16:
            return "FA_DEVICE void \(name)(void* p, long long i, float x) { ((u16*)p)[i] = f32_to_f16(x); }"
        }
    }

    /// Unpacks one 16-bit pair into two float32 (low half first).
    static func unpackPair(_ type: ElementType) -> String {
        switch type {
        case .bfloat16:
            return "FA_DEVICE void unpack2(u32 w, float& lo, float& hi) { lo = __uint_as_float(w << 16); hi = __uint_as_float(w & 0xffff0000u); }"
        default:
            return "FA_DEVICE void unpack2(u32 w, float& lo, float& hi) { lo = f16_to_f32((u16)(w & 0xffffu)); hi = f16_to_f32((u16)(w >> 16)); }"
        }
    }

    static let vector = """
    // Eight 16-bit features: one 16-byte load.
    struct __align__(16) Vec8 { u32 x, y, z, w; };
    FA_DEVICE Vec8 ld_vec8(const void* p) {
        Vec8 v;
        asm volatile("ld.global.nc.L1::no_allocate.v4.u32 {%0, %1, %2, %3}, [%4];\\n"
                     : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "l"(p));
        return v;
    }
    FA_DEVICE Vec8 ld_shared_vec8(u32 addr) {
        Vec8 v;
        asm volatile("ld.shared.v4.u32 {%0, %1, %2, %3}, [%4];\\n" : "=r"(v.x), "=r"(v.y), "=r"(v.z), "=r"(v.w) : "r"(addr) : "memory");
        return v;
    }
    FA_DEVICE void unpack8(const Vec8& v, float (&f)[8]) {
        unpack2(v.x, f[0], f[1]); unpack2(v.y, f[2], f[3]); unpack2(v.z, f[4], f[5]); unpack2(v.w, f[6], f[7]);
    }
    """

    /// The merge of the CTA's key groups (the scalar kernel) or warps (the tensor-core forms):
    /// for each output element (row r, dim dd) the groups' partial sums `accS` and `lS` are
    /// rescaled to their common max from `mS`; `finish` then writes o / L (or the split's
    /// partials) for query i of head h. Rows or dims for which `skip` holds are left alone.
    static func groupMerge(rows: String, skip: String, threads: Int, finish: String) -> String {
        """
            for (int idx = tid; idx < \(rows) * DT; idx += \(threads)) {
                const int r = idx / DT, dd = idx % DT;
                const int m = tile * R + r;
                if (\(skip)) continue;
                float mx = -FA_INF;
                for (int g = 0; g < KG; ++g) mx = fmaxf(mx, mS[g * R + r]);
                float L = 0.0f, o = 0.0f;
                if (mx != -FA_INF) {
                    for (int g = 0; g < KG; ++g) {
                        const float w = fast_exp2(mS[g * R + r] - mx);
                        L = fmaf(lS[g * R + r], w, L);
                        o = fmaf(accS[(g * R + r) * DT + dd], w, o);
                    }
                }
                const int i = m / G, h = hk * G + m % G;
        \(finish)
            }
        """
    }
}

extension DecodeKernel {
    /// The attention kernels' common preamble (all three forms): the device prelude for the
    /// storage type, the parameter struct, typed loads and stores, the 16-byte vector helpers,
    /// and `appendSupport` (the fused append's functions, or nothing).
    func sourceHeader(appendSupport: String) -> String {
        let d = descriptor
        return """
        \(DevicePrelude.source(elementType: d.elementType == .bfloat16 ? "bf16" : "f16"))

        \(DecodeParameters.cDeclaration())

        \(DecodeKernelSupport.loadFunction("ld_x", d.elementType))
        \(DecodeKernelSupport.storeFunction("st_out", d.outputType))
        \(DecodeKernelSupport.unpackPair(d.elementType))
        \(DecodeKernelSupport.vector)
        \(appendSupport)
        """
    }
}
