import FlashAttentionCore

// The text ``HopperBackwardKernel/source`` puts ahead of the kernel bodies: the constants (tile D = 64/128) and
// the element load/store types, the bulk-copy / dQ-turn / fence helpers (the wide kernel's too), and the
// tile D = 64/128 wgmma wrappers with their shared-memory operand descriptors.
extension HopperBackwardKernel {
    // MARK: - Constants and types

    var constants: String {
        let d = descriptor
        func flag(_ b: Bool) -> String { b ? "true" : "false" }
        return """
        constexpr int HEAD_DIM = \(d.headDim);     // tile head dim (problem D ≤ this; zero-filled)
        constexpr int BLOCK_M = \(d.blockM);       // queries per step
        constexpr int BLOCK_N = \(d.blockN);       // keys per thread block (64 per consumer warpgroup)
        // dQ_partial split between the consumers by query rows (tile D = 64, 128-query steps: each
        // warpgroup one m64n64 product over the block's keys) or by columns (tile D = 128).
        constexpr bool SPLIT_Q = \(flag(d.splitsQueries));
        constexpr int STAGES = \(d.stages);        // Q/dO pipeline depth
        constexpr int THREADS = \(d.threads);
        constexpr int CONSUMER_THREADS = 256;
        constexpr int PRODUCT_DIM = \(d.productDim);  // head dim Sᵀ, dPᵀ, dV and dK span (the problem's D rounded up to 16)
        constexpr int D_TILES = PRODUCT_DIM / 8;   // n8 tiles of a dK/dV row block
        constexpr int Q_TILES = BLOCK_M / 8;       // n8 tiles of Sᵀ (queries)
        constexpr int DQ_N = \(d.pingPong ? "HEAD_DIM;   // dQ columns per consumer warpgroup (ping-pong: all, over its own 64 keys)" : "SPLIT_Q ? HEAD_DIM : HEAD_DIM / 2;  // dQ columns per consumer warpgroup")
        constexpr int DQ_TILES = DQ_N / 8;
        constexpr unsigned KV_BYTES = BLOCK_N * HEAD_DIM * 2;
        constexpr unsigned QT_BYTES = BLOCK_M * HEAD_DIM * 2;
        constexpr unsigned STAT_BYTES = BLOCK_M * 4;
        constexpr unsigned DS_BYTES = BLOCK_N * BLOCK_M * 2;
        constexpr unsigned DQ_BYTES = BLOCK_M * HEAD_DIM * 4;
        constexpr bool CAUSAL = \(flag(d.mask == .causal));
        constexpr bool ORDERED = \(flag(d.orderedDQ));
        constexpr int DQ_BUFS = \(d.dqBuffers);         // dQ_partial tiles in shared memory (2: the writer keeps one add in flight)
        constexpr int DQ_WRITERS = \(d.dqWriters);     // writer threads (2: one per buffer, warps 1 and 2)
        static_assert(DQ_WRITERS == 1 || DQ_BUFS == 2, "a writer per buffer");\(barrierConstants)\(pingPongConstants)
        // The next step's Sᵀ product is issued behind this step's dQ product (software pipelining).
        constexpr bool PIPE_S = \(flag(d.pipelinedS));
        constexpr float LOG2E = 1.4426950408889634f;
        constexpr int BAR_DS = 1;                  // named barrier: both consumers' dSᵀ rows are in shared memory
        static_assert((HEAD_DIM == 128 && BLOCK_M == 64 && BLOCK_N == 128) || (HEAD_DIM == 64 && BLOCK_M == 128 && BLOCK_N == 128), "tile shape");
        static_assert(DQ_N == \(d.dqColumns), "one m64n\(d.dqColumns) dQ product per consumer warpgroup");
        FA_DEVICE int imin(int a, int b) { return a < b ? a : b; }
        FA_DEVICE int imax(int a, int b) { return a > b ? a : b; }
        struct __align__(64) TensorMap { u64 w[16]; };
        struct __align__(64) HopperBwdParams { TensorMap tm_q; TensorMap tm_k; TensorMap tm_v; TensorMap tm_do; BackwardParams p; };
        static_assert(sizeof(HopperBwdParams) == \(Self.parameterStructSize), "parameter layout drifted from the Swift packing");
        """
    }

