import FlashAttention

/// Picks the backend from the tensors' device: host memory runs on the CPU backend, CUDA
/// memory on the CUDA backend, in place, on the caller's stream.
enum BackendRouting {
    static func backend(for device: Device, stream: UnsafeMutableRawPointer?, threads: Int?) throws -> any AttentionBackend {
        switch device {
        case .cpu:
            // The stream is meaningless for host memory and ignored.
            return try FlashAttention.backend(for: .cpu, threads: threads)
        case .cuda:
            return try FlashAttention.backend(for: .cuda)
        }
    }
}
