import FlashAttentionCore

/// How one forward call is cut into tasks, decided from the problem's sizes alone.
///
/// A task owns the queries of one (batch, KV head, block of query rows): all `groupSize`
/// query heads that read that KV head are stacked as columns of one tile, so a key block,
/// once loaded or packed, serves the whole group. When the problem has too few such tasks to
/// keep many cores busy (short Sq, long Sk), each is further split over contiguous ranges of
/// key blocks and the partial results are merged exactly, in a fixed order. Nothing here
/// depends on the thread count, which is what makes results bitwise identical for any count.
struct ForwardPlan: Sendable {
    /// Keys per block: the rows of the transposed score tile.
    static let keyBlock = 64
    /// Target query columns (head × row) per tile.
    static let columnTarget = 64
    /// Below this many query tasks, split over keys.
    static let minimumTasks = 32
    /// Tiles of at most this many query columns compute Sᵀ = K·Qᵀ as dot products along D.
    static let dotColumns = 8
    /// A split covers at least this many key blocks.
    static let minimumBlocksPerSplit = 4

    let layout: AttentionLayout
    let headDim: Int
    /// headDim rounded up to 16: leading dimension of the row-major Q and O tiles.
    let paddedHeadDim: Int
    let groupSize: Int
    /// Query rows per task (per head).
    let rowsPerTask: Int
    /// Columns of the fullest tile (groupSize × rowsPerTask).
    let maxColumns: Int
    /// Leading dimension of the transposed tiles (Qᵀ, Sᵀ) and length of per-column arrays.
    let columnStride: Int
    /// First query task of each batch entry, and the total at the end.
    let taskStarts: [Int]
    /// Query-row blocks of each batch entry.
    let rowBlocks: [Int]
    /// Key-range splits per query task (1 = no split).
    let splits: Int

    var queryTasks: Int { taskStarts.last ?? 0 }

    init(layout: AttentionLayout) {
        self.layout = layout
        headDim = layout.headDim
        paddedHeadDim = (layout.headDim + 15) / 16 * 16
        groupSize = layout.groupSize
        rowsPerTask = max(1, ForwardPlan.columnTarget / layout.groupSize)
        maxColumns = groupSize * rowsPerTask
        columnStride = (maxColumns + 15) / 16 * 16
        var starts = [0], blocks = [Int]()
        for b in 0..<layout.batch {
            let n = (layout.seqlenQ(batch: b) + rowsPerTask - 1) / rowsPerTask
            blocks.append(n)
            starts.append(starts[b] + n * layout.kvHeads)
        }
        taskStarts = starts
        rowBlocks = blocks
        let tasks = starts.last ?? 0
        let keyBlocks = (layout.seqlenK + ForwardPlan.keyBlock - 1) / ForwardPlan.keyBlock
        if tasks > 0, tasks < ForwardPlan.minimumTasks {
            let wanted = (ForwardPlan.minimumTasks + tasks - 1) / tasks
            splits = max(1, min(wanted, keyBlocks / ForwardPlan.minimumBlocksPerSplit))
        } else {
            splits = 1
        }
    }

    /// The (batch, KV head, row block) of a query task. Within a head, row blocks run from
    /// last to first: under a causal mask the last rows see the most keys, and starting the
    /// longest tasks first balances the workers.
    func decode(task: Int) -> (batch: Int, kvHead: Int, rowBlock: Int) {
        var lo = 0, hi = taskStarts.count - 2
        while lo < hi {  // last b with taskStarts[b] <= task
            let mid = (lo + hi + 1) / 2
            if taskStarts[mid] <= task { lo = mid } else { hi = mid - 1 }
        }
        let local = task - taskStarts[lo], blocks = rowBlocks[lo]
        return (lo, local / blocks, blocks - 1 - local % blocks)
    }

    /// The key blocks of split `index` of a query tile's visible keys: contiguous whole blocks.
    func keys(split index: Int, of keys: Range<Int>) -> Range<Int> {
        guard splits > 1 else { return keys }
        let blocks = (keys.count + ForwardPlan.keyBlock - 1) / ForwardPlan.keyBlock
        let first = index * blocks / splits, last = (index + 1) * blocks / splits
        let lo = keys.lowerBound + first * ForwardPlan.keyBlock
        let hi = min(keys.upperBound, keys.lowerBound + last * ForwardPlan.keyBlock)
        return lo < hi ? lo..<hi : lo..<lo
    }
}
