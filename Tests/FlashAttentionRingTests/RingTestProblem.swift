import FlashAttentionCore
import FlashAttentionCPU
import FlashAttentionRing

/// A self-attention problem on global tensors, its single-device result on the CPU backend, and
/// the same problem run context-parallel over a simulated group, unsharded for comparison.
struct RingTestProblem: CustomStringConvertible {
    var worldSize: Int
    var batch = 1
    var seqlen = 0
    /// Per-sequence lengths of a packed batch (overrides batch/seqlen).
    var packed: [Int]? = nil
    var heads = 2
    var kvHeads = 2
    var headDim = 16
    var options = AttentionOptions()
    var strategy = ContextParallelStrategy.ring
    var seed: UInt64 = 7

    var description: String {
        "P=\(worldSize) \(packed.map { "packed \($0)" } ?? "B=\(batch) S=\(seqlen)") H=\(heads)/\(kvHeads) D=\(headDim) causal=\(options.causal) \(strategy)"
    }

    var varlen: VarlenLayout? {
        packed.map { lengths in
            let cu = lengths.reduce(into: [0]) { $0.append($0.last! + $1) }
            return VarlenLayout(cuSeqlensQ: cu, cuSeqlensK: cu)
        }
    }
    var tokens: Int { packed.map { $0.reduce(0, +) } ?? seqlen }
    var tokenAxis: Int { packed == nil ? 1 : 0 }
    var lseTokenAxis: Int { packed == nil ? 2 : 1 }
    func shape(_ h: Int) -> [Int] { packed == nil ? [batch, seqlen, h, headDim] : [tokens, h, headDim] }
    var lseShape: [Int] { packed == nil ? [batch, heads, seqlen] : [heads, tokens] }

    static func random(_ shape: [Int], seed: UInt64) throws -> Tensor {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        let count = shape.reduce(1, *)
        let values = (0..<count).map { _ -> Float in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(Int32(truncatingIfNeeded: state >> 32)) * 0x1p-31
        }
        return try Tensor(shape: shape, values: values)
    }

    struct Result {
        var out, lse, dq, dk, dv: Tensor
    }

    /// Inputs: q, k, v, dout.
    func inputs() throws -> [Tensor] {
        try [Self.random(shape(heads), seed: seed), Self.random(shape(kvHeads), seed: seed + 1),
             Self.random(shape(kvHeads), seed: seed + 2), Self.random(shape(heads), seed: seed + 3)]
    }

    func singleDevice() throws -> Result {
        let t = try inputs()
        let r = Result(out: Tensor(shape: shape(heads)), lse: Tensor(shape: lseShape), dq: Tensor(shape: shape(heads)),
                       dk: Tensor(shape: shape(kvHeads)), dv: Tensor(shape: shape(kvHeads)))
        let backend = CPUBackend(threads: 2)
        try backend.forward(ForwardArguments(q: t[0].view, k: t[1].view, v: t[2].view, out: r.out.view, lse: r.lse.view, options: options, varlen: varlen))
        try backend.backward(BackwardArguments(dOut: t[3].view, q: t[0].view, k: t[1].view, v: t[2].view, out: r.out.view, lse: r.lse.view,
                                               dq: r.dq.view, dk: r.dk.view, dv: r.dv.view, options: options, varlen: varlen))
        // Views carry raw pointers: the tensors must outlive the calls.
        withExtendedLifetime(t) {}
        return r
    }

    func sharding() throws -> ZigzagSharding {
        if let varlen { return try ZigzagSharding(worldSize: worldSize, varlen: varlen) }
        return try ZigzagSharding(worldSize: worldSize, seqlen: seqlen)
    }

    /// Runs forward then backward on every rank of a simulated group and unshards the results.
    func contextParallel() throws -> Result {
        let t = try inputs()
        let sharding = try sharding()
        let r = Result(out: Tensor(shape: shape(heads)), lse: Tensor(shape: lseShape), dq: Tensor(shape: shape(heads)),
                       dk: Tensor(shape: shape(kvHeads)), dv: Tensor(shape: shape(kvHeads)))
        for tensor in [r.out, r.lse, r.dq, r.dk, r.dv] { tensor.poison() }
        let problem = self
        let shared = SharedTensors(inputs: t, result: r)
        try LocalRingGroup.run(worldSize: worldSize) { communicator in
            let rank = communicator.rank
            let ta = problem.tokenAxis, la = problem.lseTokenAxis
            let local = try shared.inputs.map { try sharding.shard($0.view, rank: rank, tokenAxis: ta) }
            func empty(_ like: Tensor, axis: Int) -> Tensor {
                var s = like.shape
                s[axis] /= problem.worldSize
                let t = Tensor(shape: s)
                t.poison()
                return t
            }
            let out = empty(shared.result.out, axis: ta), lse = empty(shared.result.lse, axis: la)
            let dq = empty(shared.result.dq, axis: ta), dk = empty(shared.result.dk, axis: ta), dv = empty(shared.result.dv, axis: ta)
            let attention = ContextParallelAttention(communicator: communicator, device: CPURingDevice(backend: CPUBackend(threads: 1)),
                                                     strategy: problem.strategy)
            try attention.forward(ForwardArguments(q: local[0].view, k: local[1].view, v: local[2].view, out: out.view, lse: lse.view,
                                                   options: problem.options, varlen: problem.varlen))
            try attention.backward(BackwardArguments(dOut: local[3].view, q: local[0].view, k: local[1].view, v: local[2].view,
                                                     out: out.view, lse: lse.view, dq: dq.view, dk: dk.view, dv: dv.view,
                                                     options: problem.options, varlen: problem.varlen))
            // Ranks write disjoint token ranges of the global results.
            try sharding.unshard(out.view, rank: rank, tokenAxis: ta, into: shared.result.out.view)
            try sharding.unshard(lse.view, rank: rank, tokenAxis: la, into: shared.result.lse.view)
            try sharding.unshard(dq.view, rank: rank, tokenAxis: ta, into: shared.result.dq.view)
            try sharding.unshard(dk.view, rank: rank, tokenAxis: ta, into: shared.result.dk.view)
            try sharding.unshard(dv.view, rank: rank, tokenAxis: ta, into: shared.result.dv.view)
            withExtendedLifetime((local, out, lse, dq, dk, dv)) {}
        }
        withExtendedLifetime(shared) {}
        return r
    }
}

final class SharedTensors: @unchecked Sendable {
    let inputs: [Tensor]
    let result: RingTestProblem.Result
    init(inputs: [Tensor], result: RingTestProblem.Result) {
        self.inputs = inputs
        self.result = result
    }
}

/// ‖x − y‖ / ‖y‖ over finite references; any NaN in x counts as a failure (returns +∞).
func relativeError(_ x: Tensor, _ y: Tensor) -> Double {
    let a = x.floats(), b = y.floats()
    var num = 0.0, den = 0.0
    for i in 0..<a.count {
        if a[i].isNaN { return .infinity }
        if b[i].isInfinite { if a[i] != b[i] { return .infinity }; continue }
        num += Double(a[i] - b[i]) * Double(a[i] - b[i])
        den += Double(b[i]) * Double(b[i])
    }
    return (num / max(den, 1e-30)).squareRoot()
}
