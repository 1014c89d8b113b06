import FlashAttentionCore

#if canImport(Glibc)
import Glibc
#endif

/// One random KV-cache problem (``KVCacheArguments``): sizes, layout and options, drawn
/// reproducibly from a seed, for sweeps of a backend against ``ReferenceKVCache``
/// (`flash-attn verify --kvcache`, the CUDA tests).
public struct KVCacheSpec: CustomStringConvertible, Sendable {
    public var batch = 2
    public var seqlenQ = 1
    public var heads = 4
    public var kvHeads = 2
    public var headDim = 32
    /// New keys appended per row (0: no k/v).
    public var seqlenNew = 1
    public var type: ElementType = .bfloat16
    /// Paged cache with this page size, or contiguous (nil).
    public var pageSize: Int?
    /// Keys per sequence the cache holds (rounded up to whole pages when paged).
    public var capacity = 100
    /// Rotated features per head (0: no rotary).
    public var rotaryDim = 0
    public var interleaved = true
    public var rotaryTableType: ElementType = .float32
    public var batchIndex = false
    public var leftPad = false
    public var causal = false
    public var window = SlidingWindow.unbounded
    public var softcap: Float = 0
    public var alibi = false
    public var softmaxScale: Float?
    public var numSplits = 0
    /// Explicit cache lengths per batch row; drawn at random when nil.
    public var lengths: [Int]?
    public var seed: UInt64 = 1

    public init() {}

    /// A spec with the given fields; every other field keeps its default.
    public init(batch: Int = 2, seqlenQ: Int = 1, heads: Int = 4, kvHeads: Int = 2, headDim: Int = 32,
                seqlenNew: Int = 1, type: ElementType = .bfloat16, pageSize: Int? = nil, capacity: Int = 100,
                rotaryDim: Int = 0, interleaved: Bool = true, rotaryTableType: ElementType = .float32,
                batchIndex: Bool = false, leftPad: Bool = false, causal: Bool = false,
                window: SlidingWindow = .unbounded, softcap: Float = 0, alibi: Bool = false,
                softmaxScale: Float? = nil, numSplits: Int = 0, lengths: [Int]? = nil, seed: UInt64 = 1) {
        self.batch = batch; self.seqlenQ = seqlenQ; self.heads = heads; self.kvHeads = kvHeads
        self.headDim = headDim; self.seqlenNew = seqlenNew; self.type = type; self.pageSize = pageSize
        self.capacity = capacity; self.rotaryDim = rotaryDim; self.interleaved = interleaved
        self.rotaryTableType = rotaryTableType; self.batchIndex = batchIndex; self.leftPad = leftPad
        self.causal = causal; self.window = window; self.softcap = softcap; self.alibi = alibi
        self.softmaxScale = softmaxScale; self.numSplits = numSplits; self.lengths = lengths; self.seed = seed
    }

    public var description: String {
        var parts = ["B=\(batch) Sq=\(seqlenQ) H=\(heads)/\(kvHeads) D=\(headDim) new=\(seqlenNew) \(type)",
                     pageSize.map { "page=\($0)" } ?? "contiguous", "cap=\(capacity)"]
        if rotaryDim > 0 { parts.append("rotary=\(rotaryDim)\(interleaved ? "i" : "h")/\(rotaryTableType)") }
        if batchIndex { parts.append("batchIndex") }
        if leftPad { parts.append("leftPad") }
        if causal { parts.append("causal") }
        if window != .unbounded { parts.append("window=(\(window.left),\(window.right))") }
        if softcap > 0 { parts.append("softcap=\(softcap)") }
        if alibi { parts.append("alibi") }
        if let softmaxScale { parts.append("scale=\(softmaxScale)") }
        if numSplits > 0 { parts.append("splits=\(numSplits)") }
        parts.append("seed=\(seed)")
        return parts.joined(separator: " ")
    }

