import FlashAttentionCore

/// How a context-parallel call divides the work among ranks.
public enum ContextParallelStrategy: String, Sendable, CaseIterable {
    /// K/V rotate around the ring (``RingAttention``): transfers hide under compute, any head
    /// count, no window/ALiBi.
    case ring
    /// All-to-all heads↔sequence (``UlyssesAttention``): every mask option, needs H and Hk
    /// divisible by P, transfers do not overlap compute.
    case ulysses
    /// Ring, unless the options need global positions (a sliding window or ALiBi) and the
    /// heads split evenly over the ranks: then Ulysses. Ring is the default because its
    /// K/V transfer hides under compute and it has no head-count limit.
    case automatic
}

/// Context-parallel attention over a communicator, with the strategy picked per call.
///
/// Every rank calls ``forward(_:)``/``backward(_:)`` with its zigzag shards (``ZigzagSharding``);
/// packed batches pass the global ``VarlenLayout``.
public struct ContextParallelAttention<Backend: RingDevice> {
    public let communicator: any RingCommunicator
    public let device: Backend
    public var strategy: ContextParallelStrategy

    public init(communicator: any RingCommunicator, device: Backend, strategy: ContextParallelStrategy = .automatic) {
        self.communicator = communicator
        self.device = device
        self.strategy = strategy
    }

    /// The strategy a call with these shapes and options runs (never `.automatic`).
    public static func resolve(
        _ strategy: ContextParallelStrategy, heads: Int, kvHeads: Int, worldSize: Int, options: AttentionOptions
    ) -> ContextParallelStrategy {
        guard strategy == .automatic else { return strategy }
        let needsPositions = options.window.left >= 0 || options.window.right >= 0 || options.alibi != nil
        return needsPositions && UlyssesAttention<Backend>.supports(heads: heads, kvHeads: kvHeads, worldSize: worldSize) ? .ulysses : .ring
    }

    public func forward(_ arguments: ForwardArguments) throws {
        switch resolved(arguments.q, arguments.k, arguments.options) {
        case .ulysses: try UlyssesAttention(communicator: communicator, device: device).forward(arguments)
        default: try RingAttention(communicator: communicator, device: device).forward(arguments)
        }
    }

    public func backward(_ arguments: BackwardArguments) throws {
        switch resolved(arguments.q, arguments.k, arguments.options) {
        case .ulysses: try UlyssesAttention(communicator: communicator, device: device).backward(arguments)
        default: try RingAttention(communicator: communicator, device: device).backward(arguments)
        }
    }

    private func resolved(_ q: TensorView, _ k: TensorView, _ options: AttentionOptions) -> ContextParallelStrategy {
        Self.resolve(strategy, heads: q.shape[q.rank - 2], kvHeads: k.shape[k.rank - 2], worldSize: communicator.worldSize, options: options)
    }
}
