import FlashAttentionCore
import CFlashKernels

/// The update half of a KV-cache call: new keys (rotated) and values written into the cache in
/// place, and the queries rotated into a small tensor of their own.
///
/// Rows are converted to float32, rotated in float32 and rounded once to the destination's
/// type, as the reference library does; values pass through float32 unchanged, so V lands in
/// the cache bit for bit.
struct KVCacheAppend: @unchecked Sendable {
    let arguments: KVCacheArguments
    let layout: KVCacheLayout

    /// Rotates the first rotaryDim features of a float32 row at `position`.
    @inline(__always)
    private func rotate(_ x: UnsafeMutablePointer<Float>, position p: Int) {
        guard let rotary = arguments.rotary else { return }
        let half = layout.rotaryDim / 2
        let cos = rotary.cos, sin = rotary.sin
        for t in 0..<half {
            let c = cos.load(at: p * cos.strides[0] + t * cos.strides[1])
            let s = sin.load(at: p * sin.strides[0] + t * sin.strides[1])
            let i0 = layout.rotaryInterleaved ? 2 * t : t
            let i1 = layout.rotaryInterleaved ? 2 * t + 1 : t + half
            let x0 = x[i0], x1 = x[i1]
            x[i0] = x0 * c - x1 * s
            x[i1] = x0 * s + x1 * c
        }
    }

    @inline(__always)
    private func pointer(_ view: TensorView, _ offset: Int) -> UnsafeMutableRawPointer {
        view.data + offset * view.elementType.byteCount
    }

    /// Writes k (rotated) and v at positions cacheSeqlens[b] ..< cacheSeqlens[b] + S_new.
    /// Validation guarantees that no two (row, position) pairs share a cache slot, so the order
    /// of the writes does not matter.
    func appendKeysAndValues(threads: Int) {
        guard let k = arguments.k, let v = arguments.v, layout.seqlenNew > 0 else { return }
        let d = layout.headDim, newKeys = layout.seqlenNew
        let kc = CacheAddressing(arguments.kCache), vc = CacheAddressing(arguments.vCache)
        WorkQueue.run(tasks: layout.batch * newKeys, threads: threads) { _, next in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
            defer { row.deallocate() }
            while let item = next() {
                let b = item / newKeys, i = item % newKeys
                let position = layout.cacheSeqlens[b] + i
                let (block, slotRow) = layout.slot(batch: b, key: position)
                for head in 0..<layout.kvHeads {
                    let kOffset = b * k.strides[0] + i * k.strides[1] + head * k.strides[2]
                    fa_pack_rows_f32(pointer(k, kOffset), k.elementType.cType, 0, k.strides[3], 1, Int32(d), row, Int32(d))
                    rotate(row, position: position)
                    fa_store_rows_f32(row, Int32(d), kc.pointer(block: block, row: slotRow, head: head), kc.elementType.cType,
                                      0, kc.dimStride, 1, Int32(d))
                    let vOffset = b * v.strides[0] + i * v.strides[1] + head * v.strides[2]
                    fa_pack_rows_f32(pointer(v, vOffset), v.elementType.cType, 0, v.strides[3], 1, Int32(d), row, Int32(d))
                    fa_store_rows_f32(row, Int32(d), vc.pointer(block: block, row: slotRow, head: head), vc.elementType.cType,
                                      0, vc.dimStride, 1, Int32(d))
                }
            }
        }
    }

    /// The queries rotated at their positions, (B, Sq, H, D) in q's element type; nil without
    /// rotary (the kernel then reads q in place).
    func rotatedQueries(threads: Int) -> Tensor? {
        guard arguments.rotary != nil else { return nil }
        let q = arguments.q, d = layout.headDim, sq = layout.seqlenQ
        let rotated = Tensor(shape: q.shape, elementType: q.elementType)
        let target = rotated.view
        WorkQueue.run(tasks: layout.batch * sq, threads: threads) { _, next in
            let row = UnsafeMutablePointer<Float>.allocate(capacity: d)
            defer { row.deallocate() }
            while let item = next() {
                let b = item / sq, i = item % sq
                let position = layout.queryPosition(batch: b, row: i)
                for head in 0..<layout.heads {
                    let offset = b * q.strides[0] + i * q.strides[1] + head * q.strides[2]
                    fa_pack_rows_f32(pointer(q, offset), q.elementType.cType, 0, q.strides[3], 1, Int32(d), row, Int32(d))
                    rotate(row, position: position)
                    let targetOffset = b * target.strides[0] + i * target.strides[1] + head * target.strides[2]
                    fa_store_rows_f32(row, Int32(d), pointer(target, targetOffset), target.elementType.cType, 0, 1, 1, Int32(d))
                }
            }
        }
        return rotated
    }
}
