/// A sliding window of visible keys around each query's aligned diagonal; −1 means unbounded.
///
/// With the bottom-right alignment, query `i` sees key `j` iff
/// `i + Sk − Sq − left ≤ j ≤ i + Sk − Sq + right`.
public struct SlidingWindow: Sendable, Hashable {
    public var left: Int
    public var right: Int

    public init(left: Int = -1, right: Int = -1) {
        self.left = left
        self.right = right
    }

    public static let unbounded = SlidingWindow()
}

/// Dropout on the attention probabilities, reproducible from an explicit seed.
///
/// The keep decision for (batch, head, row, column) is a pure function of the seed and those
/// indices (``DropoutMask``), so the backward pass and every backend draw the same mask.
public struct Dropout: Sendable, Hashable {
    /// Probability of dropping an element, in [0, 1).
    public var probability: Float
    public var seed: UInt64

    public init(probability: Float, seed: UInt64) {
        self.probability = probability
        self.seed = seed
    }
}

/// ALiBi slopes: float32, shape (H) or (B, H). Adds −slope·|i + Sk − Sq − j| to each score.
public struct ALiBi: Sendable {
    public var slopes: TensorView

    public init(slopes: TensorView) { self.slopes = slopes }

    /// The slope for (batch, head). Host memory only.
    @inlinable
    public func slope(batch: Int, head: Int) -> Float {
        slopes.rank == 1 ? slopes.load(at: head * slopes.strides[0])
            : slopes.load(at: batch * slopes.strides[0] + head * slopes.strides[1])
    }
}

/// Everything that changes the attention function, apart from the tensors.
public struct AttentionOptions: Sendable {
    /// Multiplies Q·Kᵀ before the softmax; `nil` means 1/√D.
    public var softmaxScale: Float?
    /// Bottom-right aligned causal mask: query i sees key j iff j ≤ i + Sk − Sq.
    public var causal: Bool
    public var window: SlidingWindow
    /// Softcap c > 0 replaces each scaled score s by c·tanh(s/c); 0 disables it.
    public var softcap: Float
    public var alibi: ALiBi?
    public var dropout: Dropout?
    /// Ask for bitwise-reproducible gradients. The CPU backend always is.
    public var deterministic: Bool

    public init(
        softmaxScale: Float? = nil, causal: Bool = false, window: SlidingWindow = .unbounded,
        softcap: Float = 0, alibi: ALiBi? = nil, dropout: Dropout? = nil, deterministic: Bool = true
    ) {
        self.softmaxScale = softmaxScale
        self.causal = causal
        self.window = window
        self.softcap = softcap
        self.alibi = alibi
        self.dropout = dropout
        self.deterministic = deterministic
    }

    /// The scale that applies at head dim `headDim`.
    public func scale(headDim: Int) -> Float { softmaxScale ?? 1 / Float(headDim).squareRoot() }

    /// The window with the causal mask folded in (causal is `right = 0`), as FlashAttention does.
    public var effectiveWindow: SlidingWindow {
        var w = window
        if causal { w.right = w.right < 0 ? 0 : min(w.right, 0) }
        return w
    }
}
