import FlashAttentionCore
import CFlashKernels

#if canImport(Glibc)
import Glibc
#endif

/// The forward pass over one call's tensors: FlashAttention-2 style tiled online softmax.
///
/// Each task keeps a tile of query columns (head × row) and streams the key blocks its rows
/// can see. The score tile is held transposed (keys × queries) so that
///
///     Sᵀ = K_block · Qᵀ        (K read in place when it is dense float32)
///     O += (Pᵀ)ᵀ · V_block     (V read in place when it is dense float32)
///
/// are both broadcast-A GEMMs and every softmax reduction runs down columns. Scores are in the
/// log2 domain (log2 e folded into the scale) so the exponentials are exp2.
struct CPUForward {
    let arguments: ForwardArguments
    let layout: AttentionLayout
    let threads: Int

    func run() throws {
        let plan = ForwardPlan(layout: layout)
        let kernel = ForwardKernel(arguments: arguments, plan: plan)
        // Split over keys (plan.splits > 1): partial (O, m, l) per (task, split), then a merge in split order.
        SplitPartials.run(
            tasks: plan.queryTasks, splits: plan.splits, threads: threads, partials: { SplitPartials(plan: plan) },
            scratch: { ForwardScratch(plan: plan) },
            run: { kernel.run(task: $0, split: $1, scratch: $2, partial: $3) },
            merge: { kernel.merge(task: $0, partials: $1, scratch: $2) })
    }
}

/// Everything a task needs that is fixed for the call: addressing, options in kernel form.
struct ForwardKernel: @unchecked Sendable {
    let plan: ForwardPlan
    let q: TensorView, k: TensorView, v: TensorView, out: TensorView
    let qa: SequenceAddressing, ka: SequenceAddressing, va: SequenceAddressing, oa: SequenceAddressing
    let lse: RowStatAddressing?
    let window: SlidingWindow
    let scoreScale: Float
    let softcap: Float
    let alibi: ALiBi?
    let dropout: DropoutMask?
    /// K / V are dense float32 along D with an Int32 row stride: the GEMMs read them in place.
    let keysInPlace: Bool
    let valuesInPlace: Bool
    /// bfloat16 inputs on a CPU with AVX512-BF16: Q·Kᵀ and P·V run on vdpbf16ps.
    let bf16Dot: Bool
    /// bfloat16 K whose rows are whole pairs (even D, unit D stride, even row stride): the
    /// bfloat16 GEMM reads it in place.
    let keysInPlaceBF16: Bool
    /// Bytes from the first to past the last element of one row of K / V (for prefetching).
    let keyRowBytes: Int
    let valueRowBytes: Int

    static let log2e: Float = 1.4426950408889634

    init(arguments: ForwardArguments, plan: ForwardPlan) {
        self.plan = plan
        let layout = plan.layout
        q = arguments.q; k = arguments.k; v = arguments.v; out = arguments.out
        qa = layout.addressing(q: q); ka = layout.addressing(k: k); va = layout.addressing(k: v)
        oa = layout.addressing(q: out)
        lse = arguments.lse.map { layout.addressing(rowStats: $0) }
        let options = arguments.options
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
        if let d = options.dropout, d.probability > 0 { dropout = DropoutMask(d) } else { dropout = nil }
        func inPlace(_ view: TensorView, _ a: SequenceAddressing) -> Bool {
            view.elementType == .float32 && (a.dimStride == 1 || layout.headDim == 1) && a.rowStride <= Int(Int32.max)
        }
        keysInPlace = inPlace(k, ka)
        valuesInPlace = inPlace(v, va)
        bf16Dot = q.elementType == .bfloat16 && fa_bf16_dot_supported() != 0
        keysInPlaceBF16 = bf16Dot && layout.headDim % 2 == 0 && ka.dimStride == 1 && ka.rowStride % 2 == 0
            && ka.rowStride / 2 <= Int(Int32.max)
        keyRowBytes = ((layout.headDim - 1) * ka.dimStride + 1) * k.elementType.byteCount
        valueRowBytes = ((layout.headDim - 1) * va.dimStride + 1) * v.elementType.byteCount
    }

    @inline(__always)
    func pointer(_ view: TensorView, _ offset: Int) -> UnsafeMutableRawPointer {
        view.data + offset * view.elementType.byteCount
    }

