import FlashAttentionCore
import CFlashKernels

#if canImport(Glibc)
import Glibc
#endif

/// Element addressing of a KV cache tensor: (cache row or page, row, KV head, d).
struct CacheAddressing: @unchecked Sendable {
    let data: UnsafeMutableRawPointer
    let elementType: ElementType
    let blockStride: Int
    let rowStride: Int
    let headStride: Int
    let dimStride: Int

    init(_ view: TensorView) {
        data = view.data
        elementType = view.elementType
        blockStride = view.strides[0]
        rowStride = view.strides[1]
        headStride = view.strides[2]
        dimStride = view.strides[3]
    }

    @inline(__always)
    func offset(block: Int, row: Int, head: Int) -> Int { block * blockStride + row * rowStride + head * headStride }

    @inline(__always)
    func pointer(block: Int, row: Int, head: Int) -> UnsafeMutableRawPointer {
        data + offset(block: block, row: row, head: head) * elementType.byteCount
    }
}

/// The attention half of a KV-cache call: the forward's tiled online softmax (same
/// microkernels, same column tiles and log2-domain statistics as ``ForwardKernel``), with keys
/// read from the cache in place through the row's slots, for a task of one or all KV heads
/// (``KVCachePlan``).
///
/// A key block (64 keys) is read as runs of consecutive cache rows: one run for a contiguous
/// cache, one per page touched for a paged one (a page of 1 row gives runs of 1). Sᵀ = K·Qᵀ is
/// computed run by run straight from the cache rows into the rows of the score tile, so K is
/// never copied when it is dense along D; V is interleaved into bfloat16 pairs (bfloat16 path) or
/// read in place (float32), run by run. Nothing is copied at the scale of the cache.
struct KVCacheKernel: @unchecked Sendable {
    let plan: KVCachePlan
    let layout: KVCacheLayout
    let q: TensorView, out: TensorView
    let kc: CacheAddressing, vc: CacheAddressing
    let lse: TensorView?
    let window: SlidingWindow
    let scoreScale: Float
    let softcap: Float
    let alibi: ALiBi?
    let bf16Dot: Bool
    /// float32 K / V dense along D with an Int32 row stride: the float32 GEMMs read them in place.
    let keysInPlace: Bool
    let valuesInPlace: Bool
    /// bfloat16 K rows that are whole pairs: the bfloat16 kernels read them in place.
    let keysInPlaceBF16: Bool
    /// bfloat16 V dense along D: interleaved into pairs straight from the cache.
    let valuesDirectBF16: Bool
    let keyRowBytes: Int
    let valueRowBytes: Int
    /// Decoding on AVX512-BF16 with K and V dense along D and D a multiple of 32: the decode
    /// kernels (flash_kvcache.h) read each block's rows through row pointers, and O is kept in
    /// their pair order until it is stored.
    let pairOrder: Bool

    init(q: TensorView, kCache: TensorView, vCache: TensorView, out: TensorView, lse: TensorView?,
         options: AttentionOptions, plan: KVCachePlan) {
        self.plan = plan
        layout = plan.layout
        self.q = q
        self.out = out
        self.lse = lse
        kc = CacheAddressing(kCache)
        vc = CacheAddressing(vCache)
        window = options.effectiveWindow
        let scale = options.scale(headDim: layout.headDim)
        if options.softcap > 0 {
            scoreScale = scale / options.softcap
            softcap = options.softcap * ForwardKernel.log2e
        } else {
            scoreScale = scale * ForwardKernel.log2e
            softcap = 0
        }
        alibi = options.alibi
        let d = layout.headDim
        func dense(_ a: CacheAddressing) -> Bool { (a.dimStride == 1 || d == 1) && a.rowStride <= Int(Int32.max) }
        keysInPlace = kc.elementType == .float32 && dense(kc)
        valuesInPlace = vc.elementType == .float32 && dense(vc)
        bf16Dot = q.elementType == .bfloat16 && fa_bf16_dot_supported() != 0
        keysInPlaceBF16 = bf16Dot && d % 2 == 0 && kc.dimStride == 1 && kc.rowStride % 2 == 0 && kc.rowStride <= Int(Int32.max)
        valuesDirectBF16 = bf16Dot && vc.dimStride == 1
        keyRowBytes = ((d - 1) * kc.dimStride + 1) * kc.elementType.byteCount
        valueRowBytes = ((d - 1) * vc.dimStride + 1) * vc.elementType.byteCount
        pairOrder = bf16Dot && plan.decoding && kc.dimStride == 1 && vc.dimStride == 1 && d % 32 == 0
    }

