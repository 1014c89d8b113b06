import ArgumentParser
import CUDADriver
import Dispatch
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionReference
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// `flash-attn compile`: builds every variant of the CUDA heuristics table with NVRTC, or with `--routes` every kernel
/// calls of common shapes route to (``KernelRoutes``: the forward and the backward, windows, softcap, padded head dims).
///
/// Needs NVRTC but no GPU. It pre-warms the disk cache for a deployment and prints what the
/// compiler decided per variant: registers, spills, shared memory, compile time.
public struct CompileCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "compile",
        abstract: "Compile every CUDA kernel variant in the heuristics table, or (--routes) every kernel common calls run (no GPU needed).")

    @Option(help: "Target architecture (sm_80, sm_86, sm_89, sm_90a). Default: the GPU's, else sm_90a.")
    var arch: String?

    @Flag(help: "Bypass the disk cache (measure NVRTC itself).")
    var noCache = false

    @Option(help: "Parallel compiles.")
    var jobs = 2

    @Option(help: "Only variants whose name contains this text.")
    var filter: String?

    @Flag(help: "Compile every kernel calls of common shapes route to — forward and backward, head dims 32…256, unmasked, causal, sliding windows and softcap, 128…32k tokens — instead of the table's rows (pre-warms a deployment's first calls).")
    var routes = false

    @Option(help: ArgumentHelp(
        "Compile one custom variant instead of the table: comma-separated key=value with keys d, m, n, w, b, dtype, out, mask, and flags softcap, alibi, dropout, varlen, nolse, prescale, scalar.",
        visibility: .hidden))
    var custom: String?

    @Flag(help: "Print the variants' names and count, compile nothing.")
    var list = false

    @Flag(help: ArgumentHelp("Print the generated source of each variant.", visibility: .hidden))
    var printSource = false

    @Flag(help: "Then time the forward on the GPU over the reference grid (16k tokens, hidden 2048, D 64/128/256, N 512…16k, causal and not, bf16 and fp16) with CUDA events.")
    var bench = false

    @Option(help: "With --bench: write one CSV line per grid point here.")
    var benchCSV: String?

    @Option(help: "With --bench: head dims (comma-separated).")
    var benchHeadDims: String?

    @Option(help: "With --bench: sequence lengths (comma-separated).")
    var benchSeqlens: String?

    @Option(help: "With --bench: element types (comma-separated).")
    var benchDtypes: String?

    @Flag(help: "With --bench: also measure first-use compile and warm-start time of each grid variant, and run 1M tokens × 16 heads × D=128 bf16 once.")
    var benchCompile = false

    @Option(help: "Run random float64-oracle cases on the GPU at these head dims (comma-separated) and exit: --check-cases per dim and dtype.")
    var checkDims: String?

    @Option(help: "With --check-dims: cases per head dim and element type.")
    var checkCases = 12

    public init() {}

    public func run() throws {
        if let checkDims { return try runCheck(checkDims) }
        if bench { return try runBench() }
        let architecture: GPUArchitecture
        if let arch {
            guard let parsed = GPUArchitecture(name: arch) else { throw ValidationError("unknown architecture \(arch)") }
            architecture = parsed
        } else if let device = try? CUDADevice(ordinal: 0) {
            architecture = GPUArchitecture(computeCapability: device.computeCapability)
        } else {
            architecture = .sm90a
        }
        do {
            let version = try CUDA.nvrtcVersion()
            print("NVRTC \(version.major).\(version.minor) (\(try CUDA.nvrtcPath())), target \(architecture)")
        } catch {
            throw FlashAttentionError.deviceUnavailable("\(error)")
        }
        let all = try compileJobs(architecture: architecture)
        let variants = filter.map { text in all.filter { $0.name.contains(text) } } ?? all
        if list {
            for job in variants { print(job.name) }
            print("\(variants.count) variants")
            return
        }
        let workers = max(1, min(self.jobs, variants.count))
        let cache = noCache ? nil : KernelDiskCache.standard
        let results = Mutex<[Int: Result<CompileOutcome, any Error>]>([:])
        let total = monotonicClock()
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            var index = worker
            while index < variants.count {
                let result = Result { try variants[index].compile(cache) }
                results.withLock { $0[index] = result }
                index += workers
            }
        }
        let elapsed = monotonicClock() - total
        var failures = 0
        print(pad("variant", 76) + pad("regs", 6) + pad("spill st/ld", 13) + pad("stack", 7) + pad("smem", 8) + "time")
        let collected = results.withLock { $0 }
        for (index, job) in variants.enumerated() {
            switch collected[index] {
            case .success(let compiled):
                if printSource { print(compiled.source) }
                let r = compiled.report
                let time = compiled.fromDiskCache
                    ? String(format1(compiled.loadSeconds * 1000)) + " ms (cache)"
                    : String(format1(compiled.compileSeconds * 1000)) + " ms"
                print(pad(job.name, 76) + pad(r.map { "\($0.registers)" } ?? "?", 6)
                      + pad(r.map { "\($0.spillStoreBytes)/\($0.spillLoadBytes)" } ?? "?", 13)
                      + pad(r.map { "\($0.stackFrameBytes)" } ?? "?", 7) + pad("\(job.sharedMemoryBytes)", 8) + time)
                if r?.spills == true { failures += 1 }
            case .failure(let error):
                failures += 1
                // The first compiler error is enough to act on; the rest is in the log.
                let text = "\(error)"
                let firstError = text.split(separator: "\n").first { $0.contains("error") && $0.contains(".cu(") }
                print(pad(job.name, 76) + "FAILED: " + (firstError.map(String.init) ?? String(text.prefix(300))))
            case nil:
                failures += 1
            }
        }
        print("\(variants.count) variants in \(format1(elapsed)) s, \(failures) failed or spilled")
        if failures > 0 { throw ExitCode(1) }
    }
}

