import FlashAttentionCore

#if canImport(Glibc)
import Glibc
#endif

/// Naive (materialising) attention run in a storage precision: what a straightforward
/// implementation of the formula gets in float16, bfloat16 or float32.
///
/// Its error against ``ReferenceAttention`` (on the same inputs) defines the error budget of
/// the half-precision backends: a fused kernel that accumulates in float32 should do at least
/// about as well as this. The model of "naive in precision P":
///
/// - every tensor the algorithm materialises is rounded to P: S = QKᵀ, the scaled, softcapped
///   and ALiBi-shifted scores (rounded after each of those steps), S − max, exp(S − max), the
///   row sum, P = exp/sum, the dropped-out P, O = P·V; in the backward dP = dO·Vᵀ,
///   D = rowsum(dO∘O), dP − D, dS, and each gradient;
/// - reductions (the dot products of the GEMMs and the softmax row sum) accumulate in float32
///   and round once, as a half-precision GEMM or a library softmax does; rounding every partial
///   sum to bfloat16 would make long rows stagnate and the budget meaninglessly loose.
///
/// Results are returned in float64 in the layouts of ``ReferenceAttention``.
public struct NaiveAttention: Sendable {
    public let precision: ElementType

    public init(precision: ElementType) { self.precision = precision }

    @inline(__always)
    func r(_ x: Float) -> Float { HalfConversion.round(x, to: precision) }

    public func forward(_ arguments: ForwardArguments) throws -> ReferenceAttention.Forward {
        let p = try GatheredProblem(arguments)
        let (forward, _) = run(p, backward: false)
        return forward
    }

    /// The backward of a naive implementation, which recomputes the softmax and uses its own
    /// (rounded) forward output for D = rowsum(dO∘O).
    ///
    /// With `usingForwardOutputs`, it instead does what a fused backward does with the
    /// forward's saved results: P = exp(S − LSE) from `arguments.lse` and D from `arguments.out`,
    /// so the error of storing those (an LSE of 80 carries a float32 rounding of 4e-6, which
    /// every P inherits) is part of the model.
    public func backward(_ arguments: BackwardArguments, usingForwardOutputs: Bool = false) throws -> ReferenceAttention.Gradients {
        let p = try GatheredProblem(arguments)
        var given: (out: [Float], lse: [Float])?
        if usingForwardOutputs {
            let out = GatheredProblem.gather(arguments.out, p.layout.addressing(q: arguments.out), layout: p.layout,
                                             heads: p.layout.heads, keys: false)
            given = (out.map { r(Float($0)) }, RandomProblem.read(arguments.lse).map { Float($0) })
        }
        let (_, gradients) = run(p, backward: true, given: given)
        return gradients ?? ReferenceAttention.Gradients(dq: [], dk: [], dv: [])
    }

    /// The rounded probabilities of row i (0 where masked), the dropped-out ones, the
    /// pre-softcap scaled scores (for the softcap derivative) and the rounded LSE.
    private func row(
        _ p: GatheredProblem, q: [Float], k: [Float], b: Int, h: Int, i: Int, givenLSE: Float?,
        probs: inout [Float], dropped: inout [Float], capped: inout [Float]
    ) -> Float {
        let layout = p.layout, D = layout.headDim
        let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
        let kh = h / layout.groupSize, qo = p.qOffset(b, i, h)
        let scale = Float(p.scale), cap = Float(p.softcap)
        let slope = p.slope(b, h).map { Float($0) }
        var m = -Float.infinity
        var s = [Float](repeating: -.infinity, count: sk)
        for j in 0..<sk where p.visible(i, j, sq: sq, sk: sk) {
            let ko = p.kOffset(b, j, kh)
            var dot: Float = 0
            for d in 0..<D { dot += q[qo + d] * k[ko + d] }
            var x = r(r(dot) * scale)
            if cap > 0 {
                let t = r(tanhf(r(x / cap)))
                capped[j] = t
                x = r(cap * t)
            }
            if let slope { x = r(x - r(slope * Float(p.alibiDistance(i, j, sq: sq, sk: sk)))) }
            s[j] = x
            m = max(m, x)
        }
        guard m > -.infinity else {
            for j in 0..<sk { probs[j] = 0; dropped[j] = 0 }
            return .infinity
        }
        let stream = p.stream(b, h)
        if let givenLSE {
            guard givenLSE < .infinity else {
                for j in 0..<sk { probs[j] = 0; dropped[j] = 0 }
                return .infinity
            }
            for j in 0..<sk {
                probs[j] = s[j] == -.infinity ? 0 : r(expf(r(s[j] - givenLSE)))
                let factor = Float(p.dropoutFactor(stream, i, j))
                dropped[j] = factor == 1 ? probs[j] : r(probs[j] * factor)
            }
            return givenLSE
        }
        var sum: Float = 0
        for j in 0..<sk {
            let e = s[j] == -.infinity ? 0 : r(expf(r(s[j] - m)))
            probs[j] = e
            sum += e
        }
        sum = r(sum)
        for j in 0..<sk {
            probs[j] = r(probs[j] / sum)
            let factor = Float(p.dropoutFactor(stream, i, j))
            dropped[j] = factor == 1 ? probs[j] : r(probs[j] * factor)
        }
        return r(m + r(logf(sum)))
    }