    /// The barrier reserve, only where the barriers may sit in the alignment pad (the plain
    /// layout's text is unchanged).
    private var barrierConstants: String {
        guard descriptor.barriersInAlignmentPad else { return "" }
        return """

        constexpr u32 BAR_BYTES = \(HopperBackwardDescriptor.barrierBytes);   // mbarrier reserve (in the alignment pad when it has room)
        static_assert(8 * (1 + 2 * DQ_BUFS + 2 * STAGES) <= BAR_BYTES, "mbarriers fit their reserve");
        """
    }

    /// The named barriers of the turns and of each warpgroup's dSᵀ rows, and the arrivals that
    /// hand a staged dQ_partial to the writer (warpgroup 1 only, after its add).
    private var pingPongConstants: String {
        guard descriptor.pingPong else { return "" }
        return """

        // Ping-pong: warpgroup w issues its Sᵀ and dPᵀ products once it holds the turn (named
        // barrier BAR_TURN + w), then passes it on, so the two run their element-wise phases
        // (exp for Pᵀ, dSᵀ, the dQ staging) while the other's products keep the tensor cores busy.
        constexpr int BAR_TURN = 2;                // named barriers 2, 3: a warpgroup's turn to issue
        constexpr int BAR_WG = 4;                  // named barriers 4, 5: a warpgroup's own dSᵀ rows are in shared memory
        constexpr int DQ_FULL_ARRIVALS = 128;      // warpgroup 1 hands the summed dQ_partial to the writer
        """
    }

    private static func storeFunction(_ name: String, _ t: ElementType) -> String {
        let c = t == .float32 ? "float" : "u16"
        let body: String
        switch t {
        case .float32: body = "p[0] = a; p[1] = b;"
        case .bfloat16: body = "*(u32*)p = pack_bf16x2(a, b);"
        case .float16: body = "*(u32*)p = pack_f16x2(a, b);"
        }
        return "typedef \(c) \(name)_t;\nFA_DEVICE void store_\(name)2(\(name)_t* p, float a, float b) { \(body) }"
    }

    var typeHelpers: String {
        let d = descriptor
        let bf = d.elementType == .bfloat16
        return [
            "FA_DEVICE u32 pack_input2(float lo, float hi) { return \(bf ? "pack_bf16x2" : "pack_f16x2")(lo, hi); }",
            "FA_DEVICE float load_in(const u16* p) { return \(bf ? "bf16_to_f32" : "f16_to_f32")(*p); }",
            BackwardKernel.loadFunction("o", d.outType),
            Self.storeFunction("dq", d.dqType),
            Self.storeFunction("dk", d.dkType),
            Self.storeFunction("dv", d.dvType),
        ].joined(separator: "\n")
    }

    // MARK: - Key/value kernel helpers

