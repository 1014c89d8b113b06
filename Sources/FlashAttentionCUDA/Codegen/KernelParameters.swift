/// The one by-value parameter of every forward kernel, described once.
///
/// The table ``ForwardParameters/fields`` produces both the C struct the generator emits and
/// the bytes the launcher packs, so the two cannot drift. Fields are ordered by size (8-byte
/// first), which leaves no padding inside the struct; the generated source asserts the size.
public struct ForwardParameters: Sendable, Equatable {
    public var q: UInt64 = 0, k: UInt64 = 0, v: UInt64 = 0, o: UInt64 = 0
    /// 0 when no LSE is written.
    public var lse: UInt64 = 0
    /// Device int32 arrays of batch + 1 offsets (varlen only).
    public var cuSeqlensQ: UInt64 = 0, cuSeqlensK: UInt64 = 0
    /// Device float32 slopes (ALiBi only).
    public var alibiSlopes: UInt64 = 0
    // Strides in elements. Varlen tensors have batch stride 0 and rows are tokens.
    public var qBatchStride: Int64 = 0, qRowStride: Int64 = 0, qHeadStride: Int64 = 0, qDimStride: Int64 = 1
    public var kBatchStride: Int64 = 0, kRowStride: Int64 = 0, kHeadStride: Int64 = 0, kDimStride: Int64 = 1
    public var vBatchStride: Int64 = 0, vRowStride: Int64 = 0, vHeadStride: Int64 = 0, vDimStride: Int64 = 1
    public var oBatchStride: Int64 = 0, oRowStride: Int64 = 0, oHeadStride: Int64 = 0, oDimStride: Int64 = 1
    public var lseBatchStride: Int64 = 0, lseHeadStride: Int64 = 0, lseRowStride: Int64 = 0
    public var alibiBatchStride: Int64 = 0, alibiHeadStride: Int64 = 0
    public var dropoutSeed: UInt64 = 0
    public var batch: Int32 = 0
    /// First batch entry of this launch (grids over more than 65535 batches are split).
    public var batchOffset: Int32 = 0
    public var heads: Int32 = 0
    /// Query heads per KV head.
    public var groupSize: Int32 = 1
    /// Dense lengths, or the maxima for varlen.
    public var seqlenQ: Int32 = 0, seqlenK: Int32 = 0
    /// The problem's D (≤ the tiles' head dim).
    public var headDim: Int32 = 0
    public var windowLeft: Int32 = -1, windowRight: Int32 = -1
    /// log2(e) · softmax scale (or log2(e) · softcap when capping).
    public var scaleLog2: Float = 0
    /// softmax scale / softcap, applied before tanh (softcap only).
    public var softcapInputScale: Float = 0
    /// 1 / (1 − p) (dropout only).
    public var dropoutKeepScale: Float = 1
    /// Keep iff the 24-bit draw ≥ this (``DropoutMask/threshold``).
    public var dropoutThreshold: UInt32 = 0
    /// wgmma kernels: exchange the V descriptor's leading and stride offsets (a bring-up
    /// switch, `FLASH_ATTENTION_WGMMA_V_SWAP=1`, to settle the transposed-B layout on a GPU).
    public var wgmmaVSwap: Int32 = 0

    public init() {}
}

/// One field of a kernel's parameter struct: its C declaration and how to read it from Swift.
struct ParameterField<Parameters>: Sendable {
    enum Kind: Sendable {
        case u64, i64, i32, u32, f32
        var cType: String {
            switch self {
            case .u64: "unsigned long long"
            case .i64: "long long"
            case .i32: "int"
            case .u32: "unsigned int"
            case .f32: "float"
            }
        }
        var size: Int {
            switch self {
            case .u64, .i64: 8
            case .i32, .u32, .f32: 4
            }
        }
    }

    let name: String
    let kind: Kind
    let read: @Sendable (Parameters) -> UInt64

    static func u64(_ name: String, _ get: @escaping @Sendable (Parameters) -> UInt64) -> Self {
        .init(name: name, kind: .u64, read: get)
    }
    static func i64(_ name: String, _ get: @escaping @Sendable (Parameters) -> Int64) -> Self {
        .init(name: name, kind: .i64, read: { UInt64(bitPattern: get($0)) })
    }
    static func i32(_ name: String, _ get: @escaping @Sendable (Parameters) -> Int32) -> Self {
        .init(name: name, kind: .i32, read: { UInt64(UInt32(bitPattern: get($0))) })
    }
    static func u32(_ name: String, _ get: @escaping @Sendable (Parameters) -> UInt32) -> Self {
        .init(name: name, kind: .u32, read: { UInt64(get($0)) })
    }
    static func f32(_ name: String, _ get: @escaping @Sendable (Parameters) -> Float) -> Self {
        .init(name: name, kind: .f32, read: { UInt64(get($0).bitPattern) })
    }
    /// Four strides `<prefix>_batch_stride`, `_row_stride`, `_head_stride`, `_dim_stride`.
    static func strides(_ prefix: String, _ get: @escaping @Sendable (Parameters) -> (Int64, Int64, Int64, Int64)) -> [Self] {
        [.i64(prefix + "_batch_stride") { get($0).0 }, .i64(prefix + "_row_stride") { get($0).1 },
         .i64(prefix + "_head_stride") { get($0).2 }, .i64(prefix + "_dim_stride") { get($0).3 }]
    }
    /// Four strides `<prefix>_s0` … `_s3` (the decode struct's names: a cache's first axis is
    /// a block, not a batch entry).
    static func strides(indexed prefix: String, _ get: @escaping @Sendable (Parameters) -> (Int64, Int64, Int64, Int64)) -> [Self] {
        [.i64(prefix + "_s0") { get($0).0 }, .i64(prefix + "_s1") { get($0).1 },
         .i64(prefix + "_s2") { get($0).2 }, .i64(prefix + "_s3") { get($0).3 }]
    }
}

