import FlashAttentionCore

/// How one KV-cache call is cut into tasks, decided from the problem's sizes alone.
///
/// A task owns the queries of one (batch row, group of KV heads, block of query rows); the
/// query heads of those KV heads are stacked as the columns of one tile, so each key row read
/// from the cache serves all the queries that read it. Two shapes:
///
/// - prefill-like calls (Sq · groupSize > 8): one KV head per task and 64/groupSize query rows,
///   as in the forward (``ForwardPlan``);
/// - decoding (Sq · groupSize ≤ 8): every KV head of the row in one task, all Sq rows. A key
///   block is then a run of whole cache rows (all heads, contiguous in memory), so the cache
///   streams through in address order, which the hardware prefetchers follow; per-head tasks
///   would read 256-byte pieces a head stride apart. The softmax also runs on H·Sq columns at
///   once instead of a 16-lane vector holding groupSize of them. Blocks shrink from 64 to 32
///   or 16 keys when whole rows are large, so a block's K and V stay in L2.
///
/// Decoding has few such tasks (B with Sq = 1), so each is split over contiguous ranges of key
/// blocks (flash-decoding) and the partials merged in split order. The split count uses a
/// fixed nominal worker count (``nominalWorkers``), never the thread count, so results are
/// bitwise identical however many threads run; 32 fills machines up to 32 cores with one wave
/// and costs a 2-core machine only the merge of a few partial tiles.
struct KVCachePlan: Sendable {
    static let keyBlock = ForwardPlan.keyBlock
    static let columnTarget = ForwardPlan.columnTarget
    static let dotColumns = ForwardPlan.dotColumns
    static let nominalWorkers = 32
    static let minimumBlocksPerSplit = 4

    let layout: KVCacheLayout
    let headDim: Int
    let paddedHeadDim: Int
    let groupSize: Int
    /// Sq · groupSize ≤ 8: whole rows of the cache per task, dot-product scores.
    let decoding: Bool
    /// KV heads per task: all of them when decoding, else 1.
    let kvHeadsPerTask: Int
    let rowsPerTask: Int
    /// Query heads per task (kvHeadsPerTask · groupSize).
    let headsPerTask: Int
    let maxColumns: Int
    let columnStride: Int
    /// Query-row blocks per (batch row, KV head group).
    let rowBlocks: Int
    /// Keys per processed block (64, or 32/16 when decoding over wide cache rows); divides
    /// ``keyBlock``, the granularity of the splits.
    let blockKeys: Int
    let splits: Int

    var kvHeadGroups: Int { layout.kvHeads / kvHeadsPerTask }
    var queryTasks: Int { layout.batch * kvHeadGroups * rowBlocks }

    init(layout: KVCacheLayout, requestedSplits: Int, elementBytes: Int) {
        self.layout = layout
        headDim = layout.headDim
        paddedHeadDim = (layout.headDim + 15) / 16 * 16
        groupSize = layout.groupSize
        decoding = layout.seqlenQ * layout.groupSize <= KVCachePlan.dotColumns
        kvHeadsPerTask = decoding ? layout.kvHeads : 1
        rowsPerTask = decoding ? max(1, layout.seqlenQ) : max(1, KVCachePlan.columnTarget / layout.groupSize)
        headsPerTask = kvHeadsPerTask * groupSize
        maxColumns = headsPerTask * rowsPerTask
        columnStride = (maxColumns + 15) / 16 * 16
        rowBlocks = (layout.seqlenQ + rowsPerTask - 1) / rowsPerTask
        let rowBytes = kvHeadsPerTask * layout.headDim * elementBytes
        blockKeys = rowBytes <= 1024 ? 64 : rowBytes <= 2048 ? 32 : 16
        let tasks = layout.batch * (layout.kvHeads / kvHeadsPerTask) * rowBlocks
        let keyBlocks = max(1, (layout.maxSeqlenK + KVCachePlan.keyBlock - 1) / KVCachePlan.keyBlock)
        if requestedSplits > 0 {
            // More splits than key blocks would only add empty partials.
            splits = min(requestedSplits, keyBlocks)
        } else {
            splits = layout.defaultSplits(tasks: tasks, parallelUnits: KVCachePlan.nominalWorkers,
                                          blockKeys: KVCachePlan.keyBlock,
                                          minimumBlocksPerSplit: KVCachePlan.minimumBlocksPerSplit)
        }
    }

