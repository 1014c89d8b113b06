import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// One KV-cache test case: sizes and options, drawn reproducibly from `seed`.
struct KVCacheCase: CustomStringConvertible, Sendable {
    var batch = 2
    var seqlenQ = 1
    var heads = 4
    var kvHeads = 2
    var headDim = 32
    /// New keys appended per row (0: no k/v).
    var seqlenNew = 1
    var type: ElementType = .float32
    /// Paged cache with this page size, or contiguous (nil).
    var pageSize: Int?
    /// Keys per sequence the cache holds (rounded up to whole pages when paged).
    var capacity = 100
    /// Rotated features per head (0: no rotary).
    var rotaryDim = 0
    var interleaved = true
    var batchIndex = false
    var leftPad = false
    var causal = false
    var window = SlidingWindow.unbounded
    var softcap: Float = 0
    var alibi = false
    var softmaxScale: Float?
    var numSplits = 0
    /// Explicit cache lengths; drawn at random when nil.
    var lengths: [Int]?
    var seed: UInt64 = 1

    var description: String {
        var parts = ["B=\(batch) Sq=\(seqlenQ) H=\(heads)/\(kvHeads) D=\(headDim) new=\(seqlenNew) \(type)",
                     pageSize.map { "page=\($0)" } ?? "contiguous", "cap=\(capacity)"]
        if rotaryDim > 0 { parts.append("rotary=\(rotaryDim)\(interleaved ? "i" : "h")") }
        if batchIndex { parts.append("batchIndex") }
        if leftPad { parts.append("leftPad") }
        if causal { parts.append("causal") }
        if window != .unbounded { parts.append("window=(\(window.left),\(window.right))") }
        if softcap > 0 { parts.append("softcap=\(softcap)") }
        if alibi { parts.append("alibi") }
        if numSplits > 0 { parts.append("splits=\(numSplits)") }
        parts.append("seed=\(seed)")
        return parts.joined(separator: " ")
    }

    /// A random case over every feature, small enough for the float64 oracle.
    static func random(seed: UInt64) -> KVCacheCase {
        var rng = SeededRandom(seed: seed)
        var c = KVCacheCase(seed: seed)
        c.batch = rng.int(in: 1...3)
        c.kvHeads = rng.pick([1, 2, 3])
        c.heads = c.kvHeads * rng.pick([1, 2, 4])
        c.headDim = rng.pick([8, 16, 40, 64, 6])
        c.seqlenQ = rng.pick([1, 1, 1, 2, 5, 9])
        c.seqlenNew = rng.pick([0, 1, 1, 3, c.seqlenQ])
        c.type = rng.pick([.float32, .float32, .bfloat16, .float16])
        c.pageSize = rng.pick([nil, nil, 1, 3, 16, 256, 7])
        c.capacity = rng.int(in: 20...300)
        if c.seqlenNew > 0, rng.chance(0.6) {
            c.rotaryDim = 2 * rng.int(in: 1...(c.headDim / 2))
            c.interleaved = rng.chance(0.5)
        }
        c.batchIndex = c.pageSize == nil && rng.chance(0.4)
        c.leftPad = rng.chance(0.3)
        c.causal = rng.chance(0.5)
        if rng.chance(0.25) { c.window = SlidingWindow(left: rng.int(in: 0...60), right: rng.pick([-1, 0, 3])) }
        if rng.chance(0.25) { c.softcap = rng.pick([2.5, 10, 30]) }
        c.alibi = rng.chance(0.25)
        if rng.chance(0.2) { c.softmaxScale = Float(rng.uniform(0.05, 0.4)) }
        c.numSplits = rng.pick([0, 0, 1, 3, 7])
        return c
    }
}

/// The tensors of a ``KVCacheCase``. Cache slots that hold no visible key (beyond each row's
/// length, inside its left pad, unused pages) are NaN, so reading one poisons the output.
final class KVCacheProblem {
    let spec: KVCacheCase
    let q: Tensor, kCache: Tensor, vCache: Tensor, out: Tensor, lse: Tensor
    let k: Tensor?, v: Tensor?, cos: Tensor?, sin: Tensor?, slopes: Tensor?
    let cacheSeqlens: [Int32]
    let blockTable: BlockTable?
    let batchIndex: [Int32]?
    let leftPad: [Int32]?

