import ArgumentParser
import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionRing
import FlashAttentionRingCUDA
import Foundation

/// `flash-attn ring-bench --ring P` (also `flash-attn bench --ring P`): context-parallel
/// attention over NCCL, one process per GPU.
///
/// The launcher starts P copies of itself (`--rank r --world P --nccl-id-file f`); rank 0 makes
/// the NCCL unique id and writes it to the file, the others read it. Each rank then
///  1. checks the P-rank result against the single-GPU result (forward and backward, bf16 and
///     fp16) at `--check-tokens`: every rank computes the single-GPU reference on its own GPU
///     and compares its shard;
///  2. times ring forward and backward at every `--tokens` (total over all ranks), the same
///     schedule with a communicator that moves nothing (compute alone), the transfers alone,
///     and (rank 0) the single-GPU kernel on the whole problem;
///  3. reports per-GPU TFLOP/s, efficiency against the single-GPU kernel (same per-GPU work:
///     the whole problem's FLOPs over P), the fraction of the transfer time hidden under
///     compute, and the scratch per token from which the largest context that fits follows.
public struct RingBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "ring-bench",
        abstract: "Context-parallel (ring / Ulysses) attention over NCCL: one process per GPU, timings and checks.")

    @Option(name: .customLong("ring"), help: ArgumentHelp("Ranks (GPUs) to launch, one process each.", valueName: "P"))
    public var ring: Int?
    @Option(help: ArgumentHelp("Total tokens over all ranks (comma-separated).", valueName: "list"))
    public var tokens: String?
    @Option(help: "Query (and K/V) heads.")
    public var heads = 16
    @Option(name: .customLong("kv-heads"), help: "K/V heads (GQA); default: heads.")
    public var kvHeads: Int?
    @Option(name: .customLong("head-dim"), help: "Head dim D.")
    public var headDim = 128
    @Option(help: "Element type of the timed runs (bf16, fp16).")
    public var dtype = "bf16"
    @Flag(name: .customLong("non-causal"), help: "Time non-causal attention (default causal).")
    public var nonCausal = false
    @Option(help: "ring or ulysses.")
    public var strategy = "ring"
    @Option(name: .customLong("check-tokens"), help: "Total tokens of the correctness check (0 skips it).")
    public var checkTokens = 8192
    @Flag(name: .customLong("check-varlen"), help: "Check a packed batch too (sequences of 1/2, 1/4, 1/8, 1/8 of --check-tokens).")
    public var checkVarlen = false
    @Option(help: "Timed calls per point (median).")
    public var iterations = 5
    @Flag(name: .customLong("no-baseline"), help: "Skip the single-GPU timing (for contexts that do not fit one GPU).")
    public var noBaseline = false
    @Flag(name: .customLong("forward-only"), help: "Time the forward only.")
    public var forwardOnly = false

    @Option(help: .hidden) public var rank: Int?
    @Option(help: .hidden) public var world: Int?
    @Option(name: .customLong("nccl-id-file"), help: .hidden) public var ncclIdFile: String?

    public init() {}

    public func run() throws {
        if let rank, let world, let ncclIdFile {
            do {
                try RingBenchWorker(command: self, rank: rank, world: world, idFile: ncclIdFile).run()
            } catch {
                FileHandle.standardError.write(Data("rank \(rank): error: \(error)\n".utf8))
                throw ExitCode(1)
            }
            return
        }
        guard let ring, ring >= 1 else { throw ValidationError("--ring P (the number of GPUs) is required") }
        try Self.launch(world: ring, passthrough: passthroughArguments())
    }

    /// This invocation's options minus `--ring P` and the subcommand, for the workers.
    func passthroughArguments() -> [String] {
        var args = Array(CommandLine.arguments.dropFirst())
        if let i = args.firstIndex(of: "ring-bench") { args.remove(at: i) }
        if let i = args.firstIndex(of: "bench") { args.remove(at: i) }
        if let i = args.firstIndex(of: "--ring"), i + 1 < args.count { args.removeSubrange(i...(i + 1)) }
        return args
    }

    /// Starts `world` workers of this executable, waits for all, prints rank 0's report and
    /// every rank's errors.
    static func launch(world: Int, passthrough: [String]) throws {
        if getenv("NCCL_NVLS_ENABLE") == nil { setenv("NCCL_NVLS_ENABLE", "0", 1) }
        let directory = NSTemporaryDirectory() + "flash-attn-ring-\(getpid())"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let idFile = directory + "/nccl-id"
        let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
        var processes: [(Process, String)] = []
        for r in 0..<world {
            let process = Process()
            process.executableURL = executable
            process.arguments = ["ring-bench", "--rank", "\(r)", "--world", "\(world)", "--nccl-id-file", idFile] + passthrough
            let log = directory + "/rank\(r).log"
            _ = FileManager.default.createFile(atPath: log, contents: nil)
            let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: log))
            process.standardOutput = handle
            process.standardError = handle
            try process.run()
            processes.append((process, log))
        }
        say("ring-bench: \(world) ranks launched (logs in \(directory))")
        var failed = false
        for (r, (process, log)) in processes.enumerated() {
            process.waitUntilExit()
            let text = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
            if r == 0 {
                say(text, terminator: "")
            } else {
                for line in text.split(separator: "\n") where line.contains("error") || line.contains("FAIL") { say("rank \(r): \(line)") }
            }
            if process.terminationStatus != 0 {
                failed = true
                say("rank \(r) exited with status \(process.terminationStatus); its log: \(log)")
                if r != 0 { say(text.split(separator: "\n").suffix(20).joined(separator: "\n")) }
            }
        }
        if failed { throw ExitCode(1) }
    }
}