    /// (batch row, first KV head, row block); row blocks last to first within a head group,
    /// so the causal tiles that see the most keys start first.
    func decode(task: Int) -> (batch: Int, kvHead: Int, rowBlock: Int) {
        let perBatch = kvHeadGroups * rowBlocks
        let b = task / perBatch, local = task % perBatch
        return (b, local / rowBlocks * kvHeadsPerTask, rowBlocks - 1 - local % rowBlocks)
    }

    /// Split `index` of a tile's visible keys: contiguous whole key blocks.
    func keys(split index: Int, of keys: Range<Int>) -> Range<Int> {
        guard splits > 1 else { return keys }
        let blocks = (keys.count + KVCachePlan.keyBlock - 1) / KVCachePlan.keyBlock
        let first = index * blocks / splits, last = (index + 1) * blocks / splits
        let lo = keys.lowerBound + first * KVCachePlan.keyBlock
        let hi = min(keys.upperBound, keys.lowerBound + last * KVCachePlan.keyBlock)
        return lo < hi ? lo..<hi : lo..<lo
    }
}

/// One worker's tiles, allocated once per call; sized by the tile shape only.
final class KVCacheScratch {
    let queryRows: UnsafeMutablePointer<Float>
    let queryT: UnsafeMutablePointer<Float>
    let scores: UnsafeMutablePointer<Float>
    let output: UnsafeMutablePointer<Float>
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// bfloat16 rows gathered from several pages before they are interleaved into pairs.
    let staging: UnsafeMutablePointer<Float>
    let probabilities: UnsafeMutablePointer<Float>
    let rowMax: UnsafeMutablePointer<Float>
    let rowSum: UnsafeMutablePointer<Float>
    let alpha: UnsafeMutablePointer<Float>
    let logSumExp: UnsafeMutablePointer<Float>
    let diagonal: UnsafeMutablePointer<Float>
    let slope: UnsafeMutablePointer<Float>
    let keyLo: UnsafeMutablePointer<Int32>
    let keyHi: UnsafeMutablePointer<Int32>
    /// Float32 rows for the append and the query rotation (headDim entries).
    let row: UnsafeMutablePointer<Float>
    /// The cache rows of two key blocks (this one and the next, at the task's first KV head),
    /// keyBlock entries each, for the decode kernels.
    let keyRowPointers: UnsafeMutablePointer<UnsafePointer<UInt16>?>
    let valueRowPointers: UnsafeMutablePointer<UnsafePointer<UInt16>?>
    private let buffers: ScratchBuffers

    init(plan: KVCachePlan) {
        let d = plan.paddedHeadDim, n = plan.columnStride, kb = KVCachePlan.keyBlock
        var buffers = ScratchBuffers()
        queryRows = buffers.zeroed(count: plan.maxColumns * d)
        queryT = buffers.zeroed(count: d * n)
        scores = buffers.zeroed(count: kb * n)  // kb ≥ blockKeys
        output = buffers.zeroed(count: plan.maxColumns * d)
        keys = buffers.zeroed(count: kb * d)
        values = buffers.zeroed(count: kb * d)
        staging = buffers.zeroed(count: kb * d / 2)
        probabilities = buffers.zeroed(count: kb / 2 * n)
        rowMax = buffers.zeroed(count: n)
        rowSum = buffers.zeroed(count: n)
        alpha = buffers.zeroed(count: n)
        logSumExp = buffers.zeroed(count: n)
        diagonal = buffers.zeroed(count: n)
        slope = buffers.zeroed(count: n)
        keyLo = buffers.zeroed(count: n)
        keyHi = buffers.zeroed(count: n)
        row = buffers.zeroed(count: d)
        keyRowPointers = buffers.zeroed(count: 2 * kb)
        valueRowPointers = buffers.zeroed(count: 2 * kb)
        self.buffers = buffers
    }

    deinit { buffers.deallocateAll() }
}
