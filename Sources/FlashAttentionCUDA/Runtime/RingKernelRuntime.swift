import CUDADriver
import FlashAttentionCore

/// The context-parallel helper kernels (``RingKernelSource``) loaded on one device, launched
/// on a caller's stream.
public final class RingKernels: @unchecked Sendable {
    public let context: CUDAContext
    private let module: CUDAModule
    private let functions: [String: CUDAFunction]

    private static let loaded = LockedDictionary<Int, RingKernels>()

    /// The kernels on `context`'s device, compiled (or read from the kernel cache) on first use.
    public static func shared(context: CUDAContext) throws -> RingKernels {
        try loaded.value(for: context.device.ordinal) { try RingKernels(context: context) }
    }

    private init(context: CUDAContext) throws {
        let architecture = GPUArchitecture(computeCapability: context.device.computeCapability)
        let source = RingKernelSource.source
        let options = ["--gpu-architecture=\(architecture.targetName)", "--std=c++17"]
        var image: [UInt8]
        do {
            let version = try CUDA.nvrtcVersion()
            let key = KernelDiskCache.Key(source: source, nvrtcVersion: "\(version.major).\(version.minor)",
                                          architecture: architecture.targetName, options: options)
            let cache = KernelDiskCache.standard
            if let hit = cache?.load(key) {
                image = hit.image
            } else {
                let output = try NVRTC.compile(source: source, name: "ring_kernels.cu", options: options)
                image = output.image
                try? cache?.store(key, image: image, log: output.log)
            }
        } catch {
            throw FlashAttentionError.backendFailure("compiling the ring kernels: \(error)")
        }
        self.context = context
        module = try CUDAModule(image: image, context: context)
        var functions: [String: CUDAFunction] = [:]
        for s in RingKernelSource.types {
            for d in RingKernelSource.types {
                let name = RingKernelSource.copyName(from: s, to: d)
                functions[name] = try module.function(named: name)
            }
            for name in [RingKernelSource.addName(from: s), RingKernelSource.mergeName(part: s)] {
                functions[name] = try module.function(named: name)
            }
        }
        self.functions = functions
    }

    private func function(_ name: String) throws -> CUDAFunction {
        guard let f = functions[name] else { throw FlashAttentionError.backendFailure("no ring kernel \(name)") }
        return f
    }

    private static func check(_ a: TensorView, _ b: TensorView) throws {
        guard a.shape == b.shape, a.rank <= 4 else {
            throw FlashAttentionError.invalidArgument(name: "destination", expected: "shape \(a.shape) (rank ≤ 4), got \(b.shape)")
        }
    }

    private func elementwise(_ name: String, _ source: TensorView, _ destination: TensorView, stream: CUDAStream) throws {
        try Self.check(source, destination)
        let n = source.elementCount
        guard n > 0 else { return }
        let blocks = min((n + 255) / 256, context.device.multiprocessorCount * 16)
        try function(name).launch(grid: (blocks, 1, 1), block: (256, 1, 1), sharedMemoryBytes: 0, stream: stream,
                                  parameters: RingKernelParameters.elementwise(source: source, destination: destination))
    }

    /// `destination ← source`, converting the element type.
    public func copy(_ source: TensorView, into destination: TensorView, stream: CUDAStream) throws {
        try elementwise(RingKernelSource.copyName(from: source.elementType, to: destination.elementType), source, destination, stream: stream)
    }

    /// `destination += source`; `destination` is float32.
    public func add(_ source: TensorView, into destination: TensorView, stream: CUDAStream) throws {
        guard destination.elementType == .float32 else {
            throw FlashAttentionError.invalidArgument(name: "destination", expected: "float32 accumulator, got \(destination.elementType)")
        }
        try elementwise(RingKernelSource.addName(from: source.elementType), source, destination, stream: stream)
    }

    /// `(accOut, accLSE) ← merge((accOut, accLSE), (partOut, partLSE))`; accOut float32.
    public func merge(accOut: TensorView, accLSE: TensorView, partOut: TensorView, partLSE: TensorView, stream: CUDAStream) throws {
        guard accOut.elementType == .float32, accLSE.elementType == .float32, partLSE.elementType == .float32, accOut.shape == partOut.shape else {
            throw FlashAttentionError.invalidArgument(name: "accOut", expected: "float32 accumulators and equal shapes")
        }
        let rows = accOut.rank == 4 ? accOut.shape[0] * accOut.shape[1] * accOut.shape[2] : accOut.shape[0] * accOut.shape[1]
        guard rows > 0 else { return }
        try function(RingKernelSource.mergeName(part: partOut.elementType)).launch(
            grid: ((rows + 7) / 8, 1, 1), block: (256, 1, 1), sharedMemoryBytes: 0, stream: stream,
            parameters: RingKernelParameters.merge(accOut: accOut, accLSE: accLSE, partOut: partOut, partLSE: partLSE))
    }
}
