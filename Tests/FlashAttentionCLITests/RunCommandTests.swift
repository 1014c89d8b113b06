import ArgumentParser
import FlashAttention
import FlashAttentionReference
import Foundation
import Testing

import FlashAttentionCLI

/// A scratch directory with a small problem's input files.
final class Workspace {
    let path: String
    static let batch = 2, seqlenQ = 5, seqlenK = 7, heads = 4, kvHeads = 2, headDim = 8

    init() throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("flash-attn-cli-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func values(_ count: Int) -> [Float] {
            (0..<count).map { _ in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                return Float(Int64(bitPattern: state >> 11) % 2001 - 1000) / 500
            }
        }
        let b = Self.batch, sq = Self.seqlenQ, sk = Self.seqlenK, h = Self.heads, hk = Self.kvHeads, d = Self.headDim
        write("q.npy", NumpyArray(shape: [b, sq, h, d], float32: values(b * sq * h * d)))
        write("k.npy", NumpyArray(shape: [b, sk, hk, d], float32: values(b * sk * hk * d)))
        write("v.npy", NumpyArray(shape: [b, sk, hk, d], float32: values(b * sk * hk * d)))
        write("do.npy", NumpyArray(shape: [b, sq, h, d], float32: values(b * sq * h * d)))
        write("slopes.npy", NumpyArray(shape: [h], float32: [0.5, 0.25, 0.125, 0.0625]))
    }

    deinit { try? FileManager.default.removeItem(atPath: path) }

    func file(_ name: String) -> String { path + "/" + name }

    func write(_ name: String, _ array: NumpyArray) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(array.npyBytes()))
    }

    func writeBytes(_ name: String, _ bytes: [UInt8]) {
        _ = FileManager.default.createFile(atPath: file(name), contents: Data(bytes))
    }

    func read(_ name: String) throws -> NumpyArray { try NumpyArray(contentsOf: file(name)) }

    /// Every file in the directory: a refusal must add none (not even a temporary).
    func listing() throws -> Set<String> { Set(try FileManager.default.contentsOfDirectory(atPath: path)) }

    /// `flash-attn run` arguments with the standard inputs and outputs, plus `extra`.
    func runArguments(_ extra: [String] = [], backward: Bool = false) -> [String] {
        var arguments = ["--q", file("q.npy"), "--k", file("k.npy"), "--v", file("v.npy"), "--out", file("o.npy"), "--lse", file("lse.npy")]
        if backward {
            arguments += ["--grad-out", file("do.npy"), "--dq", file("dq.npy"), "--dk", file("dk.npy"), "--dv", file("dv.npy")]
        }
        return arguments + extra
    }
}

/// Parses and runs `flash-attn run` in process.
func runCommand(_ arguments: [String], backend: (any AttentionBackend)? = ReferenceBackend()) throws {
    let command = try RunCommand.parse(arguments)
    try command.execute(backend: backend)
}

/// Norm-wise relative error ‖a − b‖ / ‖b‖.
func relativeError(_ a: [Float], _ b: [Double]) -> Double {
    var num = 0.0, den = 0.0
    for (x, y) in zip(a, b) {
        num += (Double(x) - y) * (Double(x) - y)
        den += y * y
    }
    return a.count == b.count ? (num / max(den, 1e-300)).squareRoot() : .infinity
}

@Suite struct RunCommandTests {
    /// Each refusal: the error names the flag, is one line, and no file appears.
    @Test(arguments: [
        (["--dtype", "float8"], "--dtype"),
        (["--device", "tpu"], "--device"),
        (["--device", "cuda"], "--device"),
        (["--window-left", "-2"], "--window-left"),
        (["--window-right", "x"], "--window-right"),
        (["--softcap", "-1"], "--softcap"),
        (["--softcap", "nan"], "--softcap"),
        (["--scale", "inf"], "--scale"),
        (["--alibi", "missing.npy"], "--alibi"),
        (["--alibi", "q.npy"], "--alibi"),
        (["--dq", "dq.npy"], "--grad-out"),
        (["--grad-out", "do.npy", "--dq", "dq.npy", "--dk", "dk.npy"], "--dv"),
        (["--lse", "o.npy"], "--lse"),
    ])
    func flagRefusals(extra: [String], flag: String) throws {
        let workspace = try Workspace()
        // Relative names resolve against the workspace.
        let resolved = extra.map { $0.hasSuffix(".npy") ? workspace.file($0) : $0 }
        try expectRefusal(workspace, workspace.runArguments(resolved), flag: flag, backend: nil)
    }

