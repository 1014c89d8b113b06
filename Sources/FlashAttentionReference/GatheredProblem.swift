import FlashAttentionCore

/// An attention call's inputs copied out of their (strided, any-precision) views into dense
/// float64 arrays, with the semantics spelled out once for the oracles.
///
/// Sequence tensors are laid out token-major, (tokens, heads, D) row-major, where the token of
/// (batch b, position i) is `b·S + i` (dense) or `cuSeqlens[b] + i` (varlen): the layout of
/// ``ReferenceAttention/Forward/out`` and the gradients.
///
/// The mask is evaluated from the documented predicate itself, not through ``MaskGeometry``,
/// so the oracle does not share code with the backends it checks.
struct GatheredProblem {
    let layout: AttentionLayout
    let options: AttentionOptions
    let q: [Double]
    let k: [Double]
    let v: [Double]
    /// Empty for a forward call.
    let dOut: [Double]
    /// ALiBi slope of (b, h) at `b·H + h`; empty without ALiBi.
    let slopes: [Double]
    let scale: Double
    let softcap: Double
    let dropout: DropoutMask?

    init(_ arguments: ForwardArguments) throws {
        let layout = try arguments.validate(maxHeadDim: .max)
        try self.init(layout: layout, options: arguments.options, q: arguments.q, k: arguments.k, v: arguments.v, dOut: nil)
    }

    init(_ arguments: BackwardArguments) throws {
        let layout = try arguments.validate(maxHeadDim: .max)
        try self.init(layout: layout, options: arguments.options, q: arguments.q, k: arguments.k, v: arguments.v,
                      dOut: arguments.dOut)
    }

    private init(layout: AttentionLayout, options: AttentionOptions, q: TensorView, k: TensorView, v: TensorView, dOut: TensorView?) throws {
        for view in [q, k, v] + (dOut.map { [$0] } ?? []) where view.device != .cpu {
            throw FlashAttentionError.invalidArgument(name: "device", expected: "host tensors for the reference, got \(view.device)")
        }
        self.layout = layout
        self.options = options
        self.q = GatheredProblem.gather(q, layout.addressing(q: q), layout: layout, heads: layout.heads, keys: false)
        self.k = GatheredProblem.gather(k, layout.addressing(k: k), layout: layout, heads: layout.kvHeads, keys: true)
        self.v = GatheredProblem.gather(v, layout.addressing(k: v), layout: layout, heads: layout.kvHeads, keys: true)
        self.dOut = dOut.map { GatheredProblem.gather($0, layout.addressing(q: $0), layout: layout, heads: layout.heads, keys: false) } ?? []
        if let alibi = options.alibi {
            var slopes = [Double]()
            for b in 0..<layout.batch {
                for h in 0..<layout.heads { slopes.append(Double(alibi.slope(batch: b, head: h))) }
            }
            self.slopes = slopes
        } else {
            slopes = []
        }
        scale = Double(options.scale(headDim: layout.headDim))
        softcap = Double(options.softcap)
        dropout = options.dropout.map(DropoutMask.init)
    }

    /// Dense copy of a (B, S, heads, D) or (total, heads, D) view, token-major.
    static func gather(_ view: TensorView, _ addressing: SequenceAddressing, layout: AttentionLayout, heads: Int, keys: Bool) -> [Double] {
        let D = layout.headDim
        let total = keys ? layout.totalK : layout.totalQ
        var result = [Double](repeating: 0, count: total * heads * D)
        for b in 0..<layout.batch {
            let length = keys ? layout.seqlenK(batch: b) : layout.seqlenQ(batch: b)
            for row in 0..<length {
                let token = keys ? tokenK(layout, b, row) : tokenQ(layout, b, row)
                for h in 0..<heads {
                    let base = addressing.offset(batch: b, row: row, head: h)
                    for d in 0..<D { result[(token * heads + h) * D + d] = Double(view.load(at: base + d * addressing.dimStride)) }
                }
            }
        }
        return result
    }

    static func tokenQ(_ layout: AttentionLayout, _ b: Int, _ i: Int) -> Int {
        layout.varlen.map { $0.cuSeqlensQ[b] + i } ?? b * layout.seqlenQ + i
    }

    static func tokenK(_ layout: AttentionLayout, _ b: Int, _ j: Int) -> Int {
        layout.varlen.map { $0.cuSeqlensK[b] + j } ?? b * layout.seqlenK + j
    }

    /// Offset of (b, h, i) in an LSE array laid out as the lse argument: (B, H, Sq) or (H, totalQ).
    static func lseIndex(_ layout: AttentionLayout, _ b: Int, _ h: Int, _ i: Int) -> Int {
        if let varlen = layout.varlen { return h * layout.totalQ + varlen.cuSeqlensQ[b] + i }
        return (b * layout.heads + h) * layout.seqlenQ + i
    }

    /// Offset of element (b, i, h, d = 0) in `q`, `dOut` and a q-shaped result.
    func qOffset(_ b: Int, _ i: Int, _ h: Int) -> Int {
        (GatheredProblem.tokenQ(layout, b, i) * layout.heads + h) * layout.headDim
    }

    /// Offset of element (b, j, kvHead, d = 0) in `k`, `v` and a k-shaped result.
    func kOffset(_ b: Int, _ j: Int, _ kvHead: Int) -> Int {
        (GatheredProblem.tokenK(layout, b, j) * layout.kvHeads + kvHead) * layout.headDim
    }

    /// Whether query i sees key j in a sequence of sq queries and sk keys: the bottom-right
    /// aligned causal mask and window, straight from their definitions.
    func visible(_ i: Int, _ j: Int, sq: Int, sk: Int) -> Bool {
        GatheredProblem.visible(options, i, j, sq: sq, sk: sk)
    }

    static func visible(_ options: AttentionOptions, _ i: Int, _ j: Int, sq: Int, sk: Int) -> Bool {
        let diagonal = i + sk - sq
        if options.causal && j > diagonal { return false }
        if options.window.left >= 0 && j < diagonal - options.window.left { return false }
        if options.window.right >= 0 && j > diagonal + options.window.right { return false }
        return true
    }

    /// Distance term of ALiBi: |i + Sk − Sq − j|.
    func alibiDistance(_ i: Int, _ j: Int, sq: Int, sk: Int) -> Double { Double(abs(i + sk - sq - j)) }

    func slope(_ b: Int, _ h: Int) -> Double? { slopes.isEmpty ? nil : slopes[b * layout.heads + h] }

    /// The dropout factor of (b, h, i, j): 0 if dropped, 1/(1 − p) if kept, 1 without dropout.
    func dropoutFactor(_ stream: UInt64?, _ i: Int, _ j: Int) -> Double {
        guard let dropout, let stream else { return 1 }
        return dropout.keep(streamKey: stream, row: i, column: j) ? Double(dropout.keepScale) : 0
    }

    func stream(_ b: Int, _ h: Int) -> UInt64? { dropout?.streamKey(batch: b, head: h) }
}
