import CUDADriver
import FlashAttentionCUDA
import Foundation

/// `FLASH_ATTENTION_BENCH_DECODE_READ=1` (or `on`): the ceiling a decode point can reach on this device —
/// a pure streaming read of the same K and V bytes (16-byte loads, four independent loads in
/// flight per thread, XOR-folded so nothing is elided), timed exactly as the decode call is
/// (L2 flushed before each call under 200 MB, else back-to-back batches). The best of a few
/// grid sizes is kept, so the figure is what a kernel that only reads, with no attention math,
/// no split merge and no dependent loads, reaches for that many bytes.
struct DecodeBenchRead {
    let function: CUDAFunction

    static let enabled = DecodeBench.switchKnob("FLASH_ATTENTION_BENCH_DECODE_READ")
    static let threads = 256
    /// CTAs per SM tried (the figure kept is the best median).
    static let ctasPerSM = [2, 4, 8, 16]

    static let source = """
    struct ReadParams { const uint4* a; const uint4* b; long long n; unsigned* sink; };
    __device__ __forceinline__ unsigned fold(uint4 x) { return x.x ^ x.y ^ x.z ^ x.w; }
    extern "C" __global__ void __launch_bounds__(256) decode_read_ceiling(const __grid_constant__ ReadParams p) {
        const long long stride = (long long)gridDim.x * 256;
        unsigned acc = 0;
        for (int half = 0; half < 2; ++half) {
            const uint4* __restrict__ src = half == 0 ? p.a : p.b;
            long long i = (long long)blockIdx.x * 256 + threadIdx.x;
            for (; i + 3 * stride < p.n; i += 4 * stride) {
                const uint4 x0 = __ldg(src + i), x1 = __ldg(src + i + stride);
                const uint4 x2 = __ldg(src + i + 2 * stride), x3 = __ldg(src + i + 3 * stride);
                acc ^= fold(x0) ^ fold(x1) ^ fold(x2) ^ fold(x3);
            }
            for (; i < p.n; i += stride) acc ^= fold(__ldg(src + i));
        }
        if (acc == 0x9e3779b9u) p.sink[0] = acc;  // never in practice; keeps the loads alive
    }
    """

    init(context: CUDAContext, architecture: GPUArchitecture) throws {
        let output = try NVRTC.compile(source: Self.source, name: "decode_read_ceiling.cu",
                                       options: KernelCompiler.options(for: architecture))
        function = try CUDAModule(image: output.image, context: context).function(named: "decode_read_ceiling")
    }

    /// Milliseconds (median) of the best grid reading `bytesEach` bytes from each of `a` and `b`,
    /// and that grid's CTAs per SM.
    func measure(a: CUdeviceptr, b: CUdeviceptr, bytesEach: Int, multiprocessors: Int, perCall: Bool, repeats: Int,
                 flush: CUDABuffer, sink: CUDABuffer, stream: CUDAStream, context: CUDAContext) throws -> (ms: Double, ctasPerSM: Int) {
        let start = try CUDAEvent(context: context), end = try CUDAEvent(context: context)
        var parameters = [UInt8](repeating: 0, count: 32)
        parameters.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: a, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: Int64(bytesEach / 16), toByteOffset: 16, as: Int64.self)
            raw.storeBytes(of: sink.address, toByteOffset: 24, as: UInt64.self)
        }
        var best = (ms: Double.infinity, ctasPerSM: 0)
        for perSM in Self.ctasPerSM {
            let grid = (perSM * multiprocessors, 1, 1)
            func launch() throws {
                try function.launch(grid: grid, block: (Self.threads, 1, 1), sharedMemoryBytes: 0, stream: stream, parameters: parameters)
            }
            try launch()
            try stream.synchronize()
            let samples: [Double]
            if perCall {
                samples = try (0..<repeats).map { _ in
                    try flush.fill(byte: 0, stream: stream)
                    try start.record(on: stream)
                    try launch()
                    try end.record(on: stream)
                    try end.synchronize()
                    return try CUDAEvent.elapsedMilliseconds(from: start, to: end)
                }
            } else {
                samples = try (0..<3).map { _ in
                    try start.record(on: stream)
                    for _ in 0..<repeats { try launch() }
                    try end.record(on: stream)
                    try end.synchronize()
                    return try CUDAEvent.elapsedMilliseconds(from: start, to: end) / Double(repeats)
                }
            }
            let ms = BenchCommand.median(samples)
            if ms < best.ms { best = (ms, perSM) }
        }
        return best
    }
}
