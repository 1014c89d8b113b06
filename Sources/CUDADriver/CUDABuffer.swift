/// Device memory owned by Swift: allocated with `cuMemAlloc`, freed in `deinit`.
public final class CUDABuffer: @unchecked Sendable {
    public let context: CUDAContext
    public let address: CUdeviceptr
    public let byteCount: Int

    /// Allocates `byteCount` bytes (at least 1) on the context's device.
    public init(byteCount: Int, context: CUDAContext) throws {
        guard byteCount >= 0 else { throw CUDAError.invalidRequest("negative allocation size \(byteCount)") }
        let api = try CUDA.driver()
        try context.makeCurrent()
        var address: CUdeviceptr = 0
        try api.check(api.cuMemAlloc(&address, max(byteCount, 1)), "cuMemAlloc(\(byteCount) bytes)")
        self.context = context
        self.address = address
        self.byteCount = byteCount
    }

    deinit {
        if let api = try? CUDA.driver() {
            _ = try? context.makeCurrent()
            _ = api.cuMemFree(address)
        }
    }

    /// The address as a raw pointer, for ``TensorView``-style APIs that carry device addresses.
    public var pointer: UnsafeMutableRawPointer { UnsafeMutableRawPointer(bitPattern: UInt(address))! }

    /// Copies host bytes in at `offset`, ordered on `stream`; returns when the host memory may
    /// be reused (the driver stages pageable memory).
    public func copy(from host: UnsafeRawBufferPointer, offset: Int = 0, stream: CUDAStream) throws {
        guard let base = host.baseAddress, host.count > 0 else { return }
        guard offset >= 0, offset + host.count <= byteCount else {
            throw CUDAError.invalidRequest("copy of \(host.count) bytes at \(offset) overruns a \(byteCount)-byte buffer")
        }
        try CUDAMemory.copy(toDevice: address + CUdeviceptr(offset), from: base, byteCount: host.count, stream: stream)
    }

    /// Copies device bytes out to host memory and waits for them.
    public func copy(to host: UnsafeMutableRawBufferPointer, offset: Int = 0, stream: CUDAStream) throws {
        guard let base = host.baseAddress, host.count > 0 else { return }
        guard offset >= 0, offset + host.count <= byteCount else {
            throw CUDAError.invalidRequest("copy of \(host.count) bytes at \(offset) overruns a \(byteCount)-byte buffer")
        }
        try CUDAMemory.copy(toHost: base, from: address + CUdeviceptr(offset), byteCount: host.count, stream: stream)
    }

    /// Sets every byte to `value`, ordered on `stream` (0xFF poisons 16- and 32-bit floats as NaN).
    public func fill(byte value: UInt8, stream: CUDAStream) throws {
        try CUDAMemory.fill(address, byte: value, byteCount: byteCount, stream: stream)
    }
}

/// Copies and fills on raw device addresses (caller-owned memory included).
public enum CUDAMemory {
    public static func copy(toDevice destination: CUdeviceptr, from source: UnsafeRawPointer, byteCount: Int, stream: CUDAStream) throws {
        let api = try CUDA.driver()
        try api.check(api.cuMemcpyHtoDAsync(destination, source, byteCount, stream.handle), "cuMemcpyHtoDAsync")
        // Pageable source memory is staged before the call returns only for small copies; wait
        // so the caller may free or reuse it at once.
        try stream.synchronize()
    }

    public static func copy(toHost destination: UnsafeMutableRawPointer, from source: CUdeviceptr, byteCount: Int, stream: CUDAStream) throws {
        let api = try CUDA.driver()
        try api.check(api.cuMemcpyDtoHAsync(destination, source, byteCount, stream.handle), "cuMemcpyDtoHAsync")
        try stream.synchronize()
    }

    public static func copy(deviceToDevice destination: CUdeviceptr, from source: CUdeviceptr, byteCount: Int, stream: CUDAStream) throws {
        let api = try CUDA.driver()
        try api.check(api.cuMemcpyDtoDAsync(destination, source, byteCount, stream.handle), "cuMemcpyDtoDAsync")
    }

    public static func fill(_ destination: CUdeviceptr, byte value: UInt8, byteCount: Int, stream: CUDAStream) throws {
        let api = try CUDA.driver()
        try api.check(api.cuMemsetD8Async(destination, value, byteCount, stream.handle), "cuMemsetD8Async")
    }

    /// Whether `address` is memory the driver knows (device or managed), as opposed to plain
    /// host memory. Used to reject host pointers labelled as device tensors before a launch
    /// turns them into an illegal-address fault.
    public static func isDeviceAddress(_ address: UnsafeRawPointer) -> Bool {
        guard let api = try? CUDA.driver() else { return false }
        var memoryType: UInt32 = 0
        // CU_POINTER_ATTRIBUTE_MEMORY_TYPE = 2; CU_MEMORYTYPE_DEVICE = 2, UNIFIED = 4.
        let code = api.cuPointerGetAttribute(&memoryType, 2, CUdeviceptr(UInt(bitPattern: address)))
        return code == 0 && (memoryType == 2 || memoryType == 4)
    }
}
