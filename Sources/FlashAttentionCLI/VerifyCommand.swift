import ArgumentParser
import FlashAttention
import FlashAttentionReference

/// `flash-attn verify`: a randomized sweep of a backend against the float64 oracle.
public struct VerifyCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Check a backend against float64 attention on random problems.",
        discussion: """
            Case i of seed S is always the same problem (sizes, GQA, options, strided or varlen \
            layout, element type, values), so `--seed S --index i` re-runs one failure. Each case \
            runs the forward (and the backward) on poisoned outputs and checks every element was \
            written, nothing outside the views changed, no NaN, rows that see no key give 0 and \
            LSE +inf, and the error is within budget: relative 1e-5 for float32, twice naive \
            attention in the same precision for float16 and bfloat16. Prints a line per failing \
            case and a final 'N passed, M failed'; exits 1 if any failed.
            """)

    @Option(help: "cpu, cuda, or auto.")
    public var device = "cpu"
    @Option(help: "Number of random cases.")
    public var cases = 100
    @Option(help: "Generator seed.")
    public var seed: UInt64 = 1
    @Option(parsing: .upToNextOption, help: "Element types to draw from (float32, float16, bfloat16; commas or spaces).")
    public var dtypes: [String] = []
    @Flag(inversion: .prefixedNo, help: "Check the backward pass too.")
    public var backward = true
    @Option(help: "Run only this case (to reproduce a failure).")
    public var index: Int?
    @Option(help: "Largest problem, in query-key pairs × heads × head dim.")
    public var maxWork = 3_000_000
    @Option(help: "Sequence lengths to draw from, comma-separated (default 1,7,23,113,777).")
    public var lengths: String?
    @Option(name: .customLong("head-dims"), help: "Head dims to draw from, comma-separated (default 1,7,40,59,80,111,256).")
    public var headDims: String?
    @Option(help: "Worker threads for the CPU backend (default: all cores).")
    public var threads: Int?
    @Flag(help: "Print a line for every case, not only failures.")
    public var verbose = false
    @Flag(name: .customLong("kvcache"), help: "Check KV-cache calls (append, rotary, paged, splits) instead: out, LSE and the caches after the append.")
    public var kvCache = false

    public init() {}

    public func run() throws {
        guard let selection = DeviceSelection(rawValue: device) else {
            throw ValidationError("--device: expected cpu, cuda or auto, got '\(device)'")
        }
        var types = [ElementType]()
        for name in dtypes.flatMap({ $0.split(separator: ",") }) {
            guard let type = ElementType(name: String(name)) else {
                throw ValidationError("--dtypes: expected float32, float16 or bfloat16, got '\(name)'")
            }
            types.append(type)
        }
        guard cases >= 0 else { throw ValidationError("--cases: expected a count ≥ 0, got \(cases)") }
        if kvCache {
            let result: (passed: Int, failed: Int, backend: String)
            do {
                result = try VerifyKVCache(device: selection, cases: cases, seed: seed, types: types, index: index,
                                           verbose: verbose, threads: threads).run()
            } catch {
                print("error: \(error)")
                throw ExitCode(1)
            }
            print("\(result.passed) passed, \(result.failed) failed (kvcache, backend \(result.backend), seed \(seed))")
            if result.failed > 0 { throw ExitCode(1) }
            return
        }
        let backend: any AttentionBackend
        do {
            backend = try FlashAttention.backend(for: selection, threads: threads)
        } catch {
            print("error: \(error)")
            throw ExitCode(1)
        }
        /// A comma-separated list of integers in `range` ([] when the option is absent).
        func integers(_ text: String?, _ flag: String, _ expected: String, in range: ClosedRange<Int>) throws -> [Int] {
            try (text ?? "").split(separator: ",").map {
                guard let n = Int($0), range.contains(n) else { throw ValidationError("\(flag): expected \(expected), got '\($0)'") }
                return n
            }
        }
        let pool = try integers(lengths, "--lengths", "lengths ≥ 0", in: 0...Int.max)
        let dims = try integers(headDims, "--head-dims", "head dims in 1...256", in: 1...256)
        let generator = ProblemGenerator(seed: seed, elementTypes: types, maxWork: maxWork, lengths: pool, headDims: dims)
        let verifier = Verifier(backend: backend)
        let indices = index.map { [$0] } ?? Array(0..<cases)
        var passed = 0, failed = 0
        let clock = ContinuousClock()
        let start = clock.now
        for i in indices {
            let result = verifier.verify(generator.spec(index: i), backward: backward)
            if result.passed {
                passed += 1
                if verbose { print("#\(i) \(result)") }
            } else {
                failed += 1
                print("#\(i) \(result)")
            }
        }
        let elapsed = clock.now - start
        print("\(passed) passed, \(failed) failed (backend \(backend.name), seed \(seed), \(elapsed.components.seconds) s)")
        if failed > 0 { throw ExitCode(1) }
    }
}
