import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// Attention over a KV cache on the CPU against the float64 oracle (``ReferenceKVCache``):
/// out and lse within the shared budgets, empty rows exact, V appended bit for bit, rotated K
/// within 1e-3, nothing else in the caches touched, no NaN from the poisoned unused slots.
@Suite struct KVCacheTests {
    static func expectPasses(_ spec: KVCacheCase, threads: Int = 2) {
        do {
            let failures = try KVCacheProblem(spec).verify(backend: CPUBackend(threads: threads))
            #expect(failures.isEmpty, "\(spec): \(failures.joined(separator: "; "))")
        } catch {
            Issue.record("\(spec): threw \(error)")
        }
    }

    /// Random cases over every feature together (layouts, page sizes, lengths, rotary, batch
    /// index, left pad, GQA, masks, softcap, ALiBi, splits, element types): all must pass.
    @Test(arguments: 0..<8)
    func randomCases(chunk: Int) {
        for index in 0..<12 {
            KVCacheTests.expectPasses(KVCacheCase.random(seed: UInt64(1000 + chunk * 12 + index)))
        }
    }

    /// Page sizes 1, 3, 16 and 256 (and contiguous), odd lengths that differ per row.
    @Test(arguments: [nil, 1, 3, 16, 256] as [Int?])
    func pageSizes(page: Int?) {
        for type in [ElementType.float32, .bfloat16] {
            KVCacheTests.expectPasses(KVCacheCase(batch: 3, heads: 8, kvHeads: 2, headDim: 64, seqlenNew: 1, type: type,
                                                  pageSize: page, capacity: 300, lengths: [0, 137, 299], seed: 7))
            KVCacheTests.expectPasses(KVCacheCase(batch: 2, seqlenQ: 4, heads: 4, kvHeads: 4, headDim: 40, seqlenNew: 4,
                                                  type: type, pageSize: page, capacity: 263, causal: true,
                                                  lengths: [259, 31], seed: 8))
        }
    }

    /// Rotary in both layouts, partial and full rotary dims, for queries at advancing positions
    /// (causal) and at one position (non-causal), with and without a left pad.
    @Test(arguments: [true, false])
    func rotary(interleaved: Bool) {
        for (index, (dim, causal, pad, type)) in [(64, true, false, ElementType.float32), (16, false, true, .float32),
                                                   (32, true, true, .bfloat16), (2, false, false, .float16)].enumerated() {
            KVCacheTests.expectPasses(KVCacheCase(batch: 3, seqlenQ: 3, heads: 4, kvHeads: 2, headDim: 64, seqlenNew: 3,
                                                  type: type, pageSize: index % 2 == 0 ? nil : 16, capacity: 120,
                                                  rotaryDim: dim, interleaved: interleaved, rotaryTableType: type, leftPad: pad, causal: causal,
                                                  seed: UInt64(20 + index)))
        }
    }

    /// cacheBatchIndex gathers rows from a larger cache; the left pad hides the first keys.
    @Test func batchIndexAndLeftPad() {
        KVCacheTests.expectPasses(KVCacheCase(batch: 3, seqlenQ: 2, heads: 6, kvHeads: 3, headDim: 32, seqlenNew: 2, type: .float32,
                                              capacity: 90, batchIndex: true, leftPad: true, causal: true, seed: 30))
        KVCacheTests.expectPasses(KVCacheCase(batch: 2, heads: 4, kvHeads: 1, headDim: 16, seqlenNew: 0, type: .bfloat16,
                                              capacity: 90, batchIndex: true, leftPad: true, alibi: true, seed: 31))
        // A pad equal to the whole cache: only the new keys are visible.
        KVCacheTests.expectPasses(KVCacheCase(batch: 1, seqlenQ: 2, heads: 2, kvHeads: 1, headDim: 16, seqlenNew: 2, type: .float32,
                                              pageSize: 5, capacity: 40, leftPad: true, lengths: [0], seed: 32))
    }

