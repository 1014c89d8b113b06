import FlashAttentionCore

/// Context parallelism by all-to-all (the Ulysses scheme): the ranks trade their sequence
/// shards of Q, K, V for whole sequences of H/P heads, run single-device attention on those,
/// and trade the output back.
///
/// Because every rank then holds whole sequences at their true positions, every mask option
/// of the single-device call works (causal, window, softcap, ALiBi with the rank's slopes),
/// as do packed batches. It needs H and Hk divisible by P, moves Q, K, V and O once each
/// (4·N·H·D/P elements per rank, no overlap with compute) and holds whole sequences of H/P
/// heads per rank. Arguments are the same local zigzag shards as ``RingAttention``'s
/// (``ZigzagSharding``), so the two strategies are interchangeable. Dropout is refused.
public struct UlyssesAttention<Backend: RingDevice> {
    public let communicator: any RingCommunicator
    public let device: Backend

    public init(communicator: any RingCommunicator, device: Backend) {
        self.communicator = communicator
        self.device = device
    }

    /// Whether H and Hk split evenly over the ranks.
    public static func supports(heads: Int, kvHeads: Int, worldSize: Int) -> Bool {
        heads % worldSize == 0 && kvHeads % worldSize == 0
    }

    struct Layout {
        let g: ShardGeometry
        let P: Int
        let globalTokens: Int
        var tokenAxis: Int { g.packed ? 0 : 1 }
        var headAxis: Int { g.packed ? 1 : 2 }
        var lseTokenAxis: Int { g.packed ? 1 : 2 }
        var lseHeadAxis: Int { g.packed ? 0 : 1 }

        /// The LSE shape of whole sequences of `heads` heads: (B, heads, S) or (heads, T).
        func globalLSEShape(batch: Int, heads: Int) -> [Int] {
            g.packed ? [heads, globalTokens] : [batch, heads, globalTokens]
        }

        func segments(_ rank: Int) -> [ZigzagSharding.Segment] { g.sharding.segments(rank: rank, seqlen: globalTokens) }
    }

    private func layout(_ q: TensorView, _ k: TensorView, varlen: VarlenLayout?) throws -> Layout {
        let P = communicator.worldSize
        let g = try ShardGeometry(q: q, k: k, varlen: varlen, worldSize: P)
        let heads = q.shape[q.rank - 2], kvHeads = k.shape[k.rank - 2]
        guard Self.supports(heads: heads, kvHeads: kvHeads, worldSize: P) else {
            throw FlashAttentionError.invalidArgument(name: "heads", expected: "q heads (\(heads)) and k/v heads (\(kvHeads)) divisible by the \(P) ranks for the Ulysses strategy (use ring)")
        }
        return Layout(g: g, P: P, globalTokens: g.tokens * P)
    }

    /// Sequence shards → whole sequences: `local` (this rank's tokens, all heads) becomes the
    /// returned buffer (all tokens, this rank's heads). `tokenAxis`/`headAxis` locate the axes.
    private func gather(_ local: TensorView, key: String, tokenAxis: Int, headAxis: Int, l: Layout) throws -> RingBuffer {
        let P = l.P, r = communicator.rank
        let hp = local.shape[headAxis] / P
        var partShape = local.shape
        partShape[headAxis] = hp
        var globalShape = partShape
        globalShape[tokenAxis] = l.globalTokens
        let full = try device.buffer(key, shape: globalShape, elementType: local.elementType)
        var sends: [RingBuffer] = [], receives: [RingBuffer] = []
        for p in 0..<P {
            let send = try device.buffer("\(key).send\(p)", shape: partShape, elementType: local.elementType)
            try device.copy(local.slice(axis: headAxis, (p * hp)..<((p + 1) * hp)), into: send.view)
            sends.append(send)
            receives.append(p == r ? send : try device.buffer("\(key).recv\(p)", shape: partShape, elementType: local.elementType))
        }
        try exchangeAll(sends: sends, receives: receives)
        for p in 0..<P {
            for s in l.segments(p) {
                try device.copy(receives[p].view.slice(axis: tokenAxis, s.local..<(s.local + s.count)),
                                into: full.view.slice(axis: tokenAxis, s.global..<(s.global + s.count)))
            }
        }
        withExtendedLifetime((sends, receives)) {}
        return full
    }

    /// Whole sequences → sequence shards: `full` (all tokens, this rank's heads) is written
    /// into `local` (this rank's tokens, all heads).
    private func scatter(_ full: TensorView, into local: TensorView, key: String, tokenAxis: Int, headAxis: Int, l: Layout) throws {
        let P = l.P, r = communicator.rank
        let hp = full.shape[headAxis]
        var partShape = full.shape
        partShape[tokenAxis] = l.g.tokens
        var sends: [RingBuffer] = [], receives: [RingBuffer] = []
        for p in 0..<P {
            let send = try device.buffer("\(key).send\(p)", shape: partShape, elementType: full.elementType)
            for s in l.segments(p) {
                try device.copy(full.slice(axis: tokenAxis, s.global..<(s.global + s.count)),
                                into: send.view.slice(axis: tokenAxis, s.local..<(s.local + s.count)))
            }
            sends.append(send)
            receives.append(p == r ? send : try device.buffer("\(key).recv\(p)", shape: partShape, elementType: full.elementType))
        }
        try exchangeAll(sends: sends, receives: receives)
        for p in 0..<P {
            try device.copy(receives[p].view, into: local.slice(axis: headAxis, (p * hp)..<((p + 1) * hp)))
        }
        withExtendedLifetime((sends, receives)) {}
    }

