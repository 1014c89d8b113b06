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

    private var allocations: [UnsafeMutableRawPointer] = []

    init(plan: ForwardPlan) {
        let d = plan.paddedHeadDim, n = plan.columnStride, kb = ForwardPlan.keyBlock
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
            raw.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 16) * 4)
            return raw.bindMemory(to: Float.self, capacity: max(count, 16))
        }
        queryRows = floats(plan.maxColumns * d)
        queryT = floats(d * n)
        scores = floats(kb * n)
        output = floats(plan.maxColumns * d)
        keys = floats(kb * d)
        values = floats(kb * d)
        probabilities = floats(kb / 2 * n)
        rowMax = floats(n)
        rowSum = floats(n)
        alpha = floats(n)
        logSumExp = floats(n)
        diagonal = floats(n)
        slope = floats(n)
        let lo = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
        let hi = UnsafeMutableRawPointer.allocate(byteCount: n * 4, alignment: 64)
        let drop = UnsafeMutableRawPointer.allocate(byteCount: n * 8, alignment: 64)
        keyLo = lo.initializeMemory(as: Int32.self, repeating: 0, count: n)
        keyHi = hi.initializeMemory(as: Int32.self, repeating: 0, count: n)
        dropBase = drop.initializeMemory(as: UInt64.self, repeating: 0, count: n)
        allocations = [queryRows, queryT, scores, output, keys, values, probabilities, rowMax, rowSum, alpha, logSumExp, diagonal, slope]
            .map { UnsafeMutableRawPointer($0) } + [lo, hi, drop]
    }

    deinit { for pointer in allocations { pointer.deallocate() } }
}
