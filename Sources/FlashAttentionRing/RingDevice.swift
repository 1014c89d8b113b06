import FlashAttentionCore

/// Scratch memory a ``RingDevice`` hands out; freed (or returned to the device's pool) when the
/// last reference goes.
public final class RingBuffer: @unchecked Sendable {
    public let view: TensorView
    private let keepAlive: AnyObject?

    public init(view: TensorView, keepAlive: AnyObject?) {
        self.view = view
        self.keepAlive = keepAlive
    }

    public var byteCount: Int { view.elementCount * view.elementType.byteCount }
}

/// What the context-parallel schedules need from the device that computes: attention calls,
/// the (out, LSE) merge and a few elementwise passes, all on views of at most rank 4.
///
/// Calls are ordered as they are made (synchronous on the host, queued on one stream on a
/// GPU); the communicator orders its transfers against them.
public protocol RingDevice {
    /// Where the tensors must live.
    var device: Device { get }
    /// A contiguous buffer; `key` names its role so a device may keep it between calls
    /// (two live buffers never share a key).
    func buffer(_ key: String, shape: [Int], elementType: ElementType) throws -> RingBuffer
    func forward(_ arguments: ForwardArguments) throws
    func backward(_ arguments: BackwardArguments) throws
    /// Merges a partial result into a running one, in place:
    /// `accOut, accLSE ← merge((accOut, accLSE), (partOut, partLSE))`, as ``AttentionMerge``
    /// defines it. `accOut` is float32; layouts are those of ``ForwardArguments``.
    func merge(accOut: TensorView, accLSE: TensorView, partOut: TensorView, partLSE: TensorView) throws
    /// `destination += source` elementwise; `destination` is float32, the shapes equal.
    func add(_ source: TensorView, into destination: TensorView) throws
    /// `destination ← source` elementwise, converting the element type.
    func copy(_ source: TensorView, into destination: TensorView) throws
    /// `destination ← 0`.
    func zero(_ destination: TensorView) throws
}
