/// Which keys each query row sees, once causal and window masks are applied.
///
/// Causal and window masks always leave an interval of keys per row, so a backend can skip
/// whole tiles outside it and mask only the tiles that straddle its ends.
public struct MaskGeometry: Sendable, Hashable {
    public let seqlenQ: Int
    public let seqlenK: Int
    public let window: SlidingWindow

    public init(seqlenQ: Int, seqlenK: Int, window: SlidingWindow) {
        self.seqlenQ = seqlenQ
        self.seqlenK = seqlenK
        self.window = window
    }

    public init(seqlenQ: Int, seqlenK: Int, options: AttentionOptions) {
        self.init(seqlenQ: seqlenQ, seqlenK: seqlenK, window: options.effectiveWindow)
    }

    /// The bottom-right alignment: query i's diagonal is key i + Sk − Sq.
    @inlinable
    public var diagonalOffset: Int { seqlenK - seqlenQ }

    /// Visible keys of row `i` as a half-open range; empty when the row sees nothing.
    @inlinable
    public func keyRange(row i: Int) -> Range<Int> {
        let center = i + diagonalOffset
        let lo = window.left < 0 ? 0 : max(0, center - window.left)
        let hi = window.right < 0 ? seqlenK : min(seqlenK, center + window.right + 1)
        return lo < hi ? lo..<hi : 0..<0
    }

    /// The union of visible keys over rows `rows`: every key a tile of these rows must read.
    @inlinable
    public func keyRange(rows: Range<Int>) -> Range<Int> {
        guard !rows.isEmpty else { return 0..<0 }
        // Both ends are monotone in i, so the union of intervals is bounded by the end rows.
        var lo = seqlenK, hi = 0
        for i in [rows.lowerBound, rows.upperBound - 1] {
            let r = keyRange(row: i)
            if !r.isEmpty { lo = min(lo, r.lowerBound); hi = max(hi, r.upperBound) }
        }
        if lo >= hi {
            // The end rows may be empty while middle rows are not (a window that leaves the
            // key range on both sides): scan.
            for i in rows {
                let r = keyRange(row: i)
                if !r.isEmpty { lo = min(lo, r.lowerBound); hi = max(hi, r.upperBound) }
            }
        }
        return lo < hi ? lo..<hi : 0..<0
    }

    /// Query rows that see key `j`, as a half-open range (the transpose of ``keyRange(row:)``).
    @inlinable
    public func queryRange(key j: Int) -> Range<Int> {
        // j ≥ i + off − left  ⇔  i ≤ j − off + left ;  j ≤ i + off + right  ⇔  i ≥ j − off − right
        let lo = window.right < 0 ? 0 : max(0, j - diagonalOffset - window.right)
        let hi = window.left < 0 ? seqlenQ : min(seqlenQ, j - diagonalOffset + window.left + 1)
        return lo < hi ? lo..<hi : 0..<0
    }

    /// The union of query rows that see any key in `keys`.
    @inlinable
    public func queryRange(keys: Range<Int>) -> Range<Int> {
        guard !keys.isEmpty else { return 0..<0 }
        let a = queryRange(key: keys.lowerBound), b = queryRange(key: keys.upperBound - 1)
        let lo = min(a.isEmpty ? seqlenQ : a.lowerBound, b.isEmpty ? seqlenQ : b.lowerBound)
        let hi = max(a.isEmpty ? 0 : a.upperBound, b.isEmpty ? 0 : b.upperBound)
        if lo < hi { return lo..<hi }
        var l = seqlenQ, h = 0
        for j in keys {
            let r = queryRange(key: j)
            if !r.isEmpty { l = min(l, r.lowerBound); h = max(h, r.upperBound) }
        }
        return l < h ? l..<h : 0..<0
    }
}
