import FlashAttentionCore

/// The forward pass over one call's tensors. (Placeholder until the tiled kernel lands.)
struct CPUForward {
    let arguments: ForwardArguments
    let layout: AttentionLayout
    let threads: Int

    func run() throws {
        throw FlashAttentionError.unsupported("CPU forward not implemented yet")
    }
}
