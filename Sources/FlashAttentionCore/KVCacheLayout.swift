/// The validated sizes and per-row geometry of a KV-cache call (``KVCacheArguments/validate(maxHeadDim:)``).
///
/// Positions are absolute cache positions: batch row `b` sees keys `keyStart(batch:) ..< keyEnd(batch:)`,
/// which a backend addresses with ``slot(batch:key:)`` and reads in runs of
/// ``contiguousKeys(batch:from:limit:)`` rows.
public struct KVCacheLayout: Sendable, Hashable {
    public let batch: Int
    public let seqlenQ: Int
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    /// New keys appended per row (0 without k/v).
    public let seqlenNew: Int
    /// Rows per page of a paged cache; nil for a contiguous one.
    public let pageSize: Int?
    /// Keys one sequence can hold: S_cache, or maxBlocksPerSequence · pageSize.
    public let capacity: Int
    /// Pages (paged) or cache rows (contiguous): the cache tensors' first dimension.
    public let cacheBlocks: Int
    public let cacheSeqlens: [Int]
    public let leftPad: [Int]
    /// The cache row of each batch row (contiguous caches); empty for paged ones.
    public let cacheRows: [Int]
    public let blockTable: BlockTable?
    /// Rotated features per head; 0 without rotary.
    public let rotaryDim: Int
    public let rotaryInterleaved: Bool
    /// Whether query i sits at position cacheSeqlens[b] + i (causal or windowed calls) rather
    /// than at cacheSeqlens[b] for every i (the reference library's rule).
    public let queryPositionsAdvance: Bool

    public var groupSize: Int { heads / kvHeads }

    /// One past the last visible key of row b: the cache length after the append.
    @inlinable
    public func keyEnd(batch b: Int) -> Int { cacheSeqlens[b] + seqlenNew }

    /// The first visible key of row b (the left pad).
    @inlinable
    public func keyStart(batch b: Int) -> Int { leftPad[b] }

    /// Keys row b attends to: the `Sk` of its bottom-right aligned masks.
    @inlinable
    public func seqlenK(batch b: Int) -> Int { keyEnd(batch: b) - keyStart(batch: b) }

    public var maxSeqlenK: Int { (0..<batch).map { seqlenK(batch: $0) }.max() ?? 0 }

    /// Keys attended, summed over the batch rows (each read once per KV head).
    public var totalKeys: Int { (0..<batch).reduce(0) { $0 + seqlenK(batch: $1) } }

    /// Where absolute key j of row b lives: (cache row or page, row within it).
    @inlinable
    public func slot(batch b: Int, key j: Int) -> (block: Int, row: Int) {
        if let pageSize, let blockTable {
            return (blockTable.block(batch: b, index: j / pageSize), j % pageSize)
        }
        return (cacheRows[b], j)
    }

    /// How many keys from j on (at most `limit`) lie in consecutive rows of one block.
    @inlinable
    public func contiguousKeys(batch b: Int, from j: Int, limit: Int) -> Int {
        guard let pageSize else { return limit }
        return min(limit, pageSize - j % pageSize)
    }

    /// The rotary position of query row i of batch row b.
    @inlinable
    public func queryPosition(batch b: Int, row i: Int) -> Int { cacheSeqlens[b] + (queryPositionsAdvance ? i : 0) }

    /// The number of key splits per query tile when the caller leaves it to the library.
    ///
    /// Splitting pays when the tiles alone (`tasks`) cannot keep `parallelUnits` busy and the
    /// keys are long: the splits bring the work items up to about `parallelUnits`, each split
    /// keeping at least `minimumBlocksPerSplit` blocks of `blockKeys` keys, at most 128 splits.
    /// It depends on sizes only, so a backend that fixes `parallelUnits` (the CPU uses a nominal
    /// count, not its thread count) gets results that do not depend on how many threads run.
    public func defaultSplits(tasks: Int, parallelUnits: Int, blockKeys: Int, minimumBlocksPerSplit: Int) -> Int {
        guard tasks > 0, tasks < parallelUnits else { return 1 }
        let keyBlocks = (maxSeqlenK + blockKeys - 1) / blockKeys
        let wanted = (parallelUnits + tasks - 1) / tasks
        return max(1, min(wanted, keyBlocks / max(1, minimumBlocksPerSplit), 128))
    }
}
