import FlashAttentionCore

/// The float64 oracle of a KV-cache call (``KVCacheArguments``), spelled out from the reference
/// library's definitions rather than through ``KVCacheLayout``'s helpers:
///
/// 1. the cache after the append: new value rows copied, new key rows rotated in float64 at
///    positions cacheSeqlens[b] + i (unrounded: the cache a float64 machine would hold);
/// 2. the queries rotated in float64 at cacheSeqlens[b] + i (causal or windowed calls) or
///    cacheSeqlens[b] (others), then rounded to q's storage type, and the appended keys rounded
///    to the cache's type: what any implementation storing them in those types attends with;
/// 3. per batch row, the visible keys `pad ..< cacheSeqlens[b] + S_new` gathered into a dense
///    problem (shifted so the first visible key is key 0, as the reference library does) and
///    handed to ``ReferenceAttention`` (and ``NaiveAttention`` for half-precision budgets).
///
/// The caller's tensors are read only; the cache is not modified.
public enum ReferenceKVCache {
    public struct Result: Sendable {
        /// (B, Sq, H, D) row-major.
        public var out: [Double]
        /// (B, H, Sq) row-major; +∞ for a row that sees no key.
        public var lse: [Double]
        /// The caches' logical elements after the append, row-major over their shapes.
        public var kCache: [Double]
        public var vCache: [Double]
        /// Naive attention in `naivePrecision` on the same (rounded) inputs, when asked for.
        public var naiveOut: [Double]?
        public var naiveLSE: [Double]?
    }

    public static func run(_ arguments: KVCacheArguments, naivePrecision: ElementType? = nil) throws -> Result {
        let layout = try arguments.validate(maxHeadDim: .max)
        let type = arguments.q.elementType
        let B = layout.batch, Sq = layout.seqlenQ, H = layout.heads, Hk = layout.kvHeads, D = layout.headDim
        let cacheShape = arguments.kCache.shape
        var kCache = RandomProblem.read(arguments.kCache), vCache = RandomProblem.read(arguments.vCache)
        // What the implementation attends with: appended keys rounded to the cache's type.
        var kStored = kCache
        func cacheIndex(_ block: Int, _ row: Int, _ head: Int) -> Int { ((block * cacheShape[1] + row) * Hk + head) * D }
        func slot(_ b: Int, _ position: Int) -> (Int, Int) {
            if let table = arguments.blockTable {
                let page = cacheShape[1]
                return (Int(table.entries[b * table.maxBlocksPerSequence + position / page]), position % page)
            }
            return (Int(arguments.cacheBatchIndex?[b] ?? Int32(b)), position)
        }
        func rotate(_ x: inout [Double], position p: Int) {
            guard let rotary = arguments.rotary else { return }
            let half = rotary.cos.shape[1]
            for t in 0..<half {
                let c = Double(rotary.cos[p, t]), s = Double(rotary.sin[p, t])
                let (i0, i1) = rotary.interleaved ? (2 * t, 2 * t + 1) : (t, t + half)
                let x0 = x[i0], x1 = x[i1]
                x[i0] = x0 * c - x1 * s
                x[i1] = x0 * s + x1 * c
            }
        }
        func round(_ x: Double) -> Double { Double(HalfConversion.round(Float(x), to: type)) }

        // 1. The append.
        let lengths = arguments.cacheSeqlens.map(Int.init)
        let newKeys = arguments.k?.shape[1] ?? 0
        if let k = arguments.k, let v = arguments.v {
            for b in 0..<B {
                for i in 0..<newKeys {
                    let (block, row) = slot(b, lengths[b] + i)
                    for head in 0..<Hk {
                        var x = (0..<D).map { Double(k[b, i, head, $0]) }
                        rotate(&x, position: lengths[b] + i)
                        let base = cacheIndex(block, row, head)
                        for e in 0..<D {
                            kCache[base + e] = x[e]
                            kStored[base + e] = round(x[e])
                            vCache[base + e] = Double(v[b, i, head, e])
                        }
                    }
                }
            }
        }

        // 2–3. Attention, one batch row at a time.
        let advance = arguments.options.causal || arguments.options.window.left >= 0 || arguments.options.window.right >= 0
        var out = [Double](repeating: 0, count: B * Sq * H * D)
        var lse = [Double](repeating: .infinity, count: B * H * Sq)
        var naiveOut = naivePrecision.map { _ in [Double](repeating: 0, count: B * Sq * H * D) }
        var naiveLSE = naivePrecision.map { _ in [Double](repeating: .infinity, count: B * H * Sq) }
        for b in 0..<B {
            let pad = Int(arguments.cacheLeftPad?[b] ?? 0), end = lengths[b] + newKeys, sk = end - pad
            let qRow = Tensor(shape: [1, Sq, H, D]), kRow = Tensor(shape: [1, sk, Hk, D]), vRow = Tensor(shape: [1, sk, Hk, D])
            for i in 0..<Sq {
                for h in 0..<H {
                    var x = (0..<D).map { Double(arguments.q[b, i, h, $0]) }
                    if arguments.rotary != nil {
                        rotate(&x, position: lengths[b] + (advance ? i : 0))
                        x = x.map(round)
                    }
                    for e in 0..<D { qRow.view[0, i, h, e] = Float(x[e]) }
                }
            }
            for j in 0..<sk {
                let (block, row) = slot(b, pad + j)
                for head in 0..<Hk {
                    let base = cacheIndex(block, row, head)
                    for e in 0..<D {
                        kRow.view[0, j, head, e] = Float(kStored[base + e])
                        vRow.view[0, j, head, e] = Float(vCache[base + e])
                    }
                }
            }
            var options = arguments.options
            var slopes: Tensor?
            if let alibi = options.alibi {
                let tensor = try Tensor(shape: [H], values: (0..<H).map { alibi.slope(batch: b, head: $0) })
                options.alibi = ALiBi(slopes: tensor.view)
                slopes = tensor
            }
            let rowOut = Tensor(shape: [1, Sq, H, D]), rowLSE = Tensor(shape: [1, H, Sq])
            let problem = ForwardArguments(q: qRow.view, k: kRow.view, v: vRow.view, out: rowOut.view, lse: rowLSE.view,
                                           options: options)
            let result = try withExtendedLifetime(slopes) { try ReferenceAttention.forward(problem) }
            out.replaceSubrange((b * Sq * H * D)..<((b + 1) * Sq * H * D), with: result.out)
            lse.replaceSubrange((b * H * Sq)..<((b + 1) * H * Sq), with: result.lse)
            if let precision = naivePrecision {
                let naive = try withExtendedLifetime(slopes) { try NaiveAttention(precision: precision).forward(problem) }
                naiveOut?.replaceSubrange((b * Sq * H * D)..<((b + 1) * Sq * H * D), with: naive.out)
                naiveLSE?.replaceSubrange((b * H * Sq)..<((b + 1) * H * Sq), with: naive.lse)
            }
        }
        return Result(out: out, lse: lse, kCache: kCache, vCache: vCache, naiveOut: naiveOut, naiveLSE: naiveLSE)
    }
}
