import FlashAttentionCore

/// How far a result is from the float64 reference.
public enum ErrorMetrics {
    /// The norm-wise relative error ‖x − ref‖₂ / max(‖ref‖₂, `scale`).
    ///
    /// Entries where the reference is not finite (an empty row's LSE, +∞) are left out; they
    /// are checked exactly elsewhere. `scale` handles a reference that is zero or nearly so by
    /// cancellation (dq and dk when every row sees one key: dS = P∘(dP − D) = 0): the error is
    /// then measured against the size the result would have without the cancellation. Where
    /// both are zero the absolute error ‖x − ref‖₂ is returned, so the result must be near zero.
    /// Any NaN in `x` (or an infinity where the reference is finite) gives NaN, which fails
    /// every comparison with a budget.
    public static func relativeError(_ x: [Double], reference: [Double], scale: Double = 0) -> Double {
        precondition(x.count == reference.count, "relativeError needs arrays of one length")
        var diff = 0.0, norm = 0.0
        for (a, r) in zip(x, reference) where r.isFinite {
            guard a.isFinite else { return .nan }
            diff += (a - r) * (a - r)
            norm += r * r
        }
        if x.contains(where: \.isNaN) { return .nan }
        let denominator = max(norm.squareRoot(), scale)
        return denominator > 0 ? diff.squareRoot() / denominator : diff.squareRoot()
    }

    /// The error of correctly rounding `reference` to `type`: no implementation that stores
    /// its result in `type` can do better (up to luck on tiny problems).
    public static func storeRoundingError(_ reference: [Double], to type: ElementType, scale: Double = 0) -> Double {
        relativeError(reference.map { $0.isFinite ? Double(HalfConversion.round(Float($0), to: type)) : $0 },
                      reference: reference, scale: scale)
    }

    public static func nanCount(_ x: [Double]) -> Int { x.reduce(0) { $0 + ($1.isNaN ? 1 : 0) } }
}

/// Checks on poisoned memory (``Tensor/poison()`` fills 0xFF bytes): which elements a backend
/// never wrote, and whether it wrote outside the view it was given.
public enum PoisonCheck {
    /// Whether the element at `offset` still holds the all-ones poison pattern.
    @inlinable
    public static func isPoison(_ view: TensorView, at offset: Int) -> Bool {
        switch view.elementType {
        case .float32: view.data.assumingMemoryBound(to: UInt32.self)[offset] == .max
        case .float16, .bfloat16: view.data.assumingMemoryBound(to: UInt16.self)[offset] == .max
        }
    }

    /// Elements of the view that still hold the poison pattern (never written).
    public static func unwrittenCount(_ view: TensorView) -> Int {
        RandomProblem.logicalOffsets(view).reduce(0) { $0 + (isPoison(view, at: $1) ? 1 : 0) }
    }

    /// Elements of `storage` outside `view` (its padding) that no longer hold the poison
    /// pattern: writes through wrong strides or past the view's end.
    public static func strayWriteCount(storage: Tensor, view: TensorView) -> Int {
        let size = view.elementType.byteCount
        let count = storage.storage.count / size
        let base = (view.data - storage.storage.baseAddress!) / size
        var covered = [Bool](repeating: false, count: count)
        for offset in RandomProblem.logicalOffsets(view) where base + offset < count { covered[base + offset] = true }
        let whole = TensorView(data: storage.storage.baseAddress!, elementType: view.elementType, shape: [count])
        var stray = 0
        for index in 0..<count where !covered[index] && !isPoison(whole, at: index) { stray += 1 }
        return stray
    }
}
