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

    private let allocations: [UnsafeMutableRawPointer]

    init(plan: BackwardPlan, headDim: Int) {
        var allocations: [UnsafeMutableRawPointer] = []
        func floats(_ count: Int) -> UnsafeMutablePointer<Float> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
            allocations.append(raw)
            return raw.initializeMemory(as: Float.self, repeating: 0, count: max(count, 16))
        }
        func ints(_ count: Int) -> UnsafeMutablePointer<Int32> {
            let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 16) * 4, alignment: 64)
            allocations.append(raw)
            return raw.initializeMemory(as: Int32.self, repeating: 0, count: max(count, 16))
        }
        let rowTile = plan.tileK * plan.paddedDim
        keys = floats(rowTile)
        values = floats(rowTile)
        keysT = floats(headDim * plan.tileK)
        valuesT = floats(headDim * plan.tileK)
        dKeys = floats(rowTile)
        dValues = floats(rowTile)
        scores = floats(plan.blockQ * plan.tileK)
        dScores = floats(plan.blockQ * plan.tileK)
        query = floats(plan.blockQ * plan.paddedDim)
        dOut = floats(plan.blockQ * plan.paddedDim)
        keyLo = ints(plan.blockQ)
        keyHi = ints(plan.blockQ)
        self.allocations = allocations
    }

    deinit {
        for pointer in allocations { pointer.deallocate() }
    }
}
