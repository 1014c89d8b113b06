import FlashAttentionCore

/// One worker's tiles for the forward pass, allocated once per call. Its size depends on the
/// tile shape only (a few hundred KiB at D = 256), never on the sequence lengths.
final class ForwardScratch {
    /// Q rows of the tile, row-major: column c is row c, leading dimension paddedHeadDim.
    let queryRows: UnsafeMutablePointer<Float>
    /// Qᵀ: headDim rows × columnStride.
    let queryT: UnsafeMutablePointer<Float>
    /// Sᵀ / Pᵀ: keyBlock rows × columnStride.
    let scores: UnsafeMutablePointer<Float>
    /// The output accumulator, row-major: column c is row c, leading dimension paddedHeadDim.
    let output: UnsafeMutablePointer<Float>
    /// Packed K and V blocks (keyBlock × paddedHeadDim), for inputs the GEMM cannot read in place.
    let keys: UnsafeMutablePointer<Float>
    let values: UnsafeMutablePointer<Float>
    /// P rounded to bfloat16 pairs (keyBlock/2 × columnStride words), bfloat16 path only.
    let probabilities: UnsafeMutablePointer<Float>
    // Per-column statistics and mask parameters, columnStride entries each.
    let rowMax: UnsafeMutablePointer<Float>
    let rowSum: UnsafeMutablePointer<Float>
    let alpha: UnsafeMutablePointer<Float>
    let logSumExp: UnsafeMutablePointer<Float>
    let keyLo: UnsafeMutablePointer<Int32>
    let keyHi: UnsafeMutablePointer<Int32>
    let diagonal: UnsafeMutablePointer<Float>
    let slope: UnsafeMutablePointer<Float>
    let dropBase: UnsafeMutablePointer<UInt64>

    private let buffers: ScratchBuffers

    init(plan: ForwardPlan) {
        let d = plan.paddedHeadDim, n = plan.columnStride, kb = ForwardPlan.keyBlock
        var buffers = ScratchBuffers()
        queryRows = buffers.zeroed(count: plan.maxColumns * d)
        queryT = buffers.zeroed(count: d * n)
        scores = buffers.zeroed(count: kb * n)
        output = buffers.zeroed(count: plan.maxColumns * d)
        keys = buffers.zeroed(count: kb * d)
        values = buffers.zeroed(count: kb * d)
        probabilities = buffers.zeroed(count: kb / 2 * n)
        rowMax = buffers.zeroed(count: n)
        rowSum = buffers.zeroed(count: n)
        alpha = buffers.zeroed(count: n)
        logSumExp = buffers.zeroed(count: n)
        diagonal = buffers.zeroed(count: n)
        slope = buffers.zeroed(count: n)
        keyLo = buffers.zeroed(count: n)
        keyHi = buffers.zeroed(count: n)
        dropBase = buffers.zeroed(count: n)
        self.buffers = buffers
    }

    deinit { buffers.deallocateAll() }
}
