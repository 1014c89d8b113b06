import FlashAttentionCore
import FlashAttentionCPU

/// The ring schedules on the CPU backend, host memory throughout (tests and the simulated group).
public struct CPURingDevice: RingDevice {
    public var backend: CPUBackend
    public var device: Device { .cpu }

    public init(backend: CPUBackend = CPUBackend()) { self.backend = backend }

    public func buffer(_ key: String, shape: [Int], elementType: ElementType) throws -> RingBuffer {
        let tensor = Tensor(shape: shape, elementType: elementType)
        return RingBuffer(view: tensor.view, keepAlive: tensor)
    }

    public func forward(_ arguments: ForwardArguments) throws { try backend.forward(arguments) }
    public func backward(_ arguments: BackwardArguments) throws { try backend.backward(arguments) }

    public func merge(accOut: TensorView, accLSE: TensorView, partOut: TensorView, partLSE: TensorView) throws {
        try AttentionMerge.merge(outs: [accOut, partOut], lses: [accLSE, partLSE], out: accOut, lse: accLSE)
    }

    public func add(_ source: TensorView, into destination: TensorView) throws {
        try Self.sameShape(source, destination)
        HostCopy.add(source, into: destination)
    }

    public func copy(_ source: TensorView, into destination: TensorView) throws {
        try Self.sameShape(source, destination)
        HostCopy.copy(source, into: destination)
    }

    public func zero(_ destination: TensorView) throws {
        HostCopy.forEach(destination.shape, destination.strides, destination.strides) { d, _ in destination.store(0, at: d) }
    }

    static func sameShape(_ a: TensorView, _ b: TensorView) throws {
        guard a.shape == b.shape else {
            throw FlashAttentionError.invalidArgument(name: "destination", expected: "shape \(a.shape), got \(b.shape)")
        }
    }
}
