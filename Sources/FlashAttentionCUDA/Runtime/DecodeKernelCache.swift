import CUDADriver
import FlashAttentionCore

/// One compiled decode-path variant: its source, image and how it was obtained.
public struct CompiledDecodeKernel: Sendable {
    public var descriptor: DecodeKernelDescriptor
    public var source: String
    public var image: [UInt8]
    /// NVRTC's log (ptxas's `-v` report included).
    public var log: String
    public var report: ResourceReport?
    /// Seconds spent in NVRTC (0 when loaded from the disk cache).
    public var compileSeconds: Double
    public var fromDiskCache: Bool
}

/// Compiles decode descriptors with NVRTC, through the forward's disk cache and options (the
/// key is the source text, so decode and forward entries never collide).
public enum DecodeKernelCompiler {
    public static func compile(_ descriptor: DecodeKernelDescriptor, cache: KernelDiskCache? = KernelDiskCache.standard) throws -> CompiledDecodeKernel {
        let source = try descriptor.source()
        let options = KernelCompiler.options(for: descriptor.architecture)
        let version: (major: Int, minor: Int)
        do { version = try CUDA.nvrtcVersion() } catch { throw FlashAttentionError.deviceUnavailable("\(error)") }
        let key = KernelDiskCache.Key(source: source, nvrtcVersion: "\(version.major).\(version.minor)",
                                      architecture: descriptor.architecture.targetName, options: options)
        if let cache, let hit = cache.load(key) {
            return CompiledDecodeKernel(descriptor: descriptor, source: source, image: hit.image, log: hit.log,
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
        return CompiledDecodeKernel(descriptor: descriptor, source: source, image: output.image, log: output.log,
                                    report: ResourceReport.parse(output.log), compileSeconds: seconds, fromDiskCache: false)
    }
}

/// A decode-path kernel loaded into a context and ready to launch.
public final class LoadedDecodeKernel: @unchecked Sendable {
    public let compiled: CompiledDecodeKernel
    public let function: CUDAFunction
    public let attributes: CUDAFunctionAttributes

    init(compiled: CompiledDecodeKernel, context: CUDAContext) throws {
        let module = try CUDAModule(image: compiled.image, context: context)
        function = try module.function(named: compiled.descriptor.entryPoint)
        if compiled.descriptor.sharedMemoryBytes > 48 * 1024 {
            try function.setMaxDynamicSharedMemory(compiled.descriptor.sharedMemoryBytes)
        }
        attributes = try function.attributes()
        self.compiled = compiled
    }
}

/// Decode kernels by (descriptor, device), compiled or read from disk once per process.
public enum DecodeKernelCache {
    struct Key: Hashable, Sendable {
        var descriptor: DecodeKernelDescriptor
        var ordinal: Int
    }

    private static let loaded = LockedDictionary<Key, LoadedDecodeKernel>()

    public static func kernel(_ descriptor: DecodeKernelDescriptor, context: CUDAContext) throws -> LoadedDecodeKernel {
        try loaded.value(for: Key(descriptor: descriptor, ordinal: context.device.ordinal)) {
            let compiled = try DecodeKernelCompiler.compile(descriptor)
            do {
                return try LoadedDecodeKernel(compiled: compiled, context: context)
            } catch {
                throw FlashAttentionError.backendFailure("loading \(descriptor.name): \(error)")
            }
        }
    }
}
