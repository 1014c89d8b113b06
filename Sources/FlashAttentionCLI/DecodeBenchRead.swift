import CUDADriver
import FlashAttentionCUDA
import Foundation

/// `FLASH_ATTENTION_BENCH_DECODE_READ=1` (or `on`): the ceiling a decode point can reach on this device —
/// a pure streaming read of the same K and V bytes (16-byte loads, four independent loads in
/// flight per thread, XOR-folded so nothing is elided), timed exactly as the decode call is
/// (L2 flushed before each call under 200 MB, else back-to-back batches). The best of a few
/// grid sizes is kept, so the figure is what a kernel that only reads, with no attention math,
/// no split merge and no dependent loads, reaches for that many bytes.
///
/// `FLASH_ATTENTION_BENCH_DECODE_READ=all` adds diagnostics (the default figure is unchanged): the
/// same bytes read by bulk copies (`cp.async.bulk` into shared memory, one mbarrier per stage, one
/// issuing thread per CTA, so few threads keep many bytes in flight), and both reads after an L2
/// flush that leaves clean lines (the memset, then a read sweep of 128 MiB of the flush buffer
/// that the memset has already written back, so the memset's dirty lines are evicted before the
/// timed call instead of during it).
struct DecodeBenchRead {
    let function: CUDAFunction
    /// The bulk-copy reader (sm_90 only).
    let bulk: CUDAFunction?

    static let enabled = DecodeBench.switchKnob("FLASH_ATTENTION_BENCH_DECODE_READ") || allForms
    /// `FLASH_ATTENTION_BENCH_DECODE_READ=all`: the bulk-copy read and the clean-flush reads too.
    static let allForms = ProcessInfo.processInfo.environment["FLASH_ATTENTION_BENCH_DECODE_READ"] == "all"
    /// (chunk bytes, stages, CTAs per SM) tried for the bulk-copy read (the best median is kept).
    static let bulkShapes: [(chunk: Int, stages: Int, perSM: Int)] = [
        (8192, 4, 1), (8192, 4, 2), (8192, 4, 4), (8192, 4, 6), (4096, 8, 4), (16384, 2, 4), (16384, 4, 3),
    ]
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

    /// Bulk copies: each CTA's thread 0 streams its chunks (chunk c = blockIdx.x + k · gridDim.x
    /// over a's chunks, then b's) through `stages` shared-memory buffers, each with an mbarrier
    /// whose transaction count the copy completes; one word of each landed chunk is folded in.
    static let bulkSource = """
    struct BulkParams { const unsigned char* a; const unsigned char* b; long long bytes; unsigned* sink; int chunk; int stages; };
    __device__ __forceinline__ void bulk_issue(const BulkParams& p, unsigned base, long long k, long long chunks, unsigned stage) {
        const long long c = (long long)blockIdx.x + k * gridDim.x;
        const bool second = c >= chunks;
        const long long off = (second ? c - chunks : c) * p.chunk;
        const long long left = p.bytes - off;
        const unsigned size = (unsigned)(left < p.chunk ? left : p.chunk);
        const unsigned dst = base + stage * (unsigned)p.chunk;
        const unsigned bar = base + (unsigned)(p.stages * p.chunk) + 8u * stage;
        const unsigned char* src = (second ? p.b : p.a) + off;
        asm volatile("mbarrier.arrive.expect_tx.shared::cta.b64 _, [%0], %1;\\n" :: "r"(bar), "r"(size) : "memory");
        asm volatile("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes [%0], [%1], %2, [%3];\\n"
                     :: "r"(dst), "l"(src), "r"(size), "r"(bar) : "memory");
    }
    extern "C" __global__ void __launch_bounds__(32) decode_read_bulk(const __grid_constant__ BulkParams p) {
        extern __shared__ __align__(128) unsigned char buf[];
        if (threadIdx.x != 0) return;
        const unsigned base = (unsigned)__cvta_generic_to_shared(buf);
        const unsigned bars = base + (unsigned)(p.stages * p.chunk);
        for (int s = 0; s < p.stages; ++s) asm volatile("mbarrier.init.shared::cta.b64 [%0], 1;\\n" :: "r"(bars + 8u * s) : "memory");
        asm volatile("fence.mbarrier_init.release.cluster;\\n" ::: "memory");
        const long long chunks = (p.bytes + p.chunk - 1) / p.chunk;
        const long long total = 2 * chunks;
        const long long count = (long long)blockIdx.x < total ? (total - 1 - blockIdx.x) / gridDim.x + 1 : 0;
        for (long long k = 0; k < p.stages && k < count; ++k) bulk_issue(p, base, k, chunks, (unsigned)k);
        unsigned acc = 0;
        for (long long k = 0; k < count; ++k) {
            const unsigned stage = (unsigned)(k % p.stages), parity = (unsigned)((k / p.stages) & 1);
            const unsigned bar = bars + 8u * stage;
            unsigned ok = 0;
            while (!ok) {
                asm volatile("{\\n.reg .pred q;\\nmbarrier.try_wait.parity.shared::cta.b64 q, [%1], %2;\\nselp.u32 %0, 1, 0, q;\\n}\\n"
                             : "=r"(ok) : "r"(bar), "r"(parity) : "memory");
            }
            unsigned w;
            asm volatile("ld.shared.u32 %0, [%1];\\n" : "=r"(w) : "r"(base + stage * (unsigned)p.chunk) : "memory");
            acc ^= w;
            if (k + p.stages < count) bulk_issue(p, base, k + p.stages, chunks, stage);
        }
        if (acc == 0x9e3779b9u) p.sink[0] = acc;  // never in practice; keeps the reads honest
    }
    """

