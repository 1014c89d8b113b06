import FlashAttentionCore

#if canImport(Glibc)
import Glibc
#endif

/// Naive attention in float64: the oracle every backend is checked against.
///
/// It copies the inputs out of their views (converted to float64 from their storage type),
/// materialises one row of scores at a time and follows the semantics of
/// ``AttentionOptions`` literally, so it is slow and obviously right.
public enum ReferenceAttention {
    /// The forward result: out (B, Sq, H, D) or (totalQ, H, D) row-major, and lse laid out like
    /// the lse argument (B, H, Sq) or (H, totalQ). A row that sees no key has out 0 and lse +∞.
    public struct Forward: Sendable {
        public var out: [Double]
        public var lse: [Double]

        public init(out: [Double], lse: [Double]) {
            self.out = out
            self.lse = lse
        }
    }

    /// dq shaped like q, dk and dv like k, row-major (dense or packed varlen).
    public struct Gradients: Sendable {
        public var dq: [Double]
        public var dk: [Double]
        public var dv: [Double]

        public init(dq: [Double], dk: [Double], dv: [Double]) {
            self.dq = dq
            self.dk = dk
            self.dv = dv
        }
    }

    /// Computes out and lse. `arguments.out` and `arguments.lse` are not touched.
    public static func forward(_ arguments: ForwardArguments) throws -> Forward {
        forward(try GatheredProblem(arguments))
    }

    /// Computes dq, dk, dv from dOut (read from `arguments.dOut`). The forward is recomputed
    /// here in float64; `arguments.out` and `arguments.lse` are not read.
    public static func backward(_ arguments: BackwardArguments) throws -> Gradients {
        backward(try GatheredProblem(arguments))
    }

    /// Scores of row i against every key of its sequence, −∞ where masked: scale·q·k, then the
    /// softcap, then ALiBi. `raw` receives q·k (before scale) for the softcap derivative.
    static func scores(_ p: GatheredProblem, b: Int, h: Int, i: Int, into s: inout [Double], raw: inout [Double]) {
        let layout = p.layout, D = layout.headDim
        let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
        let kh = h / layout.groupSize
        let qo = p.qOffset(b, i, h)
        let slope = p.slope(b, h)
        for j in 0..<sk {
            guard p.visible(i, j, sq: sq, sk: sk) else {
                s[j] = -.infinity
                continue
            }
            let ko = p.kOffset(b, j, kh)
            var dot = 0.0
            for d in 0..<D { dot += p.q[qo + d] * p.k[ko + d] }
            raw[j] = dot
            var x = dot * p.scale
            if p.softcap > 0 { x = p.softcap * tanh(x / p.softcap) }
            if let slope { x -= slope * p.alibiDistance(i, j, sq: sq, sk: sk) }
            s[j] = x
        }
    }

    static func forward(_ p: GatheredProblem) -> Forward {
        let layout = p.layout, D = layout.headDim
        var out = [Double](repeating: 0, count: layout.totalQ * layout.heads * D)
        var lse = [Double](repeating: .infinity, count: layout.totalQ * layout.heads)
        var s = [Double](repeating: 0, count: layout.seqlenK), raw = s
        for b in 0..<layout.batch {
            let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
            for h in 0..<layout.heads {
                let kh = h / layout.groupSize
                let stream = p.stream(b, h)
                for i in 0..<sq {
                    scores(p, b: b, h: h, i: i, into: &s, raw: &raw)
                    let m = s[0..<sk].max() ?? -.infinity
                    guard m > -.infinity else { continue }  // no visible key: out 0, lse +∞
                    var sum = 0.0
                    for j in 0..<sk { sum += exp(s[j] - m) }
                    lse[GatheredProblem.lseIndex(layout, b, h, i)] = m + log(sum)
                    let o = p.qOffset(b, i, h)
                    for j in 0..<sk where s[j] > -.infinity {
                        let w = exp(s[j] - m) / sum * p.dropoutFactor(stream, i, j)
                        guard w != 0 else { continue }
                        let vo = p.kOffset(b, j, kh)
                        for d in 0..<D { out[o + d] += w * p.v[vo + d] }
                    }
                }
            }
        }
        return Forward(out: out, lse: lse)
    }

    static func backward(_ p: GatheredProblem) -> Gradients { backwardWithScales(p).gradients }