    @Test func fileAndShapeRefusals() throws {
        let w = try Workspace()
        let b = Workspace.batch, sq = Workspace.seqlenQ, sk = Workspace.seqlenK, h = Workspace.heads, d = Workspace.headDim
        func with(_ name: String, _ array: NumpyArray, flag: String) throws {
            w.write("bad.npy", array)
            var arguments = w.runArguments()
            arguments[arguments.firstIndex(of: w.file(name))!] = w.file("bad.npy")
            try expectRefusal(w, arguments, flag: flag)
        }
        func zeros(_ shape: [Int]) -> NumpyArray { NumpyArray(shape: shape, float32: [Float](repeating: 0, count: shape.reduce(1, *))) }
        try with("q.npy", zeros([b, sq, h]), flag: "--q")                 // rank
        try with("q.npy", zeros([b, sq, 3, d]), flag: "--k")              // H not a multiple of Hk
        try with("q.npy", zeros([b, sq, h, 0]), flag: "--q")              // D = 0
        try with("q.npy", zeros([1, 1, 1, 257]), flag: "--q")             // D > 256
        try with("k.npy", zeros([b + 1, sk, 2, d]), flag: "--k")          // batch
        try with("k.npy", zeros([b, sk, 2, d * 2]), flag: "--k")          // head dim
        try with("v.npy", zeros([b, sk + 1, 2, d]), flag: "--v")          // v unlike k
        // Files: missing, truncated, malformed, wrong dtype, Fortran order.
        var arguments = w.runArguments()
        arguments[1] = w.file("absent.npy")
        try expectRefusal(w, arguments, flag: "--q")
        let good = try w.read("k.npy").npyBytes()
        for (bytes, flag) in [
            (Array(good.dropLast(5)), "--k"),
            (Array(good.prefix(9)), "--k"),
            (Array("not numpy at all".utf8), "--k"),
            (npyFile(header: "{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n", data: [UInt8](repeating: 0, count: 8)), "--k"),
            (npyFile(header: "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 7, 2, 8), }\n", data: [UInt8](repeating: 0, count: 896)), "--k"),
        ] {
            w.writeBytes("bad.npy", bytes)
            var arguments = w.runArguments()
            arguments[3] = w.file("bad.npy")
            try expectRefusal(w, arguments, flag: flag)
        }
        // Gradient of the wrong shape.
        w.write("bad.npy", zeros([b, sq, h, d + 1]))
        var backward = w.runArguments(backward: true)
        backward[backward.firstIndex(of: w.file("do.npy"))!] = w.file("bad.npy")
        try expectRefusal(w, backward, flag: "--grad-out")
        // Output into a directory that does not exist.
        var outside = w.runArguments()
        outside[7] = w.file("no-such-dir/o.npy")
        try expectRefusal(w, outside, flag: "--out")
    }

    /// Through `run()`, as the binary runs it: a refusal is exit status 1 (the one `error:`
    /// line goes to standard error), not a trap or ArgumentParser's usage text.
    @Test func refusalExitsWithStatusOne() throws {
        let w = try Workspace()
        var command = try RunCommand.parse(w.runArguments(["--window-left", "-7"]))
        #expect(throws: ExitCode(1)) { try command.run() }
        #expect(!(try w.listing()).contains("o.npy"))
    }

    /// A failing backend must leave no output either: outputs are written only after everything.
    @Test func backendFailureWritesNothing() throws {
        struct Failing: AttentionBackend {
            var name: String { "failing" }
            func forward(_ arguments: ForwardArguments) throws { try ReferenceBackend().forward(arguments) }
            func backward(_ arguments: BackwardArguments) throws { throw FlashAttentionError.backendFailure("injected") }
        }
        let w = try Workspace()
        let before = try w.listing()
        #expect(throws: FlashAttentionError.self) { try runCommand(w.runArguments(backward: true), backend: Failing()) }
        #expect(try w.listing() == before)
    }

    func expectRefusal(_ w: Workspace, _ arguments: [String], flag: String, backend: (any AttentionBackend)? = ReferenceBackend(),
                       sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = try w.listing()
        do {
            try runCommand(arguments, backend: backend)
            Issue.record("expected a refusal naming \(flag) for \(arguments)", sourceLocation: sourceLocation)
        } catch {
            let line = CLIError(error).description
            #expect(line.hasPrefix(flag + ":"), "\(line)", sourceLocation: sourceLocation)
            #expect(!line.contains("\n"), sourceLocation: sourceLocation)
        }
        #expect(try w.listing() == before, sourceLocation: sourceLocation)
    }

