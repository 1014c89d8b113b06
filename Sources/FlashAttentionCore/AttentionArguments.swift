/// The tensors and options of one forward call.
///
/// Dense layout: q (B, Sq, H, D), k and v (B, Sk, Hk, D), out like q, lse (B, H, Sq) float32.
/// Varlen layout (``varlen`` set): q (totalQ, H, D), k and v (totalK, Hk, D), lse (H, totalQ).
public struct ForwardArguments: Sendable {
    public var q: TensorView
    public var k: TensorView
    public var v: TensorView
    /// Written in its own element type; it may differ from the inputs' (float32 keeps more bits).
    public var out: TensorView
    /// Optional softmax log-sum-exp (natural log), float32. +∞ for a row that sees no key.
    public var lse: TensorView?
    public var options: AttentionOptions
    public var varlen: VarlenLayout?

    public init(
        q: TensorView, k: TensorView, v: TensorView, out: TensorView, lse: TensorView? = nil,
        options: AttentionOptions = AttentionOptions(), varlen: VarlenLayout? = nil
    ) {
        self.q = q
        self.k = k
        self.v = v
        self.out = out
        self.lse = lse
        self.options = options
        self.varlen = varlen
    }
}

/// The tensors and options of one backward call: gradients of the loss with respect to q, k, v
/// from its gradient with respect to the output.
///
/// `out` and `lse` are those of the forward call with the same options (and dropout seed).
public struct BackwardArguments: Sendable {
    public var dOut: TensorView
    public var q: TensorView
    public var k: TensorView
    public var v: TensorView
    public var out: TensorView
    public var lse: TensorView
    public var dq: TensorView
    public var dk: TensorView
    public var dv: TensorView
    public var options: AttentionOptions
    public var varlen: VarlenLayout?

    public init(
        dOut: TensorView, q: TensorView, k: TensorView, v: TensorView, out: TensorView,
        lse: TensorView, dq: TensorView, dk: TensorView, dv: TensorView,
        options: AttentionOptions = AttentionOptions(), varlen: VarlenLayout? = nil
    ) {
        self.dOut = dOut
        self.q = q
        self.k = k
        self.v = v
        self.out = out
        self.lse = lse
        self.dq = dq
        self.dk = dk
        self.dv = dv
        self.options = options
        self.varlen = varlen
    }

    /// The forward arguments these gradients belong to.
    public var forward: ForwardArguments {
        ForwardArguments(q: q, k: k, v: v, out: out, lse: lse, options: options, varlen: varlen)
    }
}

/// A backend runs attention on one kind of device.
public protocol AttentionBackend: Sendable {
    /// A short name for messages and benchmark tables ("cpu", "cuda").
    var name: String { get }
    /// Writes `out` (and `lse` if given). Throws before writing anything if an argument is bad.
    func forward(_ arguments: ForwardArguments) throws
    /// Writes `dq`, `dk` and `dv`. Throws before writing anything if an argument is bad.
    func backward(_ arguments: BackwardArguments) throws
}
