import FlashAttentionCore

/// Ring (context-parallel) attention: every rank holds a zigzag shard of Q, K and V
/// (``ZigzagSharding``); K/V travel around the ring while each rank attends its queries to the
/// block it holds, and the partial results merge exactly through their log-sum-exp.
///
/// Forward: P steps; at step s rank r computes its queries against the K/V of rank r − s
/// (``RingSchedule``) while the next block is in flight (double-buffered), and merges the
/// partial (out, LSE) into a float32 running result. Backward: the same steps, each a backward
/// call given the global out and LSE (so each call's dQ is a partial sum and its dK/dV is the
/// block's share); dQ stays local, and float32 dK/dV accumulators travel with their K/V and
/// arrive home after P hops.
///
/// Arguments are local: q, k, v, out, lse (and the backward's tensors) are this rank's shards;
/// for packed batches `varlen` is the global layout (the shard's own layout follows from it).
/// Softcap and GQA work as on one device; window, ALiBi and dropout are refused (they need
/// global positions; ``UlyssesAttention`` runs window and ALiBi).
public struct RingAttention<Backend: RingDevice> {
    public let communicator: any RingCommunicator
    public let device: Backend

    public init(communicator: any RingCommunicator, device: Backend) {
        self.communicator = communicator
        self.device = device
    }

    /// Buffers that must be contiguous to be sent: the view itself when it is, else a copy.
    private func sendable(_ view: TensorView, key: String) throws -> (TensorView, RingBuffer?) {
        if view.isContiguous { return (view, nil) }
        let buffer = try device.buffer(key, shape: view.shape, elementType: view.elementType)
        try device.copy(view, into: buffer.view)
        return (buffer.view, buffer)
    }

    private func transfer(_ view: TensorView, peer: Int) -> RingTransfer {
        RingTransfer(peer: peer, buffer: view.data, byteCount: view.elementCount * view.elementType.byteCount)
    }

    public func forward(_ arguments: ForwardArguments) throws {
        try arguments.options.refuseForRing()
        let P = communicator.worldSize, r = communicator.rank
        let g = try ShardGeometry(q: arguments.q, k: arguments.k, varlen: arguments.varlen, worldSize: P)
        let accOut = try device.buffer("ring.out", shape: arguments.q.shape, elementType: .float32)
        let accLSE = try device.buffer("ring.lse", shape: g.lseShape, elementType: .float32)
        let partOut = try device.buffer("ring.part.out", shape: arguments.q.shape, elementType: .float32)
        let partLSE = try device.buffer("ring.part.lse", shape: g.lseShape, elementType: .float32)
        let (k0, keepK) = try sendable(arguments.k, key: "ring.k0")
        let (v0, keepV) = try sendable(arguments.v, key: "ring.v0")
        let spare = P > 1 ? try (0..<2).map { i in
            (try device.buffer("ring.k\(i + 1)", shape: k0.shape, elementType: k0.elementType),
             try device.buffer("ring.v\(i + 1)", shape: v0.shape, elementType: v0.elementType))
        } : []
        func kv(_ step: Int) -> (TensorView, TensorView) {
            step == 0 ? (k0, v0) : (spare[(step - 1) % 2].0.view, spare[(step - 1) % 2].1.view)
        }

        var initialized = Set<RingPart>()
        func isInitialized(_ part: RingPart) -> Bool {
            part == .all ? initialized.contains(.all) || (initialized.contains(.first) && initialized.contains(.second))
                : initialized.contains(part) || initialized.contains(.all)
        }
        for step in 0..<P {
            let (k, v) = kv(step)
            var request: (any RingRequest)?
            if step < P - 1 {
                let (nk, nv) = kv(step + 1)
                request = try communicator.exchange(
                    sends: [transfer(k, peer: communicator.next), transfer(v, peer: communicator.next)],
                    receives: [transfer(nk, peer: communicator.previous), transfer(nv, peer: communicator.previous)])
            }
            for block in RingSchedule.blocks(step: step, rank: r, worldSize: P, causal: arguments.options.causal, packed: g.packed) {
                var options = arguments.options
                options.causal = block.causal
                let direct = !isInitialized(block.q)
                let out = direct ? accOut.view : partOut.view, lse = direct ? accLSE.view : partLSE.view
                try device.forward(ForwardArguments(
                    q: g.tokens(arguments.q, block.q), k: g.tokens(k, block.k), v: g.tokens(v, block.k),
                    out: g.tokens(out, block.q), lse: g.rows(lse, block.q), options: options, varlen: g.layout))
                if direct {
                    initialized.insert(block.q)
                } else {
                    try device.merge(accOut: g.tokens(accOut.view, block.q), accLSE: g.rows(accLSE.view, block.q),
                                     partOut: g.tokens(partOut.view, block.q), partLSE: g.rows(partLSE.view, block.q))
                }
            }
            try request?.wait()
        }
        try device.copy(accOut.view, into: arguments.out)
        if let lse = arguments.lse { try device.copy(accLSE.view, into: lse) }
        // Views carry raw pointers: keep every buffer alive until the last call that reads one.
        withExtendedLifetime((keepK, keepV, spare, accOut, accLSE, partOut, partLSE)) {}
    }

