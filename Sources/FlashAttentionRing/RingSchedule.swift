/// Which tokens of a rank's zigzag shard a block call reads: the early chunk, the late chunk,
/// or both.
public enum RingPart: Sendable, Hashable {
    case first, second, all
}

/// One attention call of a ring step: local queries `q` against keys `k` of the visiting K/V.
public struct RingBlock: Sendable, Hashable {
    public var q: RingPart
    public var k: RingPart
    public var causal: Bool
}

/// The causal block logic of zigzag ring attention.
///
/// Rank r holds chunks r and 2P−1−r; at step s it sees the K/V of rank src = r − s (mod P),
/// chunks src and 2P−1−src. Step 0 (its own K/V) is causal over the local pair as it stands:
/// with local indices the early chunk precedes the late one. For src < r, both local chunks
/// follow chunk src and precede chunk 2P−1−src: all local queries see exactly the visiting
/// first half. For src > r, the early local chunk precedes both visiting chunks and the late
/// one follows both: only the local second half sees anything, and it sees everything. So
/// after step 0 every block is unmasked and no position offsets are needed, and every rank
/// does the same work (one half block per step).
public enum RingSchedule {
    public static func source(step: Int, rank: Int, worldSize: Int) -> Int {
        ((rank - step) % worldSize + worldSize) % worldSize
    }

    /// The calls of step `step` on rank `rank`. Packed (varlen) shards cannot address "all" of
    /// a rank's tokens of one sequence in one call (the halves lie apart), so their blocks are
    /// split into halves.
    public static func blocks(step: Int, rank: Int, worldSize: Int, causal: Bool, packed: Bool) -> [RingBlock] {
        let src = source(step: step, rank: rank, worldSize: worldSize)
        if !causal {
            return packed
                ? [RingBlock(q: .first, k: .first, causal: false), RingBlock(q: .first, k: .second, causal: false),
                   RingBlock(q: .second, k: .first, causal: false), RingBlock(q: .second, k: .second, causal: false)]
                : [RingBlock(q: .all, k: .all, causal: false)]
        }
        if step == 0 {
            // Early queries never see late keys; late queries see all early keys.
            return packed
                ? [RingBlock(q: .first, k: .first, causal: true), RingBlock(q: .second, k: .second, causal: true),
                   RingBlock(q: .second, k: .first, causal: false)]
                : [RingBlock(q: .all, k: .all, causal: true)]
        }
        if src < rank {
            return packed
                ? [RingBlock(q: .first, k: .first, causal: false), RingBlock(q: .second, k: .first, causal: false)]
                : [RingBlock(q: .all, k: .first, causal: false)]
        }
        return packed
            ? [RingBlock(q: .second, k: .first, causal: false), RingBlock(q: .second, k: .second, causal: false)]
            : [RingBlock(q: .second, k: .all, causal: false)]
    }
}
