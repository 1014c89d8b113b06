import FlashAttentionCore

/// CUDA text that the `mma.sync` forward (``AttentionKernel``) and backward (``BackwardKernel``)
/// generators emit alike: one Swift copy of each piece, so a fix to a helper or to the tile
/// loader's walk reaches both kernels. Each piece carries the exact indentation it has in both
/// translation units (the generated sources are byte-identical to the two copies this replaces);
/// what differs between the two (comments, the wgmma swizzle addressing) stays in each generator.
enum MMASyncPrelude {
    /// The mask and feature switches of the `constants` block.
    static func featureFlags(mask: KernelMask, softcap: Bool, alibi: Bool, dropout: Bool, varlen: Bool) -> String {
        func flag(_ b: Bool) -> String { b ? "true" : "false" }
        return """
        constexpr bool CAUSAL = \(flag(mask == .causal));
        constexpr bool WINDOW = \(flag(mask == .window));
        constexpr bool SOFTCAP = \(flag(softcap));
        constexpr bool ALIBI = \(flag(alibi));
        constexpr bool DROPOUT = \(flag(dropout));
        constexpr bool VARLEN = \(flag(varlen));
        """
    }

    /// The integer helpers that close the `constants` block.
    static let integerMinMax = """
        FA_DEVICE int imin(int a, int b) { return a < b ? a : b; }
        FA_DEVICE int imax(int a, int b) { return a > b ? a : b; }
        """

