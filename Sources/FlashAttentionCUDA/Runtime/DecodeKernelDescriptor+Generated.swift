import CUDADriver

extension DecodeKernelDescriptor: GeneratedKernelDescriptor {
    /// Decode kernels opt in only above the 48 KB every block may take by default.
    public var sharedMemoryOptInThreshold: Int { 48 * 1024 }
    public func generatedSource() throws -> String { try source() }
}
