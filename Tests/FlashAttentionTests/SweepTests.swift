import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// One randomized case of the CPU sweep: its number (which seeds everything in it), the part
/// of the grid it covers, and the problem.
struct SweepCase: Sendable, CustomTestStringConvertible {
    let index: Int
    let group: String
    let spec: ProblemSpec

    var testDescription: String { "#\(index) \(group)" }
}

/// The CPU backend against the float64 oracle over a sampled grid of sizes, options, layouts
/// and element types, forward and backward (see ``Verifier`` for the budgets).
///
/// The full product (5 lengths² × 7 head dims × 3 types × 2^7 option sets × layouts) is far
/// too big, so it is sampled:
/// - `grid`: every (Sq, Sk, D) of lengths {1, 7, 23, 113, 777} and head dims {1, 7, 40, 59,
///   80, 111, 256} once (175 cases), element types rotating, options and layouts random.
/// - `options`: every option alone, none, GQA 4 and 8, strided views, varlen, forced empty
///   rows (causal and window), and all options at once, each twice in each element type, at
///   moderate sizes; plus degenerate sizes (no keys, no queries, empty varlen sequences).
/// - `combined`: fully random draws (options, layouts, types together).
/// - `regressions`: problems that once failed.
///
/// Case i is `ProblemGenerator(seed: SweepTests.seed).spec(index: i, constraints: …)`: the
/// failure message prints the whole spec, including its value seed.
@Suite struct SweepTests {
    static let seed: UInt64 = 0xF1A5_4A77
    static let generator = ProblemGenerator(seed: seed, maxWork: 2_500_000)

    static let gridCases: [SweepCase] = {
        var cases = [SweepCase]()
        let lengths = ProblemGenerator.lengths, dims = ProblemGenerator.headDims
        for (qi, sq) in lengths.enumerated() {
            for (ki, sk) in lengths.enumerated() {
                for (di, d) in dims.enumerated() {
                    let index = 1000 + qi * 100 + ki * 10 + di
                    // Batch and heads shrink to fit the work cap; Sq = Sk = 777 cases keep one
                    // head (up to 777² × 256, the most expensive case of the suite).
                    let constraints = ProblemConstraints(
                        seqlenQ: sq, seqlenK: sk, headDim: d, elementType: ElementType.allCases[(qi + ki + di) % 3],
                        maxWork: 2_000_000)
                    cases.append(SweepCase(index: index, group: "Sq=\(sq) Sk=\(sk) D=\(d)",
                                           spec: generator.spec(index: index, constraints: constraints)))
                }
            }
        }
        return cases
    }()

