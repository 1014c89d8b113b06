import ArgumentParser
import FlashAttention
import FlashAttentionCPU
import CUDADriver
import FlashAttentionCUDA
import Foundation

/// `flash-attn demo`: the job FlashAttention exists for. Causal self-attention over a long
/// text (32k tokens, 16 heads) on the best backend here, in memory that does not grow with the
/// square of the length, next to what naive attention would need.
public struct DemoCommand: ReportingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Causal attention over a 32k-token text on the best available backend, timed.",
        discussion: """
            The default problem: B = 1, N = 32768 tokens, H = 16 heads, D = 64, causal. On a GPU it \
            runs as is; on the CPU the length is scaled down (halving) until a short calibration \
            run predicts under --target-seconds (default 25), and the length chosen is printed. \
            The query rows run in 8 slices of equal work (each slice sees the keys up to its last \
            row, which the bottom-right causal alignment makes exact), so the progress bar moves \
            with real work. A few rows are then recomputed in float64 as a spot check.
            """)

    @Option(help: ArgumentHelp("Tokens N (default 32768; scaled down on the CPU unless given).", valueName: "n"))
    public var seqlen: String?
    @Option(help: ArgumentHelp("Heads H (default 16).", valueName: "n"))
    public var heads: String?
    @Option(name: .customLong("head-dim"), help: ArgumentHelp("Head dim D (default 64).", valueName: "n"))
    public var headDim: String?
    @Option(help: ArgumentHelp("float32 or bfloat16 (default: bfloat16 where the CPU has AVX512-BF16 or on a GPU, else float32).", valueName: "dtype"))
    public var dtype: String?
    @Option(help: ArgumentHelp("cpu, cuda or auto (default auto: the GPU if usable).", valueName: "device"))
    public var device = "auto"
    @Option(name: .customLong("target-seconds"), help: ArgumentHelp("Time the CPU run should stay under (default 25).", valueName: "s"))
    public var targetSeconds: String?
    @Flag(help: "Plain lines only: no progress bar.")
    public var quiet = false

    public init() {}

    public func perform() throws {
        let selection = try ArgumentValues.device(device)
        var backend = try RunCommand.backend(for: selection)
        let heads = try ArgumentValues.positiveInt(self.heads, flag: "--heads", default: 16)
        let d = try ArgumentValues.positiveInt(headDim, flag: "--head-dim", default: 64)
        guard d <= 256 else { throw CLIError("--head-dim", "a head dim in 1...256, got \(d)") }
        let defaultType: ElementType = backend.name != "cpu" || CPUBackend.features.avx512BF16 ? .bfloat16 : .float32
        let elementType = try dtype.map { try ArgumentValues.elementType($0) } ?? defaultType
        if backend is CUDABackend && elementType == .float32 {
            // Tensor cores take 16-bit inputs; the CUDA backend hands float32 to the CPU.
            if selection == .cuda { throw CLIError("--dtype", "float16 or bfloat16 on --device cuda, got float32") }
            backend = CPUBackend()
        }
        let onCPU = backend.name == "cpu"
        let target = try ArgumentValues.positiveDouble(targetSeconds, flag: "--target-seconds", default: 25)
        let requested = try ArgumentValues.positiveInt(seqlen, flag: "--seqlen", default: 32768)

        say("flash-attn demo: causal self-attention over a long text")
        let where_ = onCPU ? "\(SystemInfo.cpuModel), \(CPUBackend.defaultThreadCount) threads, \(CPUBackend.instructionTier) kernels"
            : (backend as? CUDABackend).map { $0.context.device.description } ?? backend.name
        say("  backend:  \(backend.name) (\(where_))")

        // On the CPU, pick the longest length (halving from the request) predicted to fit.
        var n = requested
        var note = ""
        if onCPU && seqlen == nil {
            let probeLength = min(2048, requested)
            let probe = BenchProblem(batch: 1, seqlen: probeLength, heads: heads, headDim: d, elementType: elementType, seed: 7)
            let arguments = probe.forwardArguments(causal: true)
            try backend.forward(arguments)  // warm-up
            let seconds = try DemoCommand.seconds { try backend.forward(arguments) }
            let rate = BenchResults.flops(batch: 1, heads: heads, seqlen: probeLength, headDim: d, causal: true, backward: false) / seconds
            func predicted(_ length: Int) -> Double {
                BenchResults.flops(batch: 1, heads: heads, seqlen: length, headDim: d, causal: true, backward: false) / rate
            }
            while n > probeLength && predicted(n) > target { n /= 2 }
            if n != requested {
                note = " (scaled down from \(requested): at the \(Int(rate / 1e9)) GFLOP/s a calibration run measured, \(requested) tokens would take ~\(Int(predicted(requested).rounded())) s here; --seqlen \(requested) runs it anyway)"
            }
        }
        say("  problem:  B=1, N=\(n) tokens, H=\(heads), D=\(d), causal, \(elementType)\(note)")

        let problem = BenchProblem(batch: 1, seqlen: n, heads: heads, headDim: d, elementType: elementType, seed: 42)
        let elapsed: Double, peak: Int?
        if let gpu = backend as? CUDABackend {
            (elapsed, peak) = try DemoCommand.runOnGPU(problem, backend: gpu)
        } else {
            (elapsed, peak) = try runSliced(problem, backend: backend)
        }
        let flops = BenchResults.flops(batch: 1, heads: heads, seqlen: n, headDim: d, causal: true, backward: false)
        let rate = flops / elapsed
        let rateText = rate >= 1e12 ? String(format: "%.2f TFLOP/s", rate / 1e12) : String(format: "%.1f GFLOP/s", rate / 1e9)
        let timeText = elapsed < 1 ? String(format: "%.2f ms", elapsed * 1e3) : String(format: "%.2f s", elapsed)
        say("  time:     \(timeText)\(backend is CUDABackend ? " (median of 10 calls)" : ""), \(rateText) (\(String(format: "%.2f", flops / 1e12)) TFLOP counted as 4·B·H·N²·D/2)")
        let naive = Double(n) * Double(n) * Double(heads) * 4
        let inputs = Double(4 * n * heads * d * elementType.byteCount)
        say("  memory:   " + (peak.map { "peak extra \(DemoCommand.bytes(Double($0)))" } ?? "peak extra not measured on this device")
            + " (inputs and output: \(DemoCommand.bytes(inputs)))")
        say("  naive:    the N×N×H float32 score matrix alone would take \(DemoCommand.bytes(naive))"
            + (peak.map { $0 > 0 ? String(format: ", %.0f× more", naive / Double($0)) : "" } ?? ""))
        let spot = DemoCommand.spotCheck(problem, rows: [0, 1, n / 3, n / 2, n - 2, n - 1], heads: [0, heads - 1])
        let budget = elementType == .float32 ? 1e-5 : 2e-2
        let verdict = spot <= budget ? "ok" : "TOO LARGE"
        say("  check:    12 rows recomputed in float64: relative error \(formatRelative(spot)) (\(verdict), budget \(formatRelative(budget)))")
        if spot > budget { throw CLIError(message: "the spot check failed; run `flash-attn check`") }
    }

    /// The CPU run: query slices of equal work, so the progress bar follows real work.
    func runSliced(_ problem: BenchProblem, backend: any AttentionBackend) throws -> (seconds: Double, peak: Int?) {
        let n = problem.q.shape[1]
        let slices = DemoCommand.equalWorkSlices(n, count: min(8, n))
        let progress = ProgressLine(total: slices.count, enabled: stdoutIsTerminal && !quiet)
        progress.update("attention over \(n) tokens")
        let clock = ContinuousClock()
        let start = clock.now
        let (_, peak) = try MemoryProbe.measure {
            for rows in slices {
                // Queries rows.lower..<rows.upper against keys 0..<rows.upper: with the causal
                // mask aligned bottom-right, local row i sees keys ≤ i + rows.lower, as in the
                // whole problem.
                try backend.forward(ForwardArguments(
                    q: problem.q.view.slice(axis: 1, rows), k: problem.k.view.slice(axis: 1, 0..<rows.upperBound),
                    v: problem.v.view.slice(axis: 1, 0..<rows.upperBound), out: problem.out.view.slice(axis: 1, rows),
                    lse: problem.lse.view.slice(axis: 2, rows), options: AttentionOptions(causal: true)))
                progress.advance()
            }
        }
        let elapsed = DemoCommand.seconds(clock.now - start)
        progress.finish()
        return (elapsed, peak)
    }

    /// The GPU run: inputs copied to device memory once, one warm-up call (NVRTC compile or
    /// cache load), then the median of 10 calls, each waited for. Copies are not timed.
    static func runOnGPU(_ problem: BenchProblem, backend: CUDABackend) throws -> (seconds: Double, peak: Int?) {
        let context = backend.context
        try context.makeCurrent()
        let stream = try CUDAStream(context: context)
        func upload(_ tensor: Tensor) throws -> CUDATensor {
            let device = try CUDATensor(shape: tensor.shape, elementType: tensor.elementType, context: context)
            try device.copy(from: tensor.view, stream: stream)
            return device
        }
        let q = try upload(problem.q), k = try upload(problem.k), v = try upload(problem.v)
        let out = try CUDATensor(shape: problem.out.shape, elementType: problem.out.elementType, context: context)
        let lse = try CUDATensor(shape: problem.lse.shape, elementType: .float32, context: context)
        try stream.synchronize()
        let timed = try CUDABackend(ordinal: context.device.ordinal, stream: stream.handle)
        let arguments = ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: AttentionOptions(causal: true))
        let first = try seconds {
            try timed.forward(arguments)
            try stream.synchronize()
        }
        say(String(format: "  compile:  first call %.2f s (NVRTC compile, or a kernel-cache hit)", first))
        var samples: [Double] = []
        for _ in 0..<10 {
            samples.append(try seconds {
                try timed.forward(arguments)
                try stream.synchronize()
            })
        }
        try out.copy(to: problem.out.view, stream: stream)
        try lse.copy(to: problem.lse.view, stream: stream)
        return (BenchCommand.median(samples), nil)
    }

    /// Query-row slices of roughly equal causal work (row i costs i + 1 keys).
    public static func equalWorkSlices(_ n: Int, count: Int) -> [Range<Int>] {
        guard n > 0 else { return [] }
        var bounds = [0]
        for s in 1..<count {
            // Work of rows 0..<r grows like r²: equal shares at r = n·√(s/count).
            let r = Int((Double(n) * (Double(s) / Double(count)).squareRoot()).rounded())
            if r > bounds.last!, r < n { bounds.append(r) }
        }
        bounds.append(n)
        return (1..<bounds.count).map { bounds[$0 - 1]..<bounds[$0] }
    }

    /// Norm-wise relative error of the given rows of the output against float64 attention.
    static func spotCheck(_ problem: BenchProblem, rows: [Int], heads headList: [Int]) -> Double {
        let q = problem.q.view, k = problem.k.view, v = problem.v.view, out = problem.out.view
        let d = q.shape[3], heads = q.shape[2]
        let scale = 1 / Double(d).squareRoot()
        // Dense (1, N, H, D): element (0, i, h, c) is at (i·H + h)·D + c.
        func at(_ i: Int, _ h: Int) -> Int { (i * heads + h) * d }
        var num = 0.0, den = 0.0
        for h in headList {
            for i in rows where i >= 0 && i < q.shape[1] {
                let qi = (0..<d).map { Double(q.load(at: at(i, h) + $0)) }
                var scores = [Double](repeating: 0, count: i + 1)
                for j in 0...i {
                    var dot = 0.0
                    let base = at(j, h)
                    for c in 0..<d { dot += qi[c] * Double(k.load(at: base + c)) }
                    scores[j] = dot * scale
                }
                let m = scores.max()!
                let p = scores.map { Foundation.exp($0 - m) }
                let sum = p.reduce(0, +)
                var o = [Double](repeating: 0, count: d)
                for j in 0...i {
                    let base = at(j, h)
                    for c in 0..<d { o[c] += p[j] * Double(v.load(at: base + c)) }
                }
                for c in 0..<d {
                    let expected = o[c] / sum
                    let got = Double(out.load(at: at(i, h) + c))
                    num += (got - expected) * (got - expected)
                    den += expected * expected
                }
            }
        }
        return (num / max(den, 1e-300)).squareRoot()
    }

    static func seconds(_ body: () throws -> Void) throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        try body()
        return seconds(clock.now - start)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }

    static func bytes(_ value: Double) -> String {
        if value >= Double(1 << 30) { return String(format: "%.1f GiB", value / Double(1 << 30)) }
        if value >= Double(1 << 20) { return String(format: "%.1f MiB", value / Double(1 << 20)) }
        return String(format: "%.0f KiB", value / 1024)
    }
}

func formatRelative(_ x: Double) -> String { String(format: "%.1e", x) }
