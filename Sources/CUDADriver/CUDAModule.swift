/// A loaded module (cubin) and the functions looked up in it.
public final class CUDAModule: @unchecked Sendable {
    public let context: CUDAContext
    let handle: CUhandle?

    /// Loads a cubin (or PTX, which the driver then compiles) into the context.
    public init(image: [UInt8], context: CUDAContext) throws {
        let api = try CUDA.driver()
        try context.makeCurrent()
        var handle: CUhandle?
        // PTX must be NUL-terminated; a cubin is an ELF image and the extra byte is ignored.
        let code = (image + [0]).withUnsafeBytes { api.cuModuleLoadData(&handle, $0.baseAddress!) }
        try api.check(code, "cuModuleLoadData")
        self.context = context
        self.handle = handle
    }

    deinit {
        if let api = try? CUDA.driver() {
            _ = try? context.makeCurrent()
            _ = api.cuModuleUnload(handle)
        }
    }

    /// The kernel named `name` (an `extern "C"` symbol).
    public func function(named name: String) throws -> CUDAFunction {
        let api = try CUDA.driver()
        var function: CUhandle?
        try api.check(api.cuModuleGetFunction(&function, handle, name), "cuModuleGetFunction(\(name))")
        return CUDAFunction(module: self, handle: function, name: name)
    }
}

/// What the compiler decided for a kernel, read back from the loaded function.
public struct CUDAFunctionAttributes: Sendable, Hashable {
    public var registers: Int
    /// Local memory per thread: non-zero means spills or a stack-resident array.
    public var localBytes: Int
    public var staticSharedBytes: Int
    public var maxThreadsPerBlock: Int
    public var binaryVersion: Int
}

/// A kernel in a loaded module. Keeps its module alive.
public struct CUDAFunction: @unchecked Sendable {
    public let module: CUDAModule
    let handle: CUhandle?
    public let name: String

    public func attributes() throws -> CUDAFunctionAttributes {
        let api = try CUDA.driver()
        func read(_ id: Int32) throws -> Int {
            var value: Int32 = 0
            try api.check(api.cuFuncGetAttribute(&value, id, handle), "cuFuncGetAttribute(\(id))")
            return Int(value)
        }
        return CUDAFunctionAttributes(
            registers: try read(4), localBytes: try read(3), staticSharedBytes: try read(1),
            maxThreadsPerBlock: try read(0), binaryVersion: try read(6))
    }

    /// Allows `bytes` of dynamic shared memory per block (needed above 48 KB).
    public func setMaxDynamicSharedMemory(_ bytes: Int) throws {
        let api = try CUDA.driver()
        try api.check(api.cuFuncSetAttribute(handle, 8, Int32(bytes)), "cuFuncSetAttribute(max dynamic shared memory = \(bytes))")
    }

    /// Launches with one by-value argument: `parameters`, the bytes of the kernel's single
    /// struct parameter.
    public func launch(
        grid: (Int, Int, Int), block: (Int, Int, Int), sharedMemoryBytes: Int, stream: CUDAStream,
        parameters: [UInt8]
    ) throws {
        let api = try CUDA.driver()
        try checkGrid(grid)
        let code = withKernelParameters(parameters) { args in
            api.cuLaunchKernel(
                handle, UInt32(grid.0), UInt32(grid.1), UInt32(grid.2),
                UInt32(block.0), UInt32(block.1), UInt32(block.2),
                UInt32(sharedMemoryBytes), stream.handle, args, nil)
        }
        try api.check(code, "cuLaunchKernel(\(name), grid \(grid), block \(block), \(sharedMemoryBytes) B shared)")
    }

    /// Grid extents the driver accepts (x up to 2³¹ − 1, y and z up to 65535), checked before
    /// any launch so the error names the kernel and the grid.
    func checkGrid(_ grid: (Int, Int, Int)) throws {
        guard grid.0 >= 1, grid.1 >= 1, grid.1 <= 65535, grid.2 >= 1, grid.2 <= 65535, grid.0 <= Int(Int32.max) else {
            throw CUDAError.invalidRequest("grid \(grid) of \(name) is outside the device's limits")
        }
    }

    /// `body` with the `kernelParams` array a launch takes: one pointer, to `parameters` (the
    /// bytes of the kernel's single struct parameter).
    func withKernelParameters<R>(_ parameters: [UInt8], _ body: (UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> R) -> R {
        var bytes = parameters
        return bytes.withUnsafeMutableBytes { raw in
            var arguments: [UnsafeMutableRawPointer?] = [raw.baseAddress]
            return arguments.withUnsafeMutableBufferPointer { body($0.baseAddress) }
        }
    }
}
