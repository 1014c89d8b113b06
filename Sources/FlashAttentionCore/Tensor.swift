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
    public convenience init(shape: [Int], elementType: ElementType = .float32, values: [Float]) {
        precondition(values.count == shape.reduce(1, *), "values.count must equal the product of shape")
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
