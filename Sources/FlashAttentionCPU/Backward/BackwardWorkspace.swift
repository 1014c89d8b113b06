/// One worker's tiles for the backward: a few tiles, independent of Sq and Sk.
///
/// Created inside a worker and used only there; 64-byte aligned so packed rows start on cache
/// lines.
final class BackwardWorkspace {
    /// K tile, row-major tileK × paddedDim (B of dQ += dS·K).
    let keys: UnsafeMutablePointer<Float>
    /// V tile, row-major tileK × paddedDim, transposed into `valuesT`.
    let values: UnsafeMutablePointer<Float>
    /// Kᵀ and Vᵀ tiles, headDim × tileK (B of S = Q·Kᵀ and dP = dO·Vᵀ).
    let keysT: UnsafeMutablePointer<Float>
    let valuesT: UnsafeMutablePointer<Float>
    /// dK and dV accumulators of the current tile, tileK × paddedDim.
    let dKeys: UnsafeMutablePointer<Float>
    let dValues: UnsafeMutablePointer<Float>
    /// S → Pᵈ and dP → dS, blockQ × tileK.
    let scores: UnsafeMutablePointer<Float>
    let dScores: UnsafeMutablePointer<Float>
    /// Row tiles of the Δ and dQ passes (O and dO rows in float32, summed dQ rows),
    /// blockQ × paddedDim.
    let query: UnsafeMutablePointer<Float>
    let dOut: UnsafeMutablePointer<Float>
    /// Per-row visible key interval [keyLo, keyHi) of the current query block.
    let keyLo: UnsafeMutablePointer<Int32>
    let keyHi: UnsafeMutablePointer<Int32>

    private let buffers: ScratchBuffers

    init(plan: BackwardPlan, headDim: Int) {
        var buffers = ScratchBuffers()
        let rowTile = plan.tileK * plan.paddedDim
        keys = buffers.zeroed(count: rowTile)
        values = buffers.zeroed(count: rowTile)
        keysT = buffers.zeroed(count: headDim * plan.tileK)
        valuesT = buffers.zeroed(count: headDim * plan.tileK)
        dKeys = buffers.zeroed(count: rowTile)
        dValues = buffers.zeroed(count: rowTile)
        scores = buffers.zeroed(count: plan.blockQ * plan.tileK)
        dScores = buffers.zeroed(count: plan.blockQ * plan.tileK)
        query = buffers.zeroed(count: plan.blockQ * plan.paddedDim)
        dOut = buffers.zeroed(count: plan.blockQ * plan.paddedDim)
        keyLo = buffers.zeroed(count: plan.blockQ)
        keyHi = buffers.zeroed(count: plan.blockQ)
        self.buffers = buffers
    }

    deinit { buffers.deallocateAll() }
}