    init(context: CUDAContext, architecture: GPUArchitecture) throws {
        let output = try NVRTC.compile(source: Self.source, name: "decode_read_ceiling.cu",
                                       options: KernelCompiler.options(for: architecture))
        function = try CUDAModule(image: output.image, context: context).function(named: "decode_read_ceiling")
        if Self.allForms && architecture >= .sm90a {
            let bulkOutput = try NVRTC.compile(source: Self.bulkSource, name: "decode_read_bulk.cu",
                                               options: KernelCompiler.options(for: architecture))
            bulk = try CUDAModule(image: bulkOutput.image, context: context).function(named: "decode_read_bulk")
        } else {
            bulk = nil
        }
    }

    /// Flushes L2 before a timed call: the 256 MiB memset (the bench's method), and with `clean`
    /// a read sweep of the flush buffer's first 128 MiB (written back to DRAM by the memset's
    /// later part), which evicts the memset's dirty lines and leaves L2 holding clean ones.
    func flushL2(_ flush: CUDABuffer, clean: Bool, multiprocessors: Int, sink: CUDABuffer, stream: CUDAStream) throws {
        try flush.fill(byte: 0, stream: stream)
        guard clean else { return }
        let half = min(flush.byteCount / 2, 128 << 20) / 2
        var parameters = [UInt8](repeating: 0, count: 32)
        parameters.withUnsafeMutableBytes { raw in
            raw.storeBytes(of: flush.address, toByteOffset: 0, as: UInt64.self)
            raw.storeBytes(of: flush.address + CUdeviceptr(half), toByteOffset: 8, as: UInt64.self)
            raw.storeBytes(of: Int64(half / 16), toByteOffset: 16, as: Int64.self)
            raw.storeBytes(of: sink.address, toByteOffset: 24, as: UInt64.self)
        }
        try function.launch(grid: (4 * multiprocessors, 1, 1), block: (Self.threads, 1, 1), sharedMemoryBytes: 0, stream: stream, parameters: parameters)
    }

    /// The bulk-copy read's best median over ``bulkShapes`` (milliseconds, and its shape).
    func measureBulk(a: CUdeviceptr, b: CUdeviceptr, bytesEach: Int, multiprocessors: Int, perCall: Bool, repeats: Int, clean: Bool,
                     flush: CUDABuffer, sink: CUDABuffer, stream: CUDAStream, context: CUDAContext) throws -> (ms: Double, shape: String)? {
        guard let bulk else { return nil }
        let start = try CUDAEvent(context: context), end = try CUDAEvent(context: context)
        var best = (ms: Double.infinity, shape: "")
        for shape in Self.bulkShapes {
            let sharedBytes = shape.chunk * shape.stages + 8 * shape.stages
            if sharedBytes > 48 * 1024 { try bulk.setMaxDynamicSharedMemory(sharedBytes) }
            var parameters = [UInt8](repeating: 0, count: 40)
            parameters.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: a, toByteOffset: 0, as: UInt64.self)
                raw.storeBytes(of: b, toByteOffset: 8, as: UInt64.self)
                raw.storeBytes(of: Int64(bytesEach), toByteOffset: 16, as: Int64.self)
                raw.storeBytes(of: sink.address, toByteOffset: 24, as: UInt64.self)
                raw.storeBytes(of: Int32(shape.chunk), toByteOffset: 32, as: Int32.self)
                raw.storeBytes(of: Int32(shape.stages), toByteOffset: 36, as: Int32.self)
            }
            let grid = (shape.perSM * multiprocessors, 1, 1)
            func launch() throws {
                try bulk.launch(grid: grid, block: (32, 1, 1), sharedMemoryBytes: sharedBytes, stream: stream, parameters: parameters)
            }
            let ms = try timedMedian(perCall: perCall, repeats: repeats, clean: clean, multiprocessors: multiprocessors,
                                     flush: flush, sink: sink, stream: stream, start: start, end: end, launch: launch)
            if ms < best.ms { best = (ms, "\(shape.chunk >> 10) KB x \(shape.stages) stages, \(shape.perSM) CTAs/SM") }
        }
        return best
    }

    /// Milliseconds (median) of the best grid reading `bytesEach` bytes from each of `a` and `b`,
    /// and that grid's CTAs per SM.
    func measure(a: CUdeviceptr, b: CUdeviceptr, bytesEach: Int, multiprocessors: Int, perCall: Bool, repeats: Int, clean: Bool = false,
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
            let ms = try timedMedian(perCall: perCall, repeats: repeats, clean: clean, multiprocessors: multiprocessors,
                                     flush: flush, sink: sink, stream: stream, start: start, end: end, launch: launch)
            if ms < best.ms { best = (ms, perSM) }
        }
        return best
    }

    /// Median milliseconds of `launch` after one warm-up: per call behind an L2 flush (`perCall`),
    /// or `repeats` calls back to back, three times.
    private func timedMedian(perCall: Bool, repeats: Int, clean: Bool, multiprocessors: Int, flush: CUDABuffer, sink: CUDABuffer,
                             stream: CUDAStream, start: CUDAEvent, end: CUDAEvent, launch: () throws -> Void) throws -> Double {
        try launch()
        try stream.synchronize()
        let samples: [Double]
        if perCall {
            samples = try (0..<repeats).map { _ in
                try flushL2(flush, clean: clean, multiprocessors: multiprocessors, sink: sink, stream: stream)
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
        return BenchCommand.median(samples)
    }
}