/// What compiling one variant gave, for any kernel family.
struct CompileOutcome: Sendable {
    var source: String
    var report: ResourceReport?
    var compileSeconds: Double
    var loadSeconds: Double
    var fromDiskCache: Bool
}

/// One variant to compile: its name, shared memory and how to build it (through the disk cache, or not).
struct CompileJob: Sendable {
    var name: String
    var sharedMemoryBytes: Int
    var compile: @Sendable (KernelDiskCache?) throws -> CompileOutcome

    init(_ d: AttentionKernelDescriptor) {
        (name, sharedMemoryBytes) = (d.name, d.sharedMemoryBytes)
        compile = { cache in
            let c = try KernelCompiler.compile(d, cache: cache)
            return CompileOutcome(source: c.source, report: c.report, compileSeconds: c.compileSeconds, loadSeconds: c.loadSeconds,
                                  fromDiskCache: c.fromDiskCache)
        }
    }

    init<D: GeneratedKernelDescriptor>(generated d: D) {
        (name, sharedMemoryBytes) = (d.name, d.sharedMemoryBytes)
        compile = { cache in
            let c = try GeneratedKernelCompiler.compile(d, cache: cache)
            return CompileOutcome(source: c.source, report: c.report, compileSeconds: c.compileSeconds, loadSeconds: 0,
                                  fromDiskCache: c.fromDiskCache)
        }
    }
}

extension CompileCommand {
    /// The variants to build: one custom variant, the routes of common shapes (`--routes`: forward, then the backward's
    /// generic and sm_90a kernels, for the GPU's L2 when one is present), or the forward table's rows.
    func compileJobs(architecture: GPUArchitecture) throws -> [CompileJob] {
        if let custom { return [CompileJob(try Self.parseCustom(custom, architecture: architecture))] }
        guard routes else { return KernelHeuristics.tableVariants(for: architecture).map(CompileJob.init) }
        let l2 = (try? CUDADevice(ordinal: 0))?.l2CacheBytes ?? 0
        let backward = KernelRoutes.backward(architecture: architecture, l2CacheBytes: l2)
        return KernelRoutes.forward(architecture: architecture).map(CompileJob.init)
            + backward.generic.map { CompileJob(generated: $0) } + backward.hopper.map { CompileJob(generated: $0) }
    }