func say(_ text: String, terminator: String) { writeOut(text + terminator) }

/// One rank of the ring benchmark.
struct RingBenchWorker {
    let command: RingBenchCommand
    let rank: Int
    let world: Int
    let idFile: String

    func log(_ text: String) { say("[rank \(rank)] " + text) }

    func uniqueID() throws -> NCCLUniqueID {
        if rank == 0 {
            let id = try NCCLUniqueID.generate()
            let temporary = idFile + ".tmp"
            try Data(id.bytes).write(to: URL(fileURLWithPath: temporary))
            try FileManager.default.moveItem(atPath: temporary, toPath: idFile)
            return id
        }
        let deadline = Date(timeIntervalSinceNow: 120)
        while Date() < deadline {
            if let data = FileManager.default.contents(atPath: idFile), data.count == 128 { return try NCCLUniqueID(bytes: Array(data)) }
            usleep(20_000)
        }
        throw FlashAttentionError.backendFailure("rank \(rank): no NCCL id in \(idFile) after 120 s")
    }

    func run() throws {
        let device = try CUDARingDevice(ordinal: rank)
        let nccl = try NCCLLibrary.load()
        let id = try uniqueID()
        let communicator = try NCCLCommunicator(id: id, rank: rank, worldSize: world, computeStream: device.stream)
        log("\(device.context.device) NCCL \(try nccl.version()) from \(nccl.path)")
        let strategy = ContextParallelStrategy(rawValue: command.strategy) ?? .ring
        if command.checkTokens > 0 {
            for type in [ElementType.bfloat16, .float16] {
                try check(type: type, packed: false, device: device, communicator: communicator, strategy: strategy)
                if command.checkVarlen {
                    try check(type: type, packed: true, device: device, communicator: communicator, strategy: strategy)
                }
            }
        }
        let type = try ArgumentValues.elementType(command.dtype)
        let list = try ArgumentValues.intList(command.tokens, flag: "--tokens", range: 2...(1 << 24), default: [131072])
        for n in list {
            try time(tokens: n, type: type, device: device, communicator: communicator, strategy: strategy)
        }
    }

    // MARK: - Correctness

