/// A stream: owned (created here, destroyed in `deinit`) or borrowed from a caller.
///
/// Borrowing lets a framework hand in its current stream, so our kernels order correctly
/// with its work without synchronising the device.
public final class CUDAStream: @unchecked Sendable {
    public let context: CUDAContext
    /// The raw `CUstream`; nil is the legacy default stream.
    public let handle: CUhandle?
    private let owned: Bool

    /// Creates a non-blocking stream.
    public init(context: CUDAContext) throws {
        let api = try CUDA.driver()
        try context.makeCurrent()
        var handle: CUhandle?
        try api.check(api.cuStreamCreate(&handle, 1), "cuStreamCreate")
        self.context = context
        self.handle = handle
        self.owned = true
    }

    /// Wraps a caller's `CUstream` (or nil for the default stream) without taking ownership.
    public init(borrowing handle: CUhandle?, context: CUDAContext) {
        self.context = context
        self.handle = handle
        self.owned = false
    }

    deinit {
        if owned, let api = try? CUDA.driver() {
            _ = try? context.makeCurrent()
            _ = api.cuStreamDestroy(handle)
        }
    }

    /// Blocks until all work queued on the stream has finished.
    public func synchronize() throws {
        let api = try CUDA.driver()
        try api.check(api.cuStreamSynchronize(handle), "cuStreamSynchronize")
    }
}

/// A timing event.
public final class CUDAEvent: @unchecked Sendable {
    let handle: CUhandle?
    let context: CUDAContext

    public init(context: CUDAContext) throws {
        let api = try CUDA.driver()
        try context.makeCurrent()
        var handle: CUhandle?
        try api.check(api.cuEventCreate(&handle, 0), "cuEventCreate")
        self.handle = handle
        self.context = context
    }

    deinit {
        if let api = try? CUDA.driver() { _ = api.cuEventDestroy(handle) }
    }

    public func record(on stream: CUDAStream) throws {
        let api = try CUDA.driver()
        try api.check(api.cuEventRecord(handle, stream.handle), "cuEventRecord")
    }

    public func synchronize() throws {
        let api = try CUDA.driver()
        try api.check(api.cuEventSynchronize(handle), "cuEventSynchronize")
    }

    /// Milliseconds between two recorded events (`end` must have completed).
    public static func elapsedMilliseconds(from start: CUDAEvent, to end: CUDAEvent) throws -> Double {
        let api = try CUDA.driver()
        var ms: Float = 0
        try api.check(api.cuEventElapsedTime(&ms, start.handle, end.handle), "cuEventElapsedTime")
        return Double(ms)
    }
}
