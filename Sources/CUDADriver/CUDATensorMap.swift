/// A TMA tensor map (`CUtensorMap`, 128 bytes): how the sm_90 copy engine reads tiles of a
/// strided tensor in device memory.
///
/// Made on the host by `cuTensorMapEncodeTiled` and passed to a kernel by value inside its
/// `__grid_constant__` parameter struct (64-byte aligned there).
public struct CUDATensorMap: Sendable, Hashable {
    /// The 128 opaque bytes of the map.
    public var bytes: [UInt8]

    /// Element types the generated kernels copy.
    public enum DataType: Int32, Sendable {
        case float16 = 6
        case bfloat16 = 9
    }

    /// Shared-memory swizzle the copy writes (`CU_TENSOR_MAP_SWIZZLE_*`).
    public enum Swizzle: Int32, Sendable {
        case none = 0, bytes32 = 1, bytes64 = 2, bytes128 = 3
    }

    /// Whether this driver can encode tensor maps at all (CUDA 12 and newer).
    public static var isSupported: Bool { (try? CUDA.driver())?.cuTensorMapEncodeTiled != nil }

    /// Encodes a tiled map.
    ///
    /// - Parameters:
    ///   - address: the tensor's base device address (16-byte aligned).
    ///   - dims: extents, innermost (contiguous) first.
    ///   - strides: byte strides of dims 1…rank−1 (multiples of 16).
    ///   - box: the tile each copy moves, in elements per dim (the inner one at most 128 bytes
    ///     with a 128-byte swizzle). Elements outside `dims` arrive as zeros.
    public init(dataType: DataType, address: UInt64, dims: [UInt64], strides: [UInt64], box: [UInt32], swizzle: Swizzle) throws {
        let api = try CUDA.driver()
        guard let encode = api.cuTensorMapEncodeTiled else {
            throw CUDAError.missingSymbol(library: "libcuda", symbol: "cuTensorMapEncodeTiled")
        }
        guard dims.count == box.count, strides.count == dims.count - 1, (2...5).contains(dims.count) else {
            throw CUDAError.invalidRequest("tensor map rank mismatch: dims \(dims), strides \(strides), box \(box)")
        }
        let elementStrides = [UInt32](repeating: 1, count: dims.count)
        // 128 bytes, 64-byte aligned: over-allocate and copy out of an aligned window.
        let raw = UnsafeMutableRawPointer.allocate(byteCount: 128, alignment: 64)
        defer { raw.deallocate() }
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: 128)
        let code = dims.withUnsafeBufferPointer { d in
            strides.withUnsafeBufferPointer { s in
                box.withUnsafeBufferPointer { b in
                    elementStrides.withUnsafeBufferPointer { e in
                        // interleave none (0), L2 promotion 128 B (2), out-of-bounds fill zeros (0)
                        encode(raw, dataType.rawValue, UInt32(dims.count), UnsafeMutableRawPointer(bitPattern: UInt(address)),
                               d.baseAddress!, s.baseAddress!,
                               b.baseAddress!, e.baseAddress!, 0, swizzle.rawValue, 2, 0)
                    }
                }
            }
        }
        try api.check(code, "cuTensorMapEncodeTiled(dims \(dims), strides \(strides), box \(box))")
        bytes = Array(UnsafeRawBufferPointer(start: raw, count: 128))
    }
}
