#if canImport(Glibc)
import Glibc
#endif

/// Peak extra resident memory of a call, on Linux.
///
/// Writing "5" to `/proc/self/clear_refs` resets the process's resident high-water mark
/// (VmHWM) to its current resident size; after the call, VmHWM minus the resident size before
/// it is the most memory the call added at any moment: its workspace and anything else it
/// touched, on every thread, but not memory that was already resident (inputs and the
/// caller-allocated outputs). Free heap memory is handed back to the OS first (`malloc_trim`),
/// so that a call reusing memory an earlier call freed is charged for it rather than getting
/// it for free. Where /proc is not available the peak is `nil`.
enum MemoryProbe {
    /// Runs `body` and returns its result with the peak extra resident bytes.
    static func measure<T>(_ body: () throws -> T) rethrows -> (result: T, peakExtraBytes: Int?) {
        releaseFreeHeap()
        let before = statusKiB("VmRSS")
        let reset = resetPeak()
        let result = try body()
        guard reset, let before, let peak = statusKiB("VmHWM") else { return (result, nil) }
        return (result, max(0, peak - before) * 1024)
    }

    /// Current resident bytes, or nil.
    static var residentBytes: Int? { statusKiB("VmRSS").map { $0 * 1024 } }

    /// glibc's malloc_trim(0): returns free heap pages of every arena to the OS.
    static func releaseFreeHeap() {
        typealias Trim = @convention(c) (Int) -> Int32
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return }
        _ = unsafeBitCast(symbol, to: Trim.self)(0)
    }

    static func resetPeak() -> Bool {
        let fd = open("/proc/self/clear_refs", O_WRONLY)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        return write(fd, "5", 1) == 1
    }

    /// A `Name:  123 kB` field of /proc/self/status, in KiB.
    static func statusKiB(_ field: String) -> Int? {
        let fd = open("/proc/self/status", O_RDONLY)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        var buffer = [UInt8](repeating: 0, count: 8192)
        let count = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        guard count > 0 else { return nil }
        let text = String(decoding: buffer[0..<count], as: UTF8.self)
        for line in text.split(separator: "\n") where line.hasPrefix(field + ":") {
            return line.split(separator: " ", omittingEmptySubsequences: true).dropFirst().first.flatMap { Int($0.trimmed) }
        }
        return nil
    }
}