    private func run(
        _ p: GatheredProblem, backward: Bool, given: (out: [Float], lse: [Float])? = nil
    ) -> (ReferenceAttention.Forward, ReferenceAttention.Gradients?) {
        let layout = p.layout, D = layout.headDim
        // Inputs in the working precision (already exact when stored in it).
        let q = p.q.map { r(Float($0)) }, k = p.k.map { r(Float($0)) }, v = p.v.map { r(Float($0)) }
        let g = p.dOut.map { r(Float($0)) }
        let scale = Float(p.scale), cap = Float(p.softcap)
        var out = [Double](repeating: 0, count: layout.totalQ * layout.heads * D)
        var lse = [Double](repeating: .infinity, count: layout.totalQ * layout.heads)
        var dq = [Double](), dkAcc = [Float](), dvAcc = [Float]()
        if backward {
            dq = [Double](repeating: 0, count: out.count)
            dkAcc = [Float](repeating: 0, count: layout.totalK * layout.kvHeads * D)
            dvAcc = dkAcc
        }
        var probs = [Float](repeating: 0, count: layout.seqlenK), dropped = probs, capped = probs
        var o = [Float](repeating: 0, count: D), dqRow = o
        var dp = probs
        for b in 0..<layout.batch {
            let sk = layout.seqlenK(batch: b)
            for h in 0..<layout.heads {
                let kh = h / layout.groupSize
                let stream = p.stream(b, h)
                for i in 0..<layout.seqlenQ(batch: b) {
                    let givenLSE = given.map { $0.lse[GatheredProblem.lseIndex(layout, b, h, i)] }
                    let rowLSE = row(p, q: q, k: k, b: b, h: h, i: i, givenLSE: givenLSE,
                                     probs: &probs, dropped: &dropped, capped: &capped)
                    guard rowLSE < .infinity else { continue }
                    lse[GatheredProblem.lseIndex(layout, b, h, i)] = Double(rowLSE)
                    let qo = p.qOffset(b, i, h)
                    for d in 0..<D { o[d] = 0 }
                    for j in 0..<sk where dropped[j] != 0 {
                        let vo = p.kOffset(b, j, kh)
                        for d in 0..<D { o[d] += dropped[j] * v[vo + d] }
                    }
                    for d in 0..<D {
                        o[d] = given.map { $0.out[qo + d] } ?? r(o[d])
                        out[qo + d] = Double(o[d])
                    }
                    guard backward else { continue }
                    var rowDot: Float = 0
                    for d in 0..<D { rowDot += g[qo + d] * o[d] }
                    rowDot = r(rowDot)
                    for d in 0..<D { dqRow[d] = 0 }
                    for j in 0..<sk {
                        guard probs[j] != 0 else { continue }
                        let vo = p.kOffset(b, j, kh)
                        var dot: Float = 0
                        for d in 0..<D { dot += g[qo + d] * v[vo + d] }
                        let factor = Float(p.dropoutFactor(stream, i, j))
                        dp[j] = factor == 1 ? r(dot) : r(r(dot) * factor)
                        if dropped[j] != 0 { for d in 0..<D { dvAcc[vo + d] += dropped[j] * g[qo + d] } }
                        var ds = r(probs[j] * r(dp[j] - rowDot))
                        if cap > 0 { ds = r(ds * r(1 - r(capped[j] * capped[j]))) }
                        guard ds != 0 else { continue }
                        let ko = p.kOffset(b, j, kh)
                        for d in 0..<D {
                            dqRow[d] += ds * k[ko + d]
                            dkAcc[ko + d] += ds * q[qo + d]
                        }
                    }
                    for d in 0..<D { dq[qo + d] = Double(r(r(dqRow[d]) * scale)) }
                }
            }
        }
        let forward = ReferenceAttention.Forward(out: out, lse: lse)
        guard backward else { return (forward, nil) }
        let dk = dkAcc.map { Double(r(r($0) * scale)) }, dv = dvAcc.map { Double(r($0)) }
        return (forward, ReferenceAttention.Gradients(dq: dq, dk: dk, dv: dv))
    }
}
