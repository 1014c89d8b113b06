import FlashAttentionCore

extension CPUBackend: KVCacheBackend {
    /// Attention over a KV cache on the CPU: appends k/v (rotated) into the cache in place,
    /// then runs the tiled forward over each row's cached keys, split over keys when there are
    /// few query tiles (decoding). Bitwise identical results for any thread count.
    public func forwardWithKVCache(_ arguments: KVCacheArguments) throws {
        let layout = try arguments.validate(maxHeadDim: 256)
        try CPUBackend.requireHost(arguments.q, arguments.out, arguments.kCache, arguments.vCache)
        if let k = arguments.k { try CPUBackend.requireHost(k) }
        if let v = arguments.v { try CPUBackend.requireHost(v) }
        if let rotary = arguments.rotary { try CPUBackend.requireHost(rotary.cos, rotary.sin) }
        CPUKVCache(arguments: arguments, layout: layout, threads: threads).run()
    }
}

/// One KV-cache call on the CPU: append, then attention (split and merged when the plan says so).
struct CPUKVCache {
    let arguments: KVCacheArguments
    let layout: KVCacheLayout
    let threads: Int

    func run() {
        let update = KVCacheAppend(arguments: arguments, layout: layout)
        // The new keys must be in the cache before any task reads it.
        update.appendKeysAndValues(threads: threads)
        let rotated = update.rotatedQueries(threads: threads)
        let plan = KVCachePlan(layout: layout, requestedSplits: arguments.numSplits,
                               elementBytes: arguments.kCache.elementType.byteCount)
        let kernel = KVCacheKernel(q: rotated?.view ?? arguments.q, kCache: arguments.kCache, vCache: arguments.vCache,
                                   out: arguments.out, lse: arguments.lse, options: arguments.options, plan: plan)
        withExtendedLifetime(rotated) {
            SplitPartials.run(
                tasks: plan.queryTasks, splits: plan.splits, threads: threads, partials: { SplitPartials(plan: plan) },
                scratch: { KVCacheScratch(plan: plan) },
                run: { kernel.run(task: $0, split: $1, scratch: $2, partial: $3) },
                merge: { kernel.merge(task: $0, partials: $1, scratch: $2) })
        }
    }
}
