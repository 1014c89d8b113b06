import FlashAttentionCore

/// The tensors of an attention call, in a fixed order (used to assign stride patterns).
public enum TensorRole: Int, Sendable, CaseIterable, CustomStringConvertible {
    case q, k, v, out, lse, dOut, dq, dk, dv

    public var description: String {
        switch self {
        case .q: "q"
        case .k: "k"
        case .v: "v"
        case .out: "out"
        case .lse: "lse"
        case .dOut: "dout"
        case .dq: "dq"
        case .dk: "dk"
        case .dv: "dv"
        }
    }

    /// Shaped like k (else like q, or the LSE).
    var isKeyShaped: Bool { self == .k || self == .v || self == .dk || self == .dv }
}

/// How a tensor's elements are placed in memory, so views have non-trivial strides.
public enum StridePattern: String, Sendable, CaseIterable, Hashable {
    /// Row-major, dense.
    case contiguous
    /// Sequence and head axes exchanged in memory ((B, H, S, D) storage viewed as (B, S, H, D));
    /// for the LSE, (B, Sq, H) storage viewed as (B, H, Sq).
    case transposed
    /// Heads sliced out of a tensor with more heads (a nonzero start offset and a head stride
    /// larger than the head count suggests); for the LSE, a slice of a longer row axis.
    case slicedHeads
    /// Padding after every head and every row (head stride D + 1..3, row stride larger still).
    case paddedRows
    /// Head-dim stride 2 (every other element), the last axis not unit-stride.
    case spacedDims

    var code: Character {
        switch self {
        case .contiguous: "c"
        case .transposed: "t"
        case .slicedHeads: "s"
        case .paddedRows: "p"
        case .spacedDims: "d"
        }
    }

    init?(code: Character) {
        guard let match = StridePattern.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }
}

/// The shape of the ALiBi slopes tensor.
public enum ALiBiShape: String, Sendable, Hashable {
    /// (H)
    case heads
    /// (B, H)
    case batchHeads
}

/// The distribution of input values (before rounding to the element type).
public enum ValueDistribution: String, Sendable, Hashable, CaseIterable {
    /// N(0, 1).
    case normal
    /// U(−1, 1).
    case uniform
    /// N(0, 1) for v and dO, N(1.5, 1) for q and k: large, same-signed scores that stress the
    /// running maximum.
    case shifted
}

/// A variable-length batch by its sequence lengths (zero lengths allowed).
public struct VarlenSpec: Sendable, Hashable {
    public var seqlensQ: [Int]
    public var seqlensK: [Int]

    public init(seqlensQ: [Int], seqlensK: [Int]) {
        self.seqlensQ = seqlensQ
        self.seqlensK = seqlensK
    }

    static func offsets(_ lengths: [Int]) -> [Int] {
        var result = [0]
        for length in lengths { result.append(result.last! + length) }
        return result
    }

    public var layout: VarlenLayout {
        VarlenLayout(cuSeqlensQ: VarlenSpec.offsets(seqlensQ), cuSeqlensK: VarlenSpec.offsets(seqlensK))
    }
}

/// Everything that defines one test problem: sizes, element type, options, memory layout and
/// the seed of its values. ``RandomProblem`` materialises it; its ``description`` is a
/// one-line reproducer.
public struct ProblemSpec: Sendable, Hashable, CustomStringConvertible {
    public var batch: Int
    /// Dense lengths; for varlen the maxima (derived).
    public var seqlenQ: Int
    public var seqlenK: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var elementType: ElementType
    /// Write out and the gradients in float32 whatever the input type.
    public var float32Outputs: Bool
    public var causal: Bool
    public var window: SlidingWindow
    public var softcap: Float
    public var alibi: ALiBiShape?
    public var dropout: Dropout?
    public var softmaxScale: Float?
    public var varlen: VarlenSpec?
    /// One pattern per ``TensorRole`` (in its order); empty means all contiguous.
    public var strides: [StridePattern]
    public var distribution: ValueDistribution
    /// Pass an lse tensor to the forward (the backward always gets one).
    public var requestLSE: Bool
    /// Seeds the tensor values (and ALiBi slopes).
    public var valueSeed: UInt64
    /// The backward's ``AttentionOptions/deterministic``: false lets a backend add dQ in arrival
    /// order (the reference library's default), which the oracle must cover too.
    public var deterministic = true

