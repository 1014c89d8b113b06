import CUDADriver
import FlashAttentionCore

/// ptxas's resource report for one kernel, parsed from the `-v` log.
public struct ResourceReport: Sendable, Hashable {
    public var registers: Int
    public var spillStoreBytes: Int
    public var spillLoadBytes: Int
    public var stackFrameBytes: Int
    public var staticSharedBytes: Int

    /// Reads the `ptxas info : Used N registers …` lines of an NVRTC log.
    public static func parse(_ log: String) -> ResourceReport? {
        var report = ResourceReport(registers: -1, spillStoreBytes: 0, spillLoadBytes: 0, stackFrameBytes: 0, staticSharedBytes: 0)
        var found = false
        for line in log.split(separator: "\n") {
            let words = line.split(whereSeparator: { $0 == " " || $0 == "," }).map(String.init)
            func number(before word: String) -> Int? {
                guard let index = words.firstIndex(of: word), index > 0 else { return nil }
                return Int(words[index - 1])
            }
            if line.contains("Used") && line.contains("registers") {
                if let n = number(before: "registers") { report.registers = n; found = true }
                if let index = words.firstIndex(of: "smem"), index > 2, words[index - 1] == "bytes", let n = Int(words[index - 2]) {
                    report.staticSharedBytes = n
                }
            }
            if line.contains("stack frame") {
                if let n = number(before: "bytes"), let first = words.firstIndex(of: "bytes"), words.dropFirst(first + 1).first == "stack" {
                    report.stackFrameBytes = n
                }
                if let i = words.firstIndex(of: "spill"), i >= 2, let n = Int(words[i - 2]) { report.spillStoreBytes = n }
                if let i = words.lastIndex(of: "spill"), i >= 2, let n = Int(words[i - 2]) { report.spillLoadBytes = n }
            }
        }
        return found ? report : nil
    }

    public var spills: Bool { spillStoreBytes > 0 || spillLoadBytes > 0 }
}

/// One compiled variant: its source, image and how it was obtained.
public struct CompiledKernel: Sendable {
    public var descriptor: AttentionKernelDescriptor
    public var source: String
    /// The cubin for ``AttentionKernelDescriptor/architecture``.
    public var image: [UInt8]
    /// NVRTC's log (ptxas's `-v` report included).
    public var log: String
    public var report: ResourceReport?
    /// Seconds spent in NVRTC (0 when loaded from the disk cache).
    public var compileSeconds: Double
    /// Seconds spent finding and reading the disk cache entry (0 when compiled).
    public var loadSeconds: Double
    public var fromDiskCache: Bool
}

/// Compiles descriptors with NVRTC, through the disk cache.
public enum KernelCompiler {
    /// NVRTC options; part of the disk cache key.
    public static func options(for architecture: GPUArchitecture) -> [String] {
        ["--gpu-architecture=\(architecture.targetName)", "--std=c++17", "--ptxas-options=-v", "-default-device"]
    }

    /// Compiles `descriptor` (or loads it from the disk cache when `cache` is given and holds it).
    public static func compile(_ descriptor: AttentionKernelDescriptor, cache: KernelDiskCache? = KernelDiskCache.standard) throws -> CompiledKernel {
        let kernel = try AttentionKernel(descriptor: descriptor)
        let source = kernel.source
        let options = options(for: descriptor.architecture)
        let version: (major: Int, minor: Int)
        do { version = try CUDA.nvrtcVersion() } catch { throw FlashAttentionError.deviceUnavailable("\(error)") }
        let key = KernelDiskCache.Key(source: source, nvrtcVersion: "\(version.major).\(version.minor)",
                                      architecture: descriptor.architecture.targetName, options: options)
        let start = monotonicSeconds()
        if let cache, let hit = cache.load(key) {
            return CompiledKernel(descriptor: descriptor, source: source, image: hit.image, log: hit.log,
                                  report: ResourceReport.parse(hit.log), compileSeconds: 0,
                                  loadSeconds: monotonicSeconds() - start, fromDiskCache: true)
        }
        let output: NVRTCOutput
        do {
            output = try NVRTC.compile(source: source, name: descriptor.name + ".cu", options: options)
        } catch {
            throw FlashAttentionError.backendFailure("compiling \(descriptor.name): \(error)")
        }
        let seconds = monotonicSeconds() - start
        // A cache that cannot be written (read-only home, full disk) only costs a recompile later.
        try? cache?.store(key, image: output.image, log: output.log)
        return CompiledKernel(descriptor: descriptor, source: source, image: output.image, log: output.log,
                              report: ResourceReport.parse(output.log), compileSeconds: seconds,
                              loadSeconds: 0, fromDiskCache: false)
    }
}

/// Cubins on disk, under `$FLASH_ATTENTION_CACHE_DIR` or `~/.cache/flash-attention`.
///
/// An entry is three files named by a hash of (source, NVRTC version, architecture, options):
/// `.cu` (the key text and source, for debugging and for verifying a hit), `.cubin` and
/// `.log`. Each is written to a temporary name and renamed, so processes racing to fill
/// the same entry each leave a complete file, and a reader never sees a partial one.
public struct KernelDiskCache: Sendable {
    public var directory: String

    public init(directory: String) { self.directory = directory }

    /// The default location, or nil when neither the variable nor `$HOME` is set.
    public static var standard: KernelDiskCache? {
        if let explicit = FileSystem.environment("FLASH_ATTENTION_CACHE_DIR") { return KernelDiskCache(directory: explicit) }
        if let home = FileSystem.environment("HOME") { return KernelDiskCache(directory: home + "/.cache/flash-attention") }
        return nil
    }

    public struct Key: Sendable {
        public var source: String
        public var nvrtcVersion: String
        public var architecture: String
        public var options: [String]

        /// The exact text stored in the `.cu` file: the key's non-source parts as a comment,
        /// then the source.
        var text: String {
            "// nvrtc \(nvrtcVersion) \(architecture) \(options.joined(separator: " "))\n" + source
        }
        var hash: String { contentHash(text) }
    }

    func path(_ key: Key, _ suffix: String) -> String { "\(directory)/\(key.hash).\(suffix)" }

    func load(_ key: Key) -> (image: [UInt8], log: String)? {
        guard let stored = FileSystem.read(path(key, "cu")), stored.elementsEqual(key.text.utf8),
              let image = FileSystem.read(path(key, "cubin")), !image.isEmpty
        else { return nil }
        let log = FileSystem.read(path(key, "log")).map { String(decoding: $0, as: UTF8.self) } ?? ""
        return (image, log)
    }

    func store(_ key: Key, image: [UInt8], log: String) throws {
        try FileSystem.makeDirectories(directory)
        // The cubin and log first: a `.cu` that matches is the mark of a complete entry.
        try FileSystem.writeAtomically(path(key, "cubin"), bytes: image)
        try FileSystem.writeAtomically(path(key, "log"), bytes: Array(log.utf8))
        try FileSystem.writeAtomically(path(key, "cu"), bytes: Array(key.text.utf8))
    }
}