    /// One query task (or one key split of it): writes out/lse, or the partial slot.
    func run(task: Int, split: Int, scratch: ForwardScratch, partial: SplitPartials.Slot?) {
        let layout = plan.layout
        let (b, kvHead, rowBlock) = plan.decode(task: task)
        let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
        let g = plan.groupSize, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let row0 = rowBlock * plan.rowsPerTask
        let rows = min(plan.rowsPerTask, sq - row0)
        let cols = g * rows
        let geometry = MaskGeometry(seqlenQ: sq, seqlenK: sk, window: window)

        // Per-column parameters; columns are head-major: c = head·rows + r.
        let (maxLo, minHi, anyEmpty) = geometry.fillColumns(
            row0: row0, rows: rows, heads: g, keyLo: scratch.keyLo, keyHi: scratch.keyHi, diagonal: scratch.diagonal)
        for c in cols..<ldc {
            scratch.keyLo[c] = 0; scratch.keyHi[c] = 0; scratch.diagonal[c] = 0; scratch.slope[c] = 0
            scratch.dropBase[c] = 0
        }
        for h in 0..<g {
            let head = kvHead * g + h
            if let alibi {
                let s = alibi.slope(batch: b, head: head) * ForwardKernel.log2e
                for r in 0..<rows { scratch.slope[h * rows + r] = s }
            }
            if let dropout {
                let stream = dropout.streamKey(batch: b, head: head)
                for r in 0..<rows { scratch.dropBase[h * rows + r] = stream &+ (UInt64(row0 + r) << 32) }
            }
        }
        for c in 0..<ldc { scratch.rowMax[c] = -.infinity; scratch.rowSum[c] = 0 }

        let keys = plan.keys(split: split, of: geometry.keyRange(rows: row0..<(row0 + rows)))
        var first = true
        withColumns(scratch: scratch, cols: cols) { columns in
            if bf16Dot {
                first = streamBF16(keys: keys, batch: b, kvHead: kvHead, row0: row0, rows: rows, columns: columns,
                                   masked: { j0, nk in anyEmpty || j0 < maxLo || j0 + nk > minHi }, scratch: scratch)
            } else {
                first = streamF32(keys: keys, batch: b, kvHead: kvHead, row0: row0, rows: rows, columns: columns,
                                  masked: { j0, nk in anyEmpty || j0 < maxLo || j0 + nk > minHi }, scratch: scratch)
            }
        }
        if first {
            // No visible key: O = 0 (finish and merge treat m = −∞ as empty).
            scratch.output.update(repeating: 0, count: cols * dp)
        }
        if let partial {
            partial.save(output: scratch.output, count: cols * dp, rowMax: scratch.rowMax, rowSum: scratch.rowSum, columnStride: ldc)
            return
        }
        store(batch: b, kvHead: kvHead, row0: row0, rows: rows, scratch: scratch)
    }

    /// Starts loading this block's V and the next block's K into L2 while Sᵀ = K·Qᵀ runs:
    /// each task streams its head's K and V from L3 or memory, and rows a head stride apart
    /// defeat the hardware prefetchers.
    @inline(__always)
    private func prefetch(batch b: Int, kvHead: Int, block j0: Int, count nk: Int, next end: Int) {
        fa_prefetch_rows(pointer(v, va.offset(batch: b, row: j0, head: kvHead)), va.rowStride * v.elementType.byteCount,
                         Int32(nk), Int32(valueRowBytes))
        let j1 = j0 + nk
        if j1 < end {
            fa_prefetch_rows(pointer(k, ka.offset(batch: b, row: j1, head: kvHead)), ka.rowStride * k.elementType.byteCount,
                             Int32(min(ForwardPlan.keyBlock, end - j1)), Int32(keyRowBytes))
        }
    }

