import Testing
import FlashAttention
import FlashAttentionReference

/// The verification harness checked on backends whose behaviour is known: the oracles
/// themselves must pass, and deliberately broken backends must fail for the right reason.
@Suite struct OracleHarnessTests {
    static let generator = ProblemGenerator(seed: 0x5EED, maxWork: 60_000)

    /// Small random cases covering every option, layout and element type.
    static func smallSpec(_ index: Int) -> ProblemSpec {
        var constraints = ProblemConstraints(maxWork: 60_000)
        constraints.seqlenQ = [1, 7, 23, 0, 30][index % 5]
        constraints.seqlenK = [23, 1, 7, 19, 0][(index / 5) % 5]
        constraints.headDim = [1, 7, 40, 5][index % 4]
        return generator.spec(index: index, constraints: constraints)
    }

    @Test func referenceBackendPassesItsOwnVerification() {
        let verifier = Verifier(backend: ReferenceBackend())
        for index in 0..<24 {
            let result = verifier.verify(OracleHarnessTests.smallSpec(index))
            #expect(result.passed, "\(result)")
        }
    }

    /// Naive attention in the element type is exactly at (1×) its own budget's base, so it
    /// passes the 2× rule; this also checks the budget arithmetic end to end.
    @Test(arguments: [ElementType.float16, .bfloat16])
    func naiveBackendPassesTheHalfPrecisionBudget(type: ElementType) {
        let verifier = Verifier(backend: ReferenceBackend(precision: type))
        for index in 0..<16 {
            var spec = OracleHarnessTests.smallSpec(index)
            spec.elementType = type
            spec.float32Outputs = false
            let result = verifier.verify(spec)
            #expect(result.passed, "\(result)")
        }
    }

    /// bfloat16 naive attention is far outside a float32 budget, and float16 naive attention
    /// outside a bfloat16-derived one is not tested: a coarse backend must fail a fine budget.
    @Test func coarseBackendFailsFloat32Budget() {
        let verifier = Verifier(backend: ReferenceBackend(precision: .bfloat16))
        let result = verifier.verify(ProblemSpec(batch: 1, seqlenQ: 9, seqlenK: 13, heads: 2, headDim: 8, valueSeed: 3))
        #expect(!result.passed)
        #expect(result.checks.first { $0.name == "out" }.map { !$0.passed } == true)
    }

    // MARK: - Broken backends

    /// Runs the reference, then damages the outputs in a chosen way.
    struct Broken: AttentionBackend {
        enum Damage: Sendable { case skipOne, nan, stray, emptyRowNotZero, modifyInput, scaleGradient, shiftMask, throwUnsupported }
        var damage: Damage
        var name: String { "broken" }

        func forward(_ arguments: ForwardArguments) throws {
            var arguments = arguments
            if damage == .throwUnsupported { throw FlashAttentionError.unsupported("not today") }
            if damage == .shiftMask {
                // Top-left causal alignment instead of bottom-right: a classic porting bug.
                arguments.options.window = SlidingWindow(left: -1, right: arguments.k.shape[1] - arguments.q.shape[1] - 1)
            }
            try ReferenceBackend().forward(arguments)
            let out = arguments.out
            switch damage {
            case .skipOne: PoisonPattern.write(out, at: 0)
            case .nan: out.store(.nan, at: out.strides[0])
            case .stray: out.store(1, at: -1)
            case .emptyRowNotZero: out.store(1e-30, at: 0)
            case .modifyInput: arguments.q.store(arguments.q.load(at: 0) + 1, at: 0)
            default: break
            }
        }

        func backward(_ arguments: BackwardArguments) throws {
            if damage == .throwUnsupported { throw FlashAttentionError.unsupported("not today") }
            try ReferenceBackend().backward(arguments)
            if damage == .scaleGradient {
                for offset in RandomProblem.logicalOffsets(arguments.dk) {
                    arguments.dk.store(arguments.dk.load(at: offset) * (1 + 1e-4), at: offset)
                }
            }
        }
    }

    enum PoisonPattern {
        static func write(_ view: TensorView, at offset: Int) {
            view.data.assumingMemoryBound(to: UInt32.self)[offset] = .max
        }
    }