    init(_ spec: KVCacheCase) throws {
        self.spec = spec
        var rng = SeededRandom(seed: SeededRandom.derive(spec.seed, 99))
        let B = spec.batch, H = spec.heads, Hk = spec.kvHeads, D = spec.headDim, type = spec.type
        func filled(_ shape: [Int]) throws -> Tensor {
            let count = shape.reduce(1, *)
            return try Tensor(shape: shape, elementType: type, values: (0..<count).map { _ in Float(rng.normal()) })
        }
        q = try filled([B, spec.seqlenQ, H, D])
        var capacity = spec.capacity
        var table: BlockTable?
        var cacheRows: [Int]
        let cacheShape: [Int]
        if let page = spec.pageSize {
            let pagesPerRow = (capacity + page - 1) / page
            capacity = pagesPerRow * page
            let numBlocks = B * pagesPerRow + 3
            var pages = Array(0..<numBlocks)
            for i in stride(from: pages.count - 1, to: 0, by: -1) { pages.swapAt(i, rng.int(in: 0...i)) }
            table = BlockTable(entries: (0..<(B * pagesPerRow)).map { Int32(pages[$0]) }, maxBlocksPerSequence: pagesPerRow)
            cacheShape = [numBlocks, page, Hk, D]
            cacheRows = []
            batchIndex = nil
        } else {
            let rowsInCache = B + (spec.batchIndex ? 2 : 0)
            var rows = Array(0..<rowsInCache)
            if spec.batchIndex {
                for i in stride(from: rows.count - 1, to: 0, by: -1) { rows.swapAt(i, rng.int(in: 0...i)) }
                batchIndex = rows.prefix(B).map { Int32($0) }
            } else {
                batchIndex = nil
            }
            cacheRows = Array(rows.prefix(B))
            cacheShape = [rowsInCache, capacity, Hk, D]
        }
        blockTable = table
        let lengths = spec.lengths ?? (0..<B).map { _ in rng.int(in: 0...(capacity - spec.seqlenNew)) }
        cacheSeqlens = lengths.map { Int32($0) }
        let pads = spec.leftPad ? lengths.map { rng.int(in: 0...$0) } : nil
        leftPad = pads.map { $0.map { Int32($0) } }
        kCache = Tensor(shape: cacheShape, elementType: type)
        vCache = Tensor(shape: cacheShape, elementType: type)
        kCache.poison()
        vCache.poison()
        for b in 0..<B {
            for j in (pads?[b] ?? 0)..<lengths[b] {
                let (block, row): (Int, Int)
                if let table, let page = spec.pageSize {
                    (block, row) = (table.block(batch: b, index: j / page), j % page)
                } else {
                    (block, row) = (cacheRows[b], j)
                }
                for head in 0..<Hk {
                    for e in 0..<D {
                        kCache.view[block, row, head, e] = Float(rng.normal())
                        vCache.view[block, row, head, e] = Float(rng.normal())
                    }
                }
            }
        }
        if spec.seqlenNew > 0 {
            k = try filled([B, spec.seqlenNew, Hk, D])
            v = try filled([B, spec.seqlenNew, Hk, D])
        } else {
            k = nil
            v = nil
        }
        if spec.rotaryDim > 0 {
            let rows = capacity + spec.seqlenQ, half = spec.rotaryDim / 2
            let angles = (0..<(rows * half)).map { _ in rng.uniform(0, 2 * Double.pi) }
            cos = try Tensor(shape: [rows, half], elementType: type, values: angles.map { Float(Foundation_cos($0)) })
            sin = try Tensor(shape: [rows, half], elementType: type, values: angles.map { Float(Foundation_sin($0)) })
        } else {
            cos = nil
            sin = nil
        }
        slopes = try spec.alibi ? Tensor(shape: [B, H], values: (0..<(B * H)).map { _ in Float(rng.uniform(0, 0.3)) }) : nil
        out = Tensor(shape: q.shape, elementType: type)
        lse = Tensor(shape: [B, H, spec.seqlenQ])
    }

    var arguments: KVCacheArguments {
        var options = AttentionOptions(softmaxScale: spec.softmaxScale, causal: spec.causal, window: spec.window,
                                       softcap: spec.softcap)
        if let slopes { options.alibi = ALiBi(slopes: slopes.view) }
        let rotary = cos.map { RotaryEmbedding(cos: $0.view, sin: sin!.view, interleaved: spec.interleaved) }
        return KVCacheArguments(
            q: q.view, kCache: kCache.view, vCache: vCache.view, k: k?.view, v: v?.view, cacheSeqlens: cacheSeqlens,
            blockTable: blockTable, rotary: rotary, cacheBatchIndex: batchIndex, cacheLeftPad: leftPad,
            out: out.view, lse: lse.view, options: options, numSplits: spec.numSplits)
    }

    /// Runs `backend` on poisoned outputs and checks out, lse and both caches against the
    /// float64 oracle; returns the failures (empty when the case passes).
    func verify(backend: any KVCacheBackend) throws -> [String] {
        let type = spec.type
        let expected = try ReferenceKVCache.run(arguments, naivePrecision: type == .float32 ? nil : type)
        let kBefore = kCache.floats()
        out.poison()
        lse.poison()
        try backend.forwardWithKVCache(arguments)
        return KVCacheComparison.failures(
            type: type, batch: spec.batch, heads: spec.heads, seqlenQ: spec.seqlenQ, headDim: spec.headDim,
            expected: expected, kBefore: kBefore, out: out, lse: lse, kCache: kCache, vCache: vCache)
    }
}

#if canImport(Glibc)
import Glibc
private func Foundation_cos(_ x: Double) -> Double { Glibc.cos(x) }
private func Foundation_sin(_ x: Double) -> Double { Glibc.sin(x) }
#endif
