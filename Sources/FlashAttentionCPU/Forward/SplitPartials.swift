import Glibc

/// Partial results of key-split tasks (the forward's and the KV-cache decode's alike):
/// unnormalised O and the log2-domain (m, l) per column, one slot per (task, split), merged
/// in split order afterwards.
final class SplitPartials: @unchecked Sendable {
    let storage: UnsafeMutablePointer<Float>
    let slotSize: Int
    let splits: Int
    /// Leading dimension of a slot's O (column c's row starts at c · paddedHeadDim).
    let paddedHeadDim: Int
    /// Floats of a slot's O: maxColumns × paddedHeadDim.
    let outputSize: Int
    let columnStride: Int

    struct Slot {
        let output: UnsafeMutablePointer<Float>
        let rowMax: UnsafeMutablePointer<Float>
        let rowSum: UnsafeMutablePointer<Float>

        /// Keeps a task's unmerged result: `count` floats of O and `columnStride` of m and l.
        func save(output o: UnsafeMutablePointer<Float>, count: Int, rowMax m: UnsafeMutablePointer<Float>,
                  rowSum l: UnsafeMutablePointer<Float>, columnStride: Int) {
            output.update(from: o, count: count)
            rowMax.update(from: m, count: columnStride)
            rowSum.update(from: l, count: columnStride)
        }
    }

    init(maxColumns: Int, paddedHeadDim: Int, columnStride: Int, queryTasks: Int, splits: Int) {
        self.splits = splits
        self.paddedHeadDim = paddedHeadDim
        self.columnStride = columnStride
        outputSize = maxColumns * paddedHeadDim
        slotSize = outputSize + 2 * columnStride
        storage = .allocate(capacity: max(1, slotSize * queryTasks * splits))
    }

    convenience init(plan: ForwardPlan) {
        self.init(maxColumns: plan.maxColumns, paddedHeadDim: plan.paddedHeadDim, columnStride: plan.columnStride,
                  queryTasks: plan.queryTasks, splits: plan.splits)
    }

    convenience init(plan: KVCachePlan) {
        self.init(maxColumns: plan.maxColumns, paddedHeadDim: plan.paddedHeadDim, columnStride: plan.columnStride,
                  queryTasks: plan.queryTasks, splits: plan.splits)
    }

    deinit { storage.deallocate() }

    func slot(task: Int, split: Int) -> Slot {
        let base = storage + (task * splits + split) * slotSize
        return Slot(output: base, rowMax: base + outputSize, rowSum: base + outputSize + columnStride)
    }

    /// Combines the splits of one task in split order, per column: M = max m_s,
    /// O = Σ 2^(m_s − M)·O_s (the first `headDim` entries of a row), l = Σ 2^(m_s − M)·l_s.
    /// A column no split saw keeps M = −∞, l = 0 and O = 0.
    func merge(task: Int, columns: Int, headDim d: Int, output: UnsafeMutablePointer<Float>,
               rowMax: UnsafeMutablePointer<Float>, rowSum: UnsafeMutablePointer<Float>) {
        let dp = paddedHeadDim
        for c in 0..<columns {
            var m = -Float.infinity
            for s in 0..<splits { m = max(m, slot(task: task, split: s).rowMax[c]) }
            rowMax[c] = m
            var l: Float = 0
            let o = output + c * dp
            o.update(repeating: 0, count: d)
            if m > -.infinity {
                for s in 0..<splits {
                    let part = slot(task: task, split: s)
                    let ms = part.rowMax[c]
                    guard ms > -.infinity else { continue }
                    let w = exp2f(ms - m)
                    l += w * part.rowSum[c]
                    let os = part.output + c * dp
                    for e in 0..<d { o[e] += w * os[e] }
                }
            }
            rowSum[c] = l
        }
    }
}

extension SplitPartials {
    /// Runs `tasks` query tasks on `threads` workers, each worker with its own scratch: whole
    /// when `splits` is 1; otherwise every (task, split) into its own slot of fresh partials,
    /// then each task's splits merged in split order (the same sums whatever the scheduling).
    static func run<Scratch>(
        tasks: Int, splits: Int, threads: Int, partials makePartials: () -> SplitPartials,
        scratch makeScratch: @Sendable () -> Scratch,
        run: @Sendable (_ task: Int, _ split: Int, Scratch, Slot?) -> Void,
        merge: @Sendable (_ task: Int, SplitPartials, Scratch) -> Void
    ) {
        guard tasks > 0 else { return }
        if splits == 1 {
            WorkQueue.run(tasks: tasks, threads: threads) { _, next in
                let scratch = makeScratch()
                while let task = next() { run(task, 0, scratch, nil) }
            }
            return
        }
        let partials = makePartials()
        WorkQueue.run(tasks: tasks * splits, threads: threads) { _, next in
            let scratch = makeScratch()
            while let item = next() {
                let task = item / splits, split = item % splits
                run(task, split, scratch, partials.slot(task: task, split: split))
            }
        }
        WorkQueue.run(tasks: tasks, threads: threads) { _, next in
            let scratch = makeScratch()
            while let task = next() { merge(task, partials, scratch) }
        }
    }
}
