import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// The CPU forward against the float64 oracle, through the shared ``Verifier``: every output
/// element written (poisoned before the call), no NaN, no writes outside the views, rows that
/// see no key give out = 0 and LSE = +∞, float32 within 1e-5 norm-wise relative error and
/// float16/bfloat16 within 2× naive attention in that precision.
@Suite struct CPUForwardTests {
    static func verify(_ spec: ProblemSpec, threads: Int = 2) {
        let result = Verifier(backend: CPUBackend(threads: threads)).verify(spec, backward: false)
        #expect(result.passed, "\(result)")
    }

    /// Odd sizes: Sq ≠ Sk both ways, head dims from 1 to 256 (not the full product).
    @Test(arguments: [
        (1, 1, 1), (7, 23, 7), (23, 7, 40), (113, 113, 59), (113, 23, 80), (7, 113, 111), (23, 113, 256),
        (113, 7, 256), (1, 113, 40),
    ])
    func shapes(sizes: (Int, Int, Int)) {
        let (sq, sk, d) = sizes
        for causal in [false, true] {
            CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: sq, seqlenK: sk, heads: 2, headDim: d, causal: causal,
                                               valueSeed: UInt64(sq * 1000 + sk * 10 + d)))
        }
    }

    /// Windows, some of which leave whole rows without keys (Sq > Sk, causal or a window
    /// that misses the key range): those rows must be exactly 0 / +∞.
    @Test func windowsAndEmptyRows() {
        let cases: [(Int, Int, Bool, SlidingWindow)] = [
            (113, 23, true, .unbounded),           // rows 0..<90 see nothing
            (23, 113, false, SlidingWindow(left: 5, right: 0)),
            (113, 113, false, SlidingWindow(left: 0, right: 0)),
            (113, 113, false, SlidingWindow(left: 70, right: 3)),
            (113, 23, false, SlidingWindow(left: 2, right: 2)), // most rows fall outside the keys
            (23, 113, false, SlidingWindow(left: -1, right: 10)),
        ]
        for (index, (sq, sk, causal, window)) in cases.enumerated() {
            CPUForwardTests.verify(ProblemSpec(seqlenQ: sq, seqlenK: sk, heads: 2, headDim: 40, causal: causal,
                                               window: window, valueSeed: UInt64(index)))
        }
    }

    @Test func softcapALiBiDropout() {
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 113, seqlenK: 89, heads: 3, headDim: 59, softcap: 2.5, valueSeed: 1))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 77, seqlenK: 113, heads: 3, headDim: 40, causal: true, softcap: 30,
                                           distribution: .shifted, valueSeed: 2))
        CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: 113, seqlenK: 113, heads: 3, headDim: 80, alibi: .heads,
                                           valueSeed: 3))
        CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: 23, seqlenK: 113, heads: 3, headDim: 7, causal: true,
                                           alibi: .batchHeads, valueSeed: 4))
        CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: 113, seqlenK: 77, heads: 2, headDim: 59,
                                           dropout: Dropout(probability: 0.3, seed: 42), valueSeed: 5))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 113, seqlenK: 113, heads: 2, headDim: 40, causal: true, softcap: 5,
                                           alibi: .heads, dropout: Dropout(probability: 0.1, seed: 7),
                                           softmaxScale: 0.3, valueSeed: 6))
    }

    @Test func groupedQueryHeads() {
        CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: 113, seqlenK: 77, heads: 8, kvHeads: 2, headDim: 40,
                                           causal: true, valueSeed: 7))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 23, seqlenK: 113, heads: 8, kvHeads: 1, headDim: 59,
                                           alibi: .heads, valueSeed: 8))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 1, seqlenK: 113, heads: 16, kvHeads: 2, headDim: 80,
                                           elementType: .bfloat16, valueSeed: 9))
    }

    /// Transposed, head-sliced, row-padded and D-strided views of every tensor.
    @Test func stridedViews() {
        let patterns: [[StridePattern]] = [
            [.transposed, .transposed, .transposed, .transposed, .transposed, .contiguous, .contiguous, .contiguous, .contiguous],
            [.slicedHeads, .paddedRows, .spacedDims, .slicedHeads, .transposed, .contiguous, .contiguous, .contiguous, .contiguous],
            [.spacedDims, .spacedDims, .paddedRows, .paddedRows, .slicedHeads, .contiguous, .contiguous, .contiguous, .contiguous],
        ]
        for (index, strides) in patterns.enumerated() {
            for type in [ElementType.float32, .bfloat16] {
                CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: 23, seqlenK: 113, heads: 4, kvHeads: 2, headDim: 40,
                                                   elementType: type, causal: index == 1, strides: strides,
                                                   valueSeed: UInt64(10 + index)))
            }
        }
    }

    @Test func variableLength() {
        let varlen = VarlenSpec(seqlensQ: [7, 0, 113, 23, 1], seqlensK: [23, 5, 113, 0, 77])
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 4, kvHeads: 1, headDim: 40, causal: true,
                                           varlen: varlen, valueSeed: 20))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 0, seqlenK: 0, heads: 2, headDim: 59, elementType: .float16,
                                           alibi: .batchHeads, dropout: Dropout(probability: 0.2, seed: 3),
                                           varlen: varlen, strides: [.paddedRows, .transposed, .slicedHeads, .contiguous,
                                                                     .transposed, .contiguous, .contiguous, .contiguous, .contiguous],
                                           valueSeed: 21))
    }

    @Test(arguments: [ElementType.float16, .bfloat16])
    func halfPrecision(type: ElementType) {
        CPUForwardTests.verify(ProblemSpec(batch: 2, seqlenQ: 113, seqlenK: 77, heads: 2, headDim: 111, elementType: type,
                                           causal: true, valueSeed: 30))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 23, seqlenK: 113, heads: 4, kvHeads: 2, headDim: 256, elementType: type,
                                           softcap: 10, valueSeed: 31))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 113, seqlenK: 113, heads: 2, headDim: 7, elementType: type,
                                           float32Outputs: true, valueSeed: 32))
    }

    /// Long keys, few queries: the forward splits over key blocks and merges; the result
    /// must still be correct and independent of the thread count.
    @Test func keySplit() {
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 3, seqlenK: 2_000, heads: 1, headDim: 64, valueSeed: 40))
        CPUForwardTests.verify(ProblemSpec(seqlenQ: 1, seqlenK: 1_500, heads: 2, headDim: 40, causal: true,
                                           window: SlidingWindow(left: 700, right: -1), valueSeed: 41))
    }

    /// Bitwise identical results for 1, 2 and 3 threads.
    @Test func threadCountIndependence() throws {
        let specs = [
            ProblemSpec(batch: 2, seqlenQ: 113, seqlenK: 200, heads: 4, kvHeads: 2, headDim: 59, causal: true,
                        dropout: Dropout(probability: 0.2, seed: 9), valueSeed: 50),
            ProblemSpec(seqlenQ: 2, seqlenK: 2_000, heads: 1, headDim: 40, valueSeed: 51),  // key split
            ProblemSpec(batch: 2, seqlenQ: 77, seqlenK: 77, heads: 2, headDim: 80, elementType: .bfloat16, valueSeed: 52),
        ]
        for spec in specs {
            var results = [[UInt8]]()
            for threads in [1, 2, 3] {
                let problem = RandomProblem(spec)
                problem.poison([.out, .lse])
                try CPUBackend(threads: threads).forward(problem.forwardArguments)
                let out = problem.storage[.out]!, lse = problem.storage[.lse]!
                results.append(Array(out.storage) + Array(lse.storage))
            }
            #expect(results[0] == results[1], "\(spec)")
            #expect(results[0] == results[2], "\(spec)")
        }
    }
}
