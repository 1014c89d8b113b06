import CUDADriver
import FlashAttentionCore

/// What the forward, backward and KV-cache launchers share: staging host tensors through device memory,
/// and the parameter-struct values both compute the same way (device addresses, varlen
/// offsets, ALiBi slopes, the score scales).
extension CUDABackend {
    /// A device copy of a host tensor, queued on `stream`.
    func stagedCopy(of view: TensorView, stream: CUDAStream) throws -> CUDATensor {
        let tensor = try CUDATensor(shape: view.shape, elementType: view.elementType, context: context)
        try tensor.copy(from: view, stream: stream)
        return tensor
    }

    /// A device tensor shaped and typed like `view` filled with 0xFF: an element the kernels
    /// fail to write comes back as NaN, not as stale memory.
    func poisonedTensor(like view: TensorView, stream: CUDAStream) throws -> CUDATensor {
        let tensor = try CUDATensor(shape: view.shape, elementType: view.elementType, context: context)
        try tensor.buffer.fill(byte: 0xFF, stream: stream)
        return tensor
    }

    /// The device address of a view's first element.
    static func address(_ view: TensorView) -> UInt64 { UInt64(UInt(bitPattern: view.data)) }

    /// Host offsets as int32 in a fresh device buffer, queued on `stream`; the buffer joins
    /// `temporaries`, which the caller keeps until the launch has run.
    func uploadInt32(_ offsets: [Int], stream: CUDAStream, temporaries: inout [CUDABuffer]) throws -> UInt64 {
        let values = offsets.map { Int32(truncatingIfNeeded: $0) }
        let buffer = try CUDABuffer(byteCount: values.count * 4, context: context)
        try values.withUnsafeBytes { try buffer.copy(from: $0, stream: stream) }
        temporaries.append(buffer)
        return buffer.address
    }

    /// ALiBi slopes, (H) or (B, H), as the kernels read them: a device tensor in place, a host
    /// one copied contiguous into a buffer that joins `temporaries`.
    func alibiSlopes(_ slopes: TensorView, stream: CUDAStream, temporaries: inout [CUDABuffer]) throws
        -> (address: UInt64, batchStride: Int64, headStride: Int64) {
        let address: UInt64
        if case .cuda = slopes.device {
            address = Self.address(slopes)
        } else {
            let values = (0..<slopes.elementCount).map { i -> Float in
                slopes.rank == 1 ? slopes.load(at: i * slopes.strides[0])
                    : slopes.load(at: (i / slopes.shape[1]) * slopes.strides[0] + (i % slopes.shape[1]) * slopes.strides[1])
            }
            let buffer = try CUDABuffer(byteCount: max(values.count, 1) * 4, context: context)
            try values.withUnsafeBytes { try buffer.copy(from: $0, stream: stream) }
            temporaries.append(buffer)
            address = buffer.address
        }
        let contiguous = slopes.device == .cpu
        if slopes.rank == 1 {
            return (address, 0, contiguous ? 1 : Int64(slopes.strides[0]))
        }
        return contiguous ? (address, Int64(slopes.shape[1]), 1) : (address, Int64(slopes.strides[0]), Int64(slopes.strides[1]))
    }

    /// log2(e) · softmax scale (log2(e) · softcap when capping) and, when capping, the scale /
    /// softcap applied before tanh (0 otherwise).
    static func scoreScales(_ options: AttentionOptions, headDim: Int) -> (scaleLog2: Float, softcapInputScale: Float) {
        let scale = options.scale(headDim: headDim)
        let log2e: Float = 1.4426950408889634
        if options.softcap > 0 { return (options.softcap * log2e, scale / options.softcap) }
        return (scale * log2e, 0)
    }
}
