/// Element addressing of a (batch, seqlen, heads, headdim) tensor, dense or packed varlen,
/// resolved once so that backends index every tensor the same way.
public struct SequenceAddressing: @unchecked Sendable {
    public let data: UnsafeMutableRawPointer
    public let elementType: ElementType
    /// 0 for varlen tensors, whose sequences are located through `rowStarts`.
    public let batchStride: Int
    public let rowStride: Int
    public let headStride: Int
    public let dimStride: Int
    /// Per-batch first token in the packed token axis (varlen), or nil (dense).
    public let rowStarts: [Int]?

    /// Element offset of (batch, row, head, d = 0).
    @inlinable
    public func offset(batch: Int, row: Int, head: Int) -> Int {
        let token = rowStarts.map { $0[batch] + row } ?? row
        return batch * batchStride + token * rowStride + head * headStride
    }

    init(_ view: TensorView, rowStarts: [Int]?) {
        data = view.data
        elementType = view.elementType
        if rowStarts != nil {
            batchStride = 0
            rowStride = view.strides[0]
            headStride = view.strides[1]
            dimStride = view.strides[2]
        } else {
            batchStride = view.strides[0]
            rowStride = view.strides[1]
            headStride = view.strides[2]
            dimStride = view.strides[3]
        }
        self.rowStarts = rowStarts
    }
}

/// Addressing of the float32 per-row statistics (LSE, and the backward's rowsum(dO∘O)):
/// (B, H, Sq) dense, (H, totalQ) varlen.
public struct RowStatAddressing: @unchecked Sendable {
    public let data: UnsafeMutablePointer<Float>
    public let batchStride: Int
    public let headStride: Int
    public let rowStride: Int
    public let rowStarts: [Int]?

    @inlinable
    public func offset(batch: Int, head: Int, row: Int) -> Int {
        let token = rowStarts.map { $0[batch] + row } ?? row
        return batch * batchStride + head * headStride + token * rowStride
    }

    init(_ view: TensorView, rowStarts: [Int]?) {
        data = view.data.assumingMemoryBound(to: Float.self)
        if rowStarts != nil {
            batchStride = 0
            headStride = view.strides[0]
            rowStride = view.strides[1]
        } else {
            batchStride = view.strides[0]
            headStride = view.strides[1]
            rowStride = view.strides[2]
        }
        self.rowStarts = rowStarts
    }
}

/// The validated sizes of an attention call.
public struct AttentionLayout: Sendable, Hashable {
    public let batch: Int
    public let heads: Int
    public let kvHeads: Int
    public let headDim: Int
    /// Dense: the sequence lengths. Varlen: the maxima.
    public let seqlenQ: Int
    public let seqlenK: Int
    public let varlen: VarlenLayout?

    /// Query heads per KV head (1 for MHA, H for MQA).
    public var groupSize: Int { heads / kvHeads }

    public func seqlenQ(batch b: Int) -> Int {
        varlen.map { $0.cuSeqlensQ[b + 1] - $0.cuSeqlensQ[b] } ?? seqlenQ
    }

    public func seqlenK(batch b: Int) -> Int {
        varlen.map { $0.cuSeqlensK[b + 1] - $0.cuSeqlensK[b] } ?? seqlenK
    }

    public func addressing(q view: TensorView) -> SequenceAddressing {
        SequenceAddressing(view, rowStarts: varlen?.cuSeqlensQ)
    }

    public func addressing(k view: TensorView) -> SequenceAddressing {
        SequenceAddressing(view, rowStarts: varlen?.cuSeqlensK)
    }

    public func addressing(rowStats view: TensorView) -> RowStatAddressing {
        RowStatAddressing(view, rowStarts: varlen?.cuSeqlensQ)
    }

    /// Total query tokens (varlen) or B·Sq.
    public var totalQ: Int { varlen.map { $0.cuSeqlensQ.last ?? 0 } ?? batch * seqlenQ }
    public var totalK: Int { varlen.map { $0.cuSeqlensK.last ?? 0 } ?? batch * seqlenK }

    /// Multiply-adds of the two GEMMs, counted as the reference library does:
    /// 4·B·H·Sq·Sk·D, halved for causal.
    public func forwardFLOPs(causal: Bool) -> Double {
        var pairs = 0.0
        if let varlen {
            for b in 0..<varlen.batch { pairs += Double(seqlenQ(batch: b)) * Double(seqlenK(batch: b)) }
        } else {
            pairs = Double(batch) * Double(seqlenQ) * Double(seqlenK)
        }
        return 4 * pairs * Double(heads) * Double(headDim) * (causal ? 0.5 : 1)
    }
}
