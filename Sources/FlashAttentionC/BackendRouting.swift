import FlashAttention
import FlashAttentionCUDA

/// Picks the backend from the tensors' device: host memory runs on the CPU backend, CUDA
/// memory on the CUDA backend, in place, on the caller's stream.
enum BackendRouting {
    static func backend(for device: Device, stream: UnsafeMutableRawPointer?, threads: Int?) throws -> any AttentionBackend {
        switch device {
        case .cpu:
            // The stream is meaningless for host memory and ignored.
            return try FlashAttention.backend(for: .cpu, threads: threads)
        case .cuda(let ordinal):
            // No fallback: device pointers must never reach the CPU backend. The backend borrows
            // the caller's stream (NULL: the legacy default stream), so launches order with the
            // caller's work; a missing driver or GPU surfaces as FA_ERROR_DEVICE_UNAVAILABLE.
            return try CUDABackend(ordinal: ordinal, stream: stream)
        }
    }
}
