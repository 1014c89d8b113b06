import ArgumentParser
import FlashAttention
import Foundation

/// `flash-attn bench`: forward and backward over a grid of problem sizes, with PyTorch's CPU
/// `scaled_dot_product_attention` timed on the same inputs in the same run when it is there.
public struct BenchCommand: ReportingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Time forward and backward over a grid of sizes, next to PyTorch's CPU attention.",
        discussion: """
            The default grid: B = 1, H = 8, D = 64 and 128, N = Sq = Sk = 512, 1024, …, 16384, causal \
            and not, float32 and bfloat16, 3 timed runs per point (the median is reported) after \
            one warm-up (kept as a sample when a run takes over a second). A point whose predicted \
            time (ours and torch, both passes: the previous length's time × the length ratio²) \
            exceeds --max-seconds (default 60) is skipped and listed with the longer ones, so on a \
            2-core machine the default run takes about 5–10 minutes and reaches N = 4096 (8192 for \
            the cheaper causal bfloat16 series); pass --seqlens and a larger --max-seconds for the \
            long points, or narrow it with --seqlens, --head-dims, --dtypes, \
            --causal/--no-causal. When `python3 -c 'import torch'` works, torch runs each point on \
            the same inputs (written to .npy in a temporary folder) with the same thread count, via \
            scripts/bench_torch_cpu.py. A pass or dtype the backend does not support is listed as \
            skipped. With --device cuda the host tensors are staged to the GPU inside each timed \
            call; `flash-attn compile --bench` times the GPU kernels alone.
            """)

    @Option(help: ArgumentHelp("cpu, cuda, or auto.", valueName: "device"))
    public var device = "cpu"
    @Option(help: ArgumentHelp("Comma-separated sequence lengths N (Sq = Sk).", valueName: "list"))
    public var seqlens: String?
    @Option(name: .customLong("head-dims"), help: ArgumentHelp("Comma-separated head dims D (1...256).", valueName: "list"))
    public var headDims: String?
    @Option(help: ArgumentHelp("Comma-separated element types: float32, float16, bfloat16.", valueName: "list"))
    public var dtypes: String?
    @Flag(inversion: .prefixedNo, help: "Only causal (--causal) or only non-causal (--no-causal) points; both by default.")
    public var causal: Bool?
    @Option(help: ArgumentHelp("Query heads H (default 8).", valueName: "n"))
    public var heads: String?
    @Option(help: ArgumentHelp("Batch size B (default 1).", valueName: "n"))
    public var batch: String?
    @Option(help: ArgumentHelp("Timed runs per point (default 3); the median is reported.", valueName: "n"))
    public var repeats: String?
    @Option(name: .customLong("max-seconds"), help: ArgumentHelp("Skip points predicted to take longer than this (default 60).", valueName: "s"))
    public var maxSeconds: String?
    @Option(help: ArgumentHelp("Worker threads, for ours and torch (default: all cores).", valueName: "n"))
    public var threads: String?
    @Flag(name: .customLong("no-backward"), help: "Time the forward only.")
    public var forwardOnly = false
    @Flag(name: .customLong("no-torch"), help: "Do not run PyTorch's attention next to ours.")
    public var noTorch = false
    @Option(name: .customLong("torch-script"), help: ArgumentHelp("The torch worker (default: scripts/bench_torch_cpu.py).", valueName: "path"))
    public var torchScript: String?
    @Option(help: ArgumentHelp("Write the raw numbers as CSV.", valueName: "file"))
    public var csv: String?
    @Option(help: ArgumentHelp("Write the raw numbers as JSON.", valueName: "file"))
    public var json: String?
    @Option(help: ArgumentHelp("Write a bar chart of GFLOP/s (SVG).", valueName: "file"))
    public var chart: String?
    @Flag(help: "Plain lines only: no progress bar.")
    public var quiet = false
    @Flag(help: "Decoding over a KV cache instead (Sq = 1; see DecodeBench): --seqlens are contexts, --batch a list.")
    public var decode = false
    @Option(name: .customLong("kv-heads"), help: ArgumentHelp("With --decode: comma-separated KV head counts (default 8,32).", valueName: "list"))
    public var kvHeads: String?
    @Option(name: .customLong("ring"), help: ArgumentHelp("Context parallelism over P GPUs, one process each (see `flash-attn ring-bench`); --seqlens are total tokens.", valueName: "P"))
    public var ring: Int?

    public init() {}

    struct Point: Hashable {
        var dtype: ElementType
        var headDim: Int
        var causal: Bool
        var seqlen: Int
        var series: String { "\(dtype)/\(headDim)/\(causal)" }
    }

    public func perform() throws {
        if decode { return try DecodeBench(command: self).run() }
        if let ring { return try RingBenchCommand.launch(world: ring, passthrough: seqlens.map { ["--tokens", $0] } ?? []) }
        let deviceSelection = try ArgumentValues.device(device)
        let lengths = try ArgumentValues.intList(seqlens, flag: "--seqlens", range: 1...1 << 20, default: [512, 1024, 2048, 4096, 8192, 16384])
        let dims = try ArgumentValues.intList(headDims, flag: "--head-dims", range: 1...256, default: [64, 128])
        let types = try ArgumentValues.elementTypes(dtypes, flag: "--dtypes", default: [.float32, .bfloat16])
        let heads = try ArgumentValues.positiveInt(self.heads, flag: "--heads", default: 8)
        let batch = try ArgumentValues.positiveInt(self.batch, flag: "--batch", default: 1)
        let repeats = try ArgumentValues.positiveInt(self.repeats, flag: "--repeats", default: 3)
        let budget = try ArgumentValues.positiveDouble(maxSeconds, flag: "--max-seconds", default: 60)
        let threads = try ArgumentValues.positiveInt(self.threads, flag: "--threads", default: SystemInfo.defaultThreads)
        var outputs: [(flag: String, path: String)] = []
        if let csv { outputs.append(("--csv", csv)) }
        if let json { outputs.append(("--json", json)) }
        if let chart { outputs.append(("--chart", chart)) }
        try OutputFiles.checkWritable(outputs)
        let backend = try RunCommand.backend(for: deviceSelection, threads: threads)
        let masks = causal.map { [$0] } ?? [false, true]

        var points: [Point] = []
        for dtype in types { for d in dims { for mask in masks { for n in lengths.sorted() {
            points.append(Point(dtype: dtype, headDim: d, causal: mask, seqlen: n))
        } } } }

        var results = BenchResults(command: (["flash-attn"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                                   cpu: SystemInfo.cpuModel, threads: threads, device: backend.name)
        let progress = ProgressLine(total: points.count, enabled: stdoutIsTerminal && !quiet)
        let peer = startPeer(backend: backend, threads: threads, progress: progress)
        results.torch = peer?.version
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("flash-attn-bench-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        progress.line("flash-attn bench: \(backend.name), \(threads) threads, \(results.cpu); B=\(batch) H=\(heads)"
            + (peer.map { ", torch \($0.version) on the same inputs" } ?? ""))
        progress.line(BenchTable.header)
        progress.line(BenchTable.rule)
        var seconds: [String: (seqlen: Int, seconds: Double)] = [:]
        let clock = ContinuousClock()
        for point in points {
            if let last = seconds[point.series] {
                let ratio = Double(point.seqlen) / Double(last.seqlen)
                let predicted = last.seconds * ratio * ratio
                if predicted > budget {
                    let text = "\(point.dtype) D=\(point.headDim) \(point.causal ? "causal" : "none") N=\(point.seqlen): predicted \(Int(predicted.rounded())) s > --max-seconds \(Int(budget))"
                    results.skipped.append(text)
                    progress.advance()
                    continue
                }
            }
            progress.update("\(point.dtype) D=\(point.headDim) \(point.causal ? "causal" : "none") N=\(point.seqlen)")
            let start = clock.now
            let label = "\(point.dtype) D=\(point.headDim) \(point.causal ? "causal" : "none") N=\(point.seqlen)"
            let records: [BenchRecord]
            do {
                records = try measure(point, batch: batch, heads: heads, repeats: repeats, backend: backend, peer: peer,
                                      scratch: scratch) { results.skipped.append("\(label) \($0)") }
            } catch let FlashAttentionError.unsupported(what) {
                // A backend without this dtype or pass: say so and carry on with the grid.
                results.skipped.append("\(label): \(backend.name) does not support \(what)")
                progress.advance()
                continue
            }
            let elapsed = clock.now - start
            seconds[point.series] = (point.seqlen, Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18)
            results.records += records
            for ours in records where ours.implementation == SystemInfo.oursName(backend) {
                let peerRecord = records.first { $0.implementation != ours.implementation && $0.key == ours.key }
                progress.line(BenchTable.row(ours: ours, peer: peerRecord))
            }
            if let difference = records.compactMap(\.relativeDifference).first, difference > (point.dtype == .float32 ? 1e-3 : 5e-2) {
                progress.line("warning: torch's output differs from ours by \(String(format: "%.2g", difference)) (norm-wise relative)")
            }
            progress.advance()
        }
        progress.finish()
        say(BenchTable.rule)
        say(BenchTable.legend)
        for text in results.skipped { say("skipped: \(text)") }
        if peer == nil, !noTorch, backend.name == "cpu" { say("torch: not compared (python3 with torch was not found)") }

        var files = OutputFiles()
        if let csv { files.add(flag: "--csv", path: csv, bytes: Array(results.csv().utf8)) }
        if let json { files.add(flag: "--json", path: json, bytes: Array(try results.json().utf8)) }
        if let chart { files.add(flag: "--chart", path: chart, bytes: Array(BenchChart.svg(results).utf8)) }
        try files.commit()
        for (flag, path) in outputs { say("wrote \(path) (\(flag.dropFirst(2)))") }
    }

    func startPeer(backend: any AttentionBackend, threads: Int, progress: ProgressLine) -> TorchPeer? {
        guard !noTorch, backend.name == "cpu" else { return nil }
        guard let script = TorchPeer.locateScript(torchScript) else {
            progress.line("torch: not compared (scripts/bench_torch_cpu.py not found; pass --torch-script)")
            return nil
        }
        return try? TorchPeer(script: script, threads: threads)
    }

    /// Times one grid point: ours forward and backward, then the peer on the same inputs.
    func measure(_ point: Point, batch: Int, heads: Int, repeats: Int, backend: any AttentionBackend, peer: TorchPeer?,
                 scratch: String, note: (String) -> Void) throws -> [BenchRecord] {
        let n = point.seqlen, d = point.headDim
        let problem = BenchProblem(batch: batch, seqlen: n, heads: heads, headDim: d, elementType: point.dtype,
                                   seed: UInt64(n * 1000 + d))
        let arguments = problem.forwardArguments(causal: point.causal)
        let forward = try Self.time(repeats: repeats) { try backend.forward(arguments) }
        let forwardFLOPs = BenchResults.flops(batch: batch, heads: heads, seqlen: n, headDim: d, causal: point.causal, backward: false)
        func record(_ name: String, _ pass: String, _ samples: [Double], _ peak: Int?, _ flops: Double) -> BenchRecord {
            let median = Self.median(samples)
            return BenchRecord(implementation: name, dtype: point.dtype.rawValue, batch: batch, heads: heads, headDim: d,
                               seqlen: n, causal: point.causal, pass: pass, ms: median, samplesMs: samples, flops: flops,
                               gflops: flops / (median * 1e6), peakExtraBytes: peak)
        }
        let ours = SystemInfo.oursName(backend)
        var records = [record(ours, "forward", forward.samples, forward.peak, forwardFLOPs)]
        if !forwardOnly {
            let backwardArguments = problem.backwardArguments(causal: point.causal)
            do {
                let backward = try Self.time(repeats: repeats) { try backend.backward(backwardArguments) }
                records.append(record(ours, "backward", backward.samples, backward.peak, forwardFLOPs * 2.5))
            } catch let FlashAttentionError.unsupported(what) {
                note("backward: \(backend.name) does not support \(what)")
            }
        }
        guard let peer else { return records }
        var paths: [String: String] = [:]
        for (name, tensor) in [("q", problem.q), ("k", problem.k), ("v", problem.v), ("do", problem.dOut)] {
            let path = scratch + "/\(name).npy"
            guard FileManager.default.createFile(atPath: path, contents: Data(NumpyArray(float32Of: tensor).npyBytes())) else {
                throw CLIError(message: "could not write the torch inputs to \(scratch)")
            }
            paths[name] = path
        }
        let outPath = scratch + "/torch_out.npy"
        let timing = try peer.bench(paths: paths, dtype: point.dtype.rawValue, causal: point.causal, repeats: repeats,
                                    warmup: forward.warmedUp, backward: !forwardOnly, outPath: outPath)
        let theirs = try NumpyArray(contentsOf: outPath).floats()
        try? FileManager.default.removeItem(atPath: outPath)
        var forwardRecord = record(TorchPeer.name, "forward", timing.fwd_ms ?? [], timing.fwd_peak_bytes, forwardFLOPs)
        forwardRecord.relativeDifference = Self.relativeDifference(theirs, problem.out.floats())
        records.append(forwardRecord)
        if let bwd = timing.bwd_ms { records.append(record(TorchPeer.name, "backward", bwd, timing.bwd_peak_bytes, forwardFLOPs * 2.5)) }
        return records
    }

    /// Runs `body` `repeats` times after a warm-up; a warm-up that takes over a second is kept
    /// as the first sample (on problems that large, first-call effects are lost in the noise).
    static func time(repeats: Int, _ body: () throws -> Void) throws -> (samples: [Double], peak: Int?, warmedUp: Bool) {
        let clock = ContinuousClock()
        var samples: [Double] = [], peak: Int?
        func once() throws -> Double {
            let start = clock.now
            let (_, extra) = try MemoryProbe.measure(body)
            let elapsed = clock.now - start
            if let extra { peak = max(peak ?? 0, extra) }
            return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18) * 1e3
        }
        let first = try once()
        let warmedUp = first < 1000
        if !warmedUp { samples.append(first) }
        while samples.count < repeats { samples.append(try once()) }
        return (samples, peak, warmedUp)
    }

    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
    }

    static func relativeDifference(_ a: [Float], _ b: [Float]) -> Double {
        guard a.count == b.count else { return .infinity }
        var num = 0.0, den = 0.0
        for (x, y) in zip(a, b) {
            num += Double(x - y) * Double(x - y)
            den += Double(y) * Double(y)
        }
        return (num / max(den, .leastNormalMagnitude)).squareRoot()
    }
}

extension TorchPeer {
    static let name = "torch sdpa cpu"
}
