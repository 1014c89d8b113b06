/// Where a tensor's memory lives.
public enum Device: Sendable, Hashable, CustomStringConvertible {
    case cpu
    case cuda(ordinal: Int)

    public var description: String {
        switch self {
        case .cpu: "cpu"
        case let .cuda(ordinal): "cuda:\(ordinal)"
        }
    }
}

/// A non-owning, strided view of tensor memory: pointer, element type, shape and strides in
/// elements.
///
/// Views let a caller hand the library a framework's tensors in place, transposed or sliced,
/// without copies. The caller keeps the memory alive for the duration of a call.
public struct TensorView: @unchecked Sendable {
    public var data: UnsafeMutableRawPointer
    public var elementType: ElementType
    public var shape: [Int]
    /// Strides in elements, one per dimension. Negative strides are not supported.
    public var strides: [Int]
    public var device: Device

    /// - Parameters:
    ///   - strides: strides in elements; `nil` means contiguous, row-major (C order).
    public init(
        data: UnsafeMutableRawPointer, elementType: ElementType, shape: [Int],
        strides: [Int]? = nil, device: Device = .cpu
    ) {
        self.data = data
        self.elementType = elementType
        self.shape = shape
        self.strides = strides ?? TensorView.contiguousStrides(for: shape)
        self.device = device
    }

    public var rank: Int { shape.count }
    public var elementCount: Int { shape.reduce(1, *) }

    /// Row-major strides for a shape.
    public static func contiguousStrides(for shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var running = 1
        for axis in stride(from: shape.count - 1, through: 0, by: -1) {
            strides[axis] = running
            running *= max(shape[axis], 1)
        }
        return strides
    }

    /// Whether the view is dense and row-major.
    public var isContiguous: Bool { strides == TensorView.contiguousStrides(for: shape) || elementCount <= 1 }

    /// The element offset of a multi-index.
    @inlinable
    public func offset(_ index: [Int]) -> Int {
        var result = 0
        for axis in 0..<index.count { result += index[axis] * strides[axis] }
        return result
    }

    /// Reads one element, converted to float32. For host memory only.
    @inlinable
    public func load(at offset: Int) -> Float {
        switch elementType {
        case .float32: data.assumingMemoryBound(to: Float.self)[offset]
        case .float16: HalfConversion.float(float16Bits: data.assumingMemoryBound(to: UInt16.self)[offset])
        case .bfloat16: HalfConversion.float(bfloat16Bits: data.assumingMemoryBound(to: UInt16.self)[offset])
        }
    }

    /// Writes one element, rounded to the view's storage type. For host memory only.
    @inlinable
    public func store(_ value: Float, at offset: Int) {
        switch elementType {
        case .float32: data.assumingMemoryBound(to: Float.self)[offset] = value
        case .float16: data.assumingMemoryBound(to: UInt16.self)[offset] = HalfConversion.float16Bits(value)
        case .bfloat16: data.assumingMemoryBound(to: UInt16.self)[offset] = HalfConversion.bfloat16Bits(value)
        }
    }

    /// Reads the element at a multi-index. For host memory only.
    public subscript(_ index: Int...) -> Float {
        get { load(at: offset(index)) }
        nonmutating set { store(newValue, at: offset(index)) }
    }

    /// A view of the elements whose index along `axis` lies in `range`, sharing memory.
    public func slice(axis: Int, _ range: Range<Int>) -> TensorView {
        var view = self
        view.data = data + range.lowerBound * strides[axis] * elementType.byteCount
        view.shape[axis] = range.count
        return view
    }

    /// A view with two axes exchanged, sharing memory.
    public func transposed(_ a: Int, _ b: Int) -> TensorView {
        var view = self
        view.shape.swapAt(a, b)
        view.strides.swapAt(a, b)
        return view
    }
}
