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

    /// The backend of a KV-cache call on `device`: the CPU backend for host memory; for CUDA
    /// memory the CUDA backend once it implements ``KVCacheBackend`` (its decode kernels),
    /// until then FA_ERROR_UNSUPPORTED. Never a fallback to the host.
    static func kvCacheBackend(for device: Device, stream: UnsafeMutableRawPointer?, threads: Int?) throws -> any KVCacheBackend {
        switch device {
        case .cpu:
            return try FlashAttention.kvCacheBackend(for: .cpu, threads: threads)
        case .cuda(let ordinal):
            let gpu: any AttentionBackend = try CUDABackend(ordinal: ordinal, stream: stream)
            guard let kvCache = gpu as? any KVCacheBackend else {
                throw FlashAttentionError.unsupported("attention with a KV cache on CUDA tensors (the CUDA decode kernels have not landed)")
            }
            return kvCache
        }
    }
}