    /// The gradients, and for dq and dk the norm of what they would be without the
    /// cancellation in dS = P∘(dP − D): each dP − D replaced by its magnitude
    /// (Σ_d |dO||V| + Σ_d |dO||O|)/√D. Where every row sees one key, dS is exactly 0 while a
    /// float32 computation of dP − D leaves rounding noise of about that magnitude; the
    /// ``Verifier`` measures relative to this scale when the gradient itself is far smaller.
    static func backwardWithScales(_ p: GatheredProblem) -> (gradients: Gradients, dqScale: Double, dkScale: Double) {
        let layout = p.layout, D = layout.headDim
        var dq = [Double](repeating: 0, count: layout.totalQ * layout.heads * D)
        var dk = [Double](repeating: 0, count: layout.totalK * layout.kvHeads * D)
        var dv = dk, dqMagnitude = dq, dkMagnitude = dk
        var s = [Double](repeating: 0, count: layout.seqlenK), raw = s, prob = s, dp = s, absDot = s
        var o = [Double](repeating: 0, count: D)
        let rootD = Double(D).squareRoot()
        for b in 0..<layout.batch {
            let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
            for h in 0..<layout.heads {
                let kh = h / layout.groupSize
                let stream = p.stream(b, h)
                for i in 0..<sq {
                    scores(p, b: b, h: h, i: i, into: &s, raw: &raw)
                    let m = s[0..<sk].max() ?? -.infinity
                    guard m > -.infinity else { continue }
                    var sum = 0.0
                    for j in 0..<sk { sum += exp(s[j] - m) }
                    for j in 0..<sk { prob[j] = exp(s[j] - m) / sum }
                    let go = p.qOffset(b, i, h)
                    // O = Σ_j P_j·f_j·V_j with f the dropout factor, so dP_j = f_j·(dO·V_j),
                    // dV_j += P_j·f_j·dO, and dS_j = P_j·(dP_j − Σ_l P_l·dP_l) where the sum is dO·O.
                    var rowDot = 0.0
                    for d in 0..<D { o[d] = 0 }
                    for j in 0..<sk {
                        dp[j] = 0
                        guard prob[j] > 0 else { continue }
                        let factor = p.dropoutFactor(stream, i, j)
                        let vo = p.kOffset(b, j, kh)
                        var dot = 0.0, magnitude = 0.0
                        for d in 0..<D {
                            dot += p.dOut[go + d] * p.v[vo + d]
                            magnitude += abs(p.dOut[go + d] * p.v[vo + d])
                        }
                        dp[j] = dot * factor
                        absDot[j] = magnitude * factor
                        rowDot += prob[j] * dp[j]
                        let w = prob[j] * factor
                        if w != 0 {
                            for d in 0..<D {
                                dv[vo + d] += w * p.dOut[go + d]
                                o[d] += w * p.v[vo + d]
                            }
                        }
                    }
                    var rowMagnitude = 0.0
                    for d in 0..<D { rowMagnitude += abs(p.dOut[go + d] * o[d]) }
                    for j in 0..<sk where prob[j] > 0 {
                        // dL/d(score after softcap and ALiBi); ALiBi does not depend on q or k.
                        var ds = prob[j] * (dp[j] - rowDot)
                        var dsMagnitude = prob[j] * (absDot[j] + rowMagnitude) / rootD
                        if p.softcap > 0 {
                            // score = c·tanh(x/c) with x = scale·q·k: d/dx = 1 − tanh²(x/c)
                            let t = tanh(raw[j] * p.scale / p.softcap)
                            ds *= 1 - t * t
                            dsMagnitude *= 1 - t * t
                        }
                        ds *= p.scale
                        dsMagnitude *= abs(p.scale)
                        let ko = p.kOffset(b, j, kh)
                        for d in 0..<D {
                            dq[go + d] += ds * p.k[ko + d]
                            dk[ko + d] += ds * p.q[go + d]
                            dqMagnitude[go + d] += dsMagnitude * p.k[ko + d]
                            dkMagnitude[ko + d] += dsMagnitude * p.q[go + d]
                        }
                    }
                }
            }
        }
        func norm(_ x: [Double]) -> Double { x.reduce(0) { $0 + $1 * $1 }.squareRoot() }
        return (Gradients(dq: dq, dk: dk, dv: dv), norm(dqMagnitude), norm(dkMagnitude))
    }
}