    private func exchangeAll(sends: [RingBuffer], receives: [RingBuffer]) throws {
        let r = communicator.rank
        var out: [RingTransfer] = [], into: [RingTransfer] = []
        for p in 0..<sends.count where p != r {
            out.append(RingTransfer(peer: p, buffer: sends[p].view.data, byteCount: sends[p].byteCount))
            into.append(RingTransfer(peer: p, buffer: receives[p].view.data, byteCount: receives[p].byteCount))
        }
        guard !out.isEmpty else { return }
        try communicator.exchange(sends: out, receives: into).wait()
    }

    /// The options with ALiBi slopes cut to this rank's heads.
    private func localOptions(_ options: AttentionOptions, heads: Int) -> AttentionOptions {
        var o = options
        if let alibi = options.alibi {
            let hp = heads / communicator.worldSize, r = communicator.rank
            o.alibi = ALiBi(slopes: alibi.slopes.slice(axis: alibi.slopes.rank - 1, (r * hp)..<((r + 1) * hp)))
        }
        return o
    }

    public func forward(_ arguments: ForwardArguments) throws {
        try arguments.options.refuseDropout()
        let l = try layout(arguments.q, arguments.k, varlen: arguments.varlen)
        let q = try gather(arguments.q, key: "uly.q", tokenAxis: l.tokenAxis, headAxis: l.headAxis, l: l)
        let k = try gather(arguments.k, key: "uly.k", tokenAxis: l.tokenAxis, headAxis: l.headAxis, l: l)
        let v = try gather(arguments.v, key: "uly.v", tokenAxis: l.tokenAxis, headAxis: l.headAxis, l: l)
        let heads = arguments.q.shape[l.headAxis]
        let out = try device.buffer("uly.out", shape: q.view.shape, elementType: arguments.out.elementType)
        let lse = try device.buffer("uly.lse", shape: l.globalLSEShape(batch: arguments.q.shape[0], heads: heads / l.P), elementType: .float32)
        try device.forward(ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                                            options: localOptions(arguments.options, heads: heads), varlen: arguments.varlen))
        try scatter(out.view, into: arguments.out, key: "uly.o", tokenAxis: l.tokenAxis, headAxis: l.headAxis, l: l)
        if let userLSE = arguments.lse {
            try scatter(lse.view, into: userLSE, key: "uly.l", tokenAxis: l.lseTokenAxis, headAxis: l.lseHeadAxis, l: l)
        }
        // Views carry raw pointers: keep the buffers alive until the last call that reads one.
        withExtendedLifetime((q, k, v, out, lse)) {}
    }

    public func backward(_ arguments: BackwardArguments) throws {
        try arguments.options.refuseDropout()
        let l = try layout(arguments.q, arguments.k, varlen: arguments.varlen)
        let (ta, ha) = (l.tokenAxis, l.headAxis)
        let q = try gather(arguments.q, key: "uly.q", tokenAxis: ta, headAxis: ha, l: l)
        let k = try gather(arguments.k, key: "uly.k", tokenAxis: ta, headAxis: ha, l: l)
        let v = try gather(arguments.v, key: "uly.v", tokenAxis: ta, headAxis: ha, l: l)
        let out = try gather(arguments.out, key: "uly.out", tokenAxis: ta, headAxis: ha, l: l)
        let dOut = try gather(arguments.dOut, key: "uly.dout", tokenAxis: ta, headAxis: ha, l: l)
        let lse = try gather(arguments.lse, key: "uly.lse", tokenAxis: l.lseTokenAxis, headAxis: l.lseHeadAxis, l: l)
        let dq = try device.buffer("uly.dq", shape: q.view.shape, elementType: arguments.dq.elementType)
        let dk = try device.buffer("uly.dk", shape: k.view.shape, elementType: arguments.dk.elementType)
        let dv = try device.buffer("uly.dv", shape: v.view.shape, elementType: arguments.dv.elementType)
        let heads = arguments.q.shape[ha]
        try device.backward(BackwardArguments(
            dOut: dOut.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
            dq: dq.view, dk: dk.view, dv: dv.view, options: localOptions(arguments.options, heads: heads), varlen: arguments.varlen))
        try scatter(dq.view, into: arguments.dq, key: "uly.gq", tokenAxis: ta, headAxis: ha, l: l)
        try scatter(dk.view, into: arguments.dk, key: "uly.gk", tokenAxis: ta, headAxis: ha, l: l)
        try scatter(dv.view, into: arguments.dv, key: "uly.gv", tokenAxis: ta, headAxis: ha, l: l)
        withExtendedLifetime((q, k, v, out, dOut, lse, dq, dk, dv)) {}
    }
}
