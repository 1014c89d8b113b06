/// Argument checks shared by every backend: shapes, types, strides and option values, each
/// failure naming the argument and what was expected.
extension ForwardArguments {
    /// Checks every argument and returns the sizes. Nothing is read or written.
    /// - Parameters:
    ///   - maxHeadDim: the largest head dim the calling backend supports.
    public func validate(maxHeadDim: Int = 256) throws -> AttentionLayout {
        let layout = try Validator.layout(q: q, k: k, v: v, varlen: varlen, maxHeadDim: maxHeadDim)
        try Validator.expect(out, name: "out", shape: q.shape, device: q.device)
        if let lse { try Validator.expectLSE(lse, name: "lse", layout: layout, device: q.device) }
        try Validator.check(options: options, layout: layout)
        return layout
    }
}

extension BackwardArguments {
    /// Checks every argument and returns the sizes. Nothing is read or written.
    public func validate(maxHeadDim: Int = 256) throws -> AttentionLayout {
        let layout = try Validator.layout(q: q, k: k, v: v, varlen: varlen, maxHeadDim: maxHeadDim)
        try Validator.expect(dOut, name: "dout", shape: q.shape, device: q.device)
        try Validator.expect(out, name: "out", shape: q.shape, device: q.device)
        try Validator.expectLSE(lse, name: "lse", layout: layout, device: q.device)
        try Validator.expect(dq, name: "dq", shape: q.shape, device: q.device)
        try Validator.expect(dk, name: "dk", shape: k.shape, device: q.device)
        try Validator.expect(dv, name: "dv", shape: v.shape, device: q.device)
        try Validator.check(options: options, layout: layout)
        return layout
    }
}

enum Validator {
    static func fail(_ name: String, _ expected: String) -> FlashAttentionError {
        .invalidArgument(name: name, expected: expected)
    }

    static func describe(_ shape: [Int]) -> String { "(" + shape.map(String.init).joined(separator: ", ") + ")" }

    static func checkStrides(_ view: TensorView, name: String) throws {
        guard view.strides.count == view.shape.count else {
            throw fail(name, "one stride per dimension (rank \(view.shape.count)), got \(view.strides.count)")
        }
        if view.shape.contains(where: { $0 < 0 }) { throw fail(name, "non-negative sizes, got \(describe(view.shape))") }
        if view.strides.contains(where: { $0 < 0 }) { throw fail(name, "non-negative strides, got \(describe(view.strides))") }
    }

    static func layout(q: TensorView, k: TensorView, v: TensorView, varlen: VarlenLayout?, maxHeadDim: Int) throws -> AttentionLayout {
        for (view, name) in [(q, "q"), (k, "k"), (v, "v")] { try checkStrides(view, name: name) }
        let rank = varlen == nil ? 4 : 3
        let form = varlen == nil ? "(batch, seqlen, heads, headdim)" : "(total_tokens, heads, headdim)"
        guard q.rank == rank else { throw fail("q", "rank \(rank) \(form), got shape \(describe(q.shape))") }
        guard k.rank == rank else { throw fail("k", "rank \(rank) \(form), got shape \(describe(k.shape))") }
        guard v.shape == k.shape else { throw fail("v", "the shape of k \(describe(k.shape)), got \(describe(v.shape))") }
        guard k.elementType == q.elementType else { throw fail("k", "element type \(q.elementType) like q, got \(k.elementType)") }
        guard v.elementType == q.elementType else { throw fail("v", "element type \(q.elementType) like q, got \(v.elementType)") }
        guard k.device == q.device, v.device == q.device else { throw fail("k", "tensors on one device (q is on \(q.device))") }
        let headDim = q.shape[rank - 1]
        guard headDim >= 1, headDim <= maxHeadDim else { throw fail("q", "head dim D in 1...\(maxHeadDim), got \(headDim)") }
        guard k.shape[rank - 1] == headDim else { throw fail("k", "head dim \(headDim) like q, got \(k.shape[rank - 1])") }
        let heads = q.shape[rank - 2], kvHeads = k.shape[rank - 2]
        guard heads >= 1 else { throw fail("q", "at least one head, got \(heads)") }
        guard kvHeads >= 1, heads % kvHeads == 0 else {
            throw fail("k", "a number of heads that divides q's \(heads) (MQA/GQA), got \(kvHeads)")
        }
        if let varlen {
            let batch = varlen.batch
            guard varlen.cuSeqlensQ.count >= 2 else { throw fail("cu_seqlens_q", "batch + 1 ≥ 2 offsets, got \(varlen.cuSeqlensQ.count)") }
            guard varlen.cuSeqlensK.count == varlen.cuSeqlensQ.count else {
                throw fail("cu_seqlens_k", "\(varlen.cuSeqlensQ.count) offsets like cu_seqlens_q, got \(varlen.cuSeqlensK.count)")
            }
            try checkOffsets(varlen.cuSeqlensQ, name: "cu_seqlens_q", total: q.shape[0], maxLength: varlen.maxSeqlenQ, maxName: "max_seqlen_q")
            try checkOffsets(varlen.cuSeqlensK, name: "cu_seqlens_k", total: k.shape[0], maxLength: varlen.maxSeqlenK, maxName: "max_seqlen_k")
            return AttentionLayout(batch: batch, heads: heads, kvHeads: kvHeads, headDim: headDim,
                                   seqlenQ: varlen.maxSeqlenQ, seqlenK: varlen.maxSeqlenK, varlen: varlen)
        }
        guard k.shape[0] == q.shape[0] else { throw fail("k", "batch \(q.shape[0]) like q, got \(k.shape[0])") }
        return AttentionLayout(batch: q.shape[0], heads: heads, kvHeads: kvHeads, headDim: headDim,
                               seqlenQ: q.shape[1], seqlenK: k.shape[1], varlen: nil)
    }

