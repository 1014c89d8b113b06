import CUDADriver
import FlashAttentionCore

/// A kernel loaded into a context and ready to launch.
public final class LoadedKernel: @unchecked Sendable {
    public let compiled: CompiledKernel
    public let function: CUDAFunction
    public let attributes: CUDAFunctionAttributes
    /// Seconds to load the cubin into the context.
    public let moduleLoadSeconds: Double

    init(compiled: CompiledKernel, context: CUDAContext) throws {
        let start = monotonicSeconds()
        let module = try CUDAModule(image: compiled.image, context: context)
        function = try module.function(named: AttentionKernel.entryPoint)
        try function.setMaxDynamicSharedMemory(compiled.descriptor.sharedMemoryBytes)
        attributes = try function.attributes()
        moduleLoadSeconds = monotonicSeconds() - start
        self.compiled = compiled
    }
}

/// Kernels by (descriptor, device): compiled (or read from disk) the first time a process
/// needs one, then kept for the life of the process.
public enum KernelCache {
    struct Key: Hashable, Sendable {
        var descriptor: AttentionKernelDescriptor
        var ordinal: Int
    }

    private static let loaded = LockedDictionary<Key, LoadedKernel>()

    /// The loaded kernel for `descriptor` on `context`'s device.
    public static func kernel(_ descriptor: AttentionKernelDescriptor, context: CUDAContext) throws -> LoadedKernel {
        try loaded.value(for: Key(descriptor: descriptor, ordinal: context.device.ordinal)) {
            let compiled = try KernelCompiler.compile(descriptor)
            do {
                return try LoadedKernel(compiled: compiled, context: context)
            } catch {
                throw FlashAttentionError.backendFailure("loading \(descriptor.name): \(error)")
            }
        }
    }

    /// How many kernels this process has loaded.
    public static var count: Int { loaded.count }
}
