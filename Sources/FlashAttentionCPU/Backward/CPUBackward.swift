import FlashAttentionCore

/// The backward pass over one call's tensors. (Placeholder until the tiled kernel lands.)
struct CPUBackward {
    let arguments: BackwardArguments
    let layout: AttentionLayout
    let threads: Int

    func run() throws {
        throw FlashAttentionError.unsupported("CPU backward not implemented yet")
    }
}