    func check(type: ElementType, packed: Bool, device: CUDARingDevice, communicator: NCCLCommunicator, strategy: ContextParallelStrategy) throws {
        let n = command.checkTokens, H = command.heads, Hk = command.kvHeads ?? command.heads, D = command.headDim
        let causal = !command.nonCausal
        let options = AttentionOptions(causal: causal)
        // A packed batch: four sequences of n/2, n/4, n/8, n/8 tokens (each a multiple of 2P
        // when n is a multiple of 16P).
        let varlen: VarlenLayout? = packed ? {
            let lengths = [n / 2, n / 4, n / 8, n - n / 2 - n / 4 - n / 8]
            let cu = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
            return VarlenLayout(cuSeqlensQ: cu, cuSeqlensK: cu)
        }() : nil
        let sharding = try varlen.map { try ZigzagSharding(worldSize: world, varlen: $0) } ?? ZigzagSharding(worldSize: world, seqlen: n)
        let ta = packed ? 0 : 1, la = packed ? 1 : 2
        func shape(_ h: Int, tokens: Int) -> [Int] { packed ? [tokens, h, D] : [1, tokens, h, D] }
        func lseShape(tokens: Int) -> [Int] { packed ? [H, tokens] : [1, H, tokens] }
        func host(_ h: Int, seed: UInt64) -> Tensor {
            var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
            let t = Tensor(shape: shape(h, tokens: n), elementType: type)
            let view = t.view
            for i in 0..<t.elementCount {
                state ^= state << 13; state ^= state >> 7; state ^= state << 17
                view.store(Float(Int32(truncatingIfNeeded: state >> 32)) * 0x1p-31, at: i)
            }
            return t
        }
        let q = host(H, seed: 1), k = host(Hk, seed: 2), v = host(Hk, seed: 3), dout = host(H, seed: 4)
        let context = device.context
        let stream = device.stream
        func upload(_ t: Tensor) throws -> CUDATensor {
            let d = try CUDATensor(shape: t.shape, elementType: t.elementType, context: context)
            try d.copy(from: t.view, stream: stream)
            return d
        }
        func empty(_ shape: [Int], _ type: ElementType) throws -> CUDATensor {
            let d = try CUDATensor(shape: shape, elementType: type, context: context)
            try d.buffer.fill(byte: 0xFF, stream: stream)
            return d
        }
        func download(_ d: CUDATensor) throws -> Tensor {
            let t = Tensor(shape: d.shape, elementType: d.elementType)
            try d.copy(to: t.view, stream: stream)
            return t
        }
        // Single-GPU reference on this rank's GPU.
        let gq = try upload(q), gk = try upload(k), gv = try upload(v), gdo = try upload(dout)
        let gout = try empty(shape(H, tokens: n), type), glse = try empty(lseShape(tokens: n), .float32)
        let gdq = try empty(shape(H, tokens: n), type), gdk = try empty(shape(Hk, tokens: n), type), gdv = try empty(shape(Hk, tokens: n), type)
        try device.backend.forward(ForwardArguments(q: gq.view, k: gk.view, v: gv.view, out: gout.view, lse: glse.view, options: options, varlen: varlen))
        try device.backend.backward(BackwardArguments(dOut: gdo.view, q: gq.view, k: gk.view, v: gv.view, out: gout.view, lse: glse.view,
                                                      dq: gdq.view, dk: gdk.view, dv: gdv.view, options: options, varlen: varlen))
        try stream.synchronize()
        let reference = try [gout, glse, gdq, gdk, gdv].map(download)
        // The shards, through the ring.
        let lq = try upload(sharding.shard(q.view, rank: rank, tokenAxis: ta))
        let lk = try upload(sharding.shard(k.view, rank: rank, tokenAxis: ta))
        let lv = try upload(sharding.shard(v.view, rank: rank, tokenAxis: ta))
        let ldo = try upload(sharding.shard(dout.view, rank: rank, tokenAxis: ta))
        let m = n / world
        let lout = try empty(shape(H, tokens: m), type), llse = try empty(lseShape(tokens: m), .float32)
        let ldq = try empty(shape(H, tokens: m), type), ldk = try empty(shape(Hk, tokens: m), type), ldv = try empty(shape(Hk, tokens: m), type)
        let attention = ContextParallelAttention(communicator: communicator, device: device, strategy: strategy)
        try attention.forward(ForwardArguments(q: lq.view, k: lk.view, v: lv.view, out: lout.view, lse: llse.view, options: options, varlen: varlen))
        try attention.backward(BackwardArguments(dOut: ldo.view, q: lq.view, k: lk.view, v: lv.view, out: lout.view, lse: llse.view,
                                                 dq: ldq.view, dk: ldk.view, dv: ldv.view, options: options, varlen: varlen))
        try stream.synchronize()
        let got = try [lout, llse, ldq, ldk, ldv].map(download)
        var line = "check \(type)\(packed ? " packed [\(varlen!.cuSeqlensQ.map(String.init).joined(separator: ","))]" : "") N=\(n) H=\(H)/\(Hk) D=\(D) causal=\(causal) \(strategy.rawValue) P=\(world):"
        var ok = true
        for (i, name) in ["out", "lse", "dq", "dk", "dv"].enumerated() {
            let expected = try sharding.shard(reference[i].view, rank: rank, tokenAxis: i == 1 ? la : ta, elementType: .float32)
            let error = relativeError(got[i], expected)
            // Same kernels, same precision: the ring only reorders float32 sums and rounds once more.
            let bound = type == .bfloat16 ? 1.6e-2 : 2e-3
            if !(error <= bound) { ok = false }
            line += " \(name) \(String(format: "%.2e", error))"
            withExtendedLifetime(expected) {}
        }
        log(line + (ok ? " ok" : " FAIL"))
        withExtendedLifetime((gq, gk, gv, gdo, gout, glse, gdq, gdk, gdv, lq, lk, lv, ldo, lout, llse, ldq, ldk, ldv, reference, got)) {}
        try device.releaseBuffers()
    }

