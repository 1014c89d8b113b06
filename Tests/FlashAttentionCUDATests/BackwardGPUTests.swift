import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionReference
import Testing

@Suite("CUDA backward on a GPU")
struct CUDABackwardTests {
    /// Random problems over every option (GQA, varlen, strides, Sq ≠ Sk, D 1…256), both half
    /// types, forward and backward against the float64 oracle.
    @Test(.enabled(if: gpuAvailable, noGPUReason), arguments: 0..<24)
    func randomCaseMatchesOracle(_ index: Int) throws {
        let backend = try CUDABackend()
        let generator = ProblemGenerator(seed: 17, elementTypes: [.float16, .bfloat16], maxWork: 1_000_000)
        let result = Verifier(backend: backend).verify(generator.spec(index: index), backward: true)
        #expect(result.passed, "\(result)")
    }

    /// The same call twice gives the same bytes (no atomics anywhere).
    @Test(.enabled(if: gpuAvailable, noGPUReason), arguments: [64, 256])
    func backwardIsBitwiseReproducible(_ headDim: Int) throws {
        let backend = try CUDABackend()
        let spec = ProblemGenerator(seed: 3, elementTypes: [.bfloat16], maxWork: 1_000_000)
            .spec(index: 0, constraints: ProblemConstraints(seqlenQ: 300, seqlenK: 333, headDim: headDim, groupSize: 4,
                                                            options: [.causal, .dropout], varlen: false, strided: false))
        let problem = RandomProblem(spec)
        var results: [[Float]] = []
        for _ in 0..<3 {
            problem.poison([.dq, .dk, .dv])
            try backend.backward(problem.backwardArguments)
            results.append([TensorRole.dq, .dk, .dv].flatMap { role in
                RandomProblem.logicalOffsets(problem[role]).map { problem[role].load(at: $0) }
            })
        }
        #expect(results[0].elementsEqual(results[1]) { $0.bitPattern == $1.bitPattern })
        #expect(results[0].elementsEqual(results[2]) { $0.bitPattern == $1.bitPattern })
    }
}