    @inline(__always)
    private func queryPointer(batch b: Int, row i: Int, head h: Int) -> UnsafeMutableRawPointer {
        q.data + (b * q.strides[0] + i * q.strides[1] + h * q.strides[2]) * q.elementType.byteCount
    }

    /// Calls `body(t, n, block, row)` for the runs of consecutive cache rows holding absolute
    /// keys a0 ..< a0 + count of row b; t is the run's first key relative to a0.
    @inline(__always)
    private func forEachRun(batch b: Int, from a0: Int, count: Int, _ body: (Int, Int, Int, Int) -> Void) {
        var t = 0
        while t < count {
            let n = layout.contiguousKeys(batch: b, from: a0 + t, limit: count - t)
            let (block, row) = layout.slot(batch: b, key: a0 + t)
            body(t, n, block, row)
            t += n
        }
    }

    /// One query task (or one key split of it): writes out/lse, or the partial slot.
    func run(task: Int, split: Int, scratch: KVCacheScratch, partial: SplitPartials.Slot?) {
        let (b, kvHead, rowBlock) = plan.decode(task: task)
        let sq = layout.seqlenQ, sk = layout.seqlenK(batch: b)
        let heads = plan.headsPerTask, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let row0 = rowBlock * plan.rowsPerTask
        let rows = min(plan.rowsPerTask, sq - row0)
        let cols = heads * rows
        let geometry = MaskGeometry(seqlenQ: sq, seqlenK: sk, window: window)

        // Per-column parameters in the row's own key coordinates (0 = the first key after the
        // pad); columns are head-major: c = head·rows + r, heads counted from the task's first.
        let (maxLo, minHi, anyEmpty) = geometry.fillColumns(
            row0: row0, rows: rows, heads: heads, keyLo: scratch.keyLo, keyHi: scratch.keyHi, diagonal: scratch.diagonal)
        for c in cols..<ldc {
            scratch.keyLo[c] = 0; scratch.keyHi[c] = 0; scratch.diagonal[c] = 0; scratch.slope[c] = 0
        }
        if let alibi {
            for h in 0..<heads {
                let s = alibi.slope(batch: b, head: kvHead * plan.groupSize + h) * ForwardKernel.log2e
                for r in 0..<rows { scratch.slope[h * rows + r] = s }
            }
        }
        for c in 0..<ldc { scratch.rowMax[c] = -.infinity; scratch.rowSum[c] = 0 }

        let keys = plan.keys(split: split, of: geometry.keyRange(rows: row0..<(row0 + rows)))
        let masked: (Int, Int) -> Bool = { j0, nk in anyEmpty || j0 < maxLo || j0 + nk > minHi }
        var columns = fa_fwd_columns(
            cols: Int32(cols), ld: Int32(ldc), score_scale: scoreScale, softcap: softcap,
            key_lo: scratch.keyLo, key_hi: scratch.keyHi, diag: scratch.diagonal,
            alibi: alibi == nil ? nil : UnsafePointer(scratch.slope), drop_base: nil, drop_threshold: 0, drop_scale: 1)
        let first = withUnsafePointer(to: &columns) { columns in
            pairOrder
                ? streamDecodeBF16(keys: keys, batch: b, kvHead: kvHead, row0: row0, rows: rows, columns: columns, masked: masked, scratch: scratch)
                : bf16Dot
                ? streamBF16(keys: keys, batch: b, kvHead: kvHead, row0: row0, rows: rows, columns: columns, masked: masked, scratch: scratch)
                : streamF32(keys: keys, batch: b, kvHead: kvHead, row0: row0, rows: rows, columns: columns, masked: masked, scratch: scratch)
        }
        if first { scratch.output.update(repeating: 0, count: cols * dp) }
        if let partial {
            partial.save(output: scratch.output, count: cols * dp, rowMax: scratch.rowMax, rowSum: scratch.rowSum, columnStride: ldc)
            return
        }
        store(batch: b, kvHead: kvHead, row0: row0, rows: rows, scratch: scratch)
    }

    /// Bytes from a cache row's first element of KV head `kvHead` to past its last element of
    /// the task's last KV head: one contiguous span in the usual layouts.
    @inline(__always)
    private func span(_ a: CacheAddressing, rowBytes: Int) -> Int {
        (plan.kvHeadsPerTask - 1) * a.headStride * a.elementType.byteCount + rowBytes
    }