    /// Oracle cases pinned to given head dims (the random sweep draws D from a fixed list that
    /// misses some kernel variants, e.g. tile D = 128 or 192 on the wgmma path).
    func runCheck(_ dims: String) throws {
        let backend = try CUDABackend()
        let verifier = Verifier(backend: backend)
        var passed = 0, failed = 0
        for D in dims.split(separator: ",").compactMap({ Int($0) }) {
            for type in [ElementType.bfloat16, .float16] {
                let generator = ProblemGenerator(seed: UInt64(1000 + D), elementTypes: [type], maxWork: 4_000_000)
                for index in 0..<checkCases {
                    let spec = generator.spec(index: index, constraints: ProblemConstraints(headDim: D, elementType: type))
                    let variant = (try? backend.plan(RandomProblem(spec).forwardArguments).descriptor.name) ?? "?"
                    let result = verifier.verify(spec, backward: false)
                    if result.passed { passed += 1 } else { failed += 1; print("FAIL [\(variant)] \(result)") }
                }
            }
        }
        print("check: \(passed) passed, \(failed) failed")
        if failed > 0 { throw ExitCode(1) }
    }

    func runBench() throws {
        var grid = CUDABenchmark.Grid()
        func ints(_ text: String?) -> [Int]? { text.map { $0.split(separator: ",").compactMap { Int($0) } } }
        if let dims = ints(benchHeadDims) { grid.headDims = dims }
        if let lengths = ints(benchSeqlens) { grid.seqlens = lengths }
        if let types = benchDtypes { grid.elementTypes = types.split(separator: ",").compactMap { ElementType(name: String($0)) } }
        // Sustained windows (session 15's power-capped A/B): FLASH_ATTENTION_BENCH_ITERS=n timed calls a point (median
        // reported; 20 unset), FLASH_ATTENTION_BENCH_CAUSAL=0|1 one mask only.
        func environment(_ name: String) -> String? { getenv(name).map { String(cString: $0) } }
        if let n = environment("FLASH_ATTENTION_BENCH_ITERS").flatMap({ Int($0) }), n > 0 { grid.iterations = n }
        if let c = environment("FLASH_ATTENTION_BENCH_CAUSAL"), c == "0" || c == "1" { grid.causal = [c == "1"] }
        let device = try CUDADevice(ordinal: 0)
        print("device: \(device); NVRTC \(try CUDA.nvrtcVersion()) at \(try CUDA.nvrtcPath())")
        let points = try CUDABenchmark.run(grid) { print($0) }
        if let benchCSV {
            let text = ([CUDABenchmark.csvHeader] + points.map(CUDABenchmark.csvLine)).joined(separator: "\n") + "\n"
            guard let file = fopen(benchCSV, "w") else { throw ValidationError("cannot write \(benchCSV)") }
            fputs(text, file)
            fclose(file)
        }
        if benchCompile {
            let backend = try CUDABackend()
            var seen = Set<String>()
            var descriptors: [AttentionKernelDescriptor] = []
            for type in grid.elementTypes { for D in grid.headDims { for causal in grid.causal {
                let problem = AttentionProblem(elementType: type, headDim: D, mask: causal ? .causal : .none)
                let d = try KernelHeuristics.descriptor(for: problem, architecture: backend.architecture).descriptor
                if seen.insert(d.name).inserted { descriptors.append(d) }
            } } }
            let directory = "/tmp/flash-attention-bench-cache-\(getpid())"
            print(pad("variant", 64) + pad("first use", 12) + pad("warm start", 12) + pad("regs", 6) + "local")
            for t in try CUDABenchmark.compileTimings(descriptors, cacheDirectory: directory) {
                print(pad(t.variant, 64) + pad(format1(t.firstUseSeconds * 1000) + " ms", 12)
                      + pad(format1(t.warmStartSeconds * 1000) + " ms", 12) + pad("\(t.registers)", 6) + "\(t.localBytes)")
            }
            try largeProblem(backend)
        }
    }

