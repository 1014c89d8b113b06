import CUDADriver
import FlashAttentionCore

/// One compiled backward variant: its source, image and how it was obtained.
public struct CompiledBackwardKernel: Sendable {
    public var descriptor: BackwardKernelDescriptor
    public var source: String
    public var image: [UInt8]
    /// NVRTC's log (ptxas's `-v` report included).
    public var log: String
    public var report: ResourceReport?
    /// Seconds spent in NVRTC (0 when loaded from the disk cache).
    public var compileSeconds: Double
    public var fromDiskCache: Bool
}

/// Compiles backward descriptors with NVRTC, through the same disk cache and options as the
/// forward kernels (the key is the source text, so the two never collide).
public enum BackwardKernelCompiler {
    public static func compile(_ descriptor: BackwardKernelDescriptor, cache: KernelDiskCache? = KernelDiskCache.standard) throws -> CompiledBackwardKernel {
        let source = try BackwardKernel(descriptor: descriptor).source
        let options = KernelCompiler.options(for: descriptor.architecture)
        let version: (major: Int, minor: Int)
        do { version = try CUDA.nvrtcVersion() } catch { throw FlashAttentionError.deviceUnavailable("\(error)") }
        let key = KernelDiskCache.Key(source: source, nvrtcVersion: "\(version.major).\(version.minor)",
                                      architecture: descriptor.architecture.targetName, options: options)
        if let cache, let hit = cache.load(key) {
            return CompiledBackwardKernel(descriptor: descriptor, source: source, image: hit.image, log: hit.log,
                                          report: ResourceReport.parse(hit.log), compileSeconds: 0, fromDiskCache: true)
        }
        let start = monotonicSeconds()
        let output: NVRTCOutput
        do {
            output = try NVRTC.compile(source: source, name: descriptor.name + ".cu", options: options)
        } catch {
            throw FlashAttentionError.backendFailure("compiling \(descriptor.name): \(error)")
        }
        let seconds = monotonicSeconds() - start
        try? cache?.store(key, image: output.image, log: output.log)
        return CompiledBackwardKernel(descriptor: descriptor, source: source, image: output.image, log: output.log,
                                      report: ResourceReport.parse(output.log), compileSeconds: seconds, fromDiskCache: false)
    }
}

/// A backward kernel loaded into a context and ready to launch.
public final class LoadedBackwardKernel: @unchecked Sendable {
    public let compiled: CompiledBackwardKernel
    public let function: CUDAFunction
    public let attributes: CUDAFunctionAttributes

    init(compiled: CompiledBackwardKernel, context: CUDAContext) throws {
        let module = try CUDAModule(image: compiled.image, context: context)
        function = try module.function(named: BackwardKernel.entryPoint)
        if compiled.descriptor.sharedMemoryBytes > 0 {
            try function.setMaxDynamicSharedMemory(compiled.descriptor.sharedMemoryBytes)
        }
        attributes = try function.attributes()
        self.compiled = compiled
    }
}

/// Backward kernels by (descriptor, device), compiled or read from disk once per process.
public enum BackwardKernelCache {
    struct Key: Hashable, Sendable {
        var descriptor: BackwardKernelDescriptor
        var ordinal: Int
    }

    private static let loaded = LockedDictionary<Key, LoadedBackwardKernel>()

    public static func kernel(_ descriptor: BackwardKernelDescriptor, context: CUDAContext) throws -> LoadedBackwardKernel {
        try loaded.value(for: Key(descriptor: descriptor, ordinal: context.device.ordinal)) {
            let compiled = try BackwardKernelCompiler.compile(descriptor)
            do {
                return try LoadedBackwardKernel(compiled: compiled, context: context)
            } catch {
                throw FlashAttentionError.backendFailure("loading \(descriptor.name): \(error)")
            }
        }
    }
}
