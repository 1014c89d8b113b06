import FlashAttentionCore

#if canImport(Glibc)
import Glibc
#endif

/// How one backward call is cut into tasks. Every number here comes from the problem's sizes
/// (and the optional tuning variable), never from the thread count, so the work each task does
/// — and therefore every floating-point sum — is the same however many workers run it.
///
/// Work unit: a *key chunk* task (batch, kv head, chunk) owns the dK/dV rows of its key tiles
/// outright and walks every query block of every head of its GQA group over them in a fixed
/// order, so dK/dV need no cross-task reduction. Its dQ contributions go to a float32 partial
/// of its own (chunk 0's is dq itself when dq is float32 rows); a second pass sums the chunks'
/// partials in chunk order. Tiles are dealt to chunks round-robin (chunk c takes tiles
/// c, c + C, …) so that under a causal mask, where early keys are seen by more queries, the
/// chunks of a group carry nearly equal work.
///
/// Why partials (5 GEMMs per tile pair) rather than a second pass over (head, query block)
/// tasks that recomputes S and dP for dQ (7 GEMMs, no partials): measured on the 2-core
/// AVX-512 dev box, one thread, H = 1, N = 1024, best of 20, float32, GFLOP/s counted as
/// 2.5·4·N²·D (halved for causal) — partials 96 / 87 (D = 64 dense / causal) and 97 / 86
/// (D = 128); recompute 63 / 57 and 61 / 54; PyTorch's CPU flash backward 77 / 50 and 78 / 42.
/// The recompute variant loses the 2/7 of its GEMM work it spends again; the partials cost
/// one float32 dQ-sized buffer per extra chunk and a summing pass that reads it once.
struct BackwardPlan {
    /// Query rows per GEMM block.
    let blockQ: Int
    /// Keys per tile (a multiple of 16: the elementwise kernel works 16 columns at a time).
    let tileK: Int
    /// Head dim rounded up to 16: the leading dimension of packed row tiles.
    let paddedDim: Int
    /// Key chunks per (batch, kv head) before clamping to the tiles a sequence has.
    let chunksPerGroup: Int
    /// Upper bound on the floats of partial-dQ buffers alive at once (see ``waves``).
    let partialBudget: Int

    /// The size-derived task target: enough independent chunk tasks to keep this many workers
    /// busy. A constant, not the thread count, so results do not depend on it. Each extra
    /// chunk costs a dQ-sized float32 partial, so it is kept moderate.
    static let taskTarget = 16
    /// More chunks only add partial-dQ memory (one float32 copy of dQ each) for little balance.
    static let maxChunks = 8

    init(layout: AttentionLayout) {
        // 64 query rows × 256 keys: the 5 GEMMs run with m, n ≥ 64 and k ≥ 64, and a worker's
        // tiles (K, Kᵀ, Vᵀ, dK, dV, S, dP ≈ 0.8 MiB at D = 128) stay in a 1 MiB L2. Measured
        // against 64 × 128 (interleaved, 2 threads, H = 8, N = 2048, float32): within noise to
        // ~20 % faster on the Zen 4 dev box and on a Sapphire Rapids host. Past D = 128 the
        // key tiles halve to stay in L2.
        var bq = 64, bk = layout.headDim <= 128 ? 256 : 128
        // FLASH_ATTENTION_CPU_BWD_TILE=64x128 overrides the tile shape for tuning runs.
        if let text = getenv("FLASH_ATTENTION_CPU_BWD_TILE") {
            let parts = String(cString: text).split(separator: "x").compactMap { Int($0) }
            if parts.count == 2, parts[0] >= 1, parts[1] >= 16 {
                bq = parts[0]
                bk = (parts[1] + 15) / 16 * 16
            }
        }
        blockQ = bq
        tileK = bk
        paddedDim = (layout.headDim + 15) / 16 * 16
        let groups = max(1, layout.batch * layout.kvHeads)
        chunksPerGroup = min(BackwardPlan.maxChunks, max(1, (BackwardPlan.taskTarget + groups - 1) / groups))
        partialBudget = 64 << 20  // 256 MiB of float32
    }

    /// Key tiles of a sequence of `seqlenK` keys.
    func tiles(seqlenK: Int) -> Int { (seqlenK + tileK - 1) / tileK }

    /// Chunks of a sequence: never more than its tiles, at least one (it still owns the zero
    /// dQ partial of a sequence without keys).
    func chunks(seqlenK: Int) -> Int { max(1, min(chunksPerGroup, tiles(seqlenK: seqlenK))) }

    /// One (batch, kv head) group of a wave, with where its dQ partials live in the wave's buffer.
    struct Group {
        let batch: Int
        let kvHead: Int
        let seqlenQ: Int
        let seqlenK: Int
        let chunks: Int
        /// Partials held in the wave buffer: `chunks`, or `chunks − 1` when chunk 0 writes into
        /// dq directly.
        let slots: Int
        /// Offset (floats) of the first slot in the wave buffer.
        let partialBase: Int
        /// Floats between consecutive slots: G · Sq · paddedDim.
        let partialStride: Int
    }

    /// Consecutive groups whose dQ partials fit the budget together (a group alone may exceed
    /// it), so partial memory is O(chunks · Sq · D), not O(chunks · B · H · Sq · D).
    struct Wave {
        let groups: [Group]
        let partialFloats: Int
    }

    /// - Parameter dqInPlace: chunk 0 accumulates into dq itself (float32 rows).
    func waves(layout: AttentionLayout, dqInPlace: Bool) -> [Wave] {
        var waves: [Wave] = []
        var current: [Group] = []
        var used = 0
        for b in 0..<layout.batch {
            let sq = layout.seqlenQ(batch: b), sk = layout.seqlenK(batch: b)
            let c = chunks(seqlenK: sk)
            let slots = dqInPlace ? c - 1 : c
            let stride = layout.groupSize * sq * paddedDim
            for kh in 0..<layout.kvHeads {
                let size = slots * stride
                if !current.isEmpty, used + size > partialBudget {
                    waves.append(Wave(groups: current, partialFloats: used))
                    current = []
                    used = 0
                }
                current.append(Group(batch: b, kvHead: kh, seqlenQ: sq, seqlenK: sk, chunks: c, slots: slots,
                                     partialBase: used, partialStride: stride))
                used += size
            }
        }
        if !current.isEmpty { waves.append(Wave(groups: current, partialFloats: used)) }
        return waves
    }
}