/// A parameter struct described by a field table: the table gives the C declaration, the
/// size and the packed bytes, so the generated struct and the launcher's bytes cannot drift.
protocol KernelParameterTable {
    /// The C struct's name in the generated source.
    static var cStructName: String { get }
    /// The struct's fields in declaration order; the single source of its layout.
    static var fields: [ParameterField<Self>] { get }
}

extension KernelParameterTable {
    /// Size of the C struct: the fields, padded to 8-byte alignment.
    static var structSize: Int { (fields.reduce(0) { $0 + $1.kind.size } + 7) / 8 * 8 }

    /// The C declaration of the struct, with a size check.
    static func cDeclaration() -> String {
        var lines = ["struct \(cStructName) {"]
        for field in fields { lines.append("    \(field.kind.cType) \(field.name);") }
        lines.append("};")
        lines.append("static_assert(sizeof(\(cStructName)) == \(structSize), \"parameter layout drifted from the Swift table\");")
        return lines.joined(separator: "\n")
    }

    /// The bytes of the struct, little-endian, laid out as ``cDeclaration()`` declares it.
    func packedFields() -> [UInt8] {
        let size = Self.structSize
        var bytes: [UInt8] = []
        bytes.reserveCapacity(size)
        for field in Self.fields {
            let value = field.read(self)
            for i in 0..<field.kind.size { bytes.append(UInt8(truncatingIfNeeded: value >> (8 * UInt64(i)))) }
        }
        while bytes.count < size { bytes.append(0) }
        return bytes
    }
}

extension ForwardParameters: KernelParameterTable {
    static let cStructName = "FlashParams"

    /// The struct's fields in declaration order; the single source of its layout.
    static let fields: [ParameterField<ForwardParameters>] = [
        .u64("q") { $0.q }, .u64("k") { $0.k }, .u64("v") { $0.v }, .u64("o") { $0.o },
        .u64("lse") { $0.lse },
        .u64("cu_seqlens_q") { $0.cuSeqlensQ }, .u64("cu_seqlens_k") { $0.cuSeqlensK },
        .u64("alibi_slopes") { $0.alibiSlopes },
        .i64("q_batch_stride") { $0.qBatchStride }, .i64("q_row_stride") { $0.qRowStride },
        .i64("q_head_stride") { $0.qHeadStride }, .i64("q_dim_stride") { $0.qDimStride },
        .i64("k_batch_stride") { $0.kBatchStride }, .i64("k_row_stride") { $0.kRowStride },
        .i64("k_head_stride") { $0.kHeadStride }, .i64("k_dim_stride") { $0.kDimStride },
        .i64("v_batch_stride") { $0.vBatchStride }, .i64("v_row_stride") { $0.vRowStride },
        .i64("v_head_stride") { $0.vHeadStride }, .i64("v_dim_stride") { $0.vDimStride },
        .i64("o_batch_stride") { $0.oBatchStride }, .i64("o_row_stride") { $0.oRowStride },
        .i64("o_head_stride") { $0.oHeadStride }, .i64("o_dim_stride") { $0.oDimStride },
        .i64("lse_batch_stride") { $0.lseBatchStride }, .i64("lse_head_stride") { $0.lseHeadStride },
        .i64("lse_row_stride") { $0.lseRowStride },
        .i64("alibi_batch_stride") { $0.alibiBatchStride }, .i64("alibi_head_stride") { $0.alibiHeadStride },
        .u64("dropout_seed") { $0.dropoutSeed },
        .i32("batch") { $0.batch }, .i32("batch_offset") { $0.batchOffset }, .i32("heads") { $0.heads },
        .i32("group_size") { $0.groupSize },
        .i32("seqlen_q") { $0.seqlenQ }, .i32("seqlen_k") { $0.seqlenK }, .i32("head_dim") { $0.headDim },
        .i32("window_left") { $0.windowLeft }, .i32("window_right") { $0.windowRight },
        .f32("scale_log2") { $0.scaleLog2 }, .f32("softcap_input_scale") { $0.softcapInputScale },
        .f32("dropout_keep_scale") { $0.dropoutKeepScale }, .u32("dropout_threshold") { $0.dropoutThreshold },
        .i32("wgmma_v_swap") { $0.wgmmaVSwap },
    ]

    /// The bytes of the struct, little-endian, laid out as ``cDeclaration()`` declares it.
    public func packed() -> [UInt8] { packedFields() }
}