    /// The float32 key loop: Sᵀ = K·Qᵀ, softmax, O = α·O + Pᵀᵀ·V per key block. Returns
    /// whether no block was visited.
    private func streamF32(
        keys: Range<Int>, batch b: Int, kvHead: Int, row0: Int, rows: Int, columns: UnsafePointer<fa_fwd_columns>,
        masked: (Int, Int) -> Bool, scratch: ForwardScratch
    ) -> Bool {
        let g = plan.groupSize, d = plan.headDim, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let cols = g * rows
        for h in 0..<g {
            fa_pack_rows_f32(pointer(q, qa.offset(batch: b, row: row0, head: kvHead * g + h)), q.elementType.cType,
                             qa.rowStride, qa.dimStride, Int32(rows), Int32(d),
                             scratch.queryRows + h * rows * dp, Int32(dp))
        }
        if cols > ForwardPlan.dotColumns {
            fa_fwd_transpose(scratch.queryRows, Int32(dp), Int32(cols), Int32(d), scratch.queryT, Int32(ldc))
        }
        var first = true
        var j0 = keys.lowerBound
        while j0 < keys.upperBound {
            let nk = min(ForwardPlan.keyBlock, keys.upperBound - j0)
            prefetch(batch: b, kvHead: kvHead, block: j0, count: nk, next: keys.upperBound)
            // Sᵀ = K_block · Qᵀ
            let kOffset = ka.offset(batch: b, row: j0, head: kvHead)
            let kTile: UnsafePointer<Float>, ldk: Int32
            if keysInPlace {
                kTile = UnsafePointer(pointer(k, kOffset).assumingMemoryBound(to: Float.self))
                ldk = Int32(ka.rowStride)
            } else {
                fa_pack_rows_f32(pointer(k, kOffset), k.elementType.cType, ka.rowStride, ka.dimStride,
                                 Int32(nk), Int32(d), scratch.keys, Int32(dp))
                kTile = UnsafePointer(scratch.keys)
                ldk = Int32(dp)
            }
            if cols <= ForwardPlan.dotColumns {
                fa_fwd_scores_dot(kTile, ldk, Int32(nk), scratch.queryRows, Int32(dp), Int32(cols), Int32(d),
                                  scratch.scores, Int32(ldc))
            } else {
                fa_gemm(0, Int32(nk), Int32(cols), Int32(d), kTile, ldk, scratch.queryT, Int32(ldc),
                        scratch.scores, Int32(ldc), 0)
            }
            fa_fwd_softmax_block(columns, scratch.scores, Int32(nk), Int32(j0), masked(j0, nk) ? 1 : 0,
                                 scratch.rowMax, scratch.rowSum, scratch.alpha)
            if !first { fa_fwd_rescale(scratch.output, Int32(dp), Int32(cols), Int32(d), scratch.alpha) }
            // O += (Pᵀ)ᵀ · V_block
            let vOffset = va.offset(batch: b, row: j0, head: kvHead)
            let vTile: UnsafePointer<Float>, ldv: Int32
            if valuesInPlace {
                vTile = UnsafePointer(pointer(v, vOffset).assumingMemoryBound(to: Float.self))
                ldv = Int32(va.rowStride)
            } else {
                fa_pack_rows_f32(pointer(v, vOffset), v.elementType.cType, va.rowStride, va.dimStride,
                                 Int32(nk), Int32(d), scratch.values, Int32(dp))
                vTile = UnsafePointer(scratch.values)
                ldv = Int32(dp)
            }
            fa_gemm(1, Int32(cols), Int32(d), Int32(nk), scratch.scores, Int32(ldc), vTile, ldv,
                    scratch.output, Int32(dp), first ? 0 : 1)
            first = false
            j0 += nk
        }
        return first
    }

    /// The bfloat16 key loop (AVX512-BF16): the same steps with Q, K, V and P as bfloat16
    /// pairs and both GEMMs on vdpbf16ps, accumulating in float32. P is rounded to bfloat16
    /// only for P·V; the row sums use the float32 P.
    private func streamBF16(
        keys: Range<Int>, batch b: Int, kvHead: Int, row0: Int, rows: Int, columns: UnsafePointer<fa_fwd_columns>,
        masked: (Int, Int) -> Bool, scratch: ForwardScratch
    ) -> Bool {
        let g = plan.groupSize, d = plan.headDim, dp = plan.paddedHeadDim, ldc = plan.columnStride
        let cols = g * rows, pairs = (d + 1) / 2
        func half(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt16> {
            UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt16.self)
        }
        func words(_ p: UnsafeMutablePointer<Float>) -> UnsafeMutablePointer<UInt32> {
            UnsafeMutableRawPointer(p).assumingMemoryBound(to: UInt32.self)
        }
        // Q rows as bfloat16 (cols × dp), then pairs transposed: Qp[pair][column].
        for h in 0..<g {
            fa_bf16_pack_rows(pointer(q, qa.offset(batch: b, row: row0, head: kvHead * g + h)), q.elementType.cType,
                              qa.rowStride, qa.dimStride, Int32(rows), Int32(d),
                              half(scratch.queryRows) + h * rows * dp, Int32(dp))
        }
        if cols > ForwardPlan.dotColumns {
            fa_fwd_transpose(scratch.queryRows, Int32(dp / 2), Int32(cols), Int32(pairs), scratch.queryT, Int32(ldc))
        }
        let keyRows = half(scratch.keys)
        let valuePairs = words(scratch.values)
        let staging = half(scratch.values + ForwardPlan.keyBlock / 2 * dp)  // second half of the V buffer
        let vDirect = v.elementType == .bfloat16 && va.dimStride == 1
        var first = true
        var j0 = keys.lowerBound
        while j0 < keys.upperBound {
            let nk = min(ForwardPlan.keyBlock, keys.upperBound - j0)
            prefetch(batch: b, kvHead: kvHead, block: j0, count: nk, next: keys.upperBound)
            let kSource = pointer(k, ka.offset(batch: b, row: j0, head: kvHead))
            let kTile: UnsafeMutablePointer<UInt32>, ldk: Int
            if keysInPlaceBF16 {
                kTile = kSource.assumingMemoryBound(to: UInt32.self)
                ldk = ka.rowStride / 2
            } else {
                fa_bf16_pack_rows(kSource, k.elementType.cType, ka.rowStride, ka.dimStride, Int32(nk), Int32(d),
                                  keyRows, Int32(dp))
                kTile = UnsafeMutableRawPointer(keyRows).assumingMemoryBound(to: UInt32.self)
                ldk = dp / 2
            }
            if cols <= ForwardPlan.dotColumns {
                fa_fwd_scores_dot_bf16(UnsafeMutableRawPointer(kTile).assumingMemoryBound(to: UInt16.self), Int32(2 * ldk),
                                       Int32(nk), half(scratch.queryRows), Int32(dp), Int32(cols), Int32(d),
                                       scratch.scores, Int32(ldc))
            } else {
                fa_gemm_bf16(0, Int32(nk), Int32(cols), Int32(pairs), kTile, Int32(ldk), words(scratch.queryT),
                             Int32(ldc), scratch.scores, Int32(ldc), 0)
            }
            fa_fwd_softmax_block(columns, scratch.scores, Int32(nk), Int32(j0), masked(j0, nk) ? 1 : 0,
                                 scratch.rowMax, scratch.rowSum, scratch.alpha)
            if !first { fa_fwd_rescale(scratch.output, Int32(dp), Int32(cols), Int32(d), scratch.alpha) }
            let vSource = pointer(v, va.offset(batch: b, row: j0, head: kvHead))
            if vDirect {
                fa_bf16_interleave_rows(vSource.assumingMemoryBound(to: UInt16.self), va.rowStride, Int32(nk), Int32(d),
                                        valuePairs, Int32(dp))
            } else {
                fa_bf16_pack_rows(vSource, v.elementType.cType, va.rowStride, va.dimStride, Int32(nk), Int32(d),
                                  staging, Int32(dp))
                fa_bf16_interleave_rows(staging, dp, Int32(nk), Int32(d), valuePairs, Int32(dp))
            }
            fa_fwd_pack_p_bf16(scratch.scores, Int32(ldc), Int32(nk), Int32(cols), words(scratch.probabilities), Int32(ldc))
            fa_gemm_bf16(1, Int32(cols), Int32(d), Int32((nk + 1) / 2), words(scratch.probabilities), Int32(ldc),
                         valuePairs, Int32(dp), scratch.output, Int32(dp), first ? 0 : 1)
            first = false
            j0 += nk
        }
        return first
    }

