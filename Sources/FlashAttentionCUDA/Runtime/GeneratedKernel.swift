import CUDADriver
import FlashAttentionCore

/// A kernel family whose variants are generated from a descriptor (the backward's and the
/// decode path's): what the shared compile, disk-cache and load path needs from it.
public protocol GeneratedKernelDescriptor: Hashable, Sendable {
    var name: String { get }
    var architecture: GPUArchitecture { get }
    /// Dynamic shared memory per block.
    var sharedMemoryBytes: Int { get }
    /// The launch's dynamic shared memory above which the function must opt in
    /// (`cudaFuncAttributeMaxDynamicSharedMemorySize`).
    var sharedMemoryOptInThreshold: Int { get }
    /// The `extern "C"` function the source defines.
    var entryPoint: String { get }
    /// The CUDA C++ source: a pure function of the descriptor.
    func generatedSource() throws -> String
}

/// One compiled variant: its source, image and how it was obtained.
public struct CompiledGeneratedKernel<Descriptor: GeneratedKernelDescriptor>: Sendable {
    public var descriptor: Descriptor
    public var source: String
    public var image: [UInt8]
    /// NVRTC's log (ptxas's `-v` report included).
    public var log: String
    public var report: ResourceReport?
    /// Seconds spent in NVRTC (0 when loaded from the disk cache).
    public var compileSeconds: Double
    public var fromDiskCache: Bool
}

/// Compiles generated descriptors with NVRTC, through the same disk cache and options as the
/// forward kernels (the key is the source text, so families never collide).
public enum GeneratedKernelCompiler {
    public static func compile<Descriptor: GeneratedKernelDescriptor>(
        _ descriptor: Descriptor, cache: KernelDiskCache? = KernelDiskCache.standard
    ) throws -> CompiledGeneratedKernel<Descriptor> {
        let source = try descriptor.generatedSource()
        let options = KernelCompiler.options(for: descriptor.architecture)
        let version: (major: Int, minor: Int)
        do { version = try CUDA.nvrtcVersion() } catch { throw FlashAttentionError.deviceUnavailable("\(error)") }
        let key = KernelDiskCache.Key(source: source, nvrtcVersion: "\(version.major).\(version.minor)",
                                      architecture: descriptor.architecture.targetName, options: options)
        if let cache, let hit = cache.load(key) {
            return CompiledGeneratedKernel(descriptor: descriptor, source: source, image: hit.image, log: hit.log,
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
        return CompiledGeneratedKernel(descriptor: descriptor, source: source, image: output.image, log: output.log,
                                       report: ResourceReport.parse(output.log), compileSeconds: seconds, fromDiskCache: false)
    }
}

/// A generated kernel loaded into a context and ready to launch.
public final class LoadedGeneratedKernel<Descriptor: GeneratedKernelDescriptor>: @unchecked Sendable {
    public let compiled: CompiledGeneratedKernel<Descriptor>
    public let function: CUDAFunction
    public let attributes: CUDAFunctionAttributes

    init(compiled: CompiledGeneratedKernel<Descriptor>, context: CUDAContext) throws {
        let module = try CUDAModule(image: compiled.image, context: context)
        function = try module.function(named: compiled.descriptor.entryPoint)
        if compiled.descriptor.sharedMemoryBytes > compiled.descriptor.sharedMemoryOptInThreshold {
            try function.setMaxDynamicSharedMemory(compiled.descriptor.sharedMemoryBytes)
        }
        attributes = try function.attributes()
        self.compiled = compiled
    }
}

/// One family's kernels by (descriptor, device), compiled or read from disk once per process.
public final class GeneratedKernelCache<Descriptor: GeneratedKernelDescriptor>: Sendable {
    struct Key: Hashable, Sendable {
        var descriptor: Descriptor
        var ordinal: Int
    }

    private let loaded = LockedDictionary<Key, LoadedGeneratedKernel<Descriptor>>()

    public init() {}

    public func kernel(_ descriptor: Descriptor, context: CUDAContext) throws -> LoadedGeneratedKernel<Descriptor> {
        try loaded.value(for: Key(descriptor: descriptor, ordinal: context.device.ordinal)) {
            let compiled = try GeneratedKernelCompiler.compile(descriptor)
            do {
                return try LoadedGeneratedKernel(compiled: compiled, context: context)
            } catch {
                throw FlashAttentionError.backendFailure("loading \(descriptor.name): \(error)")
            }
        }
    }
}

/// The process-wide caches of the generated families.
public enum GeneratedKernels {
    public static let backward = GeneratedKernelCache<BackwardKernelDescriptor>()
    public static let decode = GeneratedKernelCache<DecodeKernelDescriptor>()
}