    /// Starts loading this block's V and the next block's K into L2 while Sᵀ = K·Qᵀ runs.
    @inline(__always)
    private func prefetch(batch b: Int, kvHead: Int, block j0: Int, count nk: Int, next end: Int) {
        let pad = layout.keyStart(batch: b)
        let vBytes = span(vc, rowBytes: valueRowBytes), kBytes = span(kc, rowBytes: keyRowBytes)
        forEachRun(batch: b, from: pad + j0, count: nk) { _, n, block, row in
            fa_prefetch_rows(vc.pointer(block: block, row: row, head: kvHead), vc.rowStride * vc.elementType.byteCount,
                             Int32(n), Int32(vBytes))
        }
        let j1 = j0 + nk
        if j1 < end {
            forEachRun(batch: b, from: pad + j1, count: min(plan.blockKeys, end - j1)) { _, n, block, row in
                fa_prefetch_rows(kc.pointer(block: block, row: row, head: kvHead), kc.rowStride * kc.elementType.byteCount,
                                 Int32(n), Int32(kBytes))
            }
        }
    }

    /// The float32 key loop (float32, float16, and bfloat16 without AVX512-BF16).
    private func streamF32(
        keys: Range<Int>, batch b: Int, kvHead: Int, row0: Int, rows: Int, columns: UnsafePointer<fa_fwd_columns>,
        masked: (Int, Int) -> Bool, scratch: KVCacheScratch
    ) -> Bool {
        let heads = plan.headsPerTask, g = plan.groupSize, d = plan.headDim, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let cols = heads * rows, gc = g * rows, pad = layout.keyStart(batch: b)
        for h in 0..<heads {
            fa_pack_rows_f32(queryPointer(batch: b, row: row0, head: kvHead * g + h), q.elementType.cType,
                             q.strides[1], q.strides[3], Int32(rows), Int32(d), scratch.queryRows + h * rows * dp, Int32(dp))
        }
        // Decoding tiles (≤ 8 columns per KV head) take dot products; others the GEMM on Qᵀ
        // (one KV head per task then, so the head's columns are the whole tile).
        let dot = gc <= KVCachePlan.dotColumns
        if !dot { fa_fwd_transpose(scratch.queryRows, Int32(dp), Int32(cols), Int32(d), scratch.queryT, Int32(ldc)) }
        func scores(_ t: Int, _ kTile: UnsafePointer<Float>, _ ldk: Int, _ n: Int, into s: UnsafeMutablePointer<Float>) {
            if dot {
                fa_fwd_scores_dot(kTile, Int32(ldk), Int32(n), scratch.queryRows + t * gc * dp, Int32(dp), Int32(gc), Int32(d),
                                  s + t * gc, Int32(ldc))
            } else {
                fa_gemm(0, Int32(n), Int32(gc), Int32(d), kTile, Int32(ldk), scratch.queryT, Int32(ldc), s, Int32(ldc), 0)
            }
        }
        var first = true
        var j0 = keys.lowerBound
        while j0 < keys.upperBound {
            let nk = min(plan.blockKeys, keys.upperBound - j0)
            prefetch(batch: b, kvHead: kvHead, block: j0, count: nk, next: keys.upperBound)
            for t in 0..<plan.kvHeadsPerTask {
                // Sᵀ = K_block · Qᵀ for this KV head's columns, run by run.
                forEachRun(batch: b, from: pad + j0, count: nk) { i, n, block, row in
                    let source = kc.pointer(block: block, row: row, head: kvHead + t)
                    if keysInPlace {
                        scores(t, UnsafePointer(source.assumingMemoryBound(to: Float.self)), kc.rowStride, n, into: scratch.scores + i * ldc)
                    } else {
                        fa_pack_rows_f32(source, kc.elementType.cType, kc.rowStride, kc.dimStride, Int32(n), Int32(d),
                                         scratch.keys + i * dp, Int32(dp))
                    }
                }
                if !keysInPlace { scores(t, UnsafePointer(scratch.keys), dp, nk, into: scratch.scores) }
            }
            fa_fwd_softmax_block(columns, scratch.scores, Int32(nk), Int32(j0), masked(j0, nk) ? 1 : 0,
                                 scratch.rowMax, scratch.rowSum, scratch.alpha)
            if !first { fa_fwd_rescale(scratch.output, Int32(dp), Int32(cols), Int32(d), scratch.alpha) }
            for t in 0..<plan.kvHeadsPerTask {
                // O += (Pᵀ)ᵀ · V_block for this KV head's columns, run by run when V is read in place.
                let p = scratch.scores + t * gc, o = scratch.output + t * gc * dp
                forEachRun(batch: b, from: pad + j0, count: nk) { i, n, block, row in
                    let source = vc.pointer(block: block, row: row, head: kvHead + t)
                    if valuesInPlace {
                        fa_gemm(1, Int32(gc), Int32(d), Int32(n), p + i * ldc, Int32(ldc),
                                UnsafePointer(source.assumingMemoryBound(to: Float.self)), Int32(vc.rowStride),
                                o, Int32(dp), first && i == 0 ? 0 : 1)
                    } else {
                        fa_pack_rows_f32(source, vc.elementType.cType, vc.rowStride, vc.dimStride, Int32(n), Int32(d),
                                         scratch.values + i * dp, Int32(dp))
                    }
                }
                if !valuesInPlace {
                    fa_gemm(1, Int32(gc), Int32(d), Int32(nk), p, Int32(ldc), scratch.values, Int32(dp), o, Int32(dp), first ? 0 : 1)
                }
            }
            first = false
            j0 += nk
        }
        return first
    }

