import FlashAttentionCore

#if canImport(Glibc)
import Glibc
#endif

/// Naive attention in float64: the oracle every backend is checked against.
///
/// It materialises one row of scores at a time and follows the semantics of
/// ``AttentionOptions`` literally, so it is slow and obviously right. Inputs are read through
/// their views (converted to float64 from their storage type).
public enum ReferenceAttention {
    /// The forward result: out (B, Sq, H, D) or (totalQ, H, D) row-major, and lse laid out like
    /// the lse argument (B, H, Sq) or (H, totalQ).
    public struct Forward: Sendable {
        public var out: [Double]
        public var lse: [Double]
    }

    public struct Gradients: Sendable {
        public var dq: [Double]
        public var dk: [Double]
        public var dv: [Double]
    }

    /// The score of (query i, key j) for sequence (b, h), masked scores as −∞.
    static func scores(
        layout: AttentionLayout, options: AttentionOptions, b: Int, h: Int, i: Int,
        q: TensorView, k: TensorView, qa: SequenceAddressing, ka: SequenceAddressing
    ) -> [Double] {
        let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
        let geometry = MaskGeometry(seqlenQ: sq, seqlenK: sk, options: options)
        let visible = geometry.keyRange(row: i)
        let scale = Double(options.scale(headDim: layout.headDim))
        let cap = Double(options.softcap)
        let slope = options.alibi.map { Double($0.slope(batch: b, head: h)) }
        let kh = h / layout.groupSize
        let qo = qa.offset(batch: b, row: i, head: h)
        var row = [Double](repeating: -.infinity, count: sk)
        for j in visible {
            let ko = ka.offset(batch: b, row: j, head: kh)
            var dot = 0.0
            for d in 0..<layout.headDim {
                dot += Double(q.load(at: qo + d * qa.dimStride)) * Double(k.load(at: ko + d * ka.dimStride))
            }
            var s = dot * scale
            if cap > 0 { s = cap * tanh(s / cap) }
            if let slope { s -= slope * Double(abs(i + sk - sq - j)) }
            row[j] = s
        }
        return row
    }

    /// Offsets into a dense row-major result tensor shaped like q (or k).
    static func denseOffset(layout: AttentionLayout, b: Int, row: Int, head: Int, heads: Int, starts: [Int]?) -> Int {
        let token = starts.map { $0[b] + row } ?? (b * (heads == layout.heads ? layout.seqlenQ : layout.seqlenK) + row)
        return (token * heads + head) * layout.headDim
    }

    static func lseOffset(layout: AttentionLayout, b: Int, h: Int, i: Int) -> Int {
        if let varlen = layout.varlen { return h * layout.totalQ + varlen.cuSeqlensQ[b] + i }
        return (b * layout.heads + h) * layout.seqlenQ + i
    }

    /// Computes out and lse. `arguments.out` and `arguments.lse` are not touched.
    public static func forward(_ arguments: ForwardArguments) throws -> Forward {
        let layout = try arguments.validate()
        let options = arguments.options
        let qa = layout.addressing(q: arguments.q), ka = layout.addressing(k: arguments.k)
        let va = layout.addressing(k: arguments.v)
        let D = layout.headDim
        var out = [Double](repeating: 0, count: layout.totalQ * layout.heads * D)
        var lse = [Double](repeating: .infinity, count: layout.totalQ * layout.heads)
        let mask = options.dropout.map(DropoutMask.init)
        for b in 0..<layout.batch {
            let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
            for h in 0..<layout.heads {
                let kh = h / layout.groupSize
                let stream = mask?.streamKey(batch: b, head: h)
                for i in 0..<sq {
                    let s = scores(layout: layout, options: options, b: b, h: h, i: i,
                                   q: arguments.q, k: arguments.k, qa: qa, ka: ka)
                    let m = s.max() ?? -.infinity
                    guard m > -.infinity else { continue }  // no visible key: out 0, lse +inf
                    let p = s.map { exp($0 - m) }
                    let sum = p.reduce(0, +)
                    lse[lseOffset(layout: layout, b: b, h: h, i: i)] = m + log(sum)
                    let o = denseOffset(layout: layout, b: b, row: i, head: h, heads: layout.heads, starts: layout.varlen?.cuSeqlensQ)
                    for j in 0..<sk where p[j] > 0 {
                        var w = p[j] / sum
                        if let mask, let stream {
                            w = mask.keep(streamKey: stream, row: i, column: j) ? w * Double(mask.keepScale) : 0
                        }
                        let vo = va.offset(batch: b, row: j, head: kh)
                        for d in 0..<D { out[o + d] += w * Double(arguments.v.load(at: vo + d * va.dimStride)) }
                    }
                }
            }
        }
        return Forward(out: out, lse: lse)
    }

