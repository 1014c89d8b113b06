import CUDADriver

extension BackwardKernelDescriptor: GeneratedKernelDescriptor {
    /// Every backward kernel opts in to its dynamic shared memory.
    public var sharedMemoryOptInThreshold: Int { 0 }
    public var entryPoint: String { BackwardKernel.entryPoint }
    public func generatedSource() throws -> String { try BackwardKernel(descriptor: self).source }
}

public typealias LoadedBackwardKernel = LoadedGeneratedKernel<BackwardKernelDescriptor>