    static let optionCases: [SweepCase] = {
        var cases = [SweepCase]()
        var variants: [(String, ProblemConstraints)] = OptionKind.allCases.map {
            ($0.rawValue, ProblemConstraints(options: [$0], varlen: false, strided: false))
        }
        variants.append(("none", ProblemConstraints(groupSize: 1, options: [], varlen: false, strided: false)))
        variants.append(("gqa4", ProblemConstraints(groupSize: 4, options: [], varlen: false, strided: false)))
        variants.append(("gqa8", ProblemConstraints(groupSize: 8, options: [], varlen: false, strided: false)))
        variants.append(("strided", ProblemConstraints(options: [], varlen: false, strided: true)))
        variants.append(("varlen", ProblemConstraints(options: [], varlen: true, strided: false)))
        variants.append(("empty rows causal", ProblemConstraints(options: [.causal], emptyRows: true)))
        variants.append(("empty rows window", ProblemConstraints(options: [.window], emptyRows: true)))
        variants.append(("all options", ProblemConstraints(options: Set(OptionKind.allCases))))
        for (vi, (name, base)) in variants.enumerated() {
            for (ti, type) in ElementType.allCases.enumerated() {
                for repeat_ in 0..<2 {
                    let index = 2000 + vi * 10 + ti * 2 + repeat_
                    var constraints = base
                    constraints.elementType = type
                    // Moderate sizes: short lengths on each side, any head dim up to 111.
                    var rng = SeededRandom(seed: SeededRandom.derive(seed, UInt64(index)))
                    constraints.seqlenQ = rng.pick([1, 7, 23, 113, rng.int(in: 0...40)])
                    constraints.seqlenK = rng.pick([1, 7, 23, 113, rng.int(in: 0...40)])
                    constraints.headDim = rng.pick([1, 7, 40, 59, 80, 111])
                    constraints.maxWork = 1_000_000
                    cases.append(SweepCase(index: index, group: "\(name) \(type)",
                                           spec: generator.spec(index: index, constraints: constraints)))
                }
            }
        }
        // Degenerate sizes: no keys, no queries, varlen batches of empty sequences.
        let degenerate: [(String, ProblemSpec)] = [
            ("no keys", ProblemSpec(batch: 2, seqlenQ: 9, seqlenK: 0, heads: 4, kvHeads: 1, headDim: 40, elementType: .bfloat16, valueSeed: 1)),
            ("no queries", ProblemSpec(batch: 2, seqlenQ: 0, seqlenK: 9, heads: 2, headDim: 7, causal: true, valueSeed: 2)),
            ("varlen empty keys", ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 2, kvHeads: 1, headDim: 59, elementType: .float16,
                                              varlen: VarlenSpec(seqlensQ: [5, 3], seqlensK: [0, 0]), valueSeed: 3)),
            ("varlen empty queries", ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 8, kvHeads: 1, headDim: 80, causal: true,
                                                 varlen: VarlenSpec(seqlensQ: [0, 0, 4], seqlensK: [6, 2, 0]), valueSeed: 4)),
        ]
        for (k, (name, spec)) in degenerate.enumerated() { cases.append(SweepCase(index: 2900 + k, group: name, spec: spec)) }
        return cases
    }()

    static let combinedCases: [SweepCase] = (0..<160).map { i in
        let index = 3000 + i
        let constraints = ProblemConstraints(maxWork: 1_500_000)
        return SweepCase(index: index, group: "random", spec: generator.spec(index: index, constraints: constraints))
    }

    /// Problems that once failed, kept as regression cases.
    static let regressionCases: [SweepCase] = [
        // Saturated softcap in float32 (q, k ~ N(1.5, 1), so scale·q·k/softcap ≫ 1): the
        // backward's 1 − tanh² cancels. Found by `flash-attn verify --seed 11 --index 700`.
        SweepCase(index: 4000, group: "float32 saturated softcap", spec: ProblemSpec(
            batch: 1, seqlenQ: 23, seqlenK: 113, heads: 4, kvHeads: 1, headDim: 111, softcap: 5, distribution: .shifted,
            valueSeed: 7_903_012_018_793_030_305)),
        // The same with ordinary N(0, 1) values and a small softcap (scores ~3, softcap 0.5).
        // Found by `flash-attn verify --seed 64 --index 75 --dtypes f16,f32 --lengths 1,2,15,16,17,63,64,65,127,128,129`.
        SweepCase(index: 4001, group: "float32 small softcap", spec: ProblemSpec(
            batch: 2, seqlenQ: 1, seqlenK: 2, headDim: 59, window: SlidingWindow(left: -1, right: 1), softcap: 0.5,
            softmaxScale: 3 / Float(59).squareRoot(), valueSeed: 1_568_784_540_112_338_448)),
    ]

    static func check(_ sweepCase: SweepCase) {
        let result = Verifier(backend: CPUBackend()).verify(sweepCase.spec, backward: true)
        if result.unsupported {
            Issue.record("CPUBackend does not support sweep case #\(sweepCase.index): \(result)")
        } else if !result.passed {
            Issue.record("sweep case #\(sweepCase.index) (seed \(seed)): \(result)")
        }
    }

    @Test(arguments: gridCases)
    func grid(_ sweepCase: SweepCase) { SweepTests.check(sweepCase) }

    @Test(arguments: optionCases)
    func options(_ sweepCase: SweepCase) { SweepTests.check(sweepCase) }

    @Test(arguments: combinedCases)
    func combined(_ sweepCase: SweepCase) { SweepTests.check(sweepCase) }

    @Test(arguments: regressionCases)
    func regressions(_ sweepCase: SweepCase) { SweepTests.check(sweepCase) }

    // MARK: - Determinism

    static let determinismSpecs: [ProblemSpec] = [
        ProblemSpec(batch: 2, seqlenQ: 113, seqlenK: 150, heads: 8, kvHeads: 2, headDim: 40, elementType: .bfloat16,
                    causal: true, softcap: 5, dropout: Dropout(probability: 0.2, seed: 9), valueSeed: 1),
        ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 4, kvHeads: 1, headDim: 59, alibi: .batchHeads,
                    varlen: VarlenSpec(seqlensQ: [70, 0, 33], seqlensK: [200, 5, 0]), valueSeed: 2),
        ProblemSpec(batch: 1, seqlenQ: 300, seqlenK: 257, heads: 2, kvHeads: 2, headDim: 111, elementType: .float16,
                    window: SlidingWindow(left: 40, right: 3), strides: [.transposed, .paddedRows, .spacedDims, .slicedHeads,
                    .transposed, .paddedRows, .spacedDims, .slicedHeads, .transposed], valueSeed: 3),
    ]

    /// The backend runs twice with 1, 2 and 3 threads: forward and backward outputs must be
    /// bitwise identical every time.
    @Test(arguments: determinismSpecs)
    func bitwiseDeterministicAcrossRunsAndThreadCounts(spec: ProblemSpec) throws {
        let problem = RandomProblem(spec)
        let reference = try ReferenceAttention.forward(problem.forwardArguments)
        var first: [[UInt8]]?
        for threads in [1, 2, 2, 3] {
            let backend = CPUBackend(threads: threads)
            problem.poison([.out, .lse])
            do {
                try backend.forward(problem.forwardArguments)
            } catch {
                Issue.record("forward threw with \(threads) threads: \(error)")
                return
            }
            let forward = [TensorRole.out, .lse].map { Array(problem.storage[$0]!.storage) }
            // The backward reads the reference's out and LSE so only its own order matters.
            RandomProblem.write(reference.out, to: problem[.out])
            RandomProblem.write(reference.lse, to: problem[.lse])
            problem.poison([.dq, .dk, .dv])
            do {
                try backend.backward(problem.backwardArguments)
            } catch {
                Issue.record("backward threw with \(threads) threads: \(error)")
                return
            }
            let all = forward + [TensorRole.dq, .dk, .dv].map { Array(problem.storage[$0]!.storage) }
            if let first {
                for (name, (a, b)) in zip(["out", "lse", "dq", "dk", "dv"], zip(first, all)) {
                    #expect(a == b, "\(name) differs with \(threads) threads from the first 1-thread run: \(spec)")
                }
            } else {
                first = all
            }
        }
    }
}
