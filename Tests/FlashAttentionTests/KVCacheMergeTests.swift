import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// ``AttentionMerge``: attention over disjoint key sets merges into attention over their union.
@Suite struct KVCacheMergeTests {
    static func random(_ shape: [Int], seed: UInt64, type: ElementType = .float32) throws -> Tensor {
        var rng = SeededRandom(seed: seed)
        return try Tensor(shape: shape, elementType: type, values: (0..<shape.reduce(1, *)).map { _ in Float(rng.normal()) })
    }

    /// out and lse of attention of q over keys `range` of k/v.
    static func attention(_ q: Tensor, _ k: Tensor, _ v: Tensor, keys range: Range<Int>) throws -> (Tensor, Tensor) {
        let out = Tensor(shape: q.shape), lse = Tensor(shape: [q.shape[0], q.shape[2], q.shape[1]])
        try CPUBackend(threads: 2).forward(ForwardArguments(
            q: q.view, k: k.view.slice(axis: 1, range), v: v.view.slice(axis: 1, range), out: out.view, lse: lse.view))
        return (out, lse)
    }

    @Test func twoHalvesEqualTheWhole() throws {
        let q = try Self.random([2, 5, 4, 32], seed: 1), k = try Self.random([2, 100, 2, 32], seed: 2), v = try Self.random([2, 100, 2, 32], seed: 3)
        let (whole, wholeLSE) = try Self.attention(q, k, v, keys: 0..<100)
        let (a, aLSE) = try Self.attention(q, k, v, keys: 0..<37)
        let (b, bLSE) = try Self.attention(q, k, v, keys: 37..<100)
        let out = Tensor(shape: q.shape), lse = Tensor(shape: wholeLSE.shape)
        out.poison()
        lse.poison()
        try AttentionMerge.merge(outs: [a.view, b.view], lses: [aLSE.view, bLSE.view], out: out.view, lse: lse.view)
        let outError = ErrorMetrics.relativeError(out.floats().map(Double.init), reference: whole.floats().map(Double.init))
        let lseError = ErrorMetrics.relativeError(lse.floats().map(Double.init), reference: wholeLSE.floats().map(Double.init))
        #expect(outError < 1e-5)
        #expect(lseError < 1e-6)

        // Accumulating in place (ring attention): out and lse are the first part's views.
        try AttentionMerge.merge(outs: [a.view, b.view], lses: [aLSE.view, bLSE.view], out: a.view, lse: aLSE.view)
        #expect(a.floats() == out.floats())
        #expect(aLSE.floats() == lse.floats())
    }

    /// Three parts against the float64 oracle over all keys, bfloat16 parts into a float32 out.
    @Test func threePartsAgainstTheOracle() throws {
        let q = try Self.random([1, 3, 4, 16], seed: 4), k = try Self.random([1, 90, 4, 16], seed: 5), v = try Self.random([1, 90, 4, 16], seed: 6)
        let reference = try ReferenceAttention.forward(ForwardArguments(
            q: q.view, k: k.view, v: v.view, out: Tensor(shape: q.shape).view, lse: Tensor(shape: [1, 4, 3]).view))
        var outs: [Tensor] = [], lses: [Tensor] = []
        for range in [0..<10, 10..<11, 11..<90] {
            let (o, l) = try Self.attention(q, k, v, keys: range)
            outs.append(o)
            lses.append(l)
        }
        let out = Tensor(shape: q.shape), lse = Tensor(shape: [1, 4, 3])
        try AttentionMerge.merge(outs: outs.map(\.view), lses: lses.map(\.view), out: out.view, lse: lse.view)
        #expect(ErrorMetrics.relativeError(out.floats().map(Double.init), reference: reference.out) < 1e-5)
        #expect(ErrorMetrics.relativeError(lse.floats().map(Double.init), reference: reference.lse) < 1e-6)
    }

    /// Empty parts (+∞ or −∞ lse) get weight 0 and their out is not read; all-empty rows give
    /// 0 / +∞; a NaN lse makes the row NaN. Packed (T, H, D) layout with (H, T) lse.
    @Test func emptyPartsAndNaN() throws {
        let d = 8
        let full = try Self.random([3, 2, d], seed: 7)
        let garbage = Tensor(shape: [3, 2, d])
        garbage.poison()  // NaN everywhere: must never be read
        let fullLSE = try Tensor(shape: [2, 3], values: [1.5, -2, .infinity, 0.25, 3, -.infinity])
        // Part 2 is empty everywhere, as +∞ in some rows and −∞ in others.
        let emptyLSE = try Tensor(shape: [2, 3], values: [.infinity, -.infinity, .infinity, -.infinity, .infinity, -.infinity])
        let out = Tensor(shape: [3, 2, d]), lse = Tensor(shape: [2, 3])
        try AttentionMerge.merge(outs: [full.view, garbage.view], lses: [fullLSE.view, emptyLSE.view], out: out.view, lse: lse.view)
        let o = out.floats(), f = full.floats(), l = lse.floats()
        for token in 0..<3 {
            for head in 0..<2 {
                let row = (token * 2 + head) * d
                let partLSE = fullLSE.view[head, token]
                if partLSE.isFinite {
                    #expect(l[head * 3 + token] == partLSE)
                    for e in 0..<d { #expect(abs(o[row + e] - f[row + e]) <= 1e-6 * max(1, abs(f[row + e]))) }
                } else {
                    #expect(l[head * 3 + token] == .infinity)
                    for e in 0..<d { #expect(o[row + e] == 0) }
                }
            }
        }
        let nanLSE = try Tensor(shape: [2, 3], values: [.nan, 0, 0, 0, 0, 0])
        try AttentionMerge.merge(outs: [full.view, full.view], lses: [nanLSE.view, fullLSE.view], out: out.view, lse: lse.view)
        #expect(lse.floats()[0].isNaN)
        #expect(out.floats()[0].isNaN)
    }

    @Test func badArgumentsAreNamed() {
        let out = Tensor(shape: [1, 2, 2, 4]), lse = Tensor(shape: [1, 2, 2])
        func name(_ body: () throws -> Void) -> String? {
            do { try body() } catch let FlashAttentionError.invalidArgument(name, _) { return name } catch { return "other" }
            return nil
        }
        #expect(name { try AttentionMerge.merge(outs: [], lses: [], out: out.view) } == "outs")
        #expect(name { try AttentionMerge.merge(outs: [out.view], lses: [], out: out.view) } == "lses")
        #expect(name { try AttentionMerge.merge(outs: [Tensor(shape: [1, 2, 2, 5]).view], lses: [lse.view], out: out.view) } == "outs[0]")
        #expect(name { try AttentionMerge.merge(outs: [out.view], lses: [Tensor(shape: [1, 2, 3]).view], out: out.view) } == "lses[0]")
        #expect(name {
            try AttentionMerge.merge(outs: [out.view], lses: [Tensor(shape: [1, 2, 2], elementType: .bfloat16).view], out: out.view)
        } == "lses[0]")
    }
}