    /// The decoding loop on AVX512-BF16 (``pairOrder``): per key block, the rows' addresses once,
    /// then per KV head the scores (fa_kv_scores_rows_bf16) and O += P·V (fa_kv_pv_rows_bf16)
    /// straight from the cache rows, whatever pages they sit on. The kernels prefetch the next
    /// block's rows as they consume this one's, a row for a row, so memory requests stay in
    /// flight at a steady rate (bursts of prefetches fill the miss queue and stall the core).
    private func streamDecodeBF16(
        keys: Range<Int>, batch b: Int, kvHead: Int, row0: Int, rows: Int, columns: UnsafePointer<fa_fwd_columns>,
        masked: (Int, Int) -> Bool, scratch: KVCacheScratch
    ) -> Bool {
        let heads = plan.headsPerTask, g = plan.groupSize, d = plan.headDim, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let cols = heads * rows, gc = g * rows, pad = layout.keyStart(batch: b), perTask = plan.kvHeadsPerTask
        let queryRows = UnsafeMutableRawPointer(scratch.queryRows).assumingMemoryBound(to: UInt16.self)
        for h in 0..<heads {
            fa_bf16_pack_rows(queryPointer(batch: b, row: row0, head: kvHead * g + h), q.elementType.cType,
                              q.strides[1], q.strides[3], Int32(rows), Int32(d), queryRows + h * rows * dp, Int32(dp))
        }
        let probabilities = UnsafeMutableRawPointer(scratch.probabilities).assumingMemoryBound(to: UInt32.self)
        let kb = KVCachePlan.keyBlock
        // Row addresses of block j ..< j + n into half `half` of the pointer arrays.
        func addresses(_ j: Int, _ n: Int, into half: Int) {
            let kRows = scratch.keyRowPointers + half * kb, vRows = scratch.valueRowPointers + half * kb
            forEachRun(batch: b, from: pad + j, count: n) { i, count, block, row in
                let k = UnsafePointer(kc.pointer(block: block, row: row, head: kvHead).assumingMemoryBound(to: UInt16.self))
                let v = UnsafePointer(vc.pointer(block: block, row: row, head: kvHead).assumingMemoryBound(to: UInt16.self))
                for r in 0..<count {
                    kRows[i + r] = k + r * kc.rowStride
                    vRows[i + r] = v + r * vc.rowStride
                }
            }
        }
        var current = 0
        if !keys.isEmpty {
            let n = min(plan.blockKeys, keys.count)
            addresses(keys.lowerBound, n, into: 0)
            // The first block has no predecessor to prefetch it: ask for all of it now.
            for (a, rowBytes) in [(kc, keyRowBytes), (vc, valueRowBytes)] {
                let bytes = span(a, rowBytes: rowBytes)
                forEachRun(batch: b, from: pad + keys.lowerBound, count: n) { _, count, block, row in
                    fa_prefetch_rows(a.pointer(block: block, row: row, head: kvHead), a.rowStride * a.elementType.byteCount,
                                     Int32(count), Int32(bytes))
                }
            }
        }
        var first = true
        var j0 = keys.lowerBound
        while j0 < keys.upperBound {
            let nk = min(plan.blockKeys, keys.upperBound - j0)
            let j1 = j0 + nk, next = min(plan.blockKeys, keys.upperBound - j1)
            if next > 0 { addresses(j1, next, into: 1 - current) }
            let kRows = scratch.keyRowPointers + current * kb, vRows = scratch.valueRowPointers + current * kb
            let kNext = next > 0 ? UnsafePointer(scratch.keyRowPointers + (1 - current) * kb) : nil
            let vNext = next > 0 ? UnsafePointer(scratch.valueRowPointers + (1 - current) * kb) : nil
            for t in 0..<perTask {
                fa_kv_scores_rows_bf16(kRows, t * kc.headStride, Int32(nk), queryRows + t * gc * dp, Int32(dp), Int32(gc),
                                       Int32(d), scratch.scores + t * gc, Int32(ldc), kNext, Int32(next))
            }
            fa_fwd_softmax_block(columns, scratch.scores, Int32(nk), Int32(j0), masked(j0, nk) ? 1 : 0,
                                 scratch.rowMax, scratch.rowSum, scratch.alpha)
            if !first { fa_fwd_rescale(scratch.output, Int32(dp), Int32(cols), Int32(d), scratch.alpha) }
            fa_fwd_pack_p_bf16(scratch.scores, Int32(ldc), Int32(nk), Int32(cols), probabilities, Int32(ldc))
            for t in 0..<perTask {
                fa_kv_pv_rows_bf16(vRows, t * vc.headStride, Int32(nk), probabilities + t * gc, Int32(ldc), Int32(gc), Int32(d),
                                   scratch.output + t * gc * dp, Int32(dp), first ? 0 : 1, vNext, Int32(next))
            }
            first = false
            current = 1 - current
            j0 = j1
        }
        return first
    }

