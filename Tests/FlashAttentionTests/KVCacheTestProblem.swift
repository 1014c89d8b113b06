import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// A KV-cache test case is the reference module's spec, the one `flash-attn verify --kvcache`
/// sweeps, so the tests and the CLI describe, build and judge their problems one way. The cases
/// here name their storage type (float32, the strictest bound, unless a test says otherwise).
typealias KVCacheCase = KVCacheSpec

extension KVCacheSpec {
    /// A random case over every feature, small enough for the float64 oracle: smaller than ``KVCacheSpec/random(seed:index:types:maxContext:)``'s cases (the CPU backend in
    /// a debug-sized budget), float32 half the time, rotary tables in the case's type.
    static func random(seed: UInt64) -> KVCacheCase {
        var rng = SeededRandom(seed: seed)
        var c = KVCacheCase(type: .float32, seed: seed)
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
            c.rotaryTableType = c.type
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

/// The tensors of a ``KVCacheCase``: the reference module's ``KVCacheCheck``.
typealias KVCacheProblem = KVCacheCheck

extension KVCacheCheck {
    /// Runs `backend` on poisoned outputs and checks out, LSE and both caches against the
    /// float64 oracle; returns the failures (empty when the case passes).
    func verify(backend: any KVCacheBackend) throws -> [String] {
        try verify { try backend.forwardWithKVCache($0) }
    }
}