    func relativeError(_ x: Tensor, _ y: Tensor) -> Double {
        let a = x.floats(), b = y.floats()
        var num = 0.0, den = 0.0
        for i in 0..<a.count {
            if a[i].isNaN || (a[i].isInfinite != b[i].isInfinite) { return .infinity }
            if b[i].isInfinite { continue }
            num += Double(a[i] - b[i]) * Double(a[i] - b[i])
            den += Double(b[i]) * Double(b[i])
        }
        return (num / max(den, 1e-30)).squareRoot()
    }

    // MARK: - Timing

    /// Fills a device tensor with uniform [−1, 1) values from a repeated host block.
    func fillRandom(_ t: CUDATensor, stream: CUDAStream, seed: UInt64) throws {
        let blockElements = min(t.elementCount, 1 << 22)
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        var block = [UInt16](repeating: 0, count: blockElements)
        for i in 0..<blockElements {
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            let x = Float(Int32(truncatingIfNeeded: state >> 32)) * 0x1p-31
            block[i] = t.elementType == .bfloat16 ? HalfConversion.bfloat16Bits(x) : HalfConversion.float16Bits(x)
        }
        var offset = 0
        let total = t.byteCount
        while offset < total {
            let bytes = min(blockElements * 2, total - offset)
            try block.withUnsafeBytes { try t.buffer.copy(from: UnsafeRawBufferPointer(rebasing: $0.prefix(bytes)), offset: offset, stream: stream) }
            offset += bytes
        }
    }

    func medianMilliseconds(_ stream: CUDAStream, iterations: Int, barrier: () throws -> Void, _ body: () throws -> Void) throws -> Double {
        try body()  // warm-up (compiles, allocates scratch)
        var times: [Double] = []
        for _ in 0..<iterations {
            try barrier()
            let start = try CUDAEvent(context: stream.context), end = try CUDAEvent(context: stream.context)
            try start.record(on: stream)
            try body()
            try end.record(on: stream)
            try end.synchronize()
            times.append(try CUDAEvent.elapsedMilliseconds(from: start, to: end))
        }
        times.sort()
        return times[times.count / 2]
    }

