#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Combines attention results computed over disjoint sets of keys into the result over their
/// union: the merge step of split-KV decoding, ring attention and any blockwise scheme.
///
/// Each part is an (out, lse) pair as this library returns them: `out` normalised over the
/// part's keys, `lse` the natural log of the part's softmax denominator. With
/// `M = max lse_p` over the parts that saw keys:
///
///     lse = M + log Σ_p exp(lse_p − M)
///     out = Σ_p exp(lse_p − lse) · out_p
///
/// A part whose lse is +∞ (this library's mark for a row that saw no key) or −∞ (log 0, as
/// other libraries write it) is empty: it gets weight 0 and its `out` is not read, so garbage
/// there cannot leak in. A row empty in every part gets out = 0 and lse = +∞. A NaN lse makes
/// the row NaN (it is never silently dropped). Arithmetic is float32, parts in the order given.
public enum AttentionMerge {
    /// Merges `outs[p]`/`lses[p]` into `out` (and `lse`).
    ///
    /// Layouts: out (B, S, H, D) with lse (B, H, S), or packed out (T, H, D) with lse (H, T),
    /// the layouts of ``ForwardArguments``. Every part has the shape of `out`; outs may be of any
    /// element type, lses are float32. `out` and `lse` may be the views of one of the parts
    /// (accumulating in place, as ring attention does): each row is read whole before it is
    /// written. Host memory only.
    public static func merge(outs: [TensorView], lses: [TensorView], out: TensorView, lse: TensorView? = nil) throws {
        func fail(_ name: String, _ expected: String) -> FlashAttentionError { .invalidArgument(name: name, expected: expected) }
        guard !outs.isEmpty else { throw fail("outs", "at least one part, got none") }
        guard lses.count == outs.count else { throw fail("lses", "one lse per out (\(outs.count)), got \(lses.count)") }
        try Validator.checkStrides(out, name: "out")
        guard out.rank == 4 || out.rank == 3 else {
            throw fail("out", "rank 4 (batch, seqlen, heads, headdim) or 3 (total, heads, headdim), got shape \(Validator.describe(out.shape))")
        }
        let lseShape = out.rank == 4 ? [out.shape[0], out.shape[2], out.shape[1]] : [out.shape[1], out.shape[0]]
        for view in outs + lses + [out] + (lse.map { [$0] } ?? []) where view.device != .cpu {
            throw fail("device", "host (cpu) tensors for AttentionMerge, got \(view.device)")
        }
        for (p, view) in outs.enumerated() {
            try Validator.expect(view, name: "outs[\(p)]", shape: out.shape, device: .cpu)
        }
        for (p, view) in lses.enumerated() {
            try Validator.expect(view, name: "lses[\(p)]", shape: lseShape, device: .cpu)
            guard view.elementType == .float32 else { throw fail("lses[\(p)]", "float32, got \(view.elementType)") }
        }
        if let lse {
            try Validator.expect(lse, name: "lse", shape: lseShape, device: .cpu)
            guard lse.elementType == .float32 else { throw fail("lse", "float32, got \(lse.elementType)") }
        }

        // Rows are (outer, seq, head) for rank 4 and (token, head) for rank 3, with the lse
        // at (outer, head, seq) or (head, token).
        let rank4 = out.rank == 4
        let outer = rank4 ? out.shape[0] : 1, seq = rank4 ? out.shape[1] : out.shape[0]
        let heads = out.shape[out.rank - 2], d = out.shape[out.rank - 1]
        func outOffset(_ view: TensorView, _ o: Int, _ s: Int, _ h: Int) -> Int {
            rank4 ? o * view.strides[0] + s * view.strides[1] + h * view.strides[2] : s * view.strides[0] + h * view.strides[1]
        }
        func lseOffset(_ view: TensorView, _ o: Int, _ s: Int, _ h: Int) -> Int {
            rank4 ? o * view.strides[0] + h * view.strides[1] + s * view.strides[2] : h * view.strides[0] + s * view.strides[1]
        }
        let parts = outs.count
        var values = [Float](repeating: 0, count: parts), row = [Float](repeating: 0, count: d)
        for o in 0..<outer {
            for s in 0..<seq {
                for h in 0..<heads {
                    var m = -Float.infinity, nan = false
                    for p in 0..<parts {
                        let x: Float = lses[p].load(at: lseOffset(lses[p], o, s, h))
                        values[p] = x
                        if x.isNaN { nan = true } else if x.isFinite { m = max(m, x) }
                    }
                    var merged: Float
                    if nan {
                        merged = .nan
                        for e in 0..<d { row[e] = .nan }
                    } else if m == -.infinity {
                        merged = .infinity
                        for e in 0..<d { row[e] = 0 }
                    } else {
                        var sum: Float = 0
                        for p in 0..<parts where values[p].isFinite { sum += expf(values[p] - m) }
                        merged = m + logf(sum)
                        for e in 0..<d { row[e] = 0 }
                        for p in 0..<parts where values[p].isFinite {
                            let w = expf(values[p] - merged)
                            let view = outs[p], base = outOffset(view, o, s, h), stride = view.strides[view.rank - 1]
                            for e in 0..<d { row[e] += w * view.load(at: base + e * stride) }
                        }
                    }
                    let base = outOffset(out, o, s, h), stride = out.strides[out.rank - 1]
                    for e in 0..<d { out.store(row[e], at: base + e * stride) }
                    if let lse { lse.store(merged, at: lseOffset(lse, o, s, h)) }
                }
            }
        }
    }
}
