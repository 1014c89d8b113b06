import Synchronization

/// Programmatic dependent launch (sm_90): a kernel launched this way may start while the kernel
/// before it on the stream is still running, once every CTA of that kernel has executed
/// `griddepcontrol.launch_dependents` (or exited). The dependent kernel must execute
/// `griddepcontrol.wait` before it reads anything the earlier kernel writes: that wait returns
/// once the earlier grid has completed and its memory operations are visible.
extension CUDAFunction {
    /// `cuLaunchKernelEx` (CUDA 12+ drivers), resolved once; nil on older drivers.
    private static let launchKernelEx: (@convention(c) (UnsafeRawPointer, CUhandle?,
        UnsafeMutablePointer<UnsafeMutableRawPointer?>?, UnsafeMutablePointer<UnsafeMutableRawPointer?>?) -> Int32)? = {
        (try? CUDA.driver())?.library.optionalFunction("cuLaunchKernelEx")
    }()

    /// Set, for the rest of the process, once the driver has refused a dependent launch: a
    /// driver can export `cuLaunchKernelEx` and still reject the programmatic-serialization
    /// attribute (one too old for it, or a stream capture before CUDA 12.3). Trying again on every
    /// call would only fail again, so later launches go straight to the plain launch.
    private static let dependentLaunchRefused = Atomic<Bool>(false)

    /// Whether dependent launches are available: the driver has `cuLaunchKernelEx` and has not
    /// refused one in this process (see ``launchAllowingDependence(grid:block:sharedMemoryBytes:stream:parameters:)``).
    public static var supportsDependentLaunch: Bool {
        launchKernelEx != nil && !dependentLaunchRefused.load(ordering: .relaxed)
    }

    /// Launches as a programmatic dependent (``launchDependent(grid:block:sharedMemoryBytes:stream:parameters:)``)
    /// where the driver takes it, else plainly; returns whether the launch was dependent. For a
    /// kernel that is correct both ways: its `griddepcontrol.wait` is a no-op in a plain launch,
    /// which starts only once the previous kernel has completed. A driver error from the dependent
    /// launch (nothing was queued) falls back to the plain launch and turns dependent launches off
    /// for the process, so the caller, whose earlier kernels are already queued, still gets its
    /// kernel; errors the plain launch would raise as well (the grid's limits) are thrown as is.
    @discardableResult
    public func launchAllowingDependence(
        grid: (Int, Int, Int), block: (Int, Int, Int), sharedMemoryBytes: Int, stream: CUDAStream,
        parameters: [UInt8]
    ) throws -> Bool {
        if Self.supportsDependentLaunch {
            do {
                try launchDependent(grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes, stream: stream,
                                    parameters: parameters)
                return true
            } catch let error as CUDAError {
                guard case .driver = error else { throw error }
                Self.dependentLaunchRefused.store(true, ordering: .relaxed)
            }
        }
        try launch(grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes, stream: stream, parameters: parameters)
        return false
    }

    /// ``launchAllowingDependence(grid:block:sharedMemoryBytes:stream:parameters:)`` when `dependent`, else the plain
    /// launch: for call sites whose kernel variant decides (a kernel generated with its `griddepcontrol.wait`).
    public func launch(
        grid: (Int, Int, Int), block: (Int, Int, Int), sharedMemoryBytes: Int, stream: CUDAStream,
        parameters: [UInt8], allowingDependence dependent: Bool
    ) throws {
        if dependent {
            try launchAllowingDependence(grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes, stream: stream,
                                         parameters: parameters)
        } else {
            try launch(grid: grid, block: block, sharedMemoryBytes: sharedMemoryBytes, stream: stream, parameters: parameters)
        }
    }

    /// Like ``launch(grid:block:sharedMemoryBytes:stream:parameters:)``, with the launch
    /// attribute `CU_LAUNCH_ATTRIBUTE_PROGRAMMATIC_STREAM_SERIALIZATION` set: the kernel may begin
    /// before the previous kernel on `stream` completes (see the extension's note). Throws
    /// when the driver lacks `cuLaunchKernelEx`.
    public func launchDependent(
        grid: (Int, Int, Int), block: (Int, Int, Int), sharedMemoryBytes: Int, stream: CUDAStream,
        parameters: [UInt8]
    ) throws {
        let api = try CUDA.driver()
        guard let launchEx = Self.launchKernelEx else {
            throw CUDAError.invalidRequest("programmatic dependent launch needs cuLaunchKernelEx (a CUDA 12 driver)")
        }
        try checkGrid(grid)
        // CUlaunchAttribute: { CUlaunchAttributeID id (4 B); 4 B pad; 64-byte value union } = 72 B.
        // id 6 = PROGRAMMATIC_STREAM_SERIALIZATION, value.programmaticStreamSerializationAllowed = 1.
        var attribute = [UInt8](repeating: 0, count: 72)
        attribute[0] = 6
        attribute[8] = 1
        let code = attribute.withUnsafeMutableBytes { attributeBytes -> Int32 in
            // CUlaunchConfig: 7 × uint32 (grid, block, shared bytes), pad to 32, CUstream at 32,
            // CUlaunchAttribute* at 40, uint32 numAttrs at 48; 56 bytes.
            var config = [UInt8](repeating: 0, count: 56)
            config.withUnsafeMutableBytes { raw in
                let values = [grid.0, grid.1, grid.2, block.0, block.1, block.2, sharedMemoryBytes]
                for (i, v) in values.enumerated() { raw.storeBytes(of: UInt32(v), toByteOffset: 4 * i, as: UInt32.self) }
                raw.storeBytes(of: UInt(bitPattern: stream.handle), toByteOffset: 32, as: UInt.self)
                raw.storeBytes(of: UInt(bitPattern: attributeBytes.baseAddress), toByteOffset: 40, as: UInt.self)
                raw.storeBytes(of: UInt32(1), toByteOffset: 48, as: UInt32.self)
            }
            return withKernelParameters(parameters) { args in
                config.withUnsafeBytes { launchEx($0.baseAddress!, handle, args, nil) }
            }
        }
        try api.check(code, "cuLaunchKernelEx(\(name), grid \(grid), block \(block), \(sharedMemoryBytes) B shared, programmatic serialization)")
    }
}
