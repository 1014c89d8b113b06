import FlashAttention
import FlashAttentionCPU
import Foundation

/// What the machine is, for benchmark headers and `flash-attn check`.
enum SystemInfo {
    /// The CPU's model name from /proc/cpuinfo, else "unknown CPU".
    static var cpuModel: String { CPUBackend.modelName ?? "unknown CPU" }

    static var defaultThreads: Int { CPUBackend.defaultThreadCount }

    /// How tables and charts name our implementation on a backend.
    static func oursName(_ backend: any AttentionBackend) -> String { "flash-attn \(backend.name)" }
}