    /// The bodies of `store_*2(p, a, b)` (two adjacent elements) and `store_*1(p, a)` for a
    /// tensor stored as `t` (`p` points at that type).
    static func storeStatements(_ t: ElementType) -> (pair: String, single: String) {
        switch t {
        case .float32:
            return (#"asm volatile("st.global.v2.f32 [%0], {%1, %2};\n" :: "l"(p), "f"(a), "f"(b) : "memory");"#, "*p = a;")
        case .bfloat16:
            return ("*(u32*)p = pack_bf16x2(a, b);", "*p = f32_to_bf16(a);")
        case .float16:
            return ("*(u32*)p = pack_f16x2(a, b);", "*p = f32_to_f16(a);")
        }
    }

    /// wgmma reads shared memory through the async proxy: cp.async's writes are fenced into it
    /// before the barrier that publishes them (with the next line's indentation; empty without wgmma).
    static func asyncProxyFence(_ wgmma: Bool) -> String {
        wgmma ? "asm volatile(\"fence.proxy.async.shared::cta;\\n\" ::: \"memory\");\n                " : ""
    }

    // MARK: - load_tile<ROWS>: the pieces both loaders share

    /// The template line and signature of `load_tile`.
    static let loadTileSignature = """
        template <int ROWS>
        FA_DEVICE void load_tile(u16* smem, const u16* gmem, i64 row_stride, i64 dim_stride, int rows_valid, int head_dim, int tid) {
        """

    /// Threads per row (a power of two ≥ HEAD_DIM / 8) and the row step of one pass of the block.
    static let loadTileGeometry = """
            constexpr int CHUNKS_PER_ROW = HEAD_DIM / 8 <= 4 ? 4 : HEAD_DIM / 8 <= 8 ? 8 : HEAD_DIM / 8 <= 16 ? 16 : 32;
            constexpr int ROW_STEP = THREADS / CHUNKS_PER_ROW;
            static_assert(THREADS % CHUNKS_PER_ROW == 0, "threads cover whole rows");
        """

    /// This thread's first row and column chunk, its source pointer and the pointer step per pass.
    static let loadTileCoordinates = """
            const int r0 = tid / CHUNKS_PER_ROW, col = (tid % CHUNKS_PER_ROW) * 8;
            if (HEAD_DIM / 8 != CHUNKS_PER_ROW && col >= HEAD_DIM) return;
            const bool col_valid = col < head_dim;
            const u16* src_row = gmem + (i64)r0 * row_stride;
            const i64 step = (i64)ROW_STEP * row_stride;
        """

    /// The walk over this thread's rows, `chunk` moving one 16-byte chunk (`r`, `valid`, `dst`,
    /// `src_row`, `col` in scope), through the function's closing brace.
    /// `unrolled: false` keeps one row's chunk in flight at a time: the backward's element-wise
    /// loaders run inside its main loops, where a fully unrolled tile (up to 64 loads a thread at
    /// D = 256) held registers beside the accumulators and spilled (sm_80 / sm_86 / sm_90a).
    static func loadTileRows(chunk: String, unrolled: Bool = true) -> String {
        """
            #pragma unroll\(unrolled ? "" : " 1")
            for (int i = 0; i < (ROWS + ROW_STEP - 1) / ROW_STEP; ++i) {
                const int r = r0 + i * ROW_STEP;
                if (ROWS % ROW_STEP == 0 || r < ROWS) {
                    const bool valid = r < rows_valid && col_valid;
                    (void)valid; (void)dim_stride;
        \(chunk)
                }
                src_row += step;
            }
        }
        """
    }

    /// The chunk of a non-vectorized loader: element by element (any strides, any D), zeros past
    /// the data, one 16-byte shared store at `destination` (an element pointer expression).
    static func elementwiseChunk(destination: String) -> String {
        """
                    u32 w[4];
                    #pragma unroll
                    for (int e = 0; e < 4; ++e) {
                        const int c0 = col + 2 * e, c1 = c0 + 1;
                        const u32 lo = (r < rows_valid && c0 < head_dim) ? src_row[(i64)c0 * dim_stride] : 0u;
                        const u32 hi = (r < rows_valid && c1 < head_dim) ? src_row[(i64)c1 * dim_stride] : 0u;
                        w[e] = lo | (hi << 16);
                    }
                    st_shared_v4(smem_u32(\(destination)), w[0], w[1], w[2], w[3]);
        """
    }

    // MARK: - Main passes

    /// Visible keys of query row i, `[key_lo(i), key_hi(i))`, both non-decreasing in i (`diag`,
    /// `seqlen_k` and `p` in scope).
    static let keyWindow = """
            const int wl = WINDOW ? p.window_left : -1;
            const int wr = CAUSAL ? 0 : (WINDOW ? p.window_right : -1);
            auto key_lo = [&](int i) { return wl < 0 ? 0 : imax(0, i + diag - wl); };
            auto key_hi = [&](int i) { return wr < 0 ? seqlen_k : imin(seqlen_k, i + diag + wr + 1); };
        """
}

// MARK: - wgmma wrappers of the sm_90a main loops

extension MMASyncPrelude {
    /// The asm statement of a `wgmma` wrapper with A and B from shared-memory descriptors
    /// (K-major, `da`, `db`) into a 64 × `width` float32 accumulator (`accumulators`: its
    /// `"+f"` operands), accumulating when `accumulate` is non-zero; `type` is bf16 or f16.
    static func wgmmaSharedSharedAsm(width: Int, type t: String, accumulators: String) -> String {
        let n = width / 2
        return """
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(n + 2), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(width)k16.f32.\(t).\(t) {\(WGMMAText.registers(n))}, %\(n), %\(n + 1), p, 1, 1, 0, 0;\\n}\\n"
                         : \(accumulators)
                         : "l"(da), "l"(db), "r"(accumulate));
        """
    }

    /// The asm statement of a `wgmma` wrapper with A from registers (`a[4]`) and B from a
    /// shared-memory descriptor read MN-major (`db`), always accumulating into a 64 × `width`
    /// float32 accumulator (`accumulators`: its `"+f"` operands).
    static func wgmmaRegisterSharedAsm(width: Int, type t: String, accumulators: String) -> String {
        let o = width / 2
        return """
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(o + 5), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(width)k16.f32.\(t).\(t) {\(WGMMAText.registers(o))}, {%\(o), %\(o + 1), %\(o + 2), %\(o + 3)}, %\(o + 4), p, 1, 1, 1;\\n}\\n"
                         : \(accumulators)
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
        """
    }
}
