/// A variable-length batch: sequences packed back to back along the token axis.
///
/// Q, K, V and O are (total, H, D) tensors; sequence `b` occupies tokens
/// `cuSeqlensQ[b] ..< cuSeqlensQ[b + 1]` of Q (and likewise for K/V). The LSE is (H, totalQ),
/// as in the reference library.
public struct VarlenLayout: Sendable, Hashable {
    public var cuSeqlensQ: [Int]
    public var cuSeqlensK: [Int]
    public var maxSeqlenQ: Int
    public var maxSeqlenK: Int

    /// - Parameters:
    ///   - maxSeqlenQ: an upper bound on every query length; `nil` computes it.
    public init(cuSeqlensQ: [Int], cuSeqlensK: [Int], maxSeqlenQ: Int? = nil, maxSeqlenK: Int? = nil) {
        self.cuSeqlensQ = cuSeqlensQ
        self.cuSeqlensK = cuSeqlensK
        self.maxSeqlenQ = maxSeqlenQ ?? VarlenLayout.longest(cuSeqlensQ)
        self.maxSeqlenK = maxSeqlenK ?? VarlenLayout.longest(cuSeqlensK)
    }

    public var batch: Int { max(cuSeqlensQ.count - 1, 0) }

    static func longest(_ offsets: [Int]) -> Int {
        guard offsets.count > 1 else { return 0 }
        return (1..<offsets.count).map { offsets[$0] - offsets[$0 - 1] }.max() ?? 0
    }
}
