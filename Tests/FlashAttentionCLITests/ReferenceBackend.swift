import FlashAttention
import FlashAttentionReference

/// The float64 oracle behind the ``AttentionBackend`` interface, so the command line's plumbing
/// (files, shapes, dtypes, option flags) can be tested with exact numbers whatever state the
/// real kernels are in.
struct ReferenceBackend: AttentionBackend {
    var name: String { "reference" }

    func forward(_ arguments: ForwardArguments) throws {
        let result = try ReferenceAttention.forward(arguments)
        for (index, value) in result.out.enumerated() { arguments.out.store(Float(value), at: index) }
        if let lse = arguments.lse {
            for (index, value) in result.lse.enumerated() { lse.store(Float(value), at: index) }
        }
    }

    func backward(_ arguments: BackwardArguments) throws {
        let result = try ReferenceAttention.backward(arguments)
        for (index, value) in result.dq.enumerated() { arguments.dq.store(Float(value), at: index) }
        for (index, value) in result.dk.enumerated() { arguments.dk.store(Float(value), at: index) }
        for (index, value) in result.dv.enumerated() { arguments.dv.store(Float(value), at: index) }
    }
}
