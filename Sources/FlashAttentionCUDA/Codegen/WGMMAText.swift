/// Operand text shared by every generator's inline-PTX `wgmma` wrappers.
///
/// A `wgmma.mma_async` accumulator is one register per element of the warp's fragment, so the
/// wrappers name every one of them in the asm statement: `tiles` n8 column tiles × 4 floats.
enum WGMMAText {
    /// `"+f"(array[nt][i])` for every n8 tile `nt` and element `i`, comma-separated; `array` may
    /// carry a leading index (`"s[0]"`).
    static func accumulators(_ array: String, tiles: Int) -> String {
        (0..<tiles).flatMap { nt in (0..<4).map { "\"+f\"(\(array)[\(nt)][\($0)])" } }.joined(separator: ", ")
    }

    /// `%0, %1, …, %(count − 1)`: the asm operand list of `count` accumulator registers.
    static func registers(_ count: Int) -> String {
        (0..<count).map { "%\($0)" }.joined(separator: ", ")
    }
}