    /// The plumbing end to end with the float64 oracle as the backend: files in, files out,
    /// options passed through, dtype rounding applied to the inputs.
    @Test(arguments: [
        ["--causal"],
        ["--window-left", "2", "--window-right", "-1", "--softcap", "5", "--scale", "0.3"],
        ["--alibi", "slopes.npy", "--dtype", "bfloat16"],
    ])
    func forwardAndBackwardThroughFiles(extra: [String]) throws {
        let w = try Workspace()
        let resolved = extra.map { $0.hasSuffix(".npy") ? w.file($0) : $0 }
        try runCommand(w.runArguments(resolved, backward: true))
        // bfloat16 storage rounds the output itself (unit roundoff 2⁻⁸).
        try compareWithReference(w, extra: resolved, tolerance: extra.contains("bfloat16") ? 1e-2 : 1e-6)
    }

    /// The real CPU kernels through the command line, against the float64 oracle.
    @Test(arguments: ["float32", "bfloat16"])
    func cpuKernelsThroughFiles(dtype: String) throws {
        let w = try Workspace()
        let extra = ["--causal", "--dtype", dtype, "--device", "cpu"]
        try runCommand(w.runArguments(extra, backward: true), backend: nil)
        try compareWithReference(w, extra: extra, tolerance: dtype == "float32" ? 1e-5 : 3e-2)
    }

    /// Empty sequences: no query rows, or rows that see no key (out 0, LSE +inf).
    @Test func emptySequences() throws {
        let w = try Workspace()
        w.write("q0.npy", NumpyArray(shape: [1, 0, 2, 8], float32: []))
        w.write("k0.npy", NumpyArray(shape: [1, 0, 2, 8], float32: []))
        w.write("q1.npy", NumpyArray(shape: [1, 3, 2, 8], float32: [Float](repeating: 0.5, count: 48)))
        try runCommand(["--q", w.file("q0.npy"), "--k", w.file("q1.npy"),
                        "--v", w.file("q1.npy"), "--out", w.file("o.npy"), "--lse", w.file("lse.npy")], backend: nil)
        #expect(try w.read("o.npy").shape == [1, 0, 2, 8])
        try runCommand(["--q", w.file("q1.npy"), "--k", w.file("k0.npy"), "--v", w.file("k0.npy"),
                        "--out", w.file("o.npy"), "--lse", w.file("lse.npy")], backend: nil)
        #expect(try w.read("o.npy").floats() == [Float](repeating: 0, count: 48))
        #expect(try w.read("lse.npy").floats() == [Float](repeating: .infinity, count: 6))
    }

    /// Recomputes the run's results with the oracle on the same (rounded) inputs.
    func compareWithReference(_ w: Workspace, extra: [String], tolerance: Double) throws {
        let command = try RunCommand.parse(w.runArguments(extra))
        let dtype = try ArgumentValues.elementType(command.dtype)
        let q = try w.read("q.npy").tensor(as: dtype), k = try w.read("k.npy").tensor(as: dtype)
        let v = try w.read("v.npy").tensor(as: dtype), dOut = try w.read("do.npy").tensor(as: dtype)
        let slopes = try command.alibi.map { try NumpyArray(contentsOf: $0).tensor(as: .float32) }
        let options = AttentionOptions(
            softmaxScale: try ArgumentValues.scale(command.scale), causal: command.causal,
            window: SlidingWindow(left: try ArgumentValues.windowBound(command.windowLeft, flag: ""),
                                  right: try ArgumentValues.windowBound(command.windowRight, flag: "")),
            softcap: try ArgumentValues.softcap(command.softcap), alibi: slopes.map { ALiBi(slopes: $0.view) })
        let out = Tensor(shape: q.shape, elementType: dtype)
        let lse = Tensor(shape: [Workspace.batch, Workspace.heads, Workspace.seqlenQ])
        let expected = try ReferenceAttention.forward(ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: options))
        let grads = try ReferenceAttention.backward(BackwardArguments(
            dOut: dOut.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
            dq: q.view, dk: k.view, dv: v.view, options: options))
        let outFile = try w.read("o.npy"), lseFile = try w.read("lse.npy")
        #expect(outFile.element == .float32 && outFile.shape == q.shape)
        #expect(lseFile.shape == [Workspace.batch, Workspace.heads, Workspace.seqlenQ])
        #expect(try w.read("dk.npy").shape == k.shape)
        #expect(relativeError(outFile.floats(), expected.out) < tolerance)
        #expect(relativeError(lseFile.floats(), expected.lse) < tolerance)
        #expect(relativeError(try w.read("dq.npy").floats(), grads.dq) < tolerance * 4)
        #expect(relativeError(try w.read("dk.npy").floats(), grads.dk) < tolerance * 4)
        #expect(relativeError(try w.read("dv.npy").floats(), grads.dv) < tolerance * 4)
        #expect(!(try w.listing()).contains { $0.contains(".tmp-") })
    }
}
