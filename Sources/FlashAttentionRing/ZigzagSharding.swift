import FlashAttentionCore

/// Causal load balance for context parallelism: the sequence is cut into 2P equal chunks and
/// rank r holds chunks r and 2P−1−r, so every rank has one early and one late chunk and the
/// same share of the causal triangle.
///
/// Dense tensors (B, S, H, D): rank r's local tensor is (B, S/P, H, D), its first half chunk r
/// and its second half chunk 2P−1−r. Varlen tensors (T, H, D) with a global ``VarlenLayout``:
/// every sequence is cut into 2P chunks, and the local tensor (T/P, H, D) holds first the
/// rank's early chunk of every sequence, in batch order, then its late chunk of every sequence
/// ("half-major"), so that each half is itself a packed batch (``localHalfLayout``).
/// Statistics (LSE) follow their tokens: (B, H, S) dense, (H, T) varlen.
public struct ZigzagSharding: Sendable, Hashable {
    public let worldSize: Int
    /// The global layout when the tensors are packed (varlen); nil for dense tensors.
    public let varlen: VarlenLayout?

    /// - Throws: when a sequence length is not a multiple of 2P (`seqlen`/`cu_seqlens`).
    public init(worldSize: Int, seqlen: Int) throws {
        guard worldSize >= 1 else { throw FlashAttentionError.invalidArgument(name: "world_size", expected: "at least 1 rank, got \(worldSize)") }
        guard seqlen % (2 * worldSize) == 0 else {
            throw FlashAttentionError.invalidArgument(name: "seqlen", expected: "a multiple of 2·P = \(2 * worldSize) for zigzag sharding over \(worldSize) ranks, got \(seqlen)")
        }
        self.worldSize = worldSize
        self.varlen = nil
    }

    /// - Throws: when a sequence length is not a multiple of 2P, or the layout is not self-attention.
    public init(worldSize: Int, varlen: VarlenLayout) throws {
        guard worldSize >= 1 else { throw FlashAttentionError.invalidArgument(name: "world_size", expected: "at least 1 rank, got \(worldSize)") }
        guard varlen.cuSeqlensQ == varlen.cuSeqlensK else {
            throw FlashAttentionError.invalidArgument(name: "cu_seqlens_k", expected: "equal to cu_seqlens_q (context parallelism shards one sequence for q, k and v)")
        }
        guard varlen.cuSeqlensQ.first == 0, varlen.cuSeqlensQ.count >= 2 else {
            throw FlashAttentionError.invalidArgument(name: "cu_seqlens_q", expected: "batch + 1 ≥ 2 offsets starting at 0")
        }
        for b in 0..<varlen.batch {
            let length = varlen.cuSeqlensQ[b + 1] - varlen.cuSeqlensQ[b]
            guard length >= 0, length % (2 * worldSize) == 0 else {
                throw FlashAttentionError.invalidArgument(name: "cu_seqlens_q", expected: "sequence lengths that are multiples of 2·P = \(2 * worldSize), got \(length) for sequence \(b)")
            }
        }
        self.worldSize = worldSize
        self.varlen = varlen
    }

    /// A run of tokens: `count` tokens at `local` in the rank's tensor come from `global`.
    public struct Segment: Sendable, Hashable {
        public var local: Int
        public var global: Int
        public var count: Int
    }

    /// The chunk a rank holds in its first (0) or second (1) half.
    public func chunk(rank: Int, half: Int) -> Int { half == 0 ? rank : 2 * worldSize - 1 - rank }

    /// Where rank `rank`'s tokens come from, along the token axis; `seqlen` is the global
    /// sequence length (dense; ignored for varlen).
    public func segments(rank: Int, seqlen: Int = 0) -> [Segment] {
        let P2 = 2 * worldSize
        guard let varlen else {
            let c = seqlen / P2
            return [Segment(local: 0, global: chunk(rank: rank, half: 0) * c, count: c),
                    Segment(local: c, global: chunk(rank: rank, half: 1) * c, count: c)]
        }
        let cu = varlen.cuSeqlensQ
        let halfTotal = (cu.last ?? 0) / P2
        var result: [Segment] = []
        for half in 0..<2 {
            for b in 0..<varlen.batch {
                let c = (cu[b + 1] - cu[b]) / P2
                guard c > 0 else { continue }
                result.append(Segment(local: half * halfTotal + cu[b] / P2, global: cu[b] + chunk(rank: rank, half: half) * c, count: c))
            }
        }
        return result
    }

    /// The packed layout of one half of a rank's varlen tensor (each sequence's chunk).
    public var localHalfLayout: VarlenLayout? {
        varlen.map { layout in
            let cu = layout.cuSeqlensQ.map { $0 / (2 * worldSize) }
            return VarlenLayout(cuSeqlensQ: cu, cuSeqlensK: cu)
        }
    }