    /// The shared sm_90 helpers, plus bulk copies and reductions, the dQ turn's acquire and
    /// release, the async-proxy fences and shared-memory stores.
    var asyncHelpers: String {
        HopperAsyncPrelude.source + "\n" + """
        // `bytes` contiguous bytes (16-byte aligned) → shared memory, completing on `bar`.
        FA_DEVICE void bulk_load(u32 dst, const void* src, u32 bytes, u32 bar) {
            asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\\n"
                         :: "r"(dst), "l"(src), "r"(bytes), "r"(bar) : "memory");
        }
        // Shared → global: a plain store or an element-wise float32 add, in one bulk group.
        FA_DEVICE void bulk_store(void* dst, u32 src, u32 bytes) {
            asm volatile("cp.async.bulk.global.shared::cta.bulk_group [%0], [%1], %2;\\n" :: "l"(dst), "r"(src), "r"(bytes) : "memory");
        }
        FA_DEVICE void bulk_reduce_add(void* dst, u32 src, u32 bytes) {
            asm volatile("cp.reduce.async.bulk.global.shared::cta.bulk_group.add.f32 [%0], [%1], %2;\\n" :: "l"(dst), "r"(src), "r"(bytes) : "memory");
        }
        FA_DEVICE void bulk_commit() { asm volatile("cp.async.bulk.commit_group;\\n" ::: "memory"); }
        FA_DEVICE void bulk_wait_read() { asm volatile("cp.async.bulk.wait_group.read 0;\\n" ::: "memory"); }
        FA_DEVICE void bulk_wait() { asm volatile("cp.async.bulk.wait_group 0;\\n" ::: "memory"); }
        FA_DEVICE void bulk_wait_one() { asm volatile("cp.async.bulk.wait_group 1;\\n" ::: "memory"); }
        FA_DEVICE void fence_async_global() { asm volatile("fence.proxy.async.global;\\n" ::: "memory"); }
        FA_DEVICE void fence_async_shared() { asm volatile("fence.proxy.async.shared::cta;\\n" ::: "memory"); }
        \(Self.acquireLoad)
        FA_DEVICE void red_relaxed_inc(int* p) { asm volatile("red.relaxed.gpu.global.add.s32 [%0], 1;\\n" :: "l"(p) : "memory"); }
        FA_DEVICE void red_release_inc(int* p) { asm volatile("red.release.gpu.global.add.s32 [%0], 1;\\n" :: "l"(p) : "memory"); }
        FA_DEVICE void st_shared_u32(u32 a, u32 v) { asm volatile("st.shared.b32 [%0], %1;\\n" :: "r"(a), "r"(v) : "memory"); }
        FA_DEVICE void st_shared_f4(u32 a, float x, float y, float z, float w) {
            asm volatile("st.shared.v4.f32 [%0], {%1, %2, %3, %4};\\n" :: "r"(a), "f"(x), "f"(y), "f"(z), "f"(w) : "memory");
        }
        """
    }

    /// The acquire load of a dQ turn counter (the writers' turn waits, the dependent conversion's wait).
    static let acquireLoad = """
        FA_DEVICE int ld_acquire(const int* p) { int v; asm volatile("ld.acquire.gpu.global.b32 %0, [%1];\\n" : "=r"(v) : "l"(p) : "memory"); return v; }
        """

    /// The wgmma wrappers, every accumulator register named, and `touch` fences that keep the
    /// compiler from reading accumulators before `wgmma.wait_group`.
    var wgmmaWrappers: String {
        let d = descriptor
        let t = d.elementType == .bfloat16 ? "bf16" : "f16"
        func operands(_ array: String, tiles: Int) -> String { WGMMAText.accumulators(array, tiles: tiles) }
        let registers = WGMMAText.registers
        let s = d.blockM / 2, o = d.productDim / 2, q = d.dqColumns / 2
        return """
        // Sᵀ(64 keys × \(d.blockM) queries) = A·Bᵀ (+ if accumulate): both K-major in shared memory.
        FA_DEVICE void wgmma_s(float (&s)[Q_TILES][4], u64 da, u64 db, int accumulate) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(s + 2), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(d.blockM)k16.f32.\(t).\(t) {\(registers(s))}, %\(s), %\(s + 1), p, 1, 1, 0, 0;\\n}\\n"
                         : \(operands("s", tiles: d.blockM / 8))
                         : "l"(da), "l"(db), "r"(accumulate));
        }
        // dK/dV(64 × \(d.productDim)) += A·B: A in registers, B (queries × D) read MN-major.
        FA_DEVICE void wgmma_o(float (&acc)[D_TILES][4], const u32 (&a)[4], u64 db) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(o + 5), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(d.productDim)k16.f32.\(t).\(t) {\(registers(o))}, {%\(o), %\(o + 1), %\(o + 2), %\(o + 3)}, %\(o + 4), p, 1, 1, 1;\\n}\\n"
                         : \(operands("acc", tiles: d.productDim / 8))
                         : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(1));
        }
        // dQ_partial(64 queries × \(d.dqColumns)) (+)= dS·K: A = dSᵀ (keys × queries) and B = K (keys × D), both read MN-major.
        FA_DEVICE void wgmma_dq(float (&acc)[DQ_TILES][4], u64 da, u64 db, int accumulate) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(q + 2), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(d.dqColumns)k16.f32.\(t).\(t) {\(registers(q))}, %\(q), %\(q + 1), p, 1, 1, 1, 1;\\n}\\n"
                         : \(operands("acc", tiles: d.dqColumns / 8))
                         : "l"(da), "l"(db), "r"(accumulate));
        }
        FA_DEVICE void touch_s(float (&s)[Q_TILES][4]) { asm volatile("" : \(operands("s", tiles: d.blockM / 8)) :: "memory"); }
        FA_DEVICE void touch_o(float (&acc)[D_TILES][4]) { asm volatile("" : \(operands("acc", tiles: d.productDim / 8)) :: "memory"); }
        FA_DEVICE void touch_dq(float (&acc)[DQ_TILES][4]) { asm volatile("" : \(operands("acc", tiles: d.dqColumns / 8)) :: "memory"); }
        """ + (d.pingPong ? "\n" + pingPongHelpers(type: t) : "") + (d.precomputedDescriptors ? "\n" + descriptorHelpers : "")
    }

