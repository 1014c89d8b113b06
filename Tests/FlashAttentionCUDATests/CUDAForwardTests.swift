import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionReference
import Testing

let gpuAvailable = CUDA.isAvailable
let noGPUReason: Comment = "no CUDA GPU here (\(CUDA.unavailableReason ?? "")): GPU tests skipped; run them on the device machine"

@Suite("CUDA forward on a GPU")
struct CUDAForwardTests {
    /// Random problems over every option, both half types, against the float64 oracle.
    @Test(.enabled(if: gpuAvailable, noGPUReason), arguments: 0..<24)
    func randomCaseMatchesOracle(_ index: Int) throws {
        let backend = try CUDABackend()
        let generator = ProblemGenerator(seed: 7, elementTypes: [.float16, .bfloat16], maxWork: 1_000_000)
        let result = Verifier(backend: backend).verify(generator.spec(index: index), backward: false)
        #expect(result.passed, "\(result)")
    }

    @Test func unavailableDeviceFailsWithOneLine() throws {
        guard !gpuAvailable else { return }
        #expect(throws: FlashAttentionError.self) { try FlashAttention.backend(for: .cuda) }
        // .auto falls back to the CPU.
        #expect(try FlashAttention.backend(for: .auto).name == "cpu")
    }
}