    static func checkOffsets(_ offsets: [Int], name: String, total: Int, maxLength: Int, maxName: String) throws {
        guard offsets.first == 0 else { throw fail(name, "first offset 0, got \(offsets.first ?? -1)") }
        for b in 1..<offsets.count {
            let length = offsets[b] - offsets[b - 1]
            guard length >= 0 else { throw fail(name, "non-decreasing offsets, got \(offsets[b - 1]) then \(offsets[b])") }
            guard length <= maxLength else { throw fail(maxName, "at least every sequence length, got \(maxLength) < \(length)") }
        }
        guard let last = offsets.last, last <= total else {
            throw fail(name, "last offset ≤ the packed token count \(total), got \(offsets.last ?? -1)")
        }
    }

    static func expect(_ view: TensorView, name: String, shape: [Int], device: Device) throws {
        try checkStrides(view, name: name)
        guard view.shape == shape else { throw fail(name, "shape \(describe(shape)), got \(describe(view.shape))") }
        guard view.device == device else { throw fail(name, "a tensor on \(device), got \(view.device)") }
    }

    static func expectLSE(_ view: TensorView, name: String, layout: AttentionLayout, device: Device) throws {
        let shape = layout.varlen == nil ? [layout.batch, layout.heads, layout.seqlenQ] : [layout.heads, layout.totalQ]
        try expect(view, name: name, shape: shape, device: device)
        guard view.elementType == .float32 else { throw fail(name, "float32, got \(view.elementType)") }
    }

    static func check(options: AttentionOptions, layout: AttentionLayout) throws {
        if let scale = options.softmaxScale, !scale.isFinite { throw fail("softmax_scale", "a finite number, got \(scale)") }
        guard options.softcap.isFinite, options.softcap >= 0 else { throw fail("softcap", "a finite value ≥ 0 (0 disables it), got \(options.softcap)") }
        guard options.window.left >= -1 else { throw fail("window_left", "≥ -1 (-1 is unbounded), got \(options.window.left)") }
        guard options.window.right >= -1 else { throw fail("window_right", "≥ -1 (-1 is unbounded), got \(options.window.right)") }
        if let dropout = options.dropout {
            guard dropout.probability >= 0, dropout.probability < 1 else {
                throw fail("dropout_p", "a probability in [0, 1), got \(dropout.probability)")
            }
        }
        if let alibi = options.alibi {
            let slopes = alibi.slopes
            try checkStrides(slopes, name: "alibi_slopes")
            guard slopes.elementType == .float32 else { throw fail("alibi_slopes", "float32, got \(slopes.elementType)") }
            guard slopes.shape == [layout.heads] || slopes.shape == [layout.batch, layout.heads] else {
                throw fail("alibi_slopes", "shape (\(layout.heads)) or (\(layout.batch), \(layout.heads)), got \(describe(slopes.shape))")
            }
        }
    }
}