    public func backward(_ arguments: BackwardArguments) throws {
        try arguments.options.refuseForRing()
        let P = communicator.worldSize, r = communicator.rank
        let g = try ShardGeometry(q: arguments.q, k: arguments.k, varlen: arguments.varlen, worldSize: P)
        let kShape = arguments.k.shape
        let dqAcc = try device.buffer("ring.dq", shape: arguments.q.shape, elementType: .float32)
        let dqStep = try device.buffer("ring.dq.step", shape: arguments.q.shape, elementType: .float32)
        let dkStep = try device.buffer("ring.dk.step", shape: kShape, elementType: .float32)
        let dvStep = try device.buffer("ring.dv.step", shape: kShape, elementType: .float32)
        // dK/dV accumulators of the visiting block: written at step s, sent on at its end.
        let acc = try (0..<2).map { i in
            (try device.buffer("ring.dk.acc\(i)", shape: kShape, elementType: .float32),
             try device.buffer("ring.dv.acc\(i)", shape: kShape, elementType: .float32))
        }
        let (k0, keepK) = try sendable(arguments.k, key: "ring.k0")
        let (v0, keepV) = try sendable(arguments.v, key: "ring.v0")
        let spare = P > 1 ? try (0..<2).map { i in
            (try device.buffer("ring.k\(i + 1)", shape: k0.shape, elementType: k0.elementType),
             try device.buffer("ring.v\(i + 1)", shape: v0.shape, elementType: v0.elementType))
        } : []
        func kv(_ step: Int) -> (TensorView, TensorView) {
            step == 0 ? (k0, v0) : (spare[(step - 1) % 2].0.view, spare[(step - 1) % 2].1.view)
        }
        func grads(_ step: Int) -> (TensorView, TensorView) { (acc[step % 2].0.view, acc[step % 2].1.view) }

        try device.zero(dqAcc.view)
        var gradsArrived: (any RingRequest)?
        for step in 0..<P {
            let (k, v) = kv(step)
            var kvArrived: (any RingRequest)?
            if step < P - 1 {
                let (nk, nv) = kv(step + 1)
                kvArrived = try communicator.exchange(
                    sends: [transfer(k, peer: communicator.next), transfer(v, peer: communicator.next)],
                    receives: [transfer(nk, peer: communicator.previous), transfer(nv, peer: communicator.previous)])
            }
            let blocks = RingSchedule.blocks(step: step, rank: r, worldSize: P, causal: arguments.options.causal, packed: g.packed)
            for block in blocks {
                var options = arguments.options
                options.causal = block.causal
                try device.backward(BackwardArguments(
                    dOut: g.tokens(arguments.dOut, block.q), q: g.tokens(arguments.q, block.q),
                    k: g.tokens(k, block.k), v: g.tokens(v, block.k),
                    out: g.tokens(arguments.out, block.q), lse: g.rows(arguments.lse, block.q),
                    dq: g.tokens(dqStep.view, block.q), dk: g.tokens(dkStep.view, block.k), dv: g.tokens(dvStep.view, block.k),
                    options: options, varlen: g.layout))
                try device.add(g.tokens(dqStep.view, block.q), into: g.tokens(dqAcc.view, block.q))
                // The kernels above ran while the accumulator was in flight; fold this call's
                // dK/dV in before the next call of the step overwrites the step buffers.
                try foldKeyGrads(step: step, block: block, g: g, dk: dkStep, dv: dvStep, grads: grads, arrived: &gradsArrived)
            }
            // The accumulator goes on to the next rank; after P hops it is back with its owner.
            let (dk, dv) = grads(step), (ndk, ndv) = grads(step + 1)
            gradsArrived = try communicator.exchange(
                sends: [transfer(dk, peer: communicator.next), transfer(dv, peer: communicator.next)],
                receives: [transfer(ndk, peer: communicator.previous), transfer(ndv, peer: communicator.previous)])
            try kvArrived?.wait()
        }
        try gradsArrived?.wait()
        let (dkHome, dvHome) = grads(P)
        try device.copy(dqAcc.view, into: arguments.dq)
        try device.copy(dkHome, into: arguments.dk)
        try device.copy(dvHome, into: arguments.dv)
        withExtendedLifetime((keepK, keepV, spare, dqAcc, dqStep, dkStep, dvStep, acc)) {}
    }

    /// Adds one call's dK/dV into the visiting block's accumulator. The first add of a step
    /// waits for the accumulator to arrive (step 0 starts it from zero).
    private func foldKeyGrads(
        step: Int, block: RingBlock, g: ShardGeometry, dk: RingBuffer, dv: RingBuffer,
        grads: (Int) -> (TensorView, TensorView), arrived: inout (any RingRequest)?
    ) throws {
        let (accK, accV) = grads(step)
        if step == 0 {
            if arrived == nil {
                try device.zero(accK)
                try device.zero(accV)
                arrived = ZeroedRequest()
            }
        } else if let request = arrived {
            try request.wait()
        }
        arrived = ZeroedRequest()  // later blocks of this step need no wait
        try device.add(g.tokens(dk.view, block.k), into: g.tokens(accK, block.k))
        try device.add(g.tokens(dv.view, block.k), into: g.tokens(accV, block.k))
    }
}

/// A request that is already complete.
struct ZeroedRequest: RingRequest {
    func wait() throws {}
}
