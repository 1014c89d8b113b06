/// Argument checks of a KV-cache call, each failure naming the argument as the reference
/// library spells it (`k_cache`, `cache_seqlens`, `block_table`, …).
extension KVCacheArguments {
    /// Checks every argument and returns the sizes. Nothing is read except the index arrays,
    /// nothing is written.
    public func validate(maxHeadDim: Int = 256) throws -> KVCacheLayout {
        func fail(_ name: String, _ expected: String) -> FlashAttentionError { Validator.fail(name, expected) }
        let describe = Validator.describe
        for (view, name) in [(q, "q"), (kCache, "k_cache"), (vCache, "v_cache"), (out, "out")] {
            try Validator.checkStrides(view, name: name)
        }
        guard q.rank == 4 else { throw fail("q", "rank 4 (batch, seqlen_q, heads, headdim), got shape \(describe(q.shape))") }
        let batch = q.shape[0], seqlenQ = q.shape[1], heads = q.shape[2], headDim = q.shape[3]
        guard headDim >= 1, headDim <= maxHeadDim else { throw fail("q", "head dim D in 1...\(maxHeadDim), got \(headDim)") }
        guard heads >= 1 else { throw fail("q", "at least one head, got \(heads)") }
        let paged = blockTable != nil
        let cacheForm = paged ? "(num_blocks, page_size, heads_k, headdim)" : "(batch_cache, seqlen_cache, heads_k, headdim)"
        guard kCache.rank == 4 else { throw fail("k_cache", "rank 4 \(cacheForm), got shape \(describe(kCache.shape))") }
        let kvHeads = kCache.shape[2]
        guard kCache.shape[3] == headDim else { throw fail("k_cache", "head dim \(headDim) like q, got \(kCache.shape[3])") }
        guard kvHeads >= 1, heads % kvHeads == 0 else {
            throw fail("k_cache", "a number of heads that divides q's \(heads) (MQA/GQA), got \(kvHeads)")
        }
        guard vCache.shape == kCache.shape else {
            throw fail("v_cache", "the shape of k_cache \(describe(kCache.shape)), got \(describe(vCache.shape))")
        }
        guard kCache.elementType == q.elementType else { throw fail("k_cache", "element type \(q.elementType) like q, got \(kCache.elementType)") }
        guard vCache.elementType == q.elementType else { throw fail("v_cache", "element type \(q.elementType) like q, got \(vCache.elementType)") }
        guard kCache.device == q.device, vCache.device == q.device else {
            throw fail("k_cache", "tensors on one device (q is on \(q.device))")
        }
        try Validator.expect(out, name: "out", shape: q.shape, device: q.device)
        if let lse {
            try Validator.expect(lse, name: "lse", shape: [batch, heads, seqlenQ], device: q.device)
            guard lse.elementType == .float32 else { throw fail("lse", "float32, got \(lse.elementType)") }
        }

        // New keys and values.
        var seqlenNew = 0
        switch (k, v) {
        case (nil, nil): break
        case (nil, _): throw fail("k", "new keys together with v, got v alone")
        case (_, nil): throw fail("v", "new values together with k, got k alone")
        case let (k?, v?):
            try Validator.checkStrides(k, name: "k")
            try Validator.checkStrides(v, name: "v")
            guard k.rank == 4, k.shape[0] == batch, k.shape[2] == kvHeads, k.shape[3] == headDim else {
                throw fail("k", "shape (\(batch), seqlen_new, \(kvHeads), \(headDim)), got \(describe(k.shape))")
            }
            guard v.shape == k.shape else { throw fail("v", "the shape of k \(describe(k.shape)), got \(describe(v.shape))") }
            guard k.elementType == q.elementType else { throw fail("k", "element type \(q.elementType) like q, got \(k.elementType)") }
            guard v.elementType == q.elementType else { throw fail("v", "element type \(q.elementType) like q, got \(v.elementType)") }
            guard k.device == q.device, v.device == q.device else { throw fail("k", "tensors on one device (q is on \(q.device))") }
            seqlenNew = k.shape[1]
        }

        // Cache geometry: contiguous rows or pages.
        let cacheBlocks = kCache.shape[0]
        var capacity: Int, pageSize: Int?, cacheRows: [Int] = []
        if let blockTable {
            pageSize = kCache.shape[1]
            guard kCache.shape[1] >= 1 else { throw fail("k_cache", "a page size ≥ 1, got \(describe(kCache.shape))") }
            guard cacheBatchIndex == nil else {
                throw fail("cache_batch_idx", "no batch index with a paged cache (the block table already maps every row)")
            }
            guard blockTable.maxBlocksPerSequence >= 1, blockTable.entries.count == batch * blockTable.maxBlocksPerSequence else {
                throw fail("block_table", "(\(batch), max_blocks ≥ 1) entries, got \(blockTable.entries.count) for max_blocks \(blockTable.maxBlocksPerSequence)")
            }
            let (product, overflow) = blockTable.maxBlocksPerSequence.multipliedReportingOverflow(by: kCache.shape[1])
            guard !overflow else { throw fail("block_table", "max_blocks · page_size that fits in Int") }
            capacity = product
        } else {
            capacity = kCache.shape[1]
            if let index = cacheBatchIndex {
                guard index.count == batch else { throw fail("cache_batch_idx", "\(batch) entries (one per batch row), got \(index.count)") }
                for (b, row) in index.enumerated() where row < 0 || Int(row) >= cacheBlocks {
                    throw fail("cache_batch_idx", "rows in 0..<\(cacheBlocks) (the cache's batch), got \(row) at \(b)")
                }
                cacheRows = index.map(Int.init)
            } else {
                guard cacheBlocks >= batch else {
                    throw fail("k_cache", "at least \(batch) cache rows (q's batch) without cache_batch_idx, got \(cacheBlocks)")
                }
                cacheRows = Array(0..<batch)
            }
        }

        // Per-row lengths.
        guard cacheSeqlens.count == batch else { throw fail("cache_seqlens", "\(batch) entries (one per batch row), got \(cacheSeqlens.count)") }
        let lengths = cacheSeqlens.map(Int.init)
        for (b, length) in lengths.enumerated() {
            guard length >= 0, length + seqlenNew <= capacity else {
                throw fail("cache_seqlens", "0 ≤ cache_seqlens[b] and cache_seqlens[b] + seqlen_new (\(seqlenNew)) ≤ the cache's \(capacity) keys per sequence, got \(length) at \(b)")
            }
        }
        var pads = [Int](repeating: 0, count: batch)
        if let cacheLeftPad {
            guard cacheLeftPad.count == batch else { throw fail("cache_leftpad", "\(batch) entries (one per batch row), got \(cacheLeftPad.count)") }
            for b in 0..<batch {
                let pad = Int(cacheLeftPad[b])
                guard pad >= 0, pad <= lengths[b] else {
                    throw fail("cache_leftpad", "0 ≤ cache_leftpad[b] ≤ cache_seqlens[b] (\(lengths[b])), got \(pad) at \(b)")
                }
                pads[b] = pad
            }
        }

        // Pages the call touches must exist; appended slots must be distinct.
        if let blockTable, let pageSize {
            for b in 0..<batch {
                let end = lengths[b] + seqlenNew
                guard end > pads[b] else { continue }
                for index in (pads[b] / pageSize)...((end - 1) / pageSize) {
                    let page = blockTable.block(batch: b, index: index)
                    guard page >= 0, page < cacheBlocks else {
                        throw fail("block_table", "page indices in 0..<\(cacheBlocks) for the blocks row \(b) uses, got \(page) at (\(b), \(index))")
                    }
                }
            }
            if seqlenNew > 0 {
                var written = Set<Int>()
                for b in 0..<batch {
                    for j in lengths[b]..<(lengths[b] + seqlenNew) {
                        let slot = blockTable.block(batch: b, index: j / pageSize) * pageSize + j % pageSize
                        guard written.insert(slot).inserted else {
                            throw fail("block_table", "rows whose appended keys land in distinct cache slots, got two writes to page \(slot / pageSize) row \(slot % pageSize) (row \(b), key \(j))")
                        }
                    }
                }
            }
        } else if seqlenNew > 0, Set(cacheRows).count != cacheRows.count {
            throw fail("cache_batch_idx", "distinct rows when k and v are appended (two rows would write one cache row)")
        }

        // Rotary.
        var rotaryDim = 0
        let advance = options.causal || options.window.left >= 0 || options.window.right >= 0
        if let rotary {
            guard k != nil else {
                throw fail("rotary_cos", "new keys k and v with rotary (the reference library rotates q and k as k is appended)")
            }
            try Validator.checkStrides(rotary.cos, name: "rotary_cos")
            try Validator.checkStrides(rotary.sin, name: "rotary_sin")
            guard rotary.cos.rank == 2, rotary.cos.shape[1] >= 1, 2 * rotary.cos.shape[1] <= headDim else {
                throw fail("rotary_cos", "shape (seqlen_ro, rotary_dim / 2) with 2 ≤ rotary_dim ≤ \(headDim), got \(describe(rotary.cos.shape))")
            }
            guard rotary.sin.shape == rotary.cos.shape else {
                throw fail("rotary_sin", "the shape of rotary_cos \(describe(rotary.cos.shape)), got \(describe(rotary.sin.shape))")
            }
            guard rotary.cos.device == q.device, rotary.sin.device == q.device else {
                throw fail("rotary_cos", "tensors on q's device \(q.device)")
            }
            var needed = 0
            for b in 0..<batch {
                needed = max(needed, lengths[b] + seqlenNew)
                if seqlenQ > 0 { needed = max(needed, lengths[b] + (advance ? seqlenQ : 1)) }
            }
            guard rotary.cos.shape[0] >= needed else {
                throw fail("rotary_cos", "at least \(needed) rows (the positions rotated, up to cache_seqlens + seqlen_new or + seqlen_q), got \(rotary.cos.shape[0])")
            }
            rotaryDim = rotary.rotaryDim
        }

        guard numSplits >= 0 else { throw fail("num_splits", "≥ 0 (0 picks the splits from the problem's sizes), got \(numSplits)") }
        if let dropout = options.dropout, dropout.probability > 0 {
            throw fail("dropout_p", "0 with a KV cache (inference only), got \(dropout.probability)")
        }
        let attention = AttentionLayout(batch: batch, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                        seqlenQ: seqlenQ, seqlenK: capacity, varlen: nil)
        try Validator.check(options: options, layout: attention)

        return KVCacheLayout(
            batch: batch, seqlenQ: seqlenQ, heads: heads, kvHeads: kvHeads, headDim: headDim, seqlenNew: seqlenNew,
            pageSize: pageSize, capacity: capacity, cacheBlocks: cacheBlocks, cacheSeqlens: lengths, leftPad: pads,
            cacheRows: cacheRows, blockTable: blockTable, rotaryDim: rotaryDim,
            rotaryInterleaved: rotary?.interleaved ?? true, queryPositionsAdvance: advance)
    }
}
