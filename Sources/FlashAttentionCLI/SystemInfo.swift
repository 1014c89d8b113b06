import FlashAttention
import FlashAttentionCPU
import Foundation

/// What the machine is, for benchmark headers and `flash-attn check`.
enum SystemInfo {
    /// The CPU's model name from /proc/cpuinfo (or `lscpu`'s wording), else "unknown CPU".
    static var cpuModel: String {
        guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else { return "unknown CPU" }
        for line in text.split(separator: "\n") where line.hasPrefix("model name") {
            if let colon = line.firstIndex(of: ":") { return line[line.index(after: colon)...].trimmed }
        }
        return "unknown CPU"
    }

    static var defaultThreads: Int { CPUBackend.defaultThreadCount }

    /// How tables and charts name our implementation on a backend.
    static func oursName(_ backend: any AttentionBackend) -> String { "flash-attn \(backend.name)" }
}