    /// Computes dq, dk, dv from dOut (read from `arguments.dOut`). The forward is recomputed
    /// here in float64; `arguments.out` and `arguments.lse` are not read.
    public static func backward(_ arguments: BackwardArguments) throws -> Gradients {
        let layout = try arguments.validate()
        let options = arguments.options
        let qa = layout.addressing(q: arguments.q), ka = layout.addressing(k: arguments.k)
        let va = layout.addressing(k: arguments.v), ga = layout.addressing(q: arguments.dOut)
        let D = layout.headDim
        let scale = Double(options.scale(headDim: D)), cap = Double(options.softcap)
        var dq = [Double](repeating: 0, count: layout.totalQ * layout.heads * D)
        var dk = [Double](repeating: 0, count: layout.totalK * layout.kvHeads * D)
        var dv = dk
        let mask = options.dropout.map(DropoutMask.init)
        let startsK = layout.varlen?.cuSeqlensK
        for b in 0..<layout.batch {
            let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
            for h in 0..<layout.heads {
                let kh = h / layout.groupSize
                let stream = mask?.streamKey(batch: b, head: h)
                for i in 0..<sq {
                    let s = scores(layout: layout, options: options, b: b, h: h, i: i,
                                   q: arguments.q, k: arguments.k, qa: qa, ka: ka)
                    let m = s.max() ?? -.infinity
                    guard m > -.infinity else { continue }
                    let e = s.map { exp($0 - m) }
                    let sum = e.reduce(0, +)
                    let p = e.map { $0 / sum }
                    // keep[j]·scale: the dropout factor applied to p in the output.
                    let factor: [Double] = (0..<sk).map { j in
                        guard let mask, let stream else { return 1 }
                        return mask.keep(streamKey: stream, row: i, column: j) ? Double(mask.keepScale) : 0
                    }
                    let go = ga.offset(batch: b, row: i, head: h)
                    let g = (0..<D).map { Double(arguments.dOut.load(at: go + $0 * ga.dimStride)) }
                    // dP_j = factor_j · dO·V_j ;  dS_j = P_j (dP_j − Σ_l P_l dP_l)
                    var dp = [Double](repeating: 0, count: sk)
                    for j in 0..<sk where p[j] > 0 {
                        let vo = va.offset(batch: b, row: j, head: kh)
                        var dot = 0.0
                        for d in 0..<D { dot += g[d] * Double(arguments.v.load(at: vo + d * va.dimStride)) }
                        dp[j] = dot * factor[j]
                        let dvo = denseOffset(layout: layout, b: b, row: j, head: kh, heads: layout.kvHeads, starts: startsK)
                        for d in 0..<D { dv[dvo + d] += p[j] * factor[j] * g[d] }
                    }
                    let rowDot = (0..<sk).reduce(0.0) { $0 + p[$1] * dp[$1] }
                    let qo = qa.offset(batch: b, row: i, head: h)
                    let dqo = denseOffset(layout: layout, b: b, row: i, head: h, heads: layout.heads, starts: layout.varlen?.cuSeqlensQ)
                    for j in 0..<sk where p[j] > 0 {
                        var ds = p[j] * (dp[j] - rowDot)  // dL/d(score after softcap and alibi)
                        if cap > 0 {
                            // score = cap·tanh(x/cap) with x = scale·q·k: d/dx = 1 − tanh²
                            let t = tanh(rawScore(arguments, layout, qa, ka, b, h, i, j, kh) * scale / cap)
                            ds *= 1 - t * t
                        }
                        ds *= scale
                        let ko = ka.offset(batch: b, row: j, head: kh)
                        let dko = denseOffset(layout: layout, b: b, row: j, head: kh, heads: layout.kvHeads, starts: startsK)
                        for d in 0..<D {
                            dq[dqo + d] += ds * Double(arguments.k.load(at: ko + d * ka.dimStride))
                            dk[dko + d] += ds * Double(arguments.q.load(at: qo + d * qa.dimStride))
                        }
                    }
                }
            }
        }
        return Gradients(dq: dq, dk: dk, dv: dv)
    }

    static func rawScore(
        _ a: BackwardArguments, _ layout: AttentionLayout, _ qa: SequenceAddressing, _ ka: SequenceAddressing,
        _ b: Int, _ h: Int, _ i: Int, _ j: Int, _ kh: Int
    ) -> Double {
        let qo = qa.offset(batch: b, row: i, head: h), ko = ka.offset(batch: b, row: j, head: kh)
        var dot = 0.0
        for d in 0..<layout.headDim {
            dot += Double(a.q.load(at: qo + d * qa.dimStride)) * Double(a.k.load(at: ko + d * ka.dimStride))
        }
        return dot
    }
}