    /// Case `index` of `seed` over every feature: page sizes 1, 3, 16, 256 (and 7) or contiguous,
    /// odd lengths, per-row cache lengths, rotary in both layouts, batch index, left pad, GQA,
    /// causal/window/softcap/ALiBi, forced splits; contexts up to `maxContext`, and queries of a
    /// prefill chunk now and then (Sq up to 64). Sizes stay small enough for the float64 oracle.
    public static func random(seed: UInt64, index: Int, types: [ElementType] = [.bfloat16, .float16],
                              maxContext: Int = 3000) -> KVCacheSpec {
        var rng = SeededRandom(seed: SeededRandom.derive(seed, UInt64(index)))
        var c = KVCacheSpec()
        c.seed = SeededRandom.derive(seed, UInt64(index))
        c.batch = rng.int(in: 1...4)
        c.kvHeads = rng.pick([1, 2, 3, 4])
        c.heads = c.kvHeads * rng.pick([1, 2, 4, 8])
        c.headDim = rng.pick([128, 128, 64, 40, 256, 8, 6, 96])
        c.seqlenQ = rng.pick([1, 1, 1, 1, 2, 5, 17, 64])
        c.seqlenNew = rng.pick([0, 1, 1, 1, 3, c.seqlenQ])
        c.type = rng.pick(types)
        c.pageSize = rng.pick([nil, nil, nil, 1, 3, 16, 16, 256, 7])
        c.capacity = rng.int(in: max(8, c.seqlenNew + 1)...maxContext)
        // Keep the oracle's work (B·Sq·H·context·D) near 10⁸ at most.
        while c.batch * c.seqlenQ * c.heads * c.capacity * c.headDim > 60_000_000, c.capacity > 64 { c.capacity /= 2 }
        // Halving may undercut the new keys (Sq = 64 prefill chunks): the cache must still hold them.
        c.capacity = max(c.capacity, c.seqlenNew + 1)
        if c.seqlenNew > 0, rng.chance(0.6) {
            c.rotaryDim = 2 * rng.int(in: 1...max(1, c.headDim / 2))
            c.interleaved = rng.chance(0.5)
            c.rotaryTableType = rng.pick([.float32, c.type])
        }
        c.batchIndex = c.pageSize == nil && rng.chance(0.4)
        c.leftPad = rng.chance(0.3)
        c.causal = rng.chance(0.5)
        if rng.chance(0.25) { c.window = SlidingWindow(left: rng.int(in: 0...600), right: rng.pick([-1, 0, 3])) }
        if rng.chance(0.2) { c.softcap = rng.pick([2.5, 10, 30]) }
        c.alibi = rng.chance(0.2)
        if rng.chance(0.15) { c.softmaxScale = Float(rng.uniform(0.05, 0.4)) }
        c.numSplits = rng.pick([0, 0, 0, 1, 3, 7, 40])
        return c
    }
}

/// The tensors of a ``KVCacheSpec`` on the host. Cache slots that hold no visible key (past each
/// row's length, inside its left pad, unused pages) are NaN, so reading one poisons the output.
public final class KVCacheCheck {
    public let spec: KVCacheSpec
    public let q: Tensor, kCache: Tensor, vCache: Tensor, out: Tensor, lse: Tensor
    public let k: Tensor?, v: Tensor?, cos: Tensor?, sin: Tensor?, slopes: Tensor?
    public let cacheSeqlens: [Int32]
    public let blockTable: BlockTable?
    public let batchIndex: [Int32]?
    public let leftPad: [Int32]?

    public init(_ spec: KVCacheSpec) {
        self.spec = spec
        var rng = SeededRandom(seed: SeededRandom.derive(spec.seed, 99))
        let B = spec.batch, H = spec.heads, Hk = spec.kvHeads, D = spec.headDim, type = spec.type
        func tensor(_ shape: [Int], _ type: ElementType, _ value: () -> Float) -> Tensor {
            let t = Tensor(shape: shape, elementType: type)
            let view = t.view
            for i in 0..<t.elementCount { view.store(value(), at: i) }
            return t
        }
        q = tensor([B, spec.seqlenQ, H, D], type) { Float(rng.normal()) }
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
        // Odd, per-row lengths; now and then an empty cache or a full one.
        let lengths = spec.lengths ?? (0..<B).map { _ in
            rng.pick([0, capacity - spec.seqlenNew, rng.int(in: 0...(capacity - spec.seqlenNew)), rng.int(in: 0...(capacity - spec.seqlenNew))])
        }
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
            k = tensor([B, spec.seqlenNew, Hk, D], type) { Float(rng.normal()) }
            v = tensor([B, spec.seqlenNew, Hk, D], type) { Float(rng.normal()) }
        } else {
            k = nil
            v = nil
        }
        if spec.rotaryDim > 0 {
            let rows = capacity + spec.seqlenQ, half = spec.rotaryDim / 2
            let angles = (0..<(rows * half)).map { _ in rng.uniform(0, 2 * Double.pi) }
            var index = 0
            cos = tensor([rows, half], spec.rotaryTableType) { defer { index += 1 }; return Float(Glibc.cos(angles[index])) }
            index = 0
            sin = tensor([rows, half], spec.rotaryTableType) { defer { index += 1 }; return Float(Glibc.sin(angles[index])) }
        } else {
            cos = nil
            sin = nil
        }
        slopes = spec.alibi ? tensor([B, H], .float32) { Float(rng.uniform(0, 0.3)) } : nil
        out = Tensor(shape: q.shape, elementType: type)
        lse = Tensor(shape: [B, H, spec.seqlenQ])
    }

    public var arguments: KVCacheArguments {
        var options = AttentionOptions(softmaxScale: spec.softmaxScale, causal: spec.causal, window: spec.window,
                                       softcap: spec.softcap)
        if let slopes { options.alibi = ALiBi(slopes: slopes.view) }
        let rotary = cos.map { RotaryEmbedding(cos: $0.view, sin: sin!.view, interleaved: spec.interleaved) }
        return KVCacheArguments(
            q: q.view, kCache: kCache.view, vCache: vCache.view, k: k?.view, v: v?.view, cacheSeqlens: cacheSeqlens,
            blockTable: blockTable, rotary: rotary, cacheBatchIndex: batchIndex, cacheLeftPad: leftPad,
            out: out.view, lse: lse.view, options: options, numSplits: spec.numSplits)
    }

    /// Runs the call through `run` on poisoned outputs and checks out, LSE and both caches
    /// against the float64 oracle: out/LSE within twice naive attention in the same precision,
    /// rows that see no key exactly 0 and +∞, V in the cache bit-exact everywhere, K unchanged
    /// outside the appended slots and within 1e-3 (norm-wise) of the float64 rotation in them.
    /// Returns the failures (empty when the case passes).
    public func verify(_ run: (KVCacheArguments) throws -> Void) throws -> [String] {
        let type = spec.type
        let expected = try ReferenceKVCache.run(arguments, naivePrecision: type == .float32 ? nil : type)
        let kBefore = kCache.floats()
        out.poison()
        lse.poison()
        try run(arguments)
        return KVCacheComparison.failures(
            type: type, batch: spec.batch, heads: spec.heads, seqlenQ: spec.seqlenQ, headDim: spec.headDim,
            expected: expected, kBefore: kBefore, out: out, lse: lse, kCache: kCache, vCache: vCache)
    }
}

