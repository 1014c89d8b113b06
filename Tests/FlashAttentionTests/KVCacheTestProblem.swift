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

/// The tensors of a ``KVCacheCase``: the reference module's ``KVCacheCheck`` (the same
/// construction `flash-attn verify --kvcache` sweeps), so the tests and the CLI build and judge
/// their problems one way.
typealias KVCacheProblem = KVCacheCheck

extension KVCacheCase {
    /// The case as the reference module's spec; rotary tables are stored in the case's type.
    var spec: KVCacheSpec {
        var s = KVCacheSpec()
        s.batch = batch; s.seqlenQ = seqlenQ; s.heads = heads; s.kvHeads = kvHeads; s.headDim = headDim
        s.seqlenNew = seqlenNew; s.type = type; s.pageSize = pageSize; s.capacity = capacity
        s.rotaryDim = rotaryDim; s.interleaved = interleaved; s.rotaryTableType = type
        s.batchIndex = batchIndex; s.leftPad = leftPad; s.causal = causal; s.window = window
        s.softcap = softcap; s.alibi = alibi; s.softmaxScale = softmaxScale; s.numSplits = numSplits
        s.lengths = lengths; s.seed = seed
        return s
    }
}

extension KVCacheCheck {
    convenience init(_ testCase: KVCacheCase) throws {
        self.init(testCase.spec)
    }

    /// Runs `backend` on poisoned outputs and checks out, LSE and both caches against the
    /// float64 oracle; returns the failures (empty when the case passes).
    func verify(backend: any KVCacheBackend) throws -> [String] {
        try verify { try backend.forwardWithKVCache($0) }
    }
}
