import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// PyTorch's CPU `scaled_dot_product_attention`, run by `scripts/bench_torch_cpu.py` in a
/// long-lived `python3` worker that reads one JSON request per line and answers one per line.
///
/// Torch is imported once; each benchmark point hands it the paths of the `.npy` inputs the
/// Swift side just timed, so both run on the same values.
final class TorchPeer {
    struct Timing: Decodable {
        var ok: Bool
        var error: String?
        var fwd_ms: [Double]?
        var bwd_ms: [Double]?
        var fwd_peak_bytes: Int?
        var bwd_peak_bytes: Int?
    }

    struct Hello: Decodable {
        var ok: Bool
        var torch: String?
        var threads: Int?
        var error: String?
    }

    private let worker: PythonWorker
    /// torch's version string, as the worker reported it.
    private(set) var version = ""

    /// Starts the worker, or says why not (no python3, no torch, no script).
    init(script: String, threads: Int) throws {
        worker = try PythonWorker(arguments: [script], threads: threads,
                                  exitMessage: "the torch worker exited (python3 with torch is needed for the comparison)")
        let hello: Hello = try worker.request(["op": "hello", "threads": threads])
        guard hello.ok, let version = hello.torch else {
            throw CLIError(message: "the torch worker did not start: \(hello.error ?? "no reply")")
        }
        self.version = version
    }

    /// Times forward (and backward) on the inputs in `paths` (q, k, v, do), writing torch's
    /// output as float32 (B, S, H, D) to `outPath` for the agreement check.
    func bench(paths: [String: String], dtype: String, causal: Bool, repeats: Int, warmup: Bool, backward: Bool,
               outPath: String) throws -> Timing {
        var request: [String: Any] = ["op": "bench", "dtype": dtype, "causal": causal, "repeats": repeats,
                                      "warmup": warmup, "backward": backward, "out": outPath]
        for (key, value) in paths { request[key] = value }
        let timing: Timing = try worker.request(request)
        guard timing.ok else { throw CLIError(message: "torch failed: \(timing.error ?? "no reply")") }
        return timing
    }

    /// The worker script: `--torch-script`, else `scripts/bench_torch_cpu.py` under the current
    /// directory or above the executable (`.build/release/flash-attn` → the package root).
    static func locateScript(_ explicit: String?) -> String? {
        if let explicit { return explicit }
        let name = "scripts/bench_torch_cpu.py"
        var candidates = [FileManager.default.currentDirectoryPath + "/" + name]
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).resolvingSymlinksInPath().deletingLastPathComponent()
        for _ in 0..<5 {
            candidates.append(directory.path + "/" + name)
            directory = directory.deletingLastPathComponent()
        }
        return candidates.first { FileManager.default.fileExists(atPath: $0) }
    }
}

/// A long-lived `python3` worker that reads one JSON request per line on its stdin and answers
/// each with one JSON line on its stdout: the process and the line protocol behind
/// ``TorchPeer`` (training benchmarks) and ``DecodeBenchTorch`` (decode benchmark).
final class PythonWorker {
    private let process = Process()
    private let input: FileHandle
    private let output: FileHandle
    private var buffer: [UInt8] = []
    /// What a failed request reports when the worker is gone.
    private let exitMessage: String

    /// Starts `python3 <arguments>` with `OMP_NUM_THREADS` = `threads` and unbuffered output.
    init(arguments: [String], threads: Int, exitMessage: String) throws {
        // A worker that dies must surface as a failed write, not kill us with SIGPIPE.
        signal(SIGPIPE, SIG_IGN)
        self.exitMessage = exitMessage
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3"] + arguments
        var environment = ProcessInfo.processInfo.environment
        environment["OMP_NUM_THREADS"] = String(threads)
        environment["PYTHONUNBUFFERED"] = "1"
        process.environment = environment
        let stdinPipe = Pipe(), stdoutPipe = Pipe()
        process.standardInput = stdinPipe
        process.standardOutput = stdoutPipe
        process.standardError = FileHandle.nullDevice
        input = stdinPipe.fileHandleForWriting
        output = stdoutPipe.fileHandleForReading
        try process.run()
    }

    deinit {
        if process.isRunning {
            try? input.write(contentsOf: Data("{\"op\": \"quit\"}\n".utf8))
            try? input.close()
            process.waitUntilExit()
        }
    }

    /// Sends one request and decodes the worker's one-line reply.
    func request<T: Decodable>(_ object: [String: Any]) throws -> T {
        var line = try JSONSerialization.data(withJSONObject: object)
        line.append(0x0A)
        do {
            try input.write(contentsOf: line)
        } catch {
            throw CLIError(message: exitMessage)
        }
        while true {
            if let newline = buffer.firstIndex(of: 0x0A) {
                let reply = Array(buffer[..<newline])
                buffer.removeSubrange(...newline)
                return try JSONDecoder().decode(T.self, from: Data(reply))
            }
            let chunk = output.availableData
            guard !chunk.isEmpty else { throw CLIError(message: exitMessage) }
            buffer += chunk
        }
    }
}
