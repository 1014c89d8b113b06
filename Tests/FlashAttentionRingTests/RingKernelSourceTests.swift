import Testing
import FlashAttentionCore
import FlashAttentionCUDA

/// The ring helper kernels' generator and parameter packing (pure; no GPU needed).
@Suite struct RingKernelSourceTests {
    @Test func everyKernelIsDefined() {
        let source = RingKernelSource.source
        let types: [ElementType] = [.float32, .float16, .bfloat16]
        for s in types {
            #expect(source.contains("void __launch_bounds__(256) \(RingKernelSource.addName(from: s))("))
            #expect(source.contains("void __launch_bounds__(256) \(RingKernelSource.mergeName(part: s))("))
            for d in types {
                #expect(source.contains("void __launch_bounds__(256) \(RingKernelSource.copyName(from: s, to: d))("))
            }
        }
        // Deterministic text, so the kernel cache hits across processes.
        #expect(RingKernelSource.source == source)
    }

    @Test func parameterLayouts() {
        let a = Tensor(shape: [2, 6, 3, 8]), b = Tensor(shape: [2, 6, 3, 8], elementType: .bfloat16)
        // Elementwise: 2 pointers, shape[4], two stride[4], count: 15 × 8 bytes.
        let e = RingKernelParameters.elementwise(source: a.view.slice(axis: 1, 3..<6), destination: b.view.slice(axis: 1, 0..<3))
        #expect(e.count == 15 * 8)
        func field(_ bytes: [UInt8], _ i: Int) -> Int64 {
            bytes[(8 * i)..<(8 * i + 8)].reversed().reduce(0) { $0 << 8 | Int64($1) }
        }
        #expect((2..<6).map { field(e, $0) } == [2, 3, 3, 8])        // shape
        #expect((6..<10).map { field(e, $0) } == [144, 24, 8, 1])    // source strides
        #expect(field(e, 14) == 2 * 3 * 3 * 8)                        // count
        // Merge: 4 pointers, B S H D, two out strides[4], two LSE strides[3]: 22 × 8 bytes;
        // a packed (T, H, D) view gets batch 1 and zero batch strides.
        let lse = Tensor(shape: [3, 12]), out = Tensor(shape: [12, 3, 8])
        let m = RingKernelParameters.merge(accOut: out.view, accLSE: lse.view, partOut: out.view, partLSE: lse.view)
        #expect(m.count == 22 * 8)
        #expect((4..<8).map { field(m, $0) } == [1, 12, 3, 8])
        #expect((8..<12).map { field(m, $0) } == [0, 24, 8, 1])
        #expect((16..<19).map { field(m, $0) } == [0, 12, 1])
        withExtendedLifetime((a, b, lse, out)) {}
    }
}
