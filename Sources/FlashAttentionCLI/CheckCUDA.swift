import FlashAttention

/// The GPU part of `flash-attn check`.
///
/// CUDA engineers: the facts below (driver version, GPUs, NVRTC version and location, kernel
/// cache folder and size) belong to the CUDA module; replace each `skipped(...)` with a real
/// item (✓ with the value, or ✗ with the fix text) as the module grows an API for it. The
/// correctness items already run on whatever `FlashAttention.backend(for: .cuda)` returns.
enum CUDAChecks {
    static let infoItems = ["CUDA driver", "GPUs", "NVRTC", "Kernel cache"]

    static func items() -> [CheckItem] {
        let backend: any AttentionBackend
        do {
            backend = try FlashAttention.backend(for: .cuda)
        } catch {
            let reason: String
            if case let FlashAttentionError.deviceUnavailable(why) = error { reason = why } else { reason = "\(error)" }
            return (infoItems + ["CUDA forward", "CUDA backward"]).map { .skipped($0, reason) }
        }
        return infoItems.map { .skipped($0, "not reported by this build's CUDA module yet") }
            + CheckCommand.verificationItems(backend: backend, label: "CUDA")
    }
}
