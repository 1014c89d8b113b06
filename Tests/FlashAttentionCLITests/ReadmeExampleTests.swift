import FlashAttention
import Foundation
import Testing

/// README.md's Swift API example, verbatim, so that it keeps compiling and running.
@Suite struct ReadmeExampleTests {
    @Test func readmeExampleRuns() throws {
        // --- begin README example (keep identical to README.md's ```swift block) ---
        let (batch, seqlen, heads, headDim) = (1, 1024, 8, 64)
        let values = (0..<(batch * seqlen * heads * headDim)).map { _ in Float.random(in: -1...1) }
        let q = try Tensor(shape: [batch, seqlen, heads, headDim], elementType: .bfloat16, values: values)
        let k = try Tensor(shape: [batch, seqlen, heads, headDim], elementType: .bfloat16, values: Array(values.reversed()))
        let v = try Tensor(shape: [batch, seqlen, heads, headDim], elementType: .bfloat16, values: values.shuffled())
        let options = AttentionOptions(causal: true, window: SlidingWindow(left: 256, right: 0))
        let (out, lse) = try FlashAttention.forward(q: q, k: k, v: v, options: options)
        // Gradients of the loss ½‖out‖², whose gradient with respect to out is out itself.
        let (dq, dk, dv) = try FlashAttention.backward(dOut: out, q: q, k: k, v: v, out: out, lse: lse, options: options)
        // --- end README example ---
        #expect(out.shape == q.shape && lse.shape == [1, 8, 1024])
        #expect(!out.floats().contains { $0.isNaN } && !lse.floats().contains { $0.isNaN })
        #expect(dq.shape == q.shape && dk.shape == k.shape && dv.shape == v.shape)
        #expect(!dq.floats().contains { $0.isNaN })
    }

    /// Every line of README's Swift example appears in the test above.
    @Test func readmeExampleMatchesThisFile() throws {
        let here = URL(fileURLWithPath: #filePath)
        let root = here.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let readme = try String(contentsOf: root.appendingPathComponent("README.md"), encoding: .utf8)
        let source = try String(contentsOf: here, encoding: .utf8)
        guard let start = readme.range(of: "```swift\n"),
              let end = readme.range(of: "```", range: start.upperBound..<readme.endIndex) else {
            Issue.record("README.md has no ```swift block")
            return
        }
        let lines = readme[start.upperBound..<end.lowerBound].split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        let sourceLines = Set(source.split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) })
        for line in lines where !line.isEmpty && line != "import FlashAttention" {
            #expect(sourceLines.contains(line), "README line not in the test: \(line)")
        }
    }
}
