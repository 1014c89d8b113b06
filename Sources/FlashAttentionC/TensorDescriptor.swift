import CFlashAttentionABI
import FlashAttention

/// Reading caller-supplied `fa_tensor` descriptors into the library's views, checking
/// everything that could otherwise crash: NULL pointers, rank, element type, device, sizes,
/// strides, offset overflow and alignment.
enum TensorDescriptor {
    /// The maximum rank the descriptor holds (FA_MAX_RANK).
    static let maxRank = 8

    private static func fail(_ name: String, _ expected: String) -> FlashAttentionError {
        .invalidArgument(name: name, expected: expected)
    }

    /// Stands in for the data pointer of a tensor with no elements, which frameworks may
    /// report as NULL; it is never dereferenced.
    private static var emptyTensorAddress: UnsafeMutableRawPointer? { UnsafeMutableRawPointer(bitPattern: 64) }

    static func elementType(code: Int32) -> ElementType? {
        switch UInt32(bitPattern: code) {
        case FA_DTYPE_FLOAT32.rawValue: .float32
        case FA_DTYPE_FLOAT16.rawValue: .float16
        case FA_DTYPE_BFLOAT16.rawValue: .bfloat16
        default: nil
        }
    }

    static func dtypeName(code: Int32) -> String {
        switch UInt32(bitPattern: code) {
        case FA_DTYPE_FLOAT32.rawValue: "float32"
        case FA_DTYPE_FLOAT16.rawValue: "float16"
        case FA_DTYPE_BFLOAT16.rawValue: "bfloat16"
        case FA_DTYPE_INT32.rawValue: "int32"
        case FA_DTYPE_INT64.rawValue: "int64"
        default: "unknown dtype code \(code)"
        }
    }

    static func device(of tensor: fa_tensor, name: String) throws -> Device {
        switch UInt32(bitPattern: tensor.device_type) {
        case FA_DEVICE_CPU.rawValue:
            return .cpu
        case FA_DEVICE_CUDA.rawValue:
            guard tensor.device_index >= 0 else { throw fail(name, "a CUDA device ordinal ≥ 0, got \(tensor.device_index)") }
            return .cuda(ordinal: Int(tensor.device_index))
        default:
            throw fail(name, "device_type FA_DEVICE_CPU (0) or FA_DEVICE_CUDA (1), got \(tensor.device_type)")
        }
    }

    /// Shape and strides as Swift arrays, after checking the rank, signs and that the largest
    /// element offset fits in an Int.
    static func geometry(of tensor: fa_tensor, name: String) throws -> (shape: [Int], strides: [Int], elements: Int) {
        let rank = Int(tensor.rank)
        guard rank >= 0, rank <= maxRank else { throw fail(name, "rank 0 ... \(maxRank), got \(tensor.rank)") }
        var shape = [Int](repeating: 0, count: rank)
        var strides = [Int](repeating: 0, count: rank)
        withUnsafeBytes(of: tensor.shape) { raw in
            for axis in 0..<rank { shape[axis] = Int(raw.load(fromByteOffset: axis * 8, as: Int64.self)) }
        }
        withUnsafeBytes(of: tensor.strides) { raw in
            for axis in 0..<rank { strides[axis] = Int(raw.load(fromByteOffset: axis * 8, as: Int64.self)) }
        }
        var elements = 1
        var lastOffset = 0
        for axis in 0..<rank {
            guard shape[axis] >= 0 else { throw fail(name, "non-negative sizes, got \(describe(shape))") }
            guard strides[axis] >= 0 else { throw fail(name, "non-negative strides, got \(describe(strides))") }
            let (count, countOverflow) = elements.multipliedReportingOverflow(by: shape[axis])
            guard !countOverflow else { throw fail(name, "an element count that fits in 64 bits, got shape \(describe(shape))") }
            elements = count
        }
        if elements > 0 {
            for axis in 0..<rank {
                let (span, spanOverflow) = (shape[axis] - 1).multipliedReportingOverflow(by: strides[axis])
                let (sum, sumOverflow) = lastOffset.addingReportingOverflow(span)
                guard !spanOverflow, !sumOverflow else {
                    throw fail(name, "element offsets that fit in 64 bits, got shape \(describe(shape)) strides \(describe(strides))")
                }
                lastOffset = sum
            }
        }
        return (shape, strides, elements)
    }

