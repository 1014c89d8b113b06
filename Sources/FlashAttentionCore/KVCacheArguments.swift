/// A paged KV cache's block table: for each batch row, the physical blocks (pages) that hold its
/// keys in order, `(batch, maxBlocksPerSequence)` row-major, as the reference library's
/// `block_table` (int32).
///
/// Key `j` of row `b` lives in page `entries[b · maxBlocksPerSequence + j / pageSize]`, at row
/// `j % pageSize` of that page. Only the entries a row's keys reach are read (or checked), so
/// unused entries may hold anything (-1, say). Pages may be shared between rows for reading
/// (a common prefix); the keys a call appends must land in distinct slots.
public struct BlockTable: Sendable, Hashable {
    public var entries: [Int32]
    public var maxBlocksPerSequence: Int

    public init(entries: [Int32], maxBlocksPerSequence: Int) {
        self.entries = entries
        self.maxBlocksPerSequence = maxBlocksPerSequence
    }

    /// The physical page of logical block `index` of batch row `b`.
    @inlinable
    public func block(batch b: Int, index: Int) -> Int { Int(entries[b * maxBlocksPerSequence + index]) }
}

/// Rotary position embedding (RoPE) applied to the queries and the new keys of a KV-cache call.
///
/// `cos` and `sin` are (S_ro, rotaryDim / 2) tables, row p for position p. The first `rotaryDim`
/// features of each head are rotated, the rest pass through:
///
/// - interleaved (GPT-J): pairs (x[2i], x[2i+1]);
/// - half-split (GPT-NeoX, `interleaved: false`): pairs (x[i], x[i + rotaryDim/2]).
///
/// Each pair (x0, x1) becomes (x0·cos − x1·sin, x0·sin + x1·cos), computed in float32 and
/// rounded to the tensor's storage type, as the reference library does.
public struct RotaryEmbedding: Sendable {
    public var cos: TensorView
    public var sin: TensorView
    public var interleaved: Bool

    public init(cos: TensorView, sin: TensorView, interleaved: Bool = true) {
        self.cos = cos
        self.sin = sin
        self.interleaved = interleaved
    }

    /// Features rotated per head: twice the tables' width.
    public var rotaryDim: Int { cos.rank == 2 ? 2 * cos.shape[1] : 0 }
}

/// The tensors and options of one attention call over a KV cache: the reference library's
/// `flash_attn_with_kvcache`, for decoding and chunked prefill.
///
/// Per batch row `b`, with `L = cacheSeqlens[b] + S_new` and `pad = cacheLeftPad?[b] ?? 0`:
///
/// 1. when `k`/`v` are given, the `S_new` new keys and values are written into the cache in place
///    at positions `cacheSeqlens[b] ..< L` (keys rotated first when `rotary` is set);
/// 2. the `Sq` queries (rotated when `rotary` is set) attend to the cache positions
///    `pad ..< L`: `Sk = L − pad` keys, with causal/window masks aligned so that the queries are
///    the last `Sq` of those keys (bottom-right, as everywhere in this library).
///
/// Rotary positions are absolute cache positions, as in the reference library: new key `i` is at
/// `cacheSeqlens[b] + i`; query `i` is at `cacheSeqlens[b] + i` when the call is causal or has a
/// window, else every query is at `cacheSeqlens[b]`. The left pad only hides keys; it does not
/// shift positions.
///
/// Layouts: q (B, Sq, H, D); `kCache`/`vCache` (B_cache, S_cache, Hk, D) contiguous (rows chosen
/// by `cacheBatchIndex`, default `b`), or (numBlocks, pageSize, Hk, D) pages of any size ≥ 1
/// addressed through `blockTable`; k/v (B, S_new, Hk, D); out like q (any element type);
/// lse (B, H, Sq) float32, natural log, +∞ for a row that sees no key. Tensors are strided views;
/// the cache is read in place (never copied) and written only at the appended slots.
public struct KVCacheArguments: Sendable {
    public var q: TensorView
    public var kCache: TensorView
    public var vCache: TensorView
    /// New keys and values to append, or nil (attention over the cache as it is).
    public var k: TensorView?
    public var v: TensorView?
    /// Keys already in the cache per batch row (the append position), B entries.
    public var cacheSeqlens: [Int32]
    /// Paged layout when set: `kCache`/`vCache` are (numBlocks, pageSize, Hk, D).
    public var blockTable: BlockTable?
    public var rotary: RotaryEmbedding?
    /// Cache row of each batch row (contiguous caches only), B entries; nil means row b.
    public var cacheBatchIndex: [Int32]?
    /// First visible cache position of each batch row, B entries; nil means 0.
    public var cacheLeftPad: [Int32]?
    public var out: TensorView
    public var lse: TensorView?
    /// Scale, causal, window, softcap, ALiBi. Dropout is refused (inference only).
    public var options: AttentionOptions
    /// Key splits per query tile (flash-decoding): 0 picks them from the problem's sizes,
    /// 1 never splits.
    public var numSplits: Int

    public init(
        q: TensorView, kCache: TensorView, vCache: TensorView, k: TensorView? = nil, v: TensorView? = nil,
        cacheSeqlens: [Int32], blockTable: BlockTable? = nil, rotary: RotaryEmbedding? = nil,
        cacheBatchIndex: [Int32]? = nil, cacheLeftPad: [Int32]? = nil, out: TensorView, lse: TensorView? = nil,
        options: AttentionOptions = AttentionOptions(), numSplits: Int = 0
    ) {
        self.q = q
        self.kCache = kCache
        self.vCache = vCache
        self.k = k
        self.v = v
        self.cacheSeqlens = cacheSeqlens
        self.blockTable = blockTable
        self.rotary = rotary
        self.cacheBatchIndex = cacheBatchIndex
        self.cacheLeftPad = cacheLeftPad
        self.out = out
        self.lse = lse
        self.options = options
        self.numSplits = numSplits
    }
}

/// A backend that runs attention over a KV cache (``KVCacheArguments``).
///
/// Separate from ``AttentionBackend`` so that a backend can land it later: the CPU backend
/// implements it; a CUDA backend adds a conformance with its decode kernels.
public protocol KVCacheBackend: Sendable {
    var name: String { get }
    /// Appends the new keys/values (if any) into the cache in place, then writes `out` (and `lse`).
    /// Throws before writing anything, the cache included, if an argument is bad.
    func forwardWithKVCache(_ arguments: KVCacheArguments) throws
}