    /// Normalises the accumulator and writes out (rounded to its type) and lse.
    func store(batch b: Int, kvHead: Int, row0: Int, rows: Int, scratch: ForwardScratch) {
        let g = plan.groupSize, d = plan.headDim, dp = plan.paddedHeadDim
        fa_fwd_finish(scratch.output, Int32(dp), Int32(g * rows), Int32(d), scratch.rowMax, scratch.rowSum,
                      scratch.logSumExp)
        for h in 0..<g {
            let head = kvHead * g + h
            fa_store_rows_f32(scratch.output + h * rows * dp, Int32(dp),
                              pointer(out, oa.offset(batch: b, row: row0, head: head)), out.elementType.cType,
                              oa.rowStride, oa.dimStride, Int32(rows), Int32(d))
            if let lse {
                for r in 0..<rows {
                    lse.data[lse.offset(batch: b, head: head, row: row0 + r)] = scratch.logSumExp[h * rows + r]
                }
            }
        }
    }

    /// Combines the key splits of one task in split order: O = Σ 2^(m_s − M)·O_s, likewise l.
    func merge(task: Int, partials: SplitPartials, scratch: ForwardScratch) {
        let layout = plan.layout
        let (b, kvHead, rowBlock) = plan.decode(task: task)
        let sq = layout.seqlenQ(batch: b)
        let row0 = rowBlock * plan.rowsPerTask
        let rows = min(plan.rowsPerTask, sq - row0)
        let cols = plan.groupSize * rows, d = plan.headDim
        partials.merge(task: task, columns: cols, headDim: d, output: scratch.output, rowMax: scratch.rowMax, rowSum: scratch.rowSum)
        store(batch: b, kvHead: kvHead, row0: row0, rows: rows, scratch: scratch)
    }

    private func withColumns(scratch: ForwardScratch, cols: Int, _ body: (UnsafePointer<fa_fwd_columns>) -> Void) {
        var columns = fa_fwd_columns(
            cols: Int32(cols), ld: Int32(plan.columnStride), score_scale: scoreScale, softcap: softcap,
            key_lo: scratch.keyLo, key_hi: scratch.keyHi, diag: scratch.diagonal,
            alibi: alibi == nil ? nil : UnsafePointer(scratch.slope),
            drop_base: dropout == nil ? nil : UnsafePointer(scratch.dropBase),
            drop_threshold: dropout?.threshold ?? 0, drop_scale: dropout?.keepScale ?? 1)
        withUnsafePointer(to: &columns) { body($0) }
    }
}
