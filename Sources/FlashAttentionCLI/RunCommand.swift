import ArgumentParser
import FlashAttention
import Foundation

/// `flash-attn run`: attention on NumPy files, forward and optionally backward.
///
/// Every check runs before any computation and everything is computed before any file is
/// written, so a refusal or a failure leaves no output file behind.
public struct RunCommand: ReportingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Run attention on .npy inputs and write the output (and gradients) as float32 .npy.",
        usage: """
            flash-attn run --q Q.npy --k K.npy --v V.npy --out O.npy [--lse LSE.npy]
                [--causal] [--window-left N] [--window-right N] [--softcap X] [--scale X]
                [--alibi SLOPES.npy] [--dtype float32|float16|bfloat16] [--device cpu|cuda|auto]
                [--grad-out DO.npy --dq DQ.npy --dk DK.npy --dv DV.npy]
            """,
        discussion: """
            Inputs are float32 ('<f4') or float16 ('<f2') C-order .npy files: q (B, Sq, H, D), k and v \
            (B, Sk, Hk, D) with H a multiple of Hk and 1 ≤ D ≤ 256, ALiBi slopes (H) or (B, H). \
            --dtype is the precision the kernel stores and computes in (inputs are rounded to it; \
            accumulation is float32). Outputs are float32: O (B, Sq, H, D), LSE (B, H, Sq) in natural \
            log (+inf for a row that sees no key), and gradients in their input's shape. The causal \
            mask and the window are aligned to the bottom-right corner. A refusal prints one \
            'error:' line and writes no file.
            """)

    @Option(name: .customLong("q"), help: ArgumentHelp("Queries (B, Sq, H, D).", valueName: "Q.npy"))
    public var q: String?
    @Option(name: .customLong("k"), help: ArgumentHelp("Keys (B, Sk, Hk, D).", valueName: "K.npy"))
    public var k: String?
    @Option(name: .customLong("v"), help: ArgumentHelp("Values (B, Sk, Hk, D).", valueName: "V.npy"))
    public var v: String?
    @Option(name: .customLong("out"), help: ArgumentHelp("Output file for O (B, Sq, H, D).", valueName: "O.npy"))
    public var out: String?
    @Option(name: .customLong("lse"), help: ArgumentHelp("Output file for the log-sum-exp (B, H, Sq).", valueName: "LSE.npy"))
    public var lse: String?
    @Flag(name: .customLong("causal"), help: "Causal mask, bottom-right aligned: query i sees key j iff j ≤ i + Sk − Sq.")
    public var causal = false
    @Option(name: .customLong("window-left"), parsing: .unconditional,
            help: ArgumentHelp("Keys visible left of the diagonal (-1: unbounded).", valueName: "N"))
    public var windowLeft: String?
    @Option(name: .customLong("window-right"), parsing: .unconditional,
            help: ArgumentHelp("Keys visible right of the diagonal (-1: unbounded).", valueName: "N"))
    public var windowRight: String?
    @Option(name: .customLong("softcap"), parsing: .unconditional,
            help: ArgumentHelp("Softcap c > 0: each score s becomes c·tanh(s/c); 0 disables it.", valueName: "X"))
    public var softcap: String?
    @Option(name: .customLong("scale"), parsing: .unconditional,
            help: ArgumentHelp("Softmax scale (default 1/√D).", valueName: "X"))
    public var scale: String?
    @Option(name: .customLong("alibi"), help: ArgumentHelp("ALiBi slopes (H) or (B, H).", valueName: "SLOPES.npy"))
    public var alibi: String?
    @Option(name: .customLong("dtype"), help: ArgumentHelp("Storage and compute precision: float32, float16 or bfloat16.", valueName: "dtype"))
    public var dtype = "float32"
    @Option(name: .customLong("device"), help: ArgumentHelp("cpu, cuda, or auto (the GPU if usable, else the CPU).", valueName: "device"))
    public var device = "cpu"
    @Option(name: .customLong("grad-out"), help: ArgumentHelp("Gradient of the loss w.r.t. O (B, Sq, H, D); runs the backward.", valueName: "DO.npy"))
    public var gradOut: String?
    @Option(name: .customLong("dq"), help: ArgumentHelp("Output file for dQ.", valueName: "DQ.npy"))
    public var dq: String?
    @Option(name: .customLong("dk"), help: ArgumentHelp("Output file for dK.", valueName: "DK.npy"))
    public var dk: String?
    @Option(name: .customLong("dv"), help: ArgumentHelp("Output file for dV.", valueName: "DV.npy"))
    public var dv: String?

    public init() {}

    public func perform() throws {
        do {
            try execute(backend: nil)
        } catch let FlashAttentionError.unsupported(what) {
            // A valid request the chosen backend does not run (float32 or the backward on a GPU).
            throw CLIError("--device", message: "\(device) does not support \(what); use --device cpu or auto")
        }
    }

    /// Runs the command with `backend` instead of the one `--device` selects (tests pass a
    /// float64 reference backend here).
    public func execute(backend override: (any AttentionBackend)?) throws {
        // 1. Flags alone.
        guard let q else { throw CLIError("--q", "a .npy file of queries (B, Sq, H, D); the flag is missing") }
        guard let k else { throw CLIError("--k", "a .npy file of keys (B, Sk, Hk, D); the flag is missing") }
        guard let v else { throw CLIError("--v", "a .npy file of values (B, Sk, Hk, D); the flag is missing") }
        guard let out else { throw CLIError("--out", "an output path for O; the flag is missing") }
        let gradientFlags: [(String, String?)] = [("--grad-out", gradOut), ("--dq", dq), ("--dk", dk), ("--dv", dv)]
        let given = gradientFlags.filter { $0.1 != nil }.map(\.0)
        if !given.isEmpty, given.count < gradientFlags.count {
            let missing = gradientFlags.filter { $0.1 == nil }.map(\.0)
            throw CLIError(missing[0], message: "missing: the backward needs --grad-out, --dq, --dk and --dv together; got \(given.joined(separator: ", ")) without \(missing.joined(separator: ", "))")
        }
        let backwardWanted = given.count == gradientFlags.count
        let elementType = try ArgumentValues.elementType(dtype)
        let deviceSelection = try ArgumentValues.device(device)
        var options = try ArgumentValues.attentionOptions(
            scale: scale, causal: causal, windowLeft: windowLeft, windowRight: windowRight, softcap: softcap)
        var destinations: [(flag: String, path: String)] = [("--out", out)]
        if let lse { destinations.append(("--lse", lse)) }
        if backwardWanted, let dq, let dk, let dv { destinations += [("--dq", dq), ("--dk", dk), ("--dv", dv)] }
        try OutputFiles.checkWritable(destinations)
        let backend = try override ?? RunCommand.backend(for: deviceSelection)

        // 2. Inputs and their shapes.
        let qArray = try RunCommand.load(q, flag: "--q")
        let kArray = try RunCommand.load(k, flag: "--k")
        let vArray = try RunCommand.load(v, flag: "--v")
        let shapes = try RunCommand.checkShapes(q: qArray.shape, k: kArray.shape, v: vArray.shape)
        var slopes: Tensor?
        if let alibi {
            let array = try RunCommand.load(alibi, flag: "--alibi")
            guard array.shape == [shapes.heads] || array.shape == [shapes.batch, shapes.heads] else {
                throw CLIError("--alibi", "slopes of shape (\(shapes.heads)) or (\(shapes.batch), \(shapes.heads)), got \(describe(array.shape))")
            }
            let tensor = array.tensor(as: .float32)
            options.alibi = ALiBi(slopes: tensor.view)
            slopes = tensor
        }
        var gradArray: NumpyArray?
        if backwardWanted, let gradOut {
            let array = try RunCommand.load(gradOut, flag: "--grad-out")
            guard array.shape == qArray.shape else {
                throw CLIError("--grad-out", "the shape of --q \(describe(qArray.shape)), got \(describe(array.shape))")
            }
            gradArray = array
        }

        // 3. Compute everything.
        let qt = qArray.tensor(as: elementType), kt = kArray.tensor(as: elementType), vt = vArray.tensor(as: elementType)
        let ot = Tensor(shape: qArray.shape, elementType: elementType)
        let lt = Tensor(shape: [shapes.batch, shapes.heads, shapes.seqlenQ], elementType: .float32)
        try withExtendedLifetime(slopes) {
            try backend.forward(ForwardArguments(q: qt.view, k: kt.view, v: vt.view, out: ot.view, lse: lt.view, options: options))
        }
        var files = OutputFiles()
        files.add(flag: "--out", path: out, bytes: NumpyArray(float32Of: ot).npyBytes())
        if let lse { files.add(flag: "--lse", path: lse, bytes: NumpyArray(float32Of: lt).npyBytes()) }
        if let gradArray, let dq, let dk, let dv {
            let gt = gradArray.tensor(as: elementType)
            let dqt = Tensor(shape: qt.shape, elementType: elementType)
            let dkt = Tensor(shape: kt.shape, elementType: elementType)
            let dvt = Tensor(shape: vt.shape, elementType: elementType)
            try withExtendedLifetime(slopes) {
                try backend.backward(BackwardArguments(
                    dOut: gt.view, q: qt.view, k: kt.view, v: vt.view, out: ot.view, lse: lt.view,
                    dq: dqt.view, dk: dkt.view, dv: dvt.view, options: options))
            }
            files.add(flag: "--dq", path: dq, bytes: NumpyArray(float32Of: dqt).npyBytes())
            files.add(flag: "--dk", path: dk, bytes: NumpyArray(float32Of: dkt).npyBytes())
            files.add(flag: "--dv", path: dv, bytes: NumpyArray(float32Of: dvt).npyBytes())
        }

        // 4. Write all outputs, or none.
        try files.commit()
    }

    /// The backend `--device` names, or a one-line refusal when it is not usable here.
    static func backend(for device: DeviceSelection, threads: Int? = nil) throws -> any AttentionBackend {
        do {
            return try FlashAttention.backend(for: device, threads: threads)
        } catch let FlashAttentionError.deviceUnavailable(why) {
            throw CLIError("--device", message: "\(device.rawValue) is not usable here: \(why); use --device cpu or --device auto")
        }
    }

    static func load(_ path: String, flag: String) throws -> NumpyArray {
        guard FileManager.default.fileExists(atPath: path) else { throw CLIError(flag, message: "no such file '\(path)'") }
        do {
            return try NumpyArray(contentsOf: path)
        } catch let error as NumpyFormatError {
            throw CLIError(flag, "a float32 or float16 C-order .npy file, '\(path)': \(error.reason)")
        }
    }

    struct Shapes {
        var batch: Int, seqlenQ: Int, heads: Int, seqlenK: Int, kvHeads: Int, headDim: Int
    }

    /// The dense layout's shape rules, each refusal naming the flag at fault.
    static func checkShapes(q: [Int], k: [Int], v: [Int]) throws -> Shapes {
        guard q.count == 4 else { throw CLIError("--q", "rank 4 (B, Sq, H, D), got shape \(describe(q))") }
        guard k.count == 4 else { throw CLIError("--k", "rank 4 (B, Sk, Hk, D), got shape \(describe(k))") }
        let d = q[3]
        guard d >= 1, d <= 256 else { throw CLIError("--q", "a head dim D in 1...256, got D = \(d) in shape \(describe(q))") }
        guard k[0] == q[0] else { throw CLIError("--k", "batch B = \(q[0]) like --q, got \(k[0]) in shape \(describe(k))") }
        guard k[3] == d else { throw CLIError("--k", "head dim D = \(d) like --q, got \(k[3]) in shape \(describe(k))") }
        guard q[2] >= 1 else { throw CLIError("--q", "at least one head, got H = 0 in shape \(describe(q))") }
        guard k[2] >= 1, q[2] % k[2] == 0 else {
            throw CLIError("--k", "a head count Hk that divides H = \(q[2]) of --q, got Hk = \(k[2]) in shape \(describe(k))")
        }
        guard v == k else { throw CLIError("--v", "the shape of --k \(describe(k)), got \(describe(v))") }
        return Shapes(batch: q[0], seqlenQ: q[1], heads: q[2], seqlenK: k[1], kvHeads: k[2], headDim: d)
    }
}

func describe(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }
