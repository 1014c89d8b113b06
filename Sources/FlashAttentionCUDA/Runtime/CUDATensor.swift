import CUDADriver
import FlashAttentionCore

/// An owning, contiguous tensor in device memory, with a ``TensorView`` on `.cuda(ordinal)`.
///
/// For programs without a framework: allocate, copy host data in, hand `view` to
/// ``CUDABackend``, copy results out. Framework tensors need no wrapper: build a
/// `TensorView(data:elementType:shape:strides:device: .cuda(ordinal: n))` on their pointer.
public final class CUDATensor: @unchecked Sendable {
    public let buffer: CUDABuffer
    public let shape: [Int]
    public let elementType: ElementType

    public init(shape: [Int], elementType: ElementType, context: CUDAContext) throws {
        self.shape = shape
        self.elementType = elementType
        buffer = try CUDABuffer(byteCount: max(1, shape.reduce(1, *)) * elementType.byteCount, context: context)
    }

    public var elementCount: Int { shape.reduce(1, *) }
    public var byteCount: Int { elementCount * elementType.byteCount }

    public var view: TensorView {
        TensorView(data: buffer.pointer, elementType: elementType, shape: shape, device: .cuda(ordinal: buffer.context.device.ordinal))
    }

    /// Copies a host view in (any strides; it must have this tensor's shape and element type).
    public func copy(from host: TensorView, stream: CUDAStream) throws {
        guard host.shape == shape, host.elementType == elementType, host.device == .cpu else {
            throw FlashAttentionError.invalidArgument(name: "host", expected: "a host tensor of shape \(shape) and type \(elementType)")
        }
        let bytes = HostStaging.gather(host)
        try bytes.withUnsafeBytes { try buffer.copy(from: $0, stream: stream) }
    }

    /// Copies the contents out into a host view (any strides, same shape and type).
    public func copy(to host: TensorView, stream: CUDAStream) throws {
        guard host.shape == shape, host.elementType == elementType, host.device == .cpu else {
            throw FlashAttentionError.invalidArgument(name: "host", expected: "a host tensor of shape \(shape) and type \(elementType)")
        }
        var bytes = [UInt8](repeating: 0, count: byteCount)
        try bytes.withUnsafeMutableBytes { try buffer.copy(to: $0, stream: stream) }
        HostStaging.scatter(bytes, into: host)
    }
}

/// Moves strided host views to and from contiguous byte arrays (row-major order).
enum HostStaging {
    static func gather(_ view: TensorView) -> [UInt8] {
        let size = view.elementType.byteCount
        let count = view.elementCount
        var bytes = [UInt8](repeating: 0, count: count * size)
        guard count > 0 else { return bytes }
        bytes.withUnsafeMutableBytes { out in
            if view.isContiguous {
                out.baseAddress!.copyMemory(from: view.data, byteCount: count * size)
                return
            }
            forEachOffset(view) { linear, offset in
                (out.baseAddress! + linear * size).copyMemory(from: view.data + offset * size, byteCount: size)
            }
        }
        return bytes
    }

    static func scatter(_ bytes: [UInt8], into view: TensorView) {
        let size = view.elementType.byteCount
        guard view.elementCount > 0 else { return }
        bytes.withUnsafeBytes { input in
            if view.isContiguous {
                view.data.copyMemory(from: input.baseAddress!, byteCount: view.elementCount * size)
                return
            }
            forEachOffset(view) { linear, offset in
                (view.data + offset * size).copyMemory(from: input.baseAddress! + linear * size, byteCount: size)
            }
        }
    }

    /// Calls `body(linearIndex, elementOffset)` for every element in row-major order.
    static func forEachOffset(_ view: TensorView, _ body: (Int, Int) -> Void) {
        let rank = view.rank
        var index = [Int](repeating: 0, count: rank)
        var offset = 0
        for linear in 0..<view.elementCount {
            body(linear, offset)
            var axis = rank - 1
            while axis >= 0 {
                index[axis] += 1
                offset += view.strides[axis]
                if index[axis] < view.shape[axis] { break }
                offset -= view.strides[axis] * index[axis]
                index[axis] = 0
                axis -= 1
            }
        }
    }
}
