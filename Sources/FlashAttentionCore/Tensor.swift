/// An owning, contiguous host tensor, for programs that do not bring their own memory.
///
/// The storage is 64-byte aligned. `view` hands it to the attention functions.
public final class Tensor: @unchecked Sendable {
    public let elementType: ElementType
    public let shape: [Int]
    public let storage: UnsafeMutableRawBufferPointer

    /// A zero-filled tensor.
    public init(shape: [Int], elementType: ElementType = .float32) {
        self.elementType = elementType
        self.shape = shape
        let bytes = max(shape.reduce(1, *) * elementType.byteCount, 1)
        storage = .allocate(byteCount: bytes, alignment: 64)
        storage.initializeMemory(as: UInt8.self, repeating: 0)
    }

    /// A tensor holding `values` (row-major), each rounded to `elementType`.
    ///
    /// - Throws: ``FlashAttentionError/invalidArgument(name:expected:)`` naming `shape` for a
    ///   negative size, or `values` when their count is not the product of `shape`.
    public convenience init(shape: [Int], elementType: ElementType = .float32, values: [Float]) throws {
        guard shape.allSatisfy({ $0 >= 0 }) else {
            throw FlashAttentionError.invalidArgument(name: "shape", expected: "non-negative sizes, got \(shape)")
        }
        let (count, overflow) = shape.reduce((1, false)) { running, size in
            let (product, overflow) = running.0.multipliedReportingOverflow(by: size)
            return (product, running.1 || overflow)
        }
        guard !overflow else {
            throw FlashAttentionError.invalidArgument(name: "shape", expected: "sizes whose product fits in Int, got \(shape)")
        }
        guard values.count == count else {
            throw FlashAttentionError.invalidArgument(
                name: "values", expected: "\(count) values (the product of shape \(shape)), got \(values.count)")
        }
        self.init(shape: shape, elementType: elementType)
        let view = self.view
        for (index, value) in values.enumerated() { view.store(value, at: index) }
    }

    deinit { storage.deallocate() }

    public var elementCount: Int { shape.reduce(1, *) }

    public var view: TensorView {
        TensorView(data: storage.baseAddress!, elementType: elementType, shape: shape)
    }

    /// The elements in row-major order, as float32.
    public func floats() -> [Float] {
        let view = self.view
        return (0..<elementCount).map { view.load(at: $0) }
    }

    /// Fills every byte with a pattern that decodes as NaN in all three element types, so a
    /// test can tell afterwards which elements a kernel never wrote.
    public func poison() {
        storage.initializeMemory(as: UInt8.self, repeating: 0xFF)
    }
}