    /// A floating-point attention tensor. `nil` pointer: an error naming the argument.
    static func view(_ pointer: UnsafePointer<fa_tensor>?, name: String) throws -> TensorView {
        guard let pointer else { throw fail(name, "a non-NULL fa_tensor pointer") }
        let tensor = pointer.pointee
        guard let elementType = elementType(code: tensor.dtype) else {
            throw fail(name, "dtype float32, float16 or bfloat16, got \(dtypeName(code: tensor.dtype))")
        }
        let device = try device(of: tensor, name: name)
        let (shape, strides, elements) = try geometry(of: tensor, name: name)
        let data: UnsafeMutableRawPointer
        if let pointer = tensor.data {
            guard Int(bitPattern: pointer) % elementType.byteCount == 0 else {
                throw fail(name, "data aligned to its \(elementType.byteCount)-byte elements")
            }
            data = pointer
        } else {
            guard elements == 0, let placeholder = emptyTensorAddress else { throw fail(name, "a non-NULL data pointer") }
            data = placeholder
        }
        return TensorView(data: data, elementType: elementType, shape: shape, strides: strides, device: device)
    }

    /// An optional attention tensor: NULL means absent.
    static func optionalView(_ pointer: UnsafePointer<fa_tensor>?, name: String) throws -> TensorView? {
        guard pointer != nil else { return nil }
        return try view(pointer, name: name)
    }

    /// Cumulative sequence offsets: rank 1, int32 or int64, host memory.
    static func offsets(_ pointer: UnsafePointer<fa_tensor>?, name: String) throws -> [Int] {
        try integers(pointer, name: name, rank: 1, form: "(batch + 1)").values
    }

    /// An integer tensor in host memory (int32 or int64) of the given rank: its shape and its
    /// elements in row-major order, whatever its strides.
    static func integers(
        _ pointer: UnsafePointer<fa_tensor>?, name: String, rank: Int, form: String
    ) throws -> (shape: [Int], values: [Int]) {
        guard let pointer else { throw fail(name, "a non-NULL fa_tensor pointer") }
        let tensor = pointer.pointee
        let dtype = UInt32(bitPattern: tensor.dtype)
        guard dtype == FA_DTYPE_INT32.rawValue || dtype == FA_DTYPE_INT64.rawValue else {
            throw fail(name, "dtype int32 or int64, got \(dtypeName(code: tensor.dtype))")
        }
        guard try device(of: tensor, name: name) == .cpu else {
            throw fail(name, "indices in host memory (FA_DEVICE_CPU); copy them to the host first")
        }
        let (shape, strides, elements) = try geometry(of: tensor, name: name)
        guard shape.count == rank else { throw fail(name, "rank \(rank) \(form), got shape \(describe(shape))") }
        guard elements > 0 else { return (shape, []) }
        guard let data = tensor.data else { throw fail(name, "a non-NULL data pointer") }
        let width = dtype == FA_DTYPE_INT32.rawValue ? 4 : 8
        guard Int(bitPattern: data) % width == 0 else { throw fail(name, "data aligned to its \(width)-byte elements") }
        // Row-major element n's offset: its digits in the shape's mixed radix, times the strides.
        func offset(_ n: Int) -> Int {
            var rest = n, result = 0
            for axis in stride(from: rank - 1, through: 0, by: -1) {
                result += (rest % shape[axis]) * strides[axis]
                rest /= shape[axis]
            }
            return result
        }
        if width == 4 {
            let values = data.assumingMemoryBound(to: Int32.self)
            return (shape, (0..<elements).map { Int(values[offset($0)]) })
        }
        let values = data.assumingMemoryBound(to: Int64.self)
        return (shape, (0..<elements).map { Int(values[offset($0)]) })
    }

    static func describe(_ values: [Int]) -> String { "(" + values.map(String.init).joined(separator: ", ") + ")" }
}
