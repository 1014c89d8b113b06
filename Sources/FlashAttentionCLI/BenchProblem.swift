import FlashAttention

/// The tensors of one benchmark point, filled with reproducible pseudo-random values.
///
/// Values are uniform with unit variance (the scale of normalised activations); they are
/// rounded to the element type as they are stored, and torch is handed these rounded values.
final class BenchProblem {
    let q: Tensor, k: Tensor, v: Tensor, dOut: Tensor
    let out: Tensor, lse: Tensor, dq: Tensor, dk: Tensor, dv: Tensor

    init(batch: Int, seqlen: Int, heads: Int, kvHeads: Int? = nil, headDim: Int, elementType: ElementType, seed: UInt64) {
        let qShape = [batch, seqlen, heads, headDim], kShape = [batch, seqlen, kvHeads ?? heads, headDim]
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        func filled(_ shape: [Int]) -> Tensor {
            let tensor = Tensor(shape: shape, elementType: elementType)
            let view = tensor.view
            for index in 0..<tensor.elementCount {
                // xorshift64*: fast and good enough for benchmark inputs.
                state ^= state >> 12
                state ^= state << 25
                state ^= state >> 27
                let bits = (state &* 0x2545_F491_4F6C_DD1D) >> 40  // 24 bits
                view.store((Float(bits) / Float(1 << 24) * 2 - 1) * 1.732_050_8, at: index)
            }
            return tensor
        }
        q = filled(qShape)
        k = filled(kShape)
        v = filled(kShape)
        dOut = filled(qShape)
        out = Tensor(shape: qShape, elementType: elementType)
        lse = Tensor(shape: [batch, heads, seqlen], elementType: .float32)
        dq = Tensor(shape: qShape, elementType: elementType)
        dk = Tensor(shape: kShape, elementType: elementType)
        dv = Tensor(shape: kShape, elementType: elementType)
    }

    func forwardArguments(causal: Bool) -> ForwardArguments {
        ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: AttentionOptions(causal: causal))
    }

    func backwardArguments(causal: Bool) -> BackwardArguments {
        BackwardArguments(dOut: dOut.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                          dq: dq.view, dk: dk.view, dv: dv.view, options: AttentionOptions(causal: causal))
    }
}
