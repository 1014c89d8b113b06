import FlashAttentionCore

extension MaskGeometry {
    /// The per-column mask parameters of a task's tile, for the forward's and the KV-cache
    /// decode's kernels alike: rows `row0 ..< row0 + rows`, `heads` head-major column groups
    /// (column c = h · rows + r), each column's visible key interval [lo, hi) and diagonal
    /// (row + Sk − Sq, for ALiBi). Returns the interval every non-empty row sees (largest lo,
    /// smallest hi) and whether some row sees no key.
    @inline(__always)
    func fillColumns(
        row0: Int, rows: Int, heads: Int, keyLo: UnsafeMutablePointer<Int32>,
        keyHi: UnsafeMutablePointer<Int32>, diagonal: UnsafeMutablePointer<Float>
    ) -> (maxLo: Int, minHi: Int, anyEmpty: Bool) {
        var maxLo = 0, minHi = Int.max, anyEmpty = false
        for r in 0..<rows {
            let range = keyRange(row: row0 + r)
            if range.isEmpty { anyEmpty = true } else {
                maxLo = max(maxLo, range.lowerBound); minHi = min(minHi, range.upperBound)
            }
            let diag = Float(row0 + r + seqlenK - seqlenQ)
            for h in 0..<heads {
                let c = h * rows + r
                keyLo[c] = Int32(range.lowerBound)
                keyHi[c] = Int32(range.upperBound)
                diagonal[c] = diag
            }
        }
        return (maxLo, minHi, anyEmpty)
    }
}