    /// The named-barrier arrival, a vector shared-memory load (warpgroup 1's add), and dK's
    /// product with dSᵀ read from shared memory (K-major, as the stores left it), so no dSᵀ
    /// fragment register stays live across the dQ product.
    private func pingPongHelpers(type t: String) -> String {
        let o = descriptor.productDim / 2
        return """
        // dK(64 × \(descriptor.productDim)) += A·B: A = dSᵀ (keys × queries, K-major) and B = Q (queries × D, MN-major), both in shared memory.
        FA_DEVICE void wgmma_o_ss(float (&acc)[D_TILES][4], u64 da, u64 db) {
            asm volatile("{\\n.reg .pred p;\\nsetp.ne.b32 p, %\(o + 2), 0;\\n"
                         "wgmma.mma_async.sync.aligned.m64n\(descriptor.productDim)k16.f32.\(t).\(t) {\(WGMMAText.registers(o))}, %\(o), %\(o + 1), p, 1, 1, 0, 1;\\n}\\n"
                         : \(WGMMAText.accumulators("acc", tiles: descriptor.productDim / 8))
                         : "l"(da), "l"(db), "r"(1));
        }
        FA_DEVICE void named_arrive(int id, int count) { asm volatile("bar.arrive %0, %1;\\n" :: "r"(id), "r"(count) : "memory"); }
        FA_DEVICE float4 ld_shared_f4(u32 a) {
            float4 v;
            asm volatile("ld.shared.v4.f32 {%0, %1, %2, %3}, [%4];\\n" : "=f"(v.x), "=f"(v.y), "=f"(v.z), "=f"(v.w) : "r"(a) : "memory");
            return v;
        }
        """
    }

    /// The wgmma shared-memory descriptor of the 128-byte-swizzled operand at `base + offset`
    /// (leading byte offset `lead`, stride 1024 B). Shipped: `smem_desc` builds the whole
    /// descriptor from the sum. With ``HopperBackwardDescriptor/precomputedDescriptors``: the base's
    /// word (loop-invariant across the k-steps, so built once) plus one compile-time immediate.
    func operand(_ base: String, _ offset: String, _ lead: String) -> String {
        guard descriptor.precomputedDescriptors else { return "smem_desc(\(base) + \(offset), \(lead), 1024)" }
        return "desc_at(desc_word(\(base)) + ((\(offset)) >> 4) + ((\(lead)) >> 4 << 16))"
    }

    /// The descriptor words (``HopperBackwardDescriptor/precomputedDescriptors``).
    var descriptorHelpers: String {
        """
        // A 128-byte-swizzled operand's descriptor: low word (address >> 4) | (leading bytes >> 4) << 16,
        // high word stride 1024 B >> 4 = 64 | swizzle mode 1 (bit 62) — the same for every operand. With
        // shared memory under 256 KB, desc(base + off) = desc(base) + off >> 4 (no carry out of bits 0–13),
        // so a wgmma's descriptor is the base's word plus an immediate.
        FA_DEVICE u32 desc_word(u32 addr) { return (addr & 0x3FFFF) >> 4; }
        FA_DEVICE u64 desc_at(u32 lo) {
            u64 d;
            asm("mov.b64 %0, {%1, %2};" : "=l"(d) : "r"(lo), "r"(0x40000040u));
            return d;
        }
        """
    }
}
