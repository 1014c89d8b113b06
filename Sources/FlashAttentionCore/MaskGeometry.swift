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
        // Both ends of a row's interval are non-decreasing in i and the start moves by at most
        // one per row, so over the rows that see anything (a contiguous run) the intervals
        // chain without gaps: the union runs from the first such row's start to the last's end.
        let live = rows.clamped(to: rowsSeeingKeys)
        guard !live.isEmpty else { return 0..<0 }
        return keyRange(row: live.lowerBound).lowerBound..<keyRange(row: live.upperBound - 1).upperBound
    }

    /// The rows whose visible interval is not empty.
    @inlinable
    public var rowsSeeingKeys: Range<Int> {
        guard seqlenK > 0 else { return 0..<0 }
        // center + right + 1 > 0 and center − left < Sk, with center = i + Sk − Sq.
        let lo = window.right < 0 ? 0 : max(0, -diagonalOffset - window.right)
        let hi = window.left < 0 ? seqlenQ : min(seqlenQ, seqlenK - diagonalOffset + window.left)
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

    /// The union of query rows that see any key in `keys` (the transpose of ``keyRange(rows:)``).
    @inlinable
    public func queryRange(keys: Range<Int>) -> Range<Int> {
        let live = keys.clamped(to: keysSeenByQueries)
        guard !live.isEmpty else { return 0..<0 }
        return queryRange(key: live.lowerBound).lowerBound..<queryRange(key: live.upperBound - 1).upperBound
    }

    /// The keys that some query row sees.
    @inlinable
    public var keysSeenByQueries: Range<Int> {
        guard seqlenQ > 0 else { return 0..<0 }
        // j ≥ off − left and j − off − right < Sq.
        let lo = window.left < 0 ? 0 : max(0, diagonalOffset - window.left)
        let hi = window.right < 0 ? seqlenK : min(seqlenK, seqlenQ + diagonalOffset + window.right)
        return lo < hi ? lo..<hi : 0..<0
    }
}
