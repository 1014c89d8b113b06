import CUDADriver
import FlashAttentionCore

/// One (rows, heads, D) operand of a Hopper kernel as a TMA tensor map: 4-D (D, rows, heads,
/// batches), innermost first. A copy moves a box of 64 columns (128 bytes, swizzled) × `boxRows`
/// rows of one head. The forward and the backward describe Q, K, V, dO and O this way.
struct HopperOperandMap: Equatable {
    /// Extents, innermost first: head dim, rows, heads, batches.
    var dims: [Int]
    /// Byte strides of rows, heads and batches.
    var strides: [Int]

    /// The map's geometry for a 16-bit operand addressed by `a`. `batches` is 1 for a varlen
    /// tensor (one batch of all tokens).
    init(_ a: SequenceAddressing, headDim: Int, rows: Int, heads: Int, batches: Int) {
        dims = [headDim, rows, heads, batches]
        strides = []
        var previous = headDim * 2
        for (i, stride) in [a.rowStride, a.headStride, a.batchStride].enumerated() {
            // A dimension of extent one is never stepped along: give it a stride TMA accepts.
            let bytes = dims[i + 1] > 1 ? stride * 2 : (previous + 15) / 16 * 16
            strides.append(bytes)
            previous = bytes * dims[i + 1]
        }
    }

    /// Whether a map can describe `view`: unit head-dim stride, a 16-byte-aligned base, and
    /// every stride of a dimension longer than one a positive multiple of 16 bytes, under 2³⁸ elements.
    static func fits(_ view: TensorView, _ a: SequenceAddressing, rows: Int, heads: Int, batches: Int) -> Bool {
        guard a.dimStride == 1, UInt(bitPattern: view.data) % 16 == 0 else { return false }
        for (stride, extent) in [(a.rowStride, rows), (a.headStride, heads), (a.batchStride, batches)] where extent > 1 {
            guard stride > 0, stride % 8 == 0, stride < (1 << 38) else { return false }
        }
        return true
    }

    /// The encoded 128-byte map of `view` (fp16 or bf16, 128-byte swizzle).
    func encode(_ view: TensorView, boxRows: Int) throws -> [UInt8] {
        try CUDATensorMap(
            dataType: view.elementType == .bfloat16 ? .bfloat16 : .float16, address: CUDABackend.address(view),
            dims: dims.map { UInt64($0) }, strides: strides.map { UInt64($0) },
            box: [64, UInt32(boxRows), 1, 1], swizzle: .bytes128
        ).bytes
    }
}
