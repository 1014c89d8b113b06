import CUDADriver
import FlashAttentionCore

/// Kernel timings with CUDA events on the reference library's benchmark grid.
///
/// The grid keeps 16384 tokens per batch and hidden size 2048: B = tokens / N, H = hidden / D,
/// so every point moves the same bytes and only N (work per byte) and D change. FLOPs are
/// counted as the reference library does: 4·B·H·N²·D, halved for causal.
public enum CUDABenchmark {
    public struct Point: Sendable {
        public var elementType: ElementType
        public var headDim: Int
        public var seqlen: Int
        public var causal: Bool
        public var batch: Int
        public var heads: Int
        /// Median milliseconds per forward call.
        public var milliseconds: Double
        public var tflops: Double
        public var variant: String
    }

    public struct CompileTiming: Sendable {
        public var variant: String
        /// NVRTC compile plus module load, with no cache.
        public var firstUseSeconds: Double
        /// Disk-cache read plus module load.
        public var warmStartSeconds: Double
        public var registers: Int
        public var localBytes: Int
    }

    public struct Grid: Sendable {
        public var tokens = 16384
        public var hidden = 2048
        public var headDims = [64, 128, 256]
        public var seqlens = [512, 1024, 2048, 4096, 8192, 16384]
        public var causal = [false, true]
        public var elementTypes: [ElementType] = [.bfloat16, .float16]
        public var warmup = 3
        public var iterations = 20
        public init() {}
    }

    /// Times every grid point on device `ordinal`; `progress` receives one line per point.
    public static func run(_ grid: Grid, ordinal: Int = 0, progress: (String) -> Void = { _ in }) throws -> [Point] {
        let backend = try CUDABackend(ordinal: ordinal)
        let context = backend.context
        try context.makeCurrent()
        let stream = try CUDAStream(context: context)
        let timed = try CUDABackend(ordinal: ordinal, stream: stream.handle)
        let elements = grid.tokens * grid.hidden
        var points: [Point] = []
        for type in grid.elementTypes {
            // One random q, k, v of the grid's fixed size, reused by every point of this type.
            var inputs: [CUDATensor] = []
            for seed in 1...3 {
                let tensor = try CUDATensor(shape: [elements], elementType: type, context: context)
                let host = randomBits(count: elements, type: type, seed: UInt64(seed))
                try host.withUnsafeBytes { try tensor.buffer.copy(from: $0, stream: stream) }
                inputs.append(tensor)
            }
            let out = try CUDATensor(shape: [elements], elementType: type, context: context)
            let lse = try CUDABuffer(byteCount: grid.tokens * (grid.hidden / (grid.headDims.min() ?? 64)) * 4, context: context)
            for D in grid.headDims {
                for N in grid.seqlens {
                    let B = grid.tokens / N, H = grid.hidden / D
                    func view(_ t: CUDATensor) -> TensorView {
                        TensorView(data: t.buffer.pointer, elementType: type, shape: [B, N, H, D], device: .cuda(ordinal: ordinal))
                    }
                    let lseView = TensorView(data: lse.pointer, elementType: .float32, shape: [B, H, N], device: .cuda(ordinal: ordinal))
                    for causal in grid.causal {
                        let arguments = ForwardArguments(
                            q: view(inputs[0]), k: view(inputs[1]), v: view(inputs[2]), out: view(out), lse: lseView,
                            options: AttentionOptions(causal: causal))
                        let variant = try timed.plan(arguments).descriptor.name
                        for _ in 0..<grid.warmup { try timed.forward(arguments) }
                        try stream.synchronize()
                        var times: [Double] = []
                        let events = try (0...grid.iterations).map { _ in try CUDAEvent(context: context) }
                        try events[0].record(on: stream)
                        for i in 1...grid.iterations {
                            try timed.forward(arguments)
                            try events[i].record(on: stream)
                        }
                        try events[grid.iterations].synchronize()
                        for i in 1...grid.iterations {
                            times.append(try CUDAEvent.elapsedMilliseconds(from: events[i - 1], to: events[i]))
                        }
                        times.sort()
                        let ms = times[times.count / 2]
                        let flops = 4.0 * Double(B * H) * Double(N) * Double(N) * Double(D) * (causal ? 0.5 : 1)
                        let point = Point(elementType: type, headDim: D, seqlen: N, causal: causal, batch: B, heads: H,
                                          milliseconds: ms, tflops: flops / (ms * 1e-3) / 1e12, variant: variant)
                        points.append(point)
                        progress(line(point))
                    }
                }
            }
        }
        return points
    }

    /// First-use (NVRTC, no cache) and warm-start (disk cache) times of each descriptor,
    /// through a fresh cache folder under `cacheDirectory`.
    public static func compileTimings(_ descriptors: [AttentionKernelDescriptor], cacheDirectory: String, ordinal: Int = 0) throws -> [CompileTiming] {
        let context = try CUDAContext.primary(ordinal: ordinal)
        let cache = KernelDiskCache(directory: cacheDirectory)
        var result: [CompileTiming] = []
        for descriptor in descriptors {
            let first = monotonicSeconds()
            let compiled = try KernelCompiler.compile(descriptor, cache: nil)
            let loaded = try LoadedKernel(compiled: compiled, context: context)
            let firstUse = monotonicSeconds() - first
            let key = KernelDiskCache.Key(source: compiled.source, nvrtcVersion: try nvrtcVersionString(),
                                          architecture: descriptor.architecture.targetName, options: KernelCompiler.options(for: descriptor.architecture))
            try cache.store(key, image: compiled.image, log: compiled.log)
            let warm = monotonicSeconds()
            let cached = try KernelCompiler.compile(descriptor, cache: cache)
            _ = try LoadedKernel(compiled: cached, context: context)
            let warmStart = monotonicSeconds() - warm
            result.append(CompileTiming(variant: descriptor.name, firstUseSeconds: firstUse, warmStartSeconds: warmStart,
                                        registers: loaded.attributes.registers, localBytes: loaded.attributes.localBytes))
        }
        return result
    }

    static func nvrtcVersionString() throws -> String {
        let v = try CUDA.nvrtcVersion()
        return "\(v.major).\(v.minor)"
    }

    /// One CSV line per point (header: ``csvHeader``).
    public static let csvHeader = "dtype,headdim,seqlen,causal,batch,heads,ms,tflops,variant"
    public static func csvLine(_ p: Point) -> String {
        "\(p.elementType == .bfloat16 ? "bf16" : "fp16"),\(p.headDim),\(p.seqlen),\(p.causal ? 1 : 0),\(p.batch),\(p.heads),\(p.milliseconds),\(p.tflops),\(p.variant)"
    }

    static func line(_ p: Point) -> String {
        let tf = (p.tflops * 10).rounded() / 10
        let ms = (p.milliseconds * 1000).rounded() / 1000
        return "\(p.elementType == .bfloat16 ? "bf16" : "fp16") D=\(p.headDim) N=\(p.seqlen)\(p.causal ? " causal" : "") \(ms) ms \(tf) TFLOP/s (\(p.variant))"
    }

    /// Uniform values in [−1, 1) as 16-bit storage bits, from a xorshift stream.
    static func randomBits(count: Int, type: ElementType, seed: UInt64) -> [UInt16] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var bits = [UInt16](repeating: 0, count: count)
        for i in 0..<count {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let x = Float(Int32(truncatingIfNeeded: state >> 32)) * 0x1p-31
            bits[i] = type == .bfloat16 ? HalfConversion.bfloat16Bits(x) : HalfConversion.float16Bits(x)
        }
        return bits
    }
}
