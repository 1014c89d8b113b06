/// The one by-value parameter of the three decode-path kernels (append, attention, combine),
/// described once.
///
/// As with ``ForwardParameters``, the table ``DecodeParameters/fields`` produces both the C
/// struct the generator emits and the bytes the launcher packs; 8-byte fields first, so the
/// struct has no interior padding, and the generated source asserts its size.
public struct DecodeParameters: Sendable, Equatable {
    /// The queries attention reads (the caller's q, or the append kernel's rotated copy).
    public var q: UInt64 = 0
    /// The caller's q (append: the rotation's source).
    public var qSource: UInt64 = 0
    /// Append: the rotated queries' destination, contiguous (B, Sq, H, D).
    public var qRotated: UInt64 = 0
    public var kCache: UInt64 = 0, vCache: UInt64 = 0
    public var kNew: UInt64 = 0, vNew: UInt64 = 0
    public var out: UInt64 = 0
    /// 0 when no LSE is written.
    public var lse: UInt64 = 0
    public var rotaryCos: UInt64 = 0, rotarySin: UInt64 = 0
    /// Device int32 arrays: cacheSeqlens (B), leftPad (B), cache row per batch row (B,
    /// contiguous caches), block table (B · maxBlocks, paged caches).
    public var seqlens: UInt64 = 0, leftPad: UInt64 = 0, cacheRows: UInt64 = 0, blockTable: UInt64 = 0
    public var alibiSlopes: UInt64 = 0
    /// Scratch, float32: partial out (splits, B, H, Sq, headDim) and log2-domain LSE (splits, B, H, Sq).
    public var partialOut: UInt64 = 0, partialLSE: UInt64 = 0
    /// Fused combine: int32 split tickets, one per (batch row, KV head, query tile), zero
    /// between calls (the merging CTA resets its own).
    public var tickets: UInt64 = 0
    // Strides in elements: (batch, row, head, dim); caches (block, row, head, dim).
    public var qStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var qSourceStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var kCacheStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var vCacheStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var kNewStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var vNewStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var outStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    /// (batch, head, row).
    public var lseStrides: (Int64, Int64, Int64) = (0, 0, 0)
    /// (position, column) of the cos and sin tables.
    public var cosStrides: (Int64, Int64) = (0, 1), sinStrides: (Int64, Int64) = (0, 1)
    public var alibiBatchStride: Int64 = 0, alibiHeadStride: Int64 = 0
    public var batch: Int32 = 0
    public var heads: Int32 = 0
    public var kvHeads: Int32 = 0
    public var groupSize: Int32 = 1
    public var seqlenQ: Int32 = 0
    public var seqlenNew: Int32 = 0
    public var headDim: Int32 = 0
    /// Paged caches: rows per page, and the block table's row length.
    public var pageSize: Int32 = 1, maxBlocks: Int32 = 0
    public var windowLeft: Int32 = -1, windowRight: Int32 = -1
    public var splits: Int32 = 1
    /// Query tiles of `rowsPerBlock` rows per (batch row, KV head).
    public var queryTiles: Int32 = 1
    public var rotaryDim: Int32 = 0
    /// Queries sit at cacheSeqlens + i (causal/windowed calls) rather than at cacheSeqlens.
    public var queryPositionsAdvance: Int32 = 0
    /// Append: rows of work (B·S_new·Hk appended, then B·Sq·H rotated queries).
    public var appendRows: Int32 = 0, queryRows: Int32 = 0
    /// log2(e) · softmax scale (or log2(e) · softcap when capping).
    public var scaleLog2: Float = 0
    /// softmax scale / softcap (softcap only).
    public var softcapInputScale: Float = 0

    public init() {}
}

extension DecodeParameters: KernelParameterTable {
    static let cStructName = "DecodeParams"

    /// The struct's fields in declaration order; the single source of its layout.
    static let fields: [ParameterField<DecodeParameters>] = {
        var f: [ParameterField<DecodeParameters>] = [
            .u64("q") { $0.q }, .u64("q_src") { $0.qSource }, .u64("q_rot") { $0.qRotated },
            .u64("k_cache") { $0.kCache }, .u64("v_cache") { $0.vCache },
            .u64("k_new") { $0.kNew }, .u64("v_new") { $0.vNew },
            .u64("out") { $0.out }, .u64("lse") { $0.lse },
            .u64("rotary_cos") { $0.rotaryCos }, .u64("rotary_sin") { $0.rotarySin },
            .u64("seqlens") { $0.seqlens }, .u64("left_pad") { $0.leftPad },
            .u64("cache_rows") { $0.cacheRows }, .u64("block_table") { $0.blockTable },
            .u64("alibi_slopes") { $0.alibiSlopes },
            .u64("partial_out") { $0.partialOut }, .u64("partial_lse") { $0.partialLSE },
            .u64("tickets") { $0.tickets },
        ]
        f += ParameterField.strides(indexed: "q") { $0.qStrides }
        f += ParameterField.strides(indexed: "qs") { $0.qSourceStrides }
        f += ParameterField.strides(indexed: "kc") { $0.kCacheStrides }
        f += ParameterField.strides(indexed: "vc") { $0.vCacheStrides }
        f += ParameterField.strides(indexed: "kn") { $0.kNewStrides }
        f += ParameterField.strides(indexed: "vn") { $0.vNewStrides }
        f += ParameterField.strides(indexed: "o") { $0.outStrides }
        f += [
            .i64("lse_s0") { $0.lseStrides.0 }, .i64("lse_s1") { $0.lseStrides.1 }, .i64("lse_s2") { $0.lseStrides.2 },
            .i64("cos_s0") { $0.cosStrides.0 }, .i64("cos_s1") { $0.cosStrides.1 },
            .i64("sin_s0") { $0.sinStrides.0 }, .i64("sin_s1") { $0.sinStrides.1 },
            .i64("alibi_batch_stride") { $0.alibiBatchStride }, .i64("alibi_head_stride") { $0.alibiHeadStride },
            .i32("batch") { $0.batch }, .i32("heads") { $0.heads }, .i32("kv_heads") { $0.kvHeads },
            .i32("group_size") { $0.groupSize }, .i32("seqlen_q") { $0.seqlenQ }, .i32("seqlen_new") { $0.seqlenNew },
            .i32("head_dim") { $0.headDim }, .i32("page_size") { $0.pageSize }, .i32("max_blocks") { $0.maxBlocks },
            .i32("window_left") { $0.windowLeft }, .i32("window_right") { $0.windowRight },
            .i32("splits") { $0.splits }, .i32("query_tiles") { $0.queryTiles }, .i32("rotary_dim") { $0.rotaryDim },
            .i32("query_positions_advance") { $0.queryPositionsAdvance },
            .i32("append_rows") { $0.appendRows }, .i32("query_rows") { $0.queryRows },
            .f32("scale_log2") { $0.scaleLog2 }, .f32("softcap_input_scale") { $0.softcapInputScale },
        ]
        return f
    }()

    /// The bytes of the struct, little-endian, laid out as ``cDeclaration()`` declares it.
    public func packed() -> [UInt8] { packedFields() }

    public static func == (a: DecodeParameters, b: DecodeParameters) -> Bool { a.packed() == b.packed() }
}