    /// Copies rank `rank`'s shard of `global` into `local` (any element types, host memory).
    /// `tokenAxis` is the axis that runs over tokens: 1 for dense (B, S, H, D), 0 for packed
    /// (T, H, D), 2 for a dense LSE (B, H, S), 1 for a packed LSE (H, T).
    public func shard(_ global: TensorView, rank: Int, tokenAxis: Int, into local: TensorView) throws {
        try checkShapes(global: global, local: local, tokenAxis: tokenAxis)
        for s in segments(rank: rank, seqlen: global.shape[tokenAxis]) {
            HostCopy.copy(global.slice(axis: tokenAxis, s.global..<(s.global + s.count)),
                          into: local.slice(axis: tokenAxis, s.local..<(s.local + s.count)))
        }
    }

    /// Copies rank `rank`'s shard back into its place in `global` (host memory).
    public func unshard(_ local: TensorView, rank: Int, tokenAxis: Int, into global: TensorView) throws {
        try checkShapes(global: global, local: local, tokenAxis: tokenAxis)
        for s in segments(rank: rank, seqlen: global.shape[tokenAxis]) {
            HostCopy.copy(local.slice(axis: tokenAxis, s.local..<(s.local + s.count)),
                          into: global.slice(axis: tokenAxis, s.global..<(s.global + s.count)))
        }
    }

    /// Rank `rank`'s shard of a host tensor, as a new contiguous host tensor.
    public func shard(_ global: TensorView, rank: Int, tokenAxis: Int, elementType: ElementType? = nil) throws -> Tensor {
        var shape = global.shape
        shape[tokenAxis] /= worldSize
        let local = Tensor(shape: shape, elementType: elementType ?? global.elementType)
        try shard(global, rank: rank, tokenAxis: tokenAxis, into: local.view)
        return local
    }

    private func checkShapes(global: TensorView, local: TensorView, tokenAxis: Int) throws {
        guard tokenAxis >= 0, tokenAxis < global.rank, local.rank == global.rank else {
            throw FlashAttentionError.invalidArgument(name: "token_axis", expected: "an axis of the tensor (rank \(global.rank)), got \(tokenAxis)")
        }
        let tokens = global.shape[tokenAxis]
        if let varlen {
            guard tokens == (varlen.cuSeqlensQ.last ?? 0) else {
                throw FlashAttentionError.invalidArgument(name: "global", expected: "\(varlen.cuSeqlensQ.last ?? 0) tokens (cu_seqlens), got \(tokens)")
            }
        } else if tokens % (2 * worldSize) != 0 {
            throw FlashAttentionError.invalidArgument(name: "seqlen", expected: "a multiple of 2·P = \(2 * worldSize), got \(tokens)")
        }
        var expected = global.shape
        expected[tokenAxis] = tokens / worldSize
        guard local.shape == expected else {
            throw FlashAttentionError.invalidArgument(name: "local", expected: "shape \(expected), got \(local.shape)")
        }
    }
}

/// Elementwise strided copies and adds between host views of rank ≤ 4 (any element types).
enum HostCopy {
    /// Calls `body(offsetA, offsetB)` for every index of `shape`, in row-major order.
    static func forEach(_ shape: [Int], _ a: [Int], _ b: [Int], _ body: (Int, Int) -> Void) {
        guard !shape.contains(0) else { return }
        var shape4 = [Int](repeating: 1, count: 4), sa = [Int](repeating: 0, count: 4), sb = sa
        let pad = 4 - shape.count
        for i in 0..<shape.count { shape4[pad + i] = shape[i]; sa[pad + i] = a[i]; sb[pad + i] = b[i] }
        for i0 in 0..<shape4[0] {
            for i1 in 0..<shape4[1] {
                for i2 in 0..<shape4[2] {
                    let oa = i0 * sa[0] + i1 * sa[1] + i2 * sa[2], ob = i0 * sb[0] + i1 * sb[1] + i2 * sb[2]
                    for i3 in 0..<shape4[3] { body(oa + i3 * sa[3], ob + i3 * sb[3]) }
                }
            }
        }
    }

    static func copy(_ source: TensorView, into destination: TensorView) {
        forEach(source.shape, source.strides, destination.strides) { s, d in destination.store(source.load(at: s), at: d) }
    }

    static func add(_ source: TensorView, into destination: TensorView) {
        forEach(source.shape, source.strides, destination.strides) { s, d in
            destination.store(destination.load(at: d) + source.load(at: s), at: d)
        }
    }
}