    @Test func brokenBackendsFailForTheRightReason() {
        // Sq > Sk with causal: rows 0..<3 see nothing; slicedHeads on out leaves room before it.
        var strides = [StridePattern](repeating: .contiguous, count: TensorRole.allCases.count)
        strides[TensorRole.out.rawValue] = .slicedHeads
        let spec = ProblemSpec(batch: 2, seqlenQ: 8, seqlenK: 5, heads: 2, kvHeads: 1, headDim: 4, causal: true,
                               strides: strides, valueSeed: 77)
        func verdict(_ damage: Broken.Damage) -> VerificationResult {
            Verifier(backend: Broken(damage: damage)).verify(spec)
        }
        func outIssues(_ result: VerificationResult) -> String {
            result.checks.first { $0.name == "out" }?.issues.joined(separator: "; ") ?? ""
        }
        #expect(outIssues(verdict(.skipOne)).contains("never written"))
        #expect(outIssues(verdict(.nan)).contains("NaN"))
        #expect(outIssues(verdict(.stray)).contains("outside the view"))
        #expect(outIssues(verdict(.emptyRowNotZero)).contains("see no key"))
        #expect(verdict(.modifyInput).failures.contains { $0.contains("modified its input q") })
        let scaled = verdict(.scaleGradient)
        #expect(scaled.checks.first { $0.name == "dk" }.map { !$0.passed } == true)
        #expect(scaled.checks.first { $0.name == "dq" }.map(\.passed) == true)
        #expect(!verdict(.shiftMask).passed)
        let unsupported = verdict(.throwUnsupported)
        #expect(unsupported.unsupported && !unsupported.passed)
        #expect(Verifier(backend: ReferenceBackend()).verify(spec).passed)
    }

    // MARK: - Building blocks

    @Test func seededRandomIsReproducibleAndRoughlyNormal() {
        var a = SeededRandom(seed: 42), b = SeededRandom(seed: 42)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
        var rng = SeededRandom(seed: 7)
        let draws = (0..<20_000).map { _ in rng.normal() }
        let mean = draws.reduce(0, +) / Double(draws.count)
        let variance = draws.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(draws.count)
        #expect(abs(mean) < 0.03 && abs(variance - 1) < 0.05)
        var ints = SeededRandom(seed: 9)
        let picks = (0..<1000).map { _ in ints.int(in: -2...2) }
        #expect(Set(picks) == [-2, -1, 0, 1, 2])
    }

    @Test func generatorDrawsItsHeadDims() {
        let generator = ProblemGenerator(seed: 5, headDims: [96, 160])
        let dims = Set((0..<60).map { generator.spec(index: $0).headDim })
        #expect(dims == [96, 160])
        #expect(ProblemGenerator(seed: 5, headDims: []).headDims == ProblemGenerator.headDims)
    }

    @Test func generatorIsDeterministicAndHonoursConstraints() {
        let generator = ProblemGenerator(seed: 123)
        #expect(generator.spec(index: 17) == generator.spec(index: 17))
        #expect(generator.spec(index: 17) != generator.spec(index: 18))
        for index in 0..<40 {
            let constraints = ProblemConstraints(headDim: 7, elementType: .bfloat16, groupSize: 4, options: [.softcap],
                                                 emptyRows: true, maxWork: 200_000)
            let spec = generator.spec(index: index, constraints: constraints)
            #expect(spec.headDim == 7 && spec.elementType == .bfloat16 && spec.heads == 4 * spec.kvHeads)
            #expect(spec.softcap > 0 && spec.dropout == nil && spec.alibi == nil && !spec.causal)
            // Some row of the first sequence sees no key.
            let sq = spec.varlen?.seqlensQ[0] ?? spec.seqlenQ, sk = spec.varlen?.seqlensK[0] ?? spec.seqlenK
            let geometry = MaskGeometry(seqlenQ: sq, seqlenK: sk, window: spec.window)
            #expect((0..<sq).contains { geometry.keyRange(row: $0).isEmpty }, "\(spec)")
        }
    }

    @Test func errorMetrics() {
        #expect(ErrorMetrics.relativeError([1, 2, 2], reference: [1, 2, 2]) == 0)
        #expect(abs(ErrorMetrics.relativeError([3, 4.5], reference: [3, 4]) - 0.1) < 1e-15)
        #expect(ErrorMetrics.relativeError([0.5, 0], reference: [0, 0]) == 0.5)  // absolute when ref = 0
        #expect(ErrorMetrics.relativeError([1, .nan], reference: [1, 1]).isNaN)
        #expect(ErrorMetrics.relativeError([1, 7], reference: [1, .infinity]) == 0)  // infinite refs checked elsewhere
        #expect(formatError(1.234e-5) == "1.23e-5" && formatError(0) == "0" && formatError(9.999) == "1.00e1")
        #expect(ElementType(name: "bf16") == .bfloat16)
    }
}