    /// 1,048,576 tokens × 16 heads × D = 128, bf16, causal and not: memory stays O(N).
    func largeProblem(_ backend: CUDABackend) throws {
        let tokens = 1 << 20, heads = 16, D = 128
        let context = backend.context
        let stream = try CUDAStream(context: context)
        let timed = try CUDABackend(stream: stream.handle)
        var tensors: [CUDATensor] = []
        for _ in 0..<4 {
            let t = try CUDATensor(shape: [1, tokens, heads, D], elementType: .bfloat16, context: context)
            tensors.append(t)
        }
        // Small values, so the result is finite and checkable: q, k = 0x3C00 (bf16 ~0.0078), v = 1.
        try CUDAMemory.fill(tensors[0].buffer.address, byte: 0x3C, byteCount: tensors[0].byteCount, stream: stream)
        try CUDAMemory.fill(tensors[1].buffer.address, byte: 0x3C, byteCount: tensors[1].byteCount, stream: stream)
        try CUDAMemory.fill(tensors[2].buffer.address, byte: 0x3F, byteCount: tensors[2].byteCount, stream: stream)
        try tensors[3].buffer.fill(byte: 0xFF, stream: stream)
        let lse = try CUDATensor(shape: [1, heads, tokens], elementType: .float32, context: context)
        let (free, total) = try context.memoryInfo()
        for causal in [true, false] {
            let args = ForwardArguments(q: tensors[0].view, k: tensors[1].view, v: tensors[2].view, out: tensors[3].view,
                                        lse: lse.view, options: AttentionOptions(causal: causal))
            try timed.forward(args)
            try stream.synchronize()
            let start = try CUDAEventPair(context: context)
            try start.begin.record(on: stream)
            try timed.forward(args)
            try start.end.record(on: stream)
            try start.end.synchronize()
            let ms = try CUDAEvent.elapsedMilliseconds(from: start.begin, to: start.end)
            var sample = [UInt16](repeating: 0, count: 8)
            try sample.withUnsafeMutableBytes { try tensors[3].buffer.copy(to: $0, offset: tensors[3].byteCount - 16, stream: stream) }
            let flops = 4.0 * Double(heads) * Double(tokens) * Double(tokens) * Double(D) * (causal ? 0.5 : 1)
            print("1M tokens × 16 heads × D=128 bf16\(causal ? " causal" : ""): \(format1(ms)) ms, \(format1(flops / ms / 1e9)) TFLOP/s, last out bits \(String(sample[7], radix: 16)) (1.0 = 3f80); device memory used \((total - free) >> 20) MiB of \(total >> 20)")
        }
    }

    static func parseCustom(_ text: String, architecture: GPUArchitecture) throws -> AttentionKernelDescriptor {
        var d = AttentionKernelDescriptor(architecture: architecture, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 64, warps: 4)
        var prescale = false
        for item in text.split(separator: ",") {
            let parts = item.split(separator: "=", maxSplits: 1).map(String.init)
            let key = parts[0], value = parts.count > 1 ? parts[1] : ""
            switch key {
            case "d": d.headDim = Int(value) ?? d.headDim
            case "m": d.blockM = Int(value) ?? d.blockM
            case "n": d.blockN = Int(value) ?? d.blockN
            case "w": d.warps = Int(value) ?? d.warps
            case "b": d.minBlocksPerMultiprocessor = Int(value) ?? 1
            case "dtype": d.elementType = ElementType(name: value) ?? d.elementType; d.outputType = d.elementType
            case "out": d.outputType = ElementType(name: value) ?? d.outputType
            case "mask": d.mask = KernelMask(rawValue: value) ?? d.mask
            case "softcap": d.softcap = true
            case "alibi": d.alibi = true
            case "dropout": d.dropout = true
            case "varlen": d.varlen = true
            case "nolse": d.writeLSE = false
            case "prescale": prescale = true
            case "scalar": d.vectorized = false
            case "kearly": d.earlyKPrefetch = true
            case "sto": d.stagedEpilogue = true
            case "wgmma": d.mainloop = .wgmma
            default: throw ValidationError("unknown key \(key) in --custom")
            }
        }
        d.prescaleScores = prescale || d.softcap || d.alibi
        return d
    }
}

/// A start/end event pair.
struct CUDAEventPair {
    let begin: CUDAEvent
    let end: CUDAEvent
    init(context: CUDAContext) throws {
        begin = try CUDAEvent(context: context)
        end = try CUDAEvent(context: context)
    }
}

func pad(_ text: String, _ width: Int) -> String {
    text.count >= width ? text + " " : text + String(repeating: " ", count: width - text.count)
}

func format1(_ x: Double) -> String {
    let scaled = (x * 10).rounded() / 10
    return "\(scaled)"
}

func monotonicClock() -> Double {
    let now = DispatchTime.now().uptimeNanoseconds
    return Double(now) * 1e-9
}
