@testable import FlashAttentionCUDA
@testable import FlashAttentionCore
import Testing

/// The geometry the Hopper forward and backward give the copy engine for each operand, and the
/// layouts they accept, on fake device views (nothing is encoded or dereferenced).
@Suite("Hopper operand maps: geometry and which layouts fit (no GPU)")
struct HopperOperandMapTests {
    static let base = UInt(1) << 20

    static func view(_ shape: [Int], offset: UInt = 0, strides: [Int]? = nil) -> TensorView {
        TensorView(data: UnsafeMutableRawPointer(bitPattern: base + offset)!, elementType: .bfloat16, shape: shape,
                   strides: strides, device: .cuda(ordinal: 0))
    }

    @Test func denseOperandHasByteStridesOfRowsHeadsAndBatches() {
        let q = Self.view([2, 300, 4, 128])
        let map = HopperOperandMap(q.sequenceAddressing, headDim: 128, rows: 300, heads: 4, batches: 2)
        #expect(map.dims == [128, 300, 4, 2])
        #expect(map.strides == [4 * 128 * 2, 128 * 2, 300 * 4 * 128 * 2])
    }

    @Test func extentOneDimensionsGetAStrideTheCopyEngineAccepts() throws {
        // One head and one batch of a (1, 77, 1, 40) view: their element strides (40 and 77·40)
        // are never stepped along; each becomes the span below it, rounded up to 16 bytes.
        let q = Self.view([1, 77, 1, 40])
        let map = HopperOperandMap(q.sequenceAddressing, headDim: 40, rows: 77, heads: 1, batches: 1)
        #expect(map.strides[0] == 80)
        #expect(map.strides[1] == 80 * 77)
        #expect(map.strides[2] == 80 * 77)
        #expect(map.strides.allSatisfy { $0 % 16 == 0 })
    }

    @Test func misalignedOrStridedViewsDoNotFit() {
        let good = Self.view([2, 300, 4, 128])
        #expect(HopperOperandMap.fits(good, good.sequenceAddressing, rows: 300, heads: 4, batches: 2))
        let shifted = Self.view([2, 300, 4, 128], offset: 8)
        #expect(!HopperOperandMap.fits(shifted, shifted.sequenceAddressing, rows: 300, heads: 4, batches: 2))
        // Rows padded by 4 elements (8 bytes): not a 16-byte multiple.
        let padded = Self.view([2, 300, 4, 128], strides: [300 * 4 * 132, 4 * 132, 132, 1])
        #expect(!HopperOperandMap.fits(padded, padded.sequenceAddressing, rows: 300, heads: 4, batches: 2))
        // A transposed head dim.
        let transposed = Self.view([2, 300, 4, 128], strides: [300 * 4 * 128, 1, 300, 1200])
        #expect(!HopperOperandMap.fits(transposed, transposed.sequenceAddressing, rows: 300, heads: 4, batches: 2))
        // A zero batch stride is fine with one batch (never stepped), not with two.
        let broadcast = Self.view([2, 300, 4, 128], strides: [0, 4 * 128, 128, 1])
        #expect(HopperOperandMap.fits(broadcast, broadcast.sequenceAddressing, rows: 300, heads: 4, batches: 1))
        #expect(!HopperOperandMap.fits(broadcast, broadcast.sequenceAddressing, rows: 300, heads: 4, batches: 2))
    }
}

private extension TensorView {
    /// Dense (B, S, H, D) addressing of this view.
    var sequenceAddressing: SequenceAddressing {
        SequenceAddressing(self, rowStarts: nil)
    }
}