    /// GQA/MQA with causal, windows, softcap and ALiBi, including rows that see no key.
    @Test func masksAndScores() {
        let cases: [KVCacheCase] = [
            KVCacheCase(batch: 2, seqlenQ: 9, heads: 8, kvHeads: 1, headDim: 64, seqlenNew: 9, type: .float32, capacity: 150, causal: true,
                        softcap: 10, seed: 40),
            KVCacheCase(batch: 2, seqlenQ: 5, heads: 4, kvHeads: 2, headDim: 40, seqlenNew: 2, type: .float32, pageSize: 3, capacity: 100,
                        window: SlidingWindow(left: 7, right: 0), alibi: true, seed: 41),
            // More queries than keys under a causal mask: the first rows see nothing.
            KVCacheCase(batch: 2, seqlenQ: 9, heads: 2, kvHeads: 2, headDim: 16, seqlenNew: 1, type: .float32, capacity: 50, causal: true,
                        lengths: [2, 0], seed: 42),
            KVCacheCase(batch: 1, seqlenQ: 1, heads: 4, kvHeads: 2, headDim: 8, seqlenNew: 0, type: .float32, capacity: 50, lengths: [0], seed: 43),
            KVCacheCase(batch: 2, seqlenQ: 3, heads: 3, kvHeads: 1, headDim: 6, seqlenNew: 1, type: .float16, pageSize: 1,
                        capacity: 60, window: SlidingWindow(left: 3, right: 3), softcap: 2.5, softmaxScale: 0.3, seed: 44),
        ]
        for spec in cases { KVCacheTests.expectPasses(spec) }
    }

    /// Long contexts with few queries: split over keys (heuristic and explicit), paged and not.
    @Test func splitKeys() {
        for (index, (page, splits, type)) in [(nil, 0, ElementType.bfloat16), (16, 0, .float32), (1, 5, .bfloat16),
                                               (nil, 64, .float32)].enumerated() {
            KVCacheTests.expectPasses(KVCacheCase(batch: 1, heads: 8, kvHeads: 2, headDim: 128, seqlenNew: 1, type: type,
                                                  pageSize: page, capacity: 2500, causal: index % 2 == 0, numSplits: splits,
                                                  lengths: [2400], seed: UInt64(50 + index)))
        }
    }

    /// Split-KV results are bitwise identical for 1, 2 and 3 threads.
    @Test func threadCountIndependence() throws {
        for (index, (page, splits)) in [(nil, 0), (16, 0), (7, 6)].enumerated() {
            var results: [[UInt8]] = []
            for threads in [1, 2, 3] {
                let problem = KVCacheProblem(KVCacheCase(batch: 2, heads: 8, kvHeads: 2, headDim: 64, seqlenNew: 2,
                                                         type: .bfloat16, pageSize: page, capacity: 1500, rotaryDim: 32, rotaryTableType: .bfloat16,
                                                         numSplits: splits, lengths: [1400, 900], seed: UInt64(60 + index)))
                problem.out.poison()
                problem.lse.poison()
                try CPUBackend(threads: threads).forwardWithKVCache(problem.arguments)
                results.append(Array(problem.out.storage) + Array(problem.lse.storage) + Array(problem.kCache.storage))
            }
            #expect(results[0] == results[1])
            #expect(results[0] == results[2])
        }
    }

    /// The same keys in a contiguous cache and in pages of 16 give the same result (the key
    /// blocks, and so the arithmetic, do not depend on the layout).
    @Test func pagedMatchesContiguous() throws {
        var outputs: [[Float]] = []
        for page in [nil, 16, 1] as [Int?] {
            let spec = KVCacheCase(batch: 2, heads: 4, kvHeads: 2, headDim: 64, seqlenNew: 0, type: .bfloat16,
                                   pageSize: page, capacity: 512, lengths: [500, 333], seed: 70)
            let problem = KVCacheProblem(spec)
            // Same values whatever the layout: rewrite the visible keys from one seed.
            var rng = SeededRandom(seed: 71)
            for b in 0..<2 {
                for j in 0..<Int(problem.cacheSeqlens[b]) {
                    let (block, row) = page.map { (problem.blockTable!.block(batch: b, index: j / $0), j % $0) } ?? (b, j)
                    for head in 0..<2 {
                        for e in 0..<64 {
                            problem.kCache.view[block, row, head, e] = Float(rng.normal())
                            problem.vCache.view[block, row, head, e] = Float(rng.normal())
                        }
                    }
                }
            }
            try CPUBackend(threads: 2).forwardWithKVCache(problem.arguments)
            outputs.append(problem.out.floats() + problem.lse.floats())
        }
        #expect(outputs[0] == outputs[1])
        #expect(outputs[0] == outputs[2])
    }
}
