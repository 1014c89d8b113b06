import CFlashKernels

#if canImport(Glibc)
import Glibc
#endif

/// The instruction-set features of this CPU that the microkernels can use, with OS support
/// for the register state checked (CPUID and XGETBV).
public struct CPUFeatures: Sendable, Hashable {
    /// AVX2 with FMA and F16C.
    public var avx2FMA: Bool
    /// AVX-512 F/BW/VL/DQ.
    public var avx512: Bool
    /// AVX512-BF16 (`vdpbf16ps`): bfloat16 dot products in hardware.
    public var avx512BF16: Bool
    public var avx512FP16: Bool
    /// AMX tiles with bfloat16 (Sapphire Rapids and later).
    public var amxTile: Bool
    public var amxBF16: Bool

    /// The names of the features present, in the order above (`avx2+fma`, `avx512`, ...).
    public var names: [String] {
        [(avx2FMA, "avx2+fma"), (avx512, "avx512"), (avx512BF16, "avx512_bf16"), (avx512FP16, "avx512_fp16"),
         (amxTile, "amx_tile"), (amxBF16, "amx_bf16")].filter(\.0).map(\.1)
    }
}

extension CPUBackend {
    /// What this CPU offers (whatever `FLASH_ATTENTION_CPU_TIER` caps the kernels to).
    public static var features: CPUFeatures {
        let f = fa_detect_cpu_features()
        return CPUFeatures(avx2FMA: f.avx2_fma != 0, avx512: f.avx512 != 0, avx512BF16: f.avx512_bf16 != 0,
                           avx512FP16: f.avx512_fp16 != 0, amxTile: f.amx_tile != 0, amxBF16: f.amx_bf16 != 0)
    }

    /// The CPU's model name from /proc/cpuinfo, or nil where it cannot be read.
    public static var modelName: String? {
        guard let file = fopen("/proc/cpuinfo", "r") else { return nil }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 1024)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            guard text.hasPrefix("model name"), let colon = text.firstIndex(of: ":") else { continue }
            return String(text[text.index(after: colon)...]).trimmingSpaces
        }
        return nil
    }
}

extension String {
    fileprivate var trimmingSpaces: String {
        var slice = Substring(self)
        while let c = slice.first, c == " " || c == "\t" || c == "\n" { slice.removeFirst() }
        while let c = slice.last, c == " " || c == "\t" || c == "\n" { slice.removeLast() }
        return String(slice)
    }
}
