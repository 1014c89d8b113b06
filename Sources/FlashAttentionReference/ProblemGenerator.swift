import FlashAttentionCore

/// An attention option a generated case may be asked to have (or not).
public enum OptionKind: String, Sendable, CaseIterable, Hashable {
    case causal
    /// A sliding window (left and/or right bounded).
    case window
    case softcap
    /// ALiBi slopes of shape (H).
    case alibiHeads
    /// ALiBi slopes of shape (B, H).
    case alibiBatchHeads
    case dropout
    /// An explicit softmax scale (including a negative one).
    case scale
}

/// Requirements on a generated case; `nil` leaves the choice to the random draw.
public struct ProblemConstraints: Sendable, Hashable {
    public var seqlenQ: Int?
    public var seqlenK: Int?
    public var headDim: Int?
    public var elementType: ElementType?
    /// Query heads per KV head (1, 4, 8, …).
    public var groupSize: Int?
    /// Exactly these options (the others off); `nil` draws each at random.
    public var options: Set<OptionKind>?
    public var varlen: Bool?
    /// Non-contiguous views.
    public var strided: Bool?
    /// Force rows that see no key (Sq > Sk with causal, or a window that misses every key).
    public var emptyRows: Bool?
    /// Cap on ``ProblemSpec/work``: batch and heads are reduced to fit (lengths and head dim
    /// are kept).
    public var maxWork: Int?

    public init(
        seqlenQ: Int? = nil, seqlenK: Int? = nil, headDim: Int? = nil, elementType: ElementType? = nil,
        groupSize: Int? = nil, options: Set<OptionKind>? = nil, varlen: Bool? = nil, strided: Bool? = nil,
        emptyRows: Bool? = nil, maxWork: Int? = nil
    ) {
        self.seqlenQ = seqlenQ
        self.seqlenK = seqlenK
        self.headDim = headDim
        self.elementType = elementType
        self.groupSize = groupSize
        self.options = options
        self.varlen = varlen
        self.strided = strided
        self.emptyRows = emptyRows
        self.maxWork = maxWork
    }
}

/// Draws reproducible random attention cases: case `index` of generator `seed` is always the
/// same problem, so a failure is re-run from those two numbers.
public struct ProblemGenerator: Sendable {
    public var seed: UInt64
    public var elementTypes: [ElementType]
    /// Default cap on ``ProblemSpec/work`` when the constraints give none.
    public var maxWork: Int
    /// Sequence lengths drawn (70% of the time; otherwise a length in 0...40).
    public var lengths: [Int]
    /// Head dims drawn.
    public var headDims: [Int]

    public static let lengths = [1, 7, 23, 113, 777]
    public static let headDims = [1, 7, 40, 59, 80, 111, 256]
    public static let groupSizes = [1, 4, 8]

    public init(seed: UInt64, elementTypes: [ElementType] = ElementType.allCases, maxWork: Int = 3_000_000,
                lengths: [Int] = ProblemGenerator.lengths, headDims: [Int] = ProblemGenerator.headDims) {
        self.seed = seed
        self.elementTypes = elementTypes.isEmpty ? ElementType.allCases : elementTypes
        self.maxWork = maxWork
        self.lengths = lengths.isEmpty ? ProblemGenerator.lengths : lengths
        self.headDims = headDims.isEmpty ? ProblemGenerator.headDims : headDims
    }