    /// The bfloat16 key loop (AVX512-BF16): Q, K, V and P as bfloat16 pairs, both products on
    /// vdpbf16ps with float32 accumulation, as in the forward.
    private func streamBF16(
        keys: Range<Int>, batch b: Int, kvHead: Int, row0: Int, rows: Int, columns: UnsafePointer<fa_fwd_columns>,
        masked: (Int, Int) -> Bool, scratch: KVCacheScratch
    ) -> Bool {
        let heads = plan.headsPerTask, g = plan.groupSize, d = plan.headDim, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let cols = heads * rows, gc = g * rows, pairs = (d + 1) / 2, pad = layout.keyStart(batch: b)
        func half(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt16> {
            UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt16.self)
        }
        func words(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt32> {
            UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.self)
        }
        for h in 0..<heads {
            fa_bf16_pack_rows(queryPointer(batch: b, row: row0, head: kvHead * g + h), q.elementType.cType,
                              q.strides[1], q.strides[3], Int32(rows), Int32(d), half(scratch.queryRows) + h * rows * dp, Int32(dp))
        }
        let dot = gc <= KVCachePlan.dotColumns
        if !dot { fa_fwd_transpose(scratch.queryRows, Int32(dp / 2), Int32(cols), Int32(pairs), scratch.queryT, Int32(ldc)) }
        // ld counts bfloat16 elements.
        func scores(_ t: Int, _ kTile: UnsafeMutableRawPointer, _ ld: Int, _ n: Int, into s: UnsafeMutablePointer<Float>) {
            if dot {
                fa_kv_scores_bf16(kTile.assumingMemoryBound(to: UInt16.self), ld, Int32(n),
                                  half(scratch.queryRows) + t * gc * dp, Int32(dp), Int32(gc), Int32(d), s + t * gc, Int32(ldc))
            } else {
                fa_gemm_bf16(0, Int32(n), Int32(gc), Int32(pairs), kTile.assumingMemoryBound(to: UInt32.self), Int32(ld / 2),
                             words(scratch.queryT), Int32(ldc), s, Int32(ldc), 0)
            }
        }
        let keyRows = half(scratch.keys), staging = half(scratch.staging), valuePairs = words(scratch.values)
        let probabilities = words(scratch.probabilities)
        var first = true
        var j0 = keys.lowerBound
        while j0 < keys.upperBound {
            let nk = min(plan.blockKeys, keys.upperBound - j0)
            prefetch(batch: b, kvHead: kvHead, block: j0, count: nk, next: keys.upperBound)
            for t in 0..<plan.kvHeadsPerTask {
                forEachRun(batch: b, from: pad + j0, count: nk) { i, n, block, row in
                    let source = kc.pointer(block: block, row: row, head: kvHead + t)
                    if keysInPlaceBF16 {
                        scores(t, source, kc.rowStride, n, into: scratch.scores + i * ldc)
                    } else {
                        fa_bf16_pack_rows(source, kc.elementType.cType, kc.rowStride, kc.dimStride, Int32(n), Int32(d),
                                          keyRows + i * dp, Int32(dp))
                    }
                }
                if !keysInPlaceBF16 { scores(t, UnsafeMutableRawPointer(keyRows), dp, nk, into: scratch.scores) }
            }
            fa_fwd_softmax_block(columns, scratch.scores, Int32(nk), Int32(j0), masked(j0, nk) ? 1 : 0,
                                 scratch.rowMax, scratch.rowSum, scratch.alpha)
            if !first { fa_fwd_rescale(scratch.output, Int32(dp), Int32(cols), Int32(d), scratch.alpha) }
            fa_fwd_pack_p_bf16(scratch.scores, Int32(ldc), Int32(nk), Int32(cols), probabilities, Int32(ldc))
            // V into bfloat16 pairs, head by head: straight from the cache when the block is one
            // dense run, else its runs gathered into consecutive rows first (pairs may straddle
            // pages).
            let a0 = pad + j0
            let oneRun = layout.contiguousKeys(batch: b, from: a0, limit: nk) == nk
            for t in 0..<plan.kvHeadsPerTask {
                if valuesDirectBF16, oneRun {
                    let (block, row) = layout.slot(batch: b, key: a0)
                    fa_bf16_interleave_rows(vc.pointer(block: block, row: row, head: kvHead + t).assumingMemoryBound(to: UInt16.self),
                                            vc.rowStride, Int32(nk), Int32(d), valuePairs, Int32(dp))
                } else {
                    forEachRun(batch: b, from: a0, count: nk) { i, n, block, row in
                        fa_bf16_pack_rows(vc.pointer(block: block, row: row, head: kvHead + t), vc.elementType.cType, vc.rowStride,
                                          vc.dimStride, Int32(n), Int32(d), staging + i * dp, Int32(dp))
                    }
                    fa_bf16_interleave_rows(staging, dp, Int32(nk), Int32(d), valuePairs, Int32(dp))
                }
                fa_gemm_bf16(1, Int32(gc), Int32(d), Int32((nk + 1) / 2), probabilities + t * gc, Int32(ldc),
                             valuePairs, Int32(dp), scratch.output + t * gc * dp, Int32(dp), first ? 0 : 1)
            }
            first = false
            j0 += nk
        }
        return first
    }

