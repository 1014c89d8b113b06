import CUDADriver
import FlashAttentionCore
import FlashAttentionCUDA
import FlashAttentionRing

/// The context-parallel schedules on one GPU: attention through ``CUDABackend`` and the merge,
/// copies and float32 accumulation through ``RingKernels``, all on one compute stream.
/// Scratch buffers are kept by role between calls, so a steady loop allocates nothing.
public final class CUDARingDevice: RingDevice, @unchecked Sendable {
    public let context: CUDAContext
    public let stream: CUDAStream
    public let backend: CUDABackend
    let kernels: RingKernels
    private var pool: [String: CUDABuffer] = [:]

    /// - Parameter stream: the compute stream; nil creates one.
    public init(ordinal: Int, stream: CUDAStream? = nil) throws {
        do {
            context = try CUDAContext.primary(ordinal: ordinal)
            try context.makeCurrent()
            self.stream = try stream ?? CUDAStream(context: context)
        } catch {
            throw FlashAttentionError.deviceUnavailable("\(error)")
        }
        backend = try CUDABackend(ordinal: ordinal, stream: self.stream.handle)
        kernels = try RingKernels.shared(context: context)
    }

    public var device: Device { .cuda(ordinal: context.device.ordinal) }

    private func wrap<T>(_ body: () throws -> T) throws -> T {
        do { return try body() } catch let error as FlashAttentionError { throw error } catch {
            throw FlashAttentionError.backendFailure("\(error)")
        }
    }

    public func buffer(_ key: String, shape: [Int], elementType: ElementType) throws -> RingBuffer {
        try wrap {
            let bytes = max(1, shape.reduce(1, *)) * elementType.byteCount
            if let existing = pool[key], existing.byteCount >= bytes {
                return RingBuffer(view: TensorView(data: existing.pointer, elementType: elementType, shape: shape, device: device), keepAlive: existing)
            }
            // A smaller buffer of this role may still be read by queued kernels.
            if pool[key] != nil { try stream.synchronize() }
            pool[key] = nil
            let fresh = try CUDABuffer(byteCount: bytes, context: context)
            pool[key] = fresh
            return RingBuffer(view: TensorView(data: fresh.pointer, elementType: elementType, shape: shape, device: device), keepAlive: fresh)
        }
    }

    /// Drops the kept scratch (after a synchronisation).
    public func releaseBuffers() throws {
        try wrap { try stream.synchronize() }
        pool.removeAll()
    }

    /// Bytes of scratch kept.
    public var pooledBytes: Int { pool.values.reduce(0) { $0 + $1.byteCount } }

    public func forward(_ arguments: ForwardArguments) throws { try backend.forward(arguments) }
    public func backward(_ arguments: BackwardArguments) throws { try backend.backward(arguments) }

    public func merge(accOut: TensorView, accLSE: TensorView, partOut: TensorView, partLSE: TensorView) throws {
        try wrap { try kernels.merge(accOut: accOut, accLSE: accLSE, partOut: partOut, partLSE: partLSE, stream: stream) }
    }

    public func add(_ source: TensorView, into destination: TensorView) throws {
        try wrap { try kernels.add(source, into: destination, stream: stream) }
    }

    public func copy(_ source: TensorView, into destination: TensorView) throws {
        try wrap { try kernels.copy(source, into: destination, stream: stream) }
    }

    public func zero(_ destination: TensorView) throws {
        guard destination.isContiguous else {
            throw FlashAttentionError.invalidArgument(name: "destination", expected: "a contiguous buffer to zero")
        }
        try wrap {
            try CUDAMemory.fill(CUdeviceptr(UInt(bitPattern: destination.data)), byte: 0,
                                byteCount: destination.elementCount * destination.elementType.byteCount, stream: stream)
        }
    }
}
