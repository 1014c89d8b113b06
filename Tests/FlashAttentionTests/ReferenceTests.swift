import Testing
import FlashAttention
import FlashAttentionReference

#if canImport(Glibc)
import Glibc
#endif

/// Checks of the float64 oracle itself: its gradients against finite differences, its LSE and
/// outputs against a textbook formula, its masks against hand-written patterns, empty rows,
/// varlen against per-sequence dense runs, and layout independence.
@Suite struct ReferenceTests {
    // MARK: - Backward by central finite differences

    static let gradientCases: [ProblemSpec] = [
        ProblemSpec(batch: 2, seqlenQ: 3, seqlenK: 4, heads: 2, kvHeads: 1, headDim: 3, softcap: 2, alibi: .batchHeads, valueSeed: 1),
        ProblemSpec(batch: 1, seqlenQ: 5, seqlenK: 3, heads: 4, kvHeads: 1, headDim: 2, causal: true, valueSeed: 2),
        ProblemSpec(batch: 2, seqlenQ: 3, seqlenK: 5, heads: 2, kvHeads: 2, headDim: 4, causal: true, alibi: .heads,
                    dropout: Dropout(probability: 0.3, seed: 99), valueSeed: 3),
        ProblemSpec(batch: 1, seqlenQ: 4, seqlenK: 6, heads: 2, kvHeads: 1, headDim: 3, window: SlidingWindow(left: 1, right: 2),
                    softcap: 0.7, softmaxScale: -0.8, valueSeed: 4),
        ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 2, kvHeads: 1, headDim: 2, causal: true, softcap: 3,
                    dropout: Dropout(probability: 0.5, seed: 7), varlen: VarlenSpec(seqlensQ: [2, 0, 3], seqlensK: [3, 2, 2]),
                    valueSeed: 5),
    ]

    @Test(arguments: gradientCases)
    func backwardMatchesFiniteDifferences(spec: ProblemSpec) throws {
        let problem = RandomProblem(spec)
        let gradients = try ReferenceAttention.backward(problem.backwardArguments)
        let dOut = RandomProblem.read(problem[.dOut])
        // L = Σ dO ∘ O, so dL/dx is what the backward returns for x ∈ {q, k, v}.
        func loss() throws -> Double {
            let out = try ReferenceAttention.forward(problem.forwardArguments).out
            return zip(out, dOut).reduce(0) { $0 + $1.0 * $1.1 }
        }
        for (role, analytic) in [(TensorRole.q, gradients.dq), (.k, gradients.dk), (.v, gradients.dv)] {
            let view = problem[role]
            let offsets = RandomProblem.logicalOffsets(view)
            var numeric = [Double]()
            for offset in offsets {
                let x = view.load(at: offset)
                // 2^-12 steps are exact in float32 for |x| < 2^11, so the difference quotient
                // divides by the true step.
                let h: Float = 0x1p-12
                view.store(x + h, at: offset)
                let up = try loss()
                view.store(x - h, at: offset)
                let down = try loss()
                view.store(x, at: offset)
                numeric.append((up - down) / (2 * Double(h)))
            }
            let error = ErrorMetrics.relativeError(analytic, reference: numeric)
            #expect(error < 1e-6, "d\(role): finite-difference mismatch \(error) for \(spec)")
        }
    }

    // MARK: - Forward against a textbook formula

    /// softmax(scale·QKᵀ …)·V written out directly from the documented semantics, for dense
    /// problems: explicit masks, log(Σ exp) without max subtraction (scores here are small).
    static func textbook(_ problem: RandomProblem) -> (out: [Double], lse: [Double]) {
        let s = problem.spec
        let q = problem[.q], k = problem[.k], v = problem[.v]
        let scale = Double(s.softmaxScale ?? 1 / Float(s.headDim).squareRoot())
        var out = [Double](), lse = [Double](repeating: .infinity, count: s.batch * s.heads * s.seqlenQ)
        for b in 0..<s.batch {
            for i in 0..<s.seqlenQ {
                for h in 0..<s.heads {
                    let kh = h / (s.heads / s.kvHeads)
                    var weights = [Double](repeating: 0, count: s.seqlenK)
                    for j in 0..<s.seqlenK {
                        let shifted = i + s.seqlenK - s.seqlenQ
                        var visible = !s.causal || j <= shifted
                        if s.window.left >= 0 && j < shifted - s.window.left { visible = false }
                        if s.window.right >= 0 && j > shifted + s.window.right { visible = false }
                        guard visible else { continue }
                        var dot = 0.0
                        for d in 0..<s.headDim { dot += Double(q[b, i, h, d]) * Double(k[b, j, kh, d]) }
                        var score = scale * dot
                        if s.softcap > 0 { score = Double(s.softcap) * tanh(score / Double(s.softcap)) }
                        if let alibi = problem.options.alibi {
                            score -= Double(alibi.slope(batch: b, head: h)) * Double(abs(shifted - j))
                        }
                        weights[j] = exp(score)
                    }
                    let total = weights.reduce(0, +)
                    if total > 0 { lse[(b * s.heads + h) * s.seqlenQ + i] = log(total) }
                    for d in 0..<s.headDim {
                        var acc = 0.0
                        for j in 0..<s.seqlenK where weights[j] > 0 {
                            var w = weights[j] / total
                            if let dropout = s.dropout {
                                let mask = DropoutMask(dropout)
                                // The float32 1/(1 − p) every backend uses.
                                w = mask.keep(batch: b, head: h, row: i, column: j) ? w * Double(mask.keepScale) : 0
                            }
                            acc += w * Double(v[b, j, kh, d])
                        }
                        out.append(acc)
                    }
                }
            }
        }
        return (out, lse)
    }

    static let textbookCases: [ProblemSpec] = [
        ProblemSpec(batch: 2, seqlenQ: 5, seqlenK: 9, heads: 4, kvHeads: 1, headDim: 6, valueSeed: 11),
        ProblemSpec(batch: 2, seqlenQ: 9, seqlenK: 5, heads: 2, kvHeads: 2, headDim: 3, causal: true, softcap: 1.5, valueSeed: 12),
        ProblemSpec(batch: 1, seqlenQ: 6, seqlenK: 11, heads: 8, kvHeads: 1, headDim: 5, window: SlidingWindow(left: 2, right: 1),
                    alibi: .batchHeads, softmaxScale: 0.9, valueSeed: 13),
        ProblemSpec(batch: 2, seqlenQ: 7, seqlenK: 7, heads: 2, kvHeads: 1, headDim: 4, causal: true, alibi: .heads,
                    dropout: Dropout(probability: 0.4, seed: 5), valueSeed: 14),
    ]

    @Test(arguments: textbookCases)
    func forwardAndLSEMatchTextbookFormula(spec: ProblemSpec) throws {
        let problem = RandomProblem(spec)
        let reference = try ReferenceAttention.forward(problem.forwardArguments)
        let expected = ReferenceTests.textbook(problem)
        #expect(ErrorMetrics.relativeError(reference.out, reference: expected.out) < 1e-13)
        #expect(ErrorMetrics.relativeError(reference.lse, reference: expected.lse) < 1e-13)
        #expect(zip(reference.lse, expected.lse).allSatisfy { $0.isFinite == $1.isFinite })
    }

    // MARK: - Masks

    /// Which keys each row sees, read off the output: v_j is the unit vector e_j, so out row i
    /// is row i of the probability matrix.
    static func visibility(seqlenQ: Int, seqlenK: Int, causal: Bool, window: SlidingWindow) throws -> [[Int]] {
        let k = try Tensor(shape: [1, seqlenK, 1, seqlenK], values: (0..<seqlenK * seqlenK).map { _ in 0 })
        let v = try Tensor(shape: [1, seqlenK, 1, seqlenK], values: (0..<seqlenK * seqlenK).map { $0 / seqlenK == $0 % seqlenK ? 1 : 0 })
        let qWide = try Tensor(shape: [1, seqlenQ, 1, seqlenK], values: [Float](repeating: 0.1, count: seqlenQ * seqlenK))
        let out = Tensor(shape: qWide.shape), lse = Tensor(shape: [1, 1, seqlenQ])
        let arguments = ForwardArguments(q: qWide.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                                         options: AttentionOptions(causal: causal, window: window))
        let result = try ReferenceAttention.forward(arguments)
        return (0..<seqlenQ).map { i in (0..<seqlenK).filter { result.out[i * seqlenK + $0] > 0 } }
    }

    @Test func causalMaskIsBottomRightAligned() throws {
        #expect(try ReferenceTests.visibility(seqlenQ: 3, seqlenK: 5, causal: true, window: .unbounded)
            == [[0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]])
        #expect(try ReferenceTests.visibility(seqlenQ: 5, seqlenK: 3, causal: true, window: .unbounded)
            == [[], [], [0], [0, 1], [0, 1, 2]])
        #expect(try ReferenceTests.visibility(seqlenQ: 4, seqlenK: 4, causal: true, window: .unbounded)
            == [[0], [0, 1], [0, 1, 2], [0, 1, 2, 3]])
    }

    @Test func windowMasks() throws {
        #expect(try ReferenceTests.visibility(seqlenQ: 4, seqlenK: 4, causal: false, window: SlidingWindow(left: 1, right: 0))
            == [[0], [0, 1], [1, 2], [2, 3]])
        #expect(try ReferenceTests.visibility(seqlenQ: 3, seqlenK: 6, causal: false, window: SlidingWindow(left: 0, right: 1))
            == [[3, 4], [4, 5], [5]])
        #expect(try ReferenceTests.visibility(seqlenQ: 6, seqlenK: 3, causal: false, window: SlidingWindow(left: 1, right: 1))
            == [[], [], [0], [0, 1], [0, 1, 2], [1, 2]])
        // Causal folds into right = 0 (a wider right bound does not widen it).
        #expect(try ReferenceTests.visibility(seqlenQ: 4, seqlenK: 4, causal: true, window: SlidingWindow(left: 2, right: 3))
            == [[0], [0, 1], [0, 1, 2], [1, 2, 3]])
        #expect(try ReferenceTests.visibility(seqlenQ: 3, seqlenK: 5, causal: false, window: SlidingWindow(left: -1, right: 0))
            == [[0, 1, 2], [0, 1, 2, 3], [0, 1, 2, 3, 4]])
    }

    /// The backends skip tiles with MaskGeometry; it must agree with the oracle's predicate.
    @Test func maskGeometryAgreesWithPredicate() {
        for sq in [0, 1, 3, 7] {
            for sk in [0, 1, 4, 9] {
                for left in [-1, 0, 1, 5] {
                    for right in [-1, 0, 2] {
                        for causal in [false, true] {
                            let options = AttentionOptions(causal: causal, window: SlidingWindow(left: left, right: right))
                            let geometry = MaskGeometry(seqlenQ: sq, seqlenK: sk, options: options)
                            func visible(_ i: Int, _ j: Int) -> Bool {
                                let c = i + sk - sq
                                return (!causal || j <= c) && (left < 0 || j >= c - left) && (right < 0 || j <= c + right)
                            }
                            for i in 0..<sq {
                                let expected = (0..<sk).filter { visible(i, $0) }
                                #expect(Array(geometry.keyRange(row: i)) == expected, "row \(i) Sq=\(sq) Sk=\(sk) w=(\(left),\(right)) causal=\(causal)")
                            }
                            for j in 0..<sk {
                                let expected = (0..<sq).filter { visible($0, j) }
                                #expect(Array(geometry.queryRange(key: j)) == expected, "key \(j) Sq=\(sq) Sk=\(sk) w=(\(left),\(right)) causal=\(causal)")
                            }
                        }
                    }
                }
            }
        }
    }

    // MARK: - Empty rows

    @Test func emptyRowsGiveZeroOutputAndInfiniteLSE() throws {
        let spec = ProblemSpec(batch: 2, seqlenQ: 6, seqlenK: 3, heads: 2, kvHeads: 1, headDim: 4, causal: true,
                               alibi: .heads, dropout: Dropout(probability: 0.2, seed: 3), valueSeed: 21)
        let problem = RandomProblem(spec)
        let forward = try ReferenceAttention.forward(problem.forwardArguments)
        let gradients = try ReferenceAttention.backward(problem.backwardArguments)
        for b in 0..<2 {
            for h in 0..<2 {
                for i in 0..<6 {
                    let lse = forward.lse[(b * 2 + h) * 6 + i]
                    let o = ((b * 6 + i) * 2 + h) * 4
                    if i < 3 {
                        #expect(lse == .infinity)
                        #expect(forward.out[o..<(o + 4)].allSatisfy { $0 == 0 })
                        #expect(gradients.dq[o..<(o + 4)].allSatisfy { $0 == 0 })
                    } else {
                        #expect(lse.isFinite)
                    }
                }
            }
        }
        for values in [forward.out, gradients.dq, gradients.dk, gradients.dv] { #expect(!values.contains { $0.isNaN }) }
        // No key at all.
        let none = RandomProblem(ProblemSpec(seqlenQ: 3, seqlenK: 0, headDim: 2, valueSeed: 1))
        let empty = try ReferenceAttention.forward(none.forwardArguments)
        #expect(empty.out.allSatisfy { $0 == 0 } && empty.lse.allSatisfy { $0 == .infinity })
    }

    // MARK: - Varlen

    @Test func varlenEqualsPerSequenceDense() throws {
        let lq = [3, 0, 5, 2], lk = [4, 2, 0, 6]
        let spec = ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 4, kvHeads: 2, headDim: 3,
                               causal: true, softcap: 4, alibi: .batchHeads,
                               varlen: VarlenSpec(seqlensQ: lq, seqlensK: lk), strides: [.transposed, .slicedHeads, .paddedRows,
                               .contiguous, .paddedRows, .spacedDims, .contiguous, .contiguous, .contiguous], valueSeed: 31)
        let packed = RandomProblem(spec)
        let forward = try ReferenceAttention.forward(packed.forwardArguments)
        let gradients = try ReferenceAttention.backward(packed.backwardArguments)
        let H = 4, Hk = 2, D = 3
        let totalQ = lq.reduce(0, +)
        var startQ = 0, startK = 0
        for b in 0..<lq.count {
            // The dense problem of sequence b: copy its tokens out of the packed tensors.
            func dense(_ view: TensorView, start: Int, length: Int, heads: Int) throws -> Tensor {
                var values = [Float]()
                for t in 0..<length {
                    for h in 0..<heads { for d in 0..<D { values.append(view[start + t, h, d]) } }
                }
                return try Tensor(shape: [1, length, heads, D], values: values)
            }
            let q = try dense(packed[.q], start: startQ, length: lq[b], heads: H)
            let k = try dense(packed[.k], start: startK, length: lk[b], heads: Hk)
            let v = try dense(packed[.v], start: startK, length: lk[b], heads: Hk)
            let g = try dense(packed[.dOut], start: startQ, length: lq[b], heads: H)
            let slopes = try Tensor(shape: [H], values: (0..<H).map { packed.options.alibi!.slope(batch: b, head: $0) })
            var options = packed.options
            options.alibi = ALiBi(slopes: slopes.view)
            let out = Tensor(shape: q.shape), lse = Tensor(shape: [1, H, lq[b]])
            let dq = Tensor(shape: q.shape), dk = Tensor(shape: k.shape), dv = Tensor(shape: k.shape)
            let arguments = BackwardArguments(dOut: g.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                                              dq: dq.view, dk: dk.view, dv: dv.view, options: options)
            let single = try ReferenceAttention.forward(arguments.forward)
            let singleGradients = try ReferenceAttention.backward(arguments)
            let qRange = (startQ * H * D)..<((startQ + lq[b]) * H * D), kRange = (startK * Hk * D)..<((startK + lk[b]) * Hk * D)
            #expect(Array(forward.out[qRange]) == single.out, "out of sequence \(b)")
            #expect(Array(gradients.dq[qRange]) == singleGradients.dq, "dq of sequence \(b)")
            #expect(Array(gradients.dk[kRange]) == singleGradients.dk, "dk of sequence \(b)")
            #expect(Array(gradients.dv[kRange]) == singleGradients.dv, "dv of sequence \(b)")
            for h in 0..<H {
                let packedLSE = forward.lse[(h * totalQ + startQ)..<(h * totalQ + startQ + lq[b])]
                #expect(Array(packedLSE) == Array(single.lse[(h * lq[b])..<((h + 1) * lq[b])]), "lse of sequence \(b) head \(h)")
            }
            startQ += lq[b]
            startK += lk[b]
        }
    }

    // MARK: - Layouts and the naive model

    /// The same values behind different strides give bitwise the same reference results.
    @Test func stridePatternsDoNotChangeResults() throws {
        let base = ProblemSpec(batch: 2, seqlenQ: 5, seqlenK: 7, heads: 4, kvHeads: 2, headDim: 6, causal: true, valueSeed: 41)
        let plain = RandomProblem(base)
        let expected = try ReferenceAttention.backward(plain.backwardArguments)
        let expectedForward = try ReferenceAttention.forward(plain.forwardArguments)
        for pattern in StridePattern.allCases {
            var spec = base
            spec.strides = TensorRole.allCases.map { _ in pattern }
            let problem = RandomProblem(spec)
            #expect(try ReferenceAttention.backward(problem.backwardArguments).dk == expected.dk, "\(pattern)")
            #expect(try ReferenceAttention.forward(problem.forwardArguments).out == expectedForward.out, "\(pattern)")
        }
    }

    @Test func naiveAttentionErrorGrowsWithCoarserPrecision() throws {
        var errors = [ElementType: Double]()
        for type in ElementType.allCases {
            let spec = ProblemSpec(batch: 1, seqlenQ: 40, seqlenK: 50, heads: 2, kvHeads: 1, headDim: 16, elementType: type,
                                   causal: true, softcap: 5, dropout: Dropout(probability: 0.2, seed: 1), valueSeed: 51)
            let problem = RandomProblem(spec)
            let reference = try ReferenceAttention.forward(problem.forwardArguments)
            let naive = try NaiveAttention(precision: type).forward(problem.forwardArguments)
            let gradients = try ReferenceAttention.backward(problem.backwardArguments)
            let naiveGradients = try NaiveAttention(precision: type).backward(problem.backwardArguments)
            let error = ErrorMetrics.relativeError(naive.out, reference: reference.out)
            errors[type] = error
            // Within a few units of roundoff of the working precision, and not exact.
            #expect(error > 0 && error < 20 * type.unitRoundoff, "\(type) out \(error)")
            for (x, r) in [(naiveGradients.dq, gradients.dq), (naiveGradients.dk, gradients.dk), (naiveGradients.dv, gradients.dv)] {
                let e = ErrorMetrics.relativeError(x, reference: r)
                #expect(e > 0 && e < 100 * type.unitRoundoff, "\(type) gradient \(e)")
            }
        }
        #expect(errors[.float32]! < errors[.float16]! && errors[.float16]! < errors[.bfloat16]!)
    }
}