    public func spec(index: Int, constraints c: ProblemConstraints = ProblemConstraints()) -> ProblemSpec {
        var rng = SeededRandom(seed: SeededRandom.derive(seed, UInt64(index)))
        let elementType = c.elementType ?? rng.pick(elementTypes)
        let headDim = c.headDim ?? rng.pick(headDims)
        func length() -> Int { rng.chance(0.7) ? rng.pick(lengths) : rng.int(in: 0...40) }
        var sq = c.seqlenQ ?? length()
        var sk = c.seqlenK ?? length()
        if c.seqlenQ == nil && c.seqlenK == nil && sq == sk && rng.chance(0.7) { sk = length() }
        var group = c.groupSize ?? rng.pick(ProblemGenerator.groupSizes)
        var kvHeads = rng.int(in: 1...2)
        var batch = rng.int(in: 1...3)

        // Options.
        let chosen: Set<OptionKind> = c.options ?? Set(OptionKind.allCases.filter { kind in
            switch kind {
            case .causal: rng.chance(0.35)
            case .window: rng.chance(0.25)
            case .softcap, .dropout, .scale: rng.chance(0.25)
            case .alibiHeads, .alibiBatchHeads: rng.chance(0.12)
            }
        })
        let causal = chosen.contains(.causal)
        var window = SlidingWindow.unbounded
        if chosen.contains(.window) {
            func bound(_ n: Int) -> Int { rng.pick([-1, 0, 1, 3, rng.int(in: 0...max(n, 0))]) }
            window = SlidingWindow(left: bound(sk), right: bound(sk))
            if window == .unbounded { window.left = rng.int(in: 0...4) }
        }
        if c.emptyRows == true {
            // Row i sees nothing iff i + Sk − Sq + right < 0 (with right = 0 under causal).
            if sq <= sk + 1 {
                if c.seqlenQ == nil { sq = sk + rng.int(in: 2...9) } else if c.seqlenK == nil { sk = max(sq - rng.int(in: 2...9), 0) }
            }
            if !causal && (window.right < 0 || window.right > sq - sk - 2) {
                window.right = rng.int(in: 0...max(sq - sk - 2, 0))
            }
        }
        let softcap: Float = chosen.contains(.softcap) ? rng.pick([0.5, 5, 30]) : 0
        let alibi: ALiBiShape? = chosen.contains(.alibiBatchHeads) ? .batchHeads : chosen.contains(.alibiHeads) ? .heads : nil
        let dropout: Dropout? = chosen.contains(.dropout)
            ? Dropout(probability: rng.pick([0, 0.1, 0.5, 0.83]), seed: rng.next() >> 1) : nil
        let scale: Float? = chosen.contains(.scale)
            ? rng.pick([0.3, 1.7, 3, -1]) / Float(headDim).squareRoot() : nil

        // Layout.
        var varlen: VarlenSpec?
        if c.varlen ?? rng.chance(0.2) {
            let count = rng.int(in: 1...4)
            var lq = [Int](), lk = [Int]()
            for index in 0..<count {
                // The first sequence takes the drawn lengths; others are shorter, some empty.
                if index == 0 {
                    lq.append(sq)
                    lk.append(sk)
                } else {
                    lq.append(rng.chance(0.2) ? 0 : rng.int(in: 0...sq))
                    lk.append(rng.chance(0.2) ? 0 : rng.int(in: 0...sk))
                }
            }
            varlen = VarlenSpec(seqlensQ: lq, seqlensK: lk)
        }
        var strides = [StridePattern]()
        if c.strided ?? rng.chance(0.3) {
            strides = TensorRole.allCases.map { _ in rng.pick(StridePattern.allCases) }
            if !strides.contains(where: { $0 != .contiguous }) { strides[0] = .transposed }
        }
        let float32Outputs = elementType != .float32 && rng.chance(0.1)
        let distribution: ValueDistribution = rng.chance(0.6) ? .normal : rng.pick([.uniform, .shifted])
        let requestLSE = rng.chance(0.9)
        let valueSeed = rng.next() >> 1

        var spec = ProblemSpec(
            batch: batch, seqlenQ: sq, seqlenK: sk, heads: kvHeads * group, kvHeads: kvHeads, headDim: headDim,
            elementType: elementType, float32Outputs: float32Outputs, causal: causal, window: window, softcap: softcap,
            alibi: alibi, dropout: dropout, softmaxScale: scale, varlen: varlen, strides: strides,
            distribution: distribution, requestLSE: requestLSE, valueSeed: valueSeed)
        // Fit the cost: fewer batch entries, then fewer KV heads, then a smaller group (unless
        // constrained), then fewer sequences.
        let cap = c.maxWork ?? maxWork
        while spec.work > cap {
            if spec.varlen == nil && batch > 1 {
                batch -= 1
            } else if kvHeads > 1 {
                kvHeads -= 1
            } else if c.groupSize == nil && group > 1 {
                group = group == 8 ? 4 : 1
            } else if var v = spec.varlen, v.seqlensQ.count > 1 {
                v.seqlensQ.removeLast()
                v.seqlensK.removeLast()
                spec.varlen = v
            } else {
                break
            }
            spec = ProblemSpec(
                batch: batch, seqlenQ: sq, seqlenK: sk, heads: kvHeads * group, kvHeads: kvHeads, headDim: headDim,
                elementType: elementType, float32Outputs: float32Outputs, causal: causal, window: window, softcap: softcap,
                alibi: alibi, dropout: dropout, softmaxScale: scale, varlen: spec.varlen, strides: strides,
                distribution: distribution, requestLSE: requestLSE, valueSeed: valueSeed)
        }
        return spec
    }
}
