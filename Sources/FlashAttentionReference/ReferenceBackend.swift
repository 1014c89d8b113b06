import FlashAttentionCore

/// The oracles as backends: they compute in float64 (``ReferenceAttention``) or naively in a
/// storage precision (``NaiveAttention``) and store the results, rounded, into the caller's
/// views. Slow; for checking the verification harness itself and as a last-resort device.
public struct ReferenceBackend: AttentionBackend {
    /// `nil`: float64 reference. Otherwise naive attention in this precision.
    public var precision: ElementType?

    public init(precision: ElementType? = nil) { self.precision = precision }

    public var name: String { precision.map { "naive-\($0)" } ?? "reference" }

    public func forward(_ arguments: ForwardArguments) throws {
        let result = try precision.map { try NaiveAttention(precision: $0).forward(arguments) }
            ?? ReferenceAttention.forward(arguments)
        RandomProblem.write(result.out, to: arguments.out)
        if let lse = arguments.lse { RandomProblem.write(result.lse, to: lse) }
    }

    public func backward(_ arguments: BackwardArguments) throws {
        let result = try precision.map { try NaiveAttention(precision: $0).backward(arguments) }
            ?? ReferenceAttention.backward(arguments)
        RandomProblem.write(result.dq, to: arguments.dq)
        RandomProblem.write(result.dk, to: arguments.dk)
        RandomProblem.write(result.dv, to: arguments.dv)
    }
}
