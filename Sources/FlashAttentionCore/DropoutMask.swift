/// The dropout keep-mask as a pure function of (seed, batch, head, row, column).
///
/// Every backend draws the same mask: a counter-based hash (two rounds of the SplitMix64
/// finaliser), so any element can be drawn independently, in any order, on any thread, and
/// the backward pass recomputes the forward's mask without storing it. Row and column are
/// positions within the sequence (local to the batch entry for variable-length batches).
public struct DropoutMask: Sendable {
    public let probability: Float
    /// Keep iff the 24-bit draw is at least this.
    public let threshold: UInt32
    /// 1 / (1 − p): kept probabilities are scaled so the expectation is unchanged.
    public let keepScale: Float
    public let seed: UInt64

    public init(_ dropout: Dropout) {
        probability = dropout.probability
        seed = dropout.seed
        threshold = UInt32((Double(dropout.probability) * 16_777_216).rounded(.down))
        keepScale = dropout.probability < 1 ? 1 / (1 - dropout.probability) : 0
    }

    @inlinable
    public static func mix(_ x: UInt64) -> UInt64 {
        var z = x &+ 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// The per-(batch, head) stream key; hoist it out of inner loops.
    @inlinable
    public func streamKey(batch: Int, head: Int) -> UInt64 {
        DropoutMask.mix(seed ^ DropoutMask.mix(UInt64(batch) << 32 | UInt64(UInt32(truncatingIfNeeded: head))))
    }

    /// Whether element (row, column) of a stream survives.
    @inlinable
    public func keep(streamKey: UInt64, row: Int, column: Int) -> Bool {
        let r = DropoutMask.mix(streamKey &+ (UInt64(row) << 32 | UInt64(UInt32(truncatingIfNeeded: column))))
        return UInt32(truncatingIfNeeded: r >> 40) >= threshold
    }

    @inlinable
    public func keep(batch: Int, head: Int, row: Int, column: Int) -> Bool {
        keep(streamKey: streamKey(batch: batch, head: head), row: row, column: column)
    }
}