    public init(
        batch: Int = 1, seqlenQ: Int, seqlenK: Int, heads: Int = 1, kvHeads: Int? = nil, headDim: Int,
        elementType: ElementType = .float32, float32Outputs: Bool = false, causal: Bool = false,
        window: SlidingWindow = .unbounded, softcap: Float = 0, alibi: ALiBiShape? = nil, dropout: Dropout? = nil,
        softmaxScale: Float? = nil, varlen: VarlenSpec? = nil, strides: [StridePattern] = [],
        distribution: ValueDistribution = .normal, requestLSE: Bool = true, valueSeed: UInt64 = 0
    ) {
        self.batch = batch
        self.seqlenQ = seqlenQ
        self.seqlenK = seqlenK
        self.heads = heads
        self.kvHeads = kvHeads ?? heads
        self.headDim = headDim
        self.elementType = elementType
        self.float32Outputs = float32Outputs
        self.causal = causal
        self.window = window
        self.softcap = softcap
        self.alibi = alibi
        self.dropout = dropout
        self.softmaxScale = softmaxScale
        self.varlen = varlen
        self.strides = strides
        self.distribution = distribution
        self.requestLSE = requestLSE
        self.valueSeed = valueSeed
        if let varlen {
            self.batch = varlen.seqlensQ.count
            self.seqlenQ = varlen.seqlensQ.max() ?? 0
            self.seqlenK = varlen.seqlensK.max() ?? 0
        }
    }

    public func stridePattern(_ role: TensorRole) -> StridePattern {
        strides.isEmpty ? .contiguous : strides[role.rawValue]
    }

    public var outputType: ElementType { float32Outputs ? .float32 : elementType }

    /// Query-key pairs over all batch entries and heads (masking ignored): the cost of a case.
    public var work: Int {
        let pairs: Int
        if let varlen {
            pairs = zip(varlen.seqlensQ, varlen.seqlensK).reduce(0) { $0 + $1.0 * $1.1 }
        } else {
            pairs = batch * seqlenQ * seqlenK
        }
        return pairs * heads * headDim
    }

    public var description: String {
        var parts = [String]()
        if let varlen {
            parts.append("varlen q=\(varlen.seqlensQ) k=\(varlen.seqlensK)")
        } else {
            parts.append("B=\(batch) Sq=\(seqlenQ) Sk=\(seqlenK)")
        }
        parts.append("H=\(heads) Hk=\(kvHeads) D=\(headDim) \(elementType)")
        if float32Outputs { parts.append("outputs=float32") }
        if causal { parts.append("causal") }
        if window != .unbounded { parts.append("window=(\(window.left),\(window.right))") }
        if softcap > 0 { parts.append("softcap=\(softcap)") }
        if let alibi { parts.append("alibi=\(alibi == .heads ? "(H)" : "(B,H)")") }
        if let dropout { parts.append("dropout=\(dropout.probability)/seed=\(dropout.seed)") }
        if let softmaxScale { parts.append("scale=\(softmaxScale)") }
        if !strides.isEmpty && strides.contains(where: { $0 != .contiguous }) {
            parts.append("strides=" + String(strides.map(\.code)))
        }
        if distribution != .normal { parts.append("values=\(distribution.rawValue)") }
        if !requestLSE { parts.append("no-lse") }
        if !deterministic { parts.append("nondeterministic") }
        parts.append("valueSeed=\(valueSeed)")
        return parts.joined(separator: " ")
    }

    /// The options, given the slopes tensor (which ``RandomProblem`` owns).
    func options(slopes: TensorView?) -> AttentionOptions {
        AttentionOptions(softmaxScale: softmaxScale, causal: causal, window: window, softcap: softcap,
                         alibi: slopes.map(ALiBi.init(slopes:)), dropout: dropout, deterministic: deterministic)
    }
}
