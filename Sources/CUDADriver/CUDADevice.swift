/// A CUDA device and the properties kernels are shaped by.
public struct CUDADevice: Sendable, Hashable, CustomStringConvertible {
    public let ordinal: Int
    public let name: String
    /// Compute capability as major·10 + minor (80 for A100, 90 for H100).
    public let computeCapability: Int
    public let multiprocessorCount: Int
    /// The most shared memory one block may opt in to (above the default 48 KB).
    public let maxSharedMemoryPerBlockOptin: Int
    public let maxSharedMemoryPerMultiprocessor: Int
    public let totalMemory: Int
    /// L2 cache size in bytes (50 MB on the H100 SXM, 60 MB on the H200): the Hopper backward's persistent-grid default
    /// keys on it (`HopperBackwardDescriptor.defaultPersistentTiles` in FlashAttentionCUDA).
    public let l2CacheBytes: Int

    /// Reads the properties of device `ordinal`.
    public init(ordinal: Int = 0) throws {
        let api = try CUDA.driver()
        var count: Int32 = 0
        try api.check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        guard ordinal >= 0, ordinal < Int(count) else { throw CUDAError.noDevice(ordinal: ordinal, count: Int(count)) }
        var device: Int32 = 0
        try api.check(api.cuDeviceGet(&device, Int32(ordinal)), "cuDeviceGet")
        var buffer = [CChar](repeating: 0, count: 256)
        try api.check(api.cuDeviceGetName(&buffer, Int32(buffer.count), device), "cuDeviceGetName")
        func attribute(_ id: Int32, _ what: String) throws -> Int {
            var value: Int32 = 0
            try api.check(api.cuDeviceGetAttribute(&value, id, device), "cuDeviceGetAttribute(\(what))")
            return Int(value)
        }
        var total = 0
        try api.check(api.cuDeviceTotalMem(&total, device), "cuDeviceTotalMem")
        self.ordinal = ordinal
        self.name = decodeCString(buffer)
        self.computeCapability = try attribute(75, "compute capability major") * 10 + attribute(76, "compute capability minor")
        self.multiprocessorCount = try attribute(16, "multiprocessor count")
        self.maxSharedMemoryPerBlockOptin = try attribute(97, "max shared memory per block optin")
        self.maxSharedMemoryPerMultiprocessor = try attribute(81, "max shared memory per multiprocessor")
        self.totalMemory = total
        // CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE; only a performance default reads it, so a driver that refuses it leaves 0
        // (the H100's measured forms) rather than failing the device.
        self.l2CacheBytes = (try? attribute(38, "L2 cache size")) ?? 0
    }

    public var description: String {
        "\(name) (sm_\(computeCapability), \(multiprocessorCount) SMs, \(totalMemory >> 20) MiB, \(l2CacheBytes >> 20) MiB L2)"
    }
}

/// The device's primary context, the one the CUDA runtime (and so PyTorch) uses, so device
/// pointers from a framework are valid in our launches.
public final class CUDAContext: @unchecked Sendable {
    public let device: CUDADevice
    let handle: CUhandle

    private init(device: CUDADevice, handle: CUhandle) {
        self.device = device
        self.handle = handle
    }

    private static let contexts = LockedDictionary<Int, CUDAContext>()

    /// The retained primary context of device `ordinal`, shared for the life of the process.
    public static func primary(ordinal: Int = 0) throws -> CUDAContext {
        try contexts.value(for: ordinal) {
            let device = try CUDADevice(ordinal: ordinal)
            let api = try CUDA.driver()
            var handle: CUhandle?
            try api.check(api.cuDevicePrimaryCtxRetain(&handle, Int32(ordinal)), "cuDevicePrimaryCtxRetain")
            guard let handle else { throw CUDAError.invalidRequest("cuDevicePrimaryCtxRetain returned no context") }
            return CUDAContext(device: device, handle: handle)
        }
    }

    /// Binds the context to the calling thread; every driver call below needs one bound.
    public func makeCurrent() throws {
        let api = try CUDA.driver()
        try api.check(api.cuCtxSetCurrent(handle), "cuCtxSetCurrent")
    }

    /// Waits for all work on the device.
    public func synchronize() throws {
        let api = try CUDA.driver()
        try makeCurrent()
        try api.check(api.cuCtxSynchronize(), "cuCtxSynchronize")
    }

    /// Free and total device memory in bytes.
    public func memoryInfo() throws -> (free: Int, total: Int) {
        let api = try CUDA.driver()
        try makeCurrent()
        var free = 0, total = 0
        try api.check(api.cuMemGetInfo(&free, &total), "cuMemGetInfo")
        return (free, total)
    }
}
