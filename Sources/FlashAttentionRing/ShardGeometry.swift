import FlashAttentionCore

/// The local shapes of a zigzag shard and views of its halves.
struct ShardGeometry {
    let packed: Bool
    /// Local tokens (dense: S/P per sequence; packed: T/P).
    let tokens: Int
    /// The layout of one half of a packed shard (each sequence's chunk), nil when dense.
    let halfLayout: VarlenLayout?
    let sharding: ZigzagSharding
    let lseShape: [Int]

    init(q: TensorView, k: TensorView, varlen: VarlenLayout?, worldSize: Int) throws {
        packed = varlen != nil
        let axis = packed ? 0 : 1
        let rank = packed ? 3 : 4
        guard q.rank == rank, k.rank == rank else {
            throw FlashAttentionError.invalidArgument(name: "q", expected: packed ? "rank 3 (total_tokens/P, heads, headdim) shards" : "rank 4 (batch, seqlen/P, heads, headdim) shards")
        }
        tokens = q.shape[axis]
        guard k.shape[axis] == tokens else {
            throw FlashAttentionError.invalidArgument(name: "k", expected: "as many local tokens as q (\(tokens)): context parallelism shards one sequence for q, k and v; got \(k.shape[axis])")
        }
        if let varlen {
            sharding = try ZigzagSharding(worldSize: worldSize, varlen: varlen)
            guard (varlen.cuSeqlensQ.last ?? 0) == tokens * worldSize else {
                throw FlashAttentionError.invalidArgument(name: "q", expected: "\((varlen.cuSeqlensQ.last ?? 0) / worldSize) local tokens (cu_seqlens total / P), got \(tokens)")
            }
            halfLayout = sharding.localHalfLayout
            lseShape = [q.shape[1], tokens]
        } else {
            sharding = try ZigzagSharding(worldSize: worldSize, seqlen: tokens * worldSize)
            halfLayout = nil
            lseShape = [q.shape[0], q.shape[2], tokens]
        }
    }

    func range(_ part: RingPart) -> Range<Int> {
        switch part {
        case .first: 0..<(tokens / 2)
        case .second: (tokens / 2)..<tokens
        case .all: 0..<tokens
        }
    }

    /// The tokens of a (B, S, H, D) or (T, H, D) view.
    func tokens(_ view: TensorView, _ part: RingPart) -> TensorView {
        part == .all ? view : view.slice(axis: packed ? 0 : 1, range(part))
    }

    /// The rows of a (B, H, S) or (H, T) statistics view.
    func rows(_ view: TensorView, _ part: RingPart) -> TensorView {
        part == .all ? view : view.slice(axis: packed ? 1 : 2, range(part))
    }

    var layout: VarlenLayout? { halfLayout }
}

extension AttentionOptions {
    /// Options that cannot be sharded by sequence without global positions.
    func refuseForRing() throws {
        if window.left >= 0 || window.right >= 0 {
            throw FlashAttentionError.unsupported("window (sliding window) with ring attention: the mask needs global positions; use the Ulysses strategy, which keeps whole sequences")
        }
        if alibi != nil {
            throw FlashAttentionError.unsupported("alibi_slopes with ring attention: the bias needs global positions; use the Ulysses strategy, which keeps whole sequences")
        }
        try refuseDropout()
    }

    func refuseDropout() throws {
        if let dropout, dropout.probability > 0 {
            throw FlashAttentionError.unsupported("dropout_p > 0 with context parallelism: the keep-mask is a function of global indices that a shard does not know")
        }
    }
}