    func time(tokens n: Int, type: ElementType, device: CUDARingDevice, communicator: NCCLCommunicator, strategy: ContextParallelStrategy) throws {
        let H = command.heads, Hk = command.kvHeads ?? command.heads, D = command.headDim
        let causal = !command.nonCausal
        let options = AttentionOptions(causal: causal)
        let m = n / world
        guard n % (2 * world) == 0 else { throw ValidationError("--tokens \(n) is not a multiple of 2·P = \(2 * world)") }
        let context = device.context, stream = device.stream
        let barrierBuffer = try CUDABuffer(byteCount: 4, context: context)
        func barrier() throws {
            try communicator.allReduceSum(barrierBuffer.pointer, count: 1)
            try stream.synchronize()
        }
        let before = try context.memoryInfo()
        let lq = try CUDATensor(shape: [1, m, H, D], elementType: type, context: context)
        let lk = try CUDATensor(shape: [1, m, Hk, D], elementType: type, context: context)
        let lv = try CUDATensor(shape: [1, m, Hk, D], elementType: type, context: context)
        let ldo = try CUDATensor(shape: [1, m, H, D], elementType: type, context: context)
        for (i, t) in [lq, lk, lv, ldo].enumerated() { try fillRandom(t, stream: stream, seed: UInt64(10 * rank + i + 1)) }
        let lout = try CUDATensor(shape: [1, m, H, D], elementType: type, context: context)
        let llse = try CUDATensor(shape: [1, H, m], elementType: .float32, context: context)
        let ldq = try CUDATensor(shape: [1, m, H, D], elementType: type, context: context)
        let ldk = try CUDATensor(shape: [1, m, Hk, D], elementType: type, context: context)
        let ldv = try CUDATensor(shape: [1, m, Hk, D], elementType: type, context: context)
        let fwdArgs = ForwardArguments(q: lq.view, k: lk.view, v: lv.view, out: lout.view, lse: llse.view, options: options)
        let bwdArgs = BackwardArguments(dOut: ldo.view, q: lq.view, k: lk.view, v: lv.view, out: lout.view, lse: llse.view,
                                        dq: ldq.view, dk: ldk.view, dv: ldv.view, options: options)
        let ring = ContextParallelAttention(communicator: communicator, device: device, strategy: strategy)
        let computeOnly = ContextParallelAttention(communicator: NullCommunicator(rank: rank, worldSize: world), device: device, strategy: strategy)
        let iterations = max(1, command.iterations)

        let fwd = try medianMilliseconds(stream, iterations: iterations, barrier: barrier) { try ring.forward(fwdArgs) }
        let fwdCompute = try medianMilliseconds(stream, iterations: iterations, barrier: barrier) { try computeOnly.forward(fwdArgs) }
        var bwd = 0.0, bwdCompute = 0.0
        if !command.forwardOnly {
            bwd = try medianMilliseconds(stream, iterations: iterations, barrier: barrier) { try ring.backward(bwdArgs) }
            bwdCompute = try medianMilliseconds(stream, iterations: iterations, barrier: barrier) { try computeOnly.backward(bwdArgs) }
        }
        let used = before.free - (try context.memoryInfo()).free
        // Transfers alone: the ring's exchanges with no compute between them.
        let kvBytes = m * Hk * D * type.byteCount
        let fwdComm = try transferMilliseconds(communicator: communicator, stream: stream, barrier: barrier, steps: world - 1, bytes: 2 * kvBytes)
        let bwdComm = command.forwardOnly ? 0 : fwdComm + (try transferMilliseconds(communicator: communicator, stream: stream, barrier: barrier, steps: world, bytes: 2 * m * Hk * D * 4))

        // The single-GPU kernel on the whole problem (rank 0), the efficiency baseline.
        var single = (fwd: 0.0, bwd: 0.0)
        if !command.noBaseline && rank == 0 {
            single = try singleGPU(tokens: n, type: type, device: device, options: options)
        }
        try barrier()
        let flopsFwd = 4.0 * Double(n) * Double(n) * Double(H * D) * (causal ? 0.5 : 1)
        let flopsBwd = 2.5 * flopsFwd
        func tflops(_ flops: Double, _ ms: Double) -> Double { ms > 0 ? flops / (ms * 1e-3) / 1e12 : 0 }
        func hidden(_ total: Double, _ compute: Double, _ comm: Double) -> Double {
            comm > 0 ? max(0, min(1, 1 - max(0, total - compute) / comm)) : 1
        }
        let perToken = Double(used) / Double(m)
        let free = Double(try context.memoryInfo().free + used)
        let fits = Int(free / perToken) * world
        func f(_ x: Double, _ digits: Int = 1) -> String { String(format: "%.\(digits)f", x) }
        var line = "ring P=\(world) \(strategy.rawValue) \(type) N=\(n) H=\(H)/\(Hk) D=\(D)\(causal ? " causal" : ""): "
        line += "fwd \(f(fwd, 2)) ms \(f(tflops(flopsFwd / Double(world), fwd))) TFLOP/s/GPU (compute alone \(f(fwdCompute, 2)) ms, transfers alone \(f(fwdComm, 2)) ms, hidden \(f(100 * hidden(fwd, fwdCompute, fwdComm), 0))%)"
        if single.fwd > 0 { line += ", single GPU \(f(tflops(flopsFwd, single.fwd))) TFLOP/s, efficiency \(f(100 * tflops(flopsFwd / Double(world), fwd) / tflops(flopsFwd, single.fwd), 1))%" }
        if !command.forwardOnly {
            line += "; bwd \(f(bwd, 2)) ms \(f(tflops(flopsBwd / Double(world), bwd))) TFLOP/s/GPU (compute alone \(f(bwdCompute, 2)) ms, transfers alone \(f(bwdComm, 2)) ms, hidden \(f(100 * hidden(bwd, bwdCompute, bwdComm), 0))%)"
            if single.bwd > 0 { line += ", single GPU \(f(tflops(flopsBwd, single.bwd))) TFLOP/s, efficiency \(f(100 * tflops(flopsBwd / Double(world), bwd) / tflops(flopsBwd, single.bwd), 1))%" }
        }
        line += "; memory \(f(Double(used) / 1e9, 2)) GB/GPU (\(f(perToken / 1024, 1)) KiB per local token) → about \(fits) tokens fit on \(world) GPUs"
        log(line)
        withExtendedLifetime((lq, lk, lv, ldo, lout, llse, ldq, ldk, ldv, barrierBuffer)) {}
        try device.releaseBuffers()
    }

