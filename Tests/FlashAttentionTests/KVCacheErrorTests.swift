import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// Bad KV-cache arguments are refused before anything is written, naming the argument.
@Suite struct KVCacheErrorTests {
    /// The argument name a refusal carries, checking that neither the caches nor out changed.
    static func refusal(_ problem: KVCacheProblem, _ edit: (inout KVCacheArguments) -> Void) -> String? {
        var arguments = problem.arguments
        edit(&arguments)
        let before = [problem.kCache, problem.vCache, problem.out].map { Array($0.storage) }
        defer {
            let after = [problem.kCache, problem.vCache, problem.out].map { Array($0.storage) }
            #expect(before == after, "a refused call wrote memory")
        }
        do {
            try CPUBackend(threads: 2).forwardWithKVCache(arguments)
        } catch let FlashAttentionError.invalidArgument(name, expected) {
            #expect(!expected.isEmpty)
            return name
        } catch {
            return "unexpected \(error)"
        }
        return nil
    }

    @Test func contiguousArguments() throws {
        let problem = KVCacheProblem(KVCacheCase(batch: 2, seqlenQ: 2, heads: 4, kvHeads: 2, headDim: 16, seqlenNew: 2, type: .float32,
                                                 capacity: 20, rotaryDim: 8, rotaryTableType: .float32, batchIndex: true, leftPad: true,
                                                 lengths: [10, 18], seed: 1))
        let other = Tensor(shape: [2, 2, 4, 16]), short = Tensor(shape: [5, 4])
        let cases: [(String, (inout KVCacheArguments) -> Void)] = [
            ("q", { $0.q = Tensor(shape: [2, 2, 4]).view }),
            ("k_cache", { $0.kCache = Tensor(shape: [4, 20, 3, 16]).view }),
            ("v_cache", { $0.vCache = Tensor(shape: [4, 20, 2, 8]).view }),
            ("k_cache", { $0.kCache = Tensor(shape: [4, 20, 2, 16], elementType: .bfloat16).view }),
            ("k", { $0.k = nil }),
            ("v", { $0.v = nil }),
            ("k", { $0.k = Tensor(shape: [2, 2, 2, 8]).view }),
            ("v", { $0.v = Tensor(shape: [2, 3, 2, 16]).view }),
            ("cache_seqlens", { $0.cacheSeqlens = [10] }),
            ("cache_seqlens", { $0.cacheSeqlens = [10, 19] }),  // 19 + 2 new > 20
            ("cache_seqlens", { $0.cacheSeqlens = [-1, 3] }),
            ("cache_batch_idx", { $0.cacheBatchIndex = [0, 4] }),
            ("cache_batch_idx", { $0.cacheBatchIndex = [1, 1] }),  // two rows appending into one
            ("cache_batch_idx", { $0.cacheBatchIndex = [1] }),
            ("cache_leftpad", { $0.cacheLeftPad = [11, 0] }),
            ("cache_leftpad", { $0.cacheLeftPad = [0] }),
            ("rotary_cos", { $0.rotary?.cos = short.view; $0.rotary?.sin = short.view }),  // too few positions
            ("rotary_cos", { $0.rotary?.cos = Tensor(shape: [40, 9]).view }),  // rotary_dim 18 > D
            ("rotary_sin", { $0.rotary?.sin = Tensor(shape: [40, 3]).view }),
            ("rotary_cos", { $0.k = nil; $0.v = nil }),
            ("out", { $0.out = Tensor(shape: [2, 2, 4, 8]).view }),
            ("lse", { $0.lse = Tensor(shape: [2, 2, 4]).view }),
            ("lse", { $0.lse = Tensor(shape: [2, 4, 2], elementType: .bfloat16).view }),
            ("num_splits", { $0.numSplits = -1 }),
            ("dropout_p", { $0.options.dropout = Dropout(probability: 0.1, seed: 1) }),
            ("softcap", { $0.options.softcap = -1 }),
            ("window_left", { $0.options.window = SlidingWindow(left: -2, right: 0) }),
            ("alibi_slopes", { $0.options.alibi = ALiBi(slopes: Tensor(shape: [3]).view) }),
            ("out", { $0.out = TensorView(data: other.view.data, elementType: .float32, shape: [2, 2, 4, 16], device: .cuda(ordinal: 0)) }),
        ]
        for (expected, edit) in cases {
            #expect(withExtendedLifetime((other, short)) { KVCacheErrorTests.refusal(problem, edit) } == expected, "expected a refusal naming \(expected)")
        }
    }

    @Test func pagedArguments() throws {
        let problem = KVCacheProblem(KVCacheCase(batch: 2, heads: 2, kvHeads: 1, headDim: 8, seqlenNew: 1, type: .float32, pageSize: 4,
                                                 capacity: 16, lengths: [5, 9], seed: 2))
        let table = problem.blockTable!
        let empty = Tensor(shape: [3, 0, 1, 8])
        var shared = table.entries
        shared[4 + 2] = shared[1]  // row 1's block 2 (its append slot 9) is row 0's block 1 (slot 5)
        let cases: [(String, (inout KVCacheArguments) -> Void)] = [
            ("block_table", { $0.blockTable = BlockTable(entries: Array(table.entries.prefix(6)), maxBlocksPerSequence: 4) }),
            ("block_table", { $0.blockTable?.entries[1] = 99 }),
            ("block_table", { $0.blockTable?.entries[0] = -1 }),
            ("block_table", { $0.blockTable = BlockTable(entries: shared, maxBlocksPerSequence: 4) }),
            ("cache_batch_idx", { $0.cacheBatchIndex = [0, 1] }),
            ("cache_seqlens", { $0.cacheSeqlens = [16, 0] }),
            ("k_cache", { $0.kCache = empty.view; $0.vCache = empty.view }),  // page size 0
        ]
        for (expected, edit) in cases {
            #expect(withExtendedLifetime(empty) { KVCacheErrorTests.refusal(problem, edit) } == expected, "expected a refusal naming \(expected)")
        }
        // Entries past what a row uses are never read: -1 there is fine.
        var arguments = problem.arguments
        arguments.blockTable?.entries[3] = -1  // row 0 uses blocks 0 and 1 (6 keys after the append)
        #expect(throws: Never.self) { try CPUBackend(threads: 2).forwardWithKVCache(arguments) }
    }
}