    /// Normalises the accumulator and writes out (rounded to its type) and lse.
    func store(batch b: Int, kvHead: Int, row0: Int, rows: Int, scratch: KVCacheScratch) {
        let heads = plan.headsPerTask, d = plan.headDim, dp = plan.paddedHeadDim
        fa_fwd_finish(scratch.output, Int32(dp), Int32(heads * rows), Int32(d), scratch.rowMax, scratch.rowSum, scratch.logSumExp)
        if pairOrder { fa_kv_pair_order_to_natural(scratch.output, Int32(dp), Int32(heads * rows), Int32(d)) }
        for h in 0..<heads {
            let head = kvHead * plan.groupSize + h
            let offset = b * out.strides[0] + row0 * out.strides[1] + head * out.strides[2]
            fa_store_rows_f32(scratch.output + h * rows * dp, Int32(dp), out.data + offset * out.elementType.byteCount,
                              out.elementType.cType, out.strides[1], out.strides[3], Int32(rows), Int32(d))
            if let lse {
                let values = lse.data.assumingMemoryBound(to: Float.self)
                for r in 0..<rows {
                    values[b * lse.strides[0] + head * lse.strides[1] + (row0 + r) * lse.strides[2]] = scratch.logSumExp[h * rows + r]
                }
            }
        }
    }

    /// Combines the key splits of one task in split order: O = Σ 2^(m_s − M)·O_s, likewise l.
    func merge(task: Int, partials: SplitPartials, scratch: KVCacheScratch) {
        let (b, kvHead, rowBlock) = plan.decode(task: task)
        let row0 = rowBlock * plan.rowsPerTask
        let rows = min(plan.rowsPerTask, layout.seqlenQ - row0)
        let cols = plan.headsPerTask * rows, d = plan.headDim
        partials.merge(task: task, columns: cols, headDim: d, output: scratch.output, rowMax: scratch.rowMax, rowSum: scratch.rowSum)
        store(batch: b, kvHead: kvHead, row0: row0, rows: rows, scratch: scratch)
    }
}
