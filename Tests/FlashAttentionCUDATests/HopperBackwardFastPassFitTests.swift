@testable import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// `fastPassesFit` is the only guard in front of the fast preprocess's and conversion's 16-byte
/// vector loads and stores (O and dQ), so its answers are pinned here on fake device views:
/// nothing is dereferenced.
@Suite("Hopper backward fast passes: which O and dQ layouts fit (no GPU)")
struct HopperBackwardFastPassFitTests {
    static let base = UInt(1) << 20

    /// A (1, 300, 4, 128) bf16 problem (kv heads 2) whose O and dQ views are given.
    static func fits(out: TensorView? = nil, dq: TensorView? = nil) throws -> Bool {
        let qs = [1, 300, 4, 128], ks = [1, 300, 2, 128]
        let arguments = BackwardArguments(dOut: view(qs), q: view(qs), k: view(ks), v: view(ks), out: out ?? view(qs),
                                          lse: view([1, 4, 300], .float32), dq: dq ?? view(qs), dk: view(ks), dv: view(ks),
                                          options: AttentionOptions())
        return CUDABackend.fastPassesFit(arguments, layout: try arguments.validate())
    }

    static func view(_ shape: [Int], _ type: ElementType = .bfloat16, offset: UInt = 0, strides: [Int]? = nil) -> TensorView {
        TensorView(data: UnsafeMutableRawPointer(bitPattern: base + offset)!, elementType: type, shape: shape,
                   strides: strides, device: .cuda(ordinal: 0))
    }

    @Test func contiguousAndAlignedSlicesFit() throws {
        #expect(try Self.fits())
        // dQ as the q part of a packed (B, S, 3, H, D) gradient: row stride 3·H·D elements, 16-byte multiples.
        #expect(try Self.fits(dq: Self.view([1, 300, 4, 128], strides: [300 * 3 * 512, 3 * 512, 128, 1])))
        // float32 O with rows padded by 4 elements: 16 bytes, still whole vectors.
        #expect(try Self.fits(out: Self.view([1, 300, 4, 128], .float32, strides: [300 * 4 * 132, 4 * 132, 132, 1])))
    }

    @Test func misalignedOrStridedViewsKeepThePlainForms() throws {
        #expect(try !Self.fits(dq: Self.view([1, 300, 4, 128], offset: 8)))
        #expect(try !Self.fits(out: Self.view([1, 300, 4, 128], offset: 2)))
        // bf16 rows padded by 4 elements (8 bytes): a row chunk would straddle two vectors.
        #expect(try !Self.fits(out: Self.view([1, 300, 4, 128], strides: [300 * 4 * 132, 4 * 132, 132, 1])))
        // A non-unit head-dim stride (a transposed view).
        #expect(try !Self.fits(dq: Self.view([1, 300, 4, 128], strides: [300 * 4 * 128, 1, 300, 1200])))
    }
}