    /// Median time of `steps` ring exchanges of `bytes` each, back to back on the communication stream.
    func transferMilliseconds(communicator: NCCLCommunicator, stream: CUDAStream, barrier: () throws -> Void, steps: Int, bytes: Int) throws -> Double {
        guard steps > 0, world > 1 else { return 0 }
        let context = stream.context
        let a = try CUDABuffer(byteCount: bytes, context: context), b = try CUDABuffer(byteCount: bytes, context: context)
        return try medianMilliseconds(stream, iterations: 3, barrier: barrier) {
            for s in 0..<steps {
                let (send, recv) = s % 2 == 0 ? (a, b) : (b, a)
                try communicator.exchange(sends: [RingTransfer(peer: communicator.next, buffer: send.pointer, byteCount: bytes)],
                                          receives: [RingTransfer(peer: communicator.previous, buffer: recv.pointer, byteCount: bytes)]).wait()
            }
        }
    }

    func singleGPU(tokens n: Int, type: ElementType, device: CUDARingDevice, options: AttentionOptions) throws -> (fwd: Double, bwd: Double) {
        let H = command.heads, Hk = command.kvHeads ?? command.heads, D = command.headDim
        let context = device.context, stream = device.stream
        try device.releaseBuffers()
        let q = try CUDATensor(shape: [1, n, H, D], elementType: type, context: context)
        let k = try CUDATensor(shape: [1, n, Hk, D], elementType: type, context: context)
        let v = try CUDATensor(shape: [1, n, Hk, D], elementType: type, context: context)
        let dout = try CUDATensor(shape: [1, n, H, D], elementType: type, context: context)
        for (i, t) in [q, k, v, dout].enumerated() { try fillRandom(t, stream: stream, seed: UInt64(100 + i)) }
        let out = try CUDATensor(shape: [1, n, H, D], elementType: type, context: context)
        let lse = try CUDATensor(shape: [1, H, n], elementType: .float32, context: context)
        let fa = ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: options)
        let iterations = max(1, min(command.iterations, 3))
        let fwd = try medianMilliseconds(stream, iterations: iterations, barrier: {}) { try device.backend.forward(fa) }
        var bwd = 0.0
        if !command.forwardOnly {
            let dq = try CUDATensor(shape: [1, n, H, D], elementType: type, context: context)
            let dk = try CUDATensor(shape: [1, n, Hk, D], elementType: type, context: context)
            let dv = try CUDATensor(shape: [1, n, Hk, D], elementType: type, context: context)
            let ba = BackwardArguments(dOut: dout.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                                       dq: dq.view, dk: dk.view, dv: dv.view, options: options)
            bwd = try medianMilliseconds(stream, iterations: iterations, barrier: {}) { try device.backend.backward(ba) }
            try stream.synchronize()
            withExtendedLifetime((dq, dk, dv)) {}
        }
        try stream.synchronize()
        withExtendedLifetime((q, k, v, dout, out, lse)) {}
        return (fwd, bwd)
    }
}
