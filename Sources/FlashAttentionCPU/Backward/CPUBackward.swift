import FlashAttentionCore
import CFlashKernels

/// FlashAttention-2's backward on the CPU: dQ, dK and dV from dO, Q, K, V, O and the LSE,
/// recomputing P tile by tile (never Sq × Sk), with every forward option.
///
/// Passes, each a set of independent tasks on the work queue:
/// 1. Row statistics: Δ = rowsum(dO∘O) and a contiguous copy of the LSE, per (batch, head),
///    plus float32 copies of Q and dO when they are not float32 rows already.
/// 2. Per wave of (batch, kv head) groups (``BackwardPlan``):
///    a. key-chunk tasks: dK/dV of their tiles (stored when a tile is done) and dQ partials;
///    b. dQ tasks: the chunks' partials summed in chunk order, stored in dq's type.
///
/// Scratch is one block from ``BackwardArena`` (kept between calls) plus a few tiles per
/// worker; nothing grows with Sq × Sk.
///
/// Bitwise reproducible for any thread count: tasks are cut from sizes only, each output
/// element is written by one task per pass, and every sum runs in an order fixed by the plan.
struct CPUBackward {
    let arguments: BackwardArguments
    let layout: AttentionLayout
    let threads: Int

    func run() throws {
        let plan = BackwardPlan(layout: layout)
        try BackwardPass.checkSizes(arguments: arguments, layout: layout)
        let totalQ = layout.totalQ
        let dqInPlace = BackwardPass.readsInPlace(layout.addressing(q: arguments.dq))
        let waves = plan.waves(layout: layout, dqInPlace: dqInPlace)

        // One arena block, carved: LSE and Δ rows, float32 copies of Q and dO where they
        // cannot be GEMM operands in place, and the largest wave's dQ partials.
        let statFloats = 2 * layout.heads * totalQ
        let rowFloats = layout.heads * totalQ * plan.paddedDim
        let convertQ = !BackwardPass.readsInPlace(layout.addressing(q: arguments.q))
        let convertDO = !BackwardPass.readsInPlace(layout.addressing(q: arguments.dOut))
        let partialFloats = waves.map(\.partialFloats).max() ?? 0
        let aligned = { (n: Int) in (n + 15) / 16 * 16 }
        let total = aligned(statFloats) + (convertQ ? rowFloats : 0) + (convertDO ? rowFloats : 0) + partialFloats
        let block = BackwardArena.take(bytes: total * 4)
        defer { BackwardArena.give(block) }
        let base = block.pointer.bindMemory(to: Float.self, capacity: block.bytes / 4)
        var cursor = base + aligned(statFloats)
        let queryRows = convertQ ? cursor : nil
        if convertQ { cursor += rowFloats }
        let dOutRows = convertDO ? cursor : nil
        if convertDO { cursor += rowFloats }
        let buffer = BackwardPass.Buffer(pointer: cursor)

        let pass = BackwardPass(arguments: arguments, layout: layout, plan: plan,
                                lse: base, delta: base + layout.heads * totalQ,
                                queryRows: queryRows, dOutRows: dOutRows)
        pass.zeroUnusedTokens()

        // 1. Row statistics, one task per (batch, head).
        WorkQueue.run(tasks: layout.batch * layout.heads, threads: threads) { _, next in
            let workspace = BackwardWorkspace(plan: plan, headDim: layout.headDim)
            while let task = next() {
                pass.rowStatistics(batch: task / layout.heads, head: task % layout.heads, workspace: workspace)
            }
        }

        for wave in waves {
            // 2a. Key chunks, the heaviest first so the queue's tail is short.
            var chunkTasks: [(group: Int, chunk: Int, work: Int)] = []
            for (g, group) in wave.groups.enumerated() {
                let tiles = plan.tiles(seqlenK: group.seqlenK)
                for c in 0..<group.chunks {
                    let mine = tiles > c ? (tiles - c + group.chunks - 1) / group.chunks : 0
                    chunkTasks.append((g, c, mine * group.seqlenQ))
                }
            }
            let ordered = chunkTasks.enumerated().sorted {
                $0.element.work != $1.element.work ? $0.element.work > $1.element.work : $0.offset < $1.offset
            }.map { ($0.element.group, $0.element.chunk) }
            WorkQueue.run(tasks: ordered.count, threads: threads) { _, next in
                let workspace = BackwardWorkspace(plan: plan, headDim: layout.headDim)
                while let task = next() {
                    let (g, c) = ordered[task]
                    pass.keyChunk(wave.groups[g], chunk: c, partial: buffer.pointer, workspace: workspace)
                }
            }

            // 2b. dQ = Σ partials in chunk order, per (group, head of the group, row block).
            var rowTasks: [(group: Int, head: Int, row: Int)] = []
            for (g, group) in wave.groups.enumerated() where !(dqInPlace && group.slots == 0) {
                for hl in 0..<layout.groupSize {
                    for row in stride(from: 0, to: group.seqlenQ, by: plan.blockQ) { rowTasks.append((g, hl, row)) }
                }
            }
            let queryTasks = rowTasks
            WorkQueue.run(tasks: queryTasks.count, threads: threads) { _, next in
                let workspace = BackwardWorkspace(plan: plan, headDim: layout.headDim)
                while let task = next() {
                    let (g, hl, row) = queryTasks[task]
                    pass.storeQueryGradient(wave.groups[g], localHead: hl, row: row,
                                            partial: buffer.pointer, workspace: workspace)
                }
            }
        }
    }
}