/// The checks of one KV-cache call against the float64 oracle, shared by the CLI's sweep and
/// the tests: out/LSE within twice naive attention in the same precision (1e-5 for float32),
/// no NaN, rows that see no key exactly 0 and +∞, V in the cache bit-exact everywhere, K
/// unchanged outside the appended slots and within 1e-3 (norm-wise, or the storage's unit
/// roundoff) of the float64 rotation in them.
public enum KVCacheComparison {
    /// - Parameters:
    ///   - expected: the oracle's result for the call.
    ///   - kBefore: the K cache before the call, with its unwritten slots poisoned (NaN): a slot
    ///     that was NaN and holds a key in `expected` is an appended one.
    /// - Returns: the failures (empty when the call passes).
    public static func failures(
        type: ElementType, batch: Int, heads H: Int, seqlenQ Sq: Int, headDim D: Int,
        expected: ReferenceKVCache.Result, kBefore: [Float],
        out: Tensor, lse: Tensor, kCache: Tensor, vCache: Tensor
    ) -> [String] {
        var failures: [String] = []
        let outValues = out.floats().map(Double.init), lseValues = lse.floats().map(Double.init)
        if outValues.contains(where: \.isNaN) { failures.append("out has NaN (an element not written?)") }
        if lseValues.contains(where: \.isNaN) { failures.append("lse has NaN (an element not written?)") }
        func budget(_ reference: [Double], naive: [Double]?, storage: ElementType) -> Double {
            guard type != .float32, let naive else { return 1e-5 }
            let naiveError = ErrorMetrics.relativeError(naive, reference: reference)
            let rounding = max(ErrorMetrics.storeRoundingError(reference, to: storage), storage.unitRoundoff * 0.5)
            return 2 * max(naiveError, rounding) + 1e-5
        }
        let outError = ErrorMetrics.relativeError(outValues, reference: expected.out)
        let outBudget = budget(expected.out, naive: expected.naiveOut, storage: type)
        if !(outError <= outBudget) { failures.append("out error \(outError) > \(outBudget)") }
        let lseError = ErrorMetrics.relativeError(lseValues, reference: expected.lse)
        let lseBudget = budget(expected.lse, naive: expected.naiveLSE, storage: .float32)
        if !(lseError <= lseBudget) { failures.append("lse error \(lseError) > \(lseBudget)") }
        for b in 0..<batch {
            for h in 0..<H {
                for i in 0..<Sq where expected.lse[(b * H + h) * Sq + i] == .infinity {
                    if lseValues[(b * H + h) * Sq + i] != .infinity { failures.append("empty row (\(b),\(h),\(i)): lse not +inf") }
                    let base = ((b * Sq + i) * H + h) * D
                    if outValues[base..<(base + D)].contains(where: { $0 != 0 }) { failures.append("empty row (\(b),\(h),\(i)): out not 0") }
                }
            }
        }
        func same(_ a: Double, _ b: Double) -> Bool { a == b || (a.isNaN && b.isNaN) }
        let vAfter = vCache.floats().map(Double.init)
        let vMismatch = zip(vAfter, expected.vCache).filter { !same($0, $1) }.count
        if vMismatch > 0 { failures.append("v_cache: \(vMismatch) elements differ from the expected append") }
        let kAfter = kCache.floats().map(Double.init)
        var appendedGot: [Double] = [], appendedWant: [Double] = [], kChanged = 0
        for index in kAfter.indices {
            let appended = kBefore[index].isNaN && !expected.kCache[index].isNaN
            if appended {
                appendedGot.append(kAfter[index])
                appendedWant.append(expected.kCache[index])
            } else if !same(kAfter[index], Double(kBefore[index])) {
                kChanged += 1
            }
        }
        if kChanged > 0 { failures.append("k_cache: \(kChanged) elements changed outside the appended slots") }
        let kError = ErrorMetrics.relativeError(appendedGot, reference: appendedWant)
        let kBudget = max(1e-3, type.unitRoundoff)
        if !(kError <= kBudget) { failures.append("appended k error \(kError) > \(kBudget)") }
        return failures
    }
}
