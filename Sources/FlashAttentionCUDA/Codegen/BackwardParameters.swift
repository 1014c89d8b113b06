/// The one by-value parameter of every backward kernel, described once.
///
/// As with ``ForwardParameters``, the table ``BackwardParameters/fields`` produces both the C
/// struct the generator emits and the bytes the launcher packs. 8-byte fields come first, so
/// the struct has no interior padding; the generated source asserts its size.
public struct BackwardParameters: Sendable, Equatable {
    public var q: UInt64 = 0, k: UInt64 = 0, v: UInt64 = 0, o: UInt64 = 0
    /// dO as the main passes read it (the caller's, or the preprocess's converted copy).
    public var dout: UInt64 = 0
    /// The caller's dO (preprocess only).
    public var doutSource: UInt64 = 0
    public var lse: UInt64 = 0
    /// Scratch, float32 (heads, totalQ): LSE·log2(e) and D = rowsum(dO ∘ O).
    public var lseLog2: UInt64 = 0, delta: UInt64 = 0
    public var dq: UInt64 = 0, dk: UInt64 = 0, dv: UInt64 = 0
    public var cuSeqlensQ: UInt64 = 0, cuSeqlensK: UInt64 = 0
    public var alibiSlopes: UInt64 = 0
    /// Fused dQ (ordered or atomic): float32 accumulator (heads, totalQ, tile head dim), and one
    /// int32 turn counter per (head, batch, query block) for the ordered mode; both zeroed first.
    public var dqAccum: UInt64 = 0, dqSemaphore: UInt64 = 0
    // Strides in elements: (batch, row, head, dim); varlen tensors have batch stride 0.
    public var qStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var kStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var vStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var oStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var doutStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var doutSourceStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var dqStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var dkStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    public var dvStrides: (Int64, Int64, Int64, Int64) = (0, 0, 0, 1)
    /// The caller's LSE: (batch, head, row).
    public var lseStrides: (Int64, Int64, Int64) = (0, 0, 0)
    public var alibiBatchStride: Int64 = 0, alibiHeadStride: Int64 = 0
    /// Element distance between heads in the scratch statistics (= totalQ).
    public var statHeadStride: Int64 = 0
    public var dropoutSeed: UInt64 = 0
    public var batch: Int32 = 0
    public var batchOffset: Int32 = 0
    public var heads: Int32 = 0
    public var groupSize: Int32 = 1
    public var seqlenQ: Int32 = 0, seqlenK: Int32 = 0
    public var headDim: Int32 = 0
    public var windowLeft: Int32 = -1, windowRight: Int32 = -1
    /// Preprocess: query tokens in all (dense: batch·Sq) and rows per batch entry (dense: Sq,
    /// varlen: totalQ, so that the batch index is 0 and the row is the token).
    public var totalQ: Int32 = 0, rowsPerBatch: Int32 = 1
    /// log2(e) · softmax scale (or log2(e) · softcap when capping).
    public var scaleLog2: Float = 0
    /// softmax scale / softcap (softcap only).
    public var softcapInputScale: Float = 0
    /// 1 / (1 − p) (dropout only).
    public var dropoutKeepScale: Float = 1
    /// The softmax scale: dS is taken with respect to scale·q·k, dQ and dK carry it once.
    public var gradScale: Float = 1
    public var dropoutThreshold: UInt32 = 0
    /// The Hopper key/value kernel's tail split (``HopperBackwardDescriptor/tailSplit``): the last `tailUnits` key blocks of
    /// the grid run as `tailParts` CTAs each (0 / 1: no split).
    public var tailUnits: Int32 = 0, tailParts: Int32 = 1

    public init() {}
}

extension BackwardParameters: KernelParameterTable {
    static let cStructName = "BackwardParams"

    /// The struct's fields in declaration order; the single source of its layout.
    static let fields: [ParameterField<BackwardParameters>] = {
        var f: [ParameterField<BackwardParameters>] = [
            .u64("q") { $0.q }, .u64("k") { $0.k }, .u64("v") { $0.v }, .u64("o") { $0.o },
            .u64("dout") { $0.dout }, .u64("dout_src") { $0.doutSource }, .u64("lse") { $0.lse },
            .u64("lse_log2") { $0.lseLog2 }, .u64("delta") { $0.delta },
            .u64("dq") { $0.dq }, .u64("dk") { $0.dk }, .u64("dv") { $0.dv },
            .u64("cu_seqlens_q") { $0.cuSeqlensQ }, .u64("cu_seqlens_k") { $0.cuSeqlensK },
            .u64("alibi_slopes") { $0.alibiSlopes },
            .u64("dq_accum") { $0.dqAccum }, .u64("dq_sem") { $0.dqSemaphore },
        ]
        f += ParameterField.strides("q") { $0.qStrides }
        f += ParameterField.strides("k") { $0.kStrides }
        f += ParameterField.strides("v") { $0.vStrides }
        f += ParameterField.strides("o") { $0.oStrides }
        f += ParameterField.strides("do") { $0.doutStrides }
        f += ParameterField.strides("dos") { $0.doutSourceStrides }
        f += ParameterField.strides("dq") { $0.dqStrides }
        f += ParameterField.strides("dk") { $0.dkStrides }
        f += ParameterField.strides("dv") { $0.dvStrides }
        f += [
            .i64("lse_batch_stride") { $0.lseStrides.0 }, .i64("lse_head_stride") { $0.lseStrides.1 },
            .i64("lse_row_stride") { $0.lseStrides.2 },
            .i64("alibi_batch_stride") { $0.alibiBatchStride }, .i64("alibi_head_stride") { $0.alibiHeadStride },
            .i64("stat_head_stride") { $0.statHeadStride },
            .u64("dropout_seed") { $0.dropoutSeed },
            .i32("batch") { $0.batch }, .i32("batch_offset") { $0.batchOffset }, .i32("heads") { $0.heads },
            .i32("group_size") { $0.groupSize },
            .i32("seqlen_q") { $0.seqlenQ }, .i32("seqlen_k") { $0.seqlenK }, .i32("head_dim") { $0.headDim },
            .i32("window_left") { $0.windowLeft }, .i32("window_right") { $0.windowRight },
            .i32("total_q") { $0.totalQ }, .i32("rows_per_batch") { $0.rowsPerBatch },
            .f32("scale_log2") { $0.scaleLog2 }, .f32("softcap_input_scale") { $0.softcapInputScale },
            .f32("dropout_keep_scale") { $0.dropoutKeepScale }, .f32("grad_scale") { $0.gradScale },
            .u32("dropout_threshold") { $0.dropoutThreshold },
            .i32("tail_units") { $0.tailUnits }, .i32("tail_parts") { $0.tailParts },
        ]
        return f
    }()

    /// The bytes of the struct, little-endian, laid out as ``cDeclaration()`` declares it.
    public func packed() -> [UInt8] { packedFields() }

    public static func == (a: BackwardParameters, b: BackwardParameters) -> Bool { a.packed() == b.packed() }
}
