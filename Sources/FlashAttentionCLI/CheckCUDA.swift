import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import Foundation

/// The GPU part of `flash-attn check`: driver, GPUs, NVRTC, the kernel cache, then forward
/// (and backward, where the CUDA backend has one) against float64.
///
/// On a machine without an NVIDIA driver or GPU every GPU item is skipped with the reason and
/// the check still passes; where a GPU is present, a missing NVRTC or a failing kernel fails it.
enum CUDAChecks {
    static func items() -> [CheckItem] {
        var items: [CheckItem] = []
        let driver: Int
        do {
            driver = try CUDA.driverVersion()
            items.append(.passed("CUDA driver", "CUDA \(driver / 1000).\(driver % 1000 / 10) (libcuda.so.1)"))
        } catch {
            let text = "\(error)"
            let reason = text.contains("not found") ? "no NVIDIA driver (libcuda.so.1 not found)" : "no usable NVIDIA driver: \(text)"
            items.append(.skipped("CUDA driver", reason))
            items.append(.skipped("GPUs", reason))
            items.append(nvrtcItem(gpuPresent: false))
            items.append(cacheItem())
            items += ["CUDA forward", "CUDA backward"].map { .skipped($0, reason) }
            return items
        }
        let count = (try? CUDA.deviceCount()) ?? 0
        let devices = (0..<count).compactMap { try? CUDADevice(ordinal: $0) }
        if devices.isEmpty {
            items.append(.skipped("GPUs", "the driver sees no GPU"))
        } else {
            items.append(.passed("GPUs", devices.map { "cuda:\($0.ordinal) \($0.description)" }.joined(separator: "; ")))
        }
        items.append(nvrtcItem(gpuPresent: !devices.isEmpty))
        items.append(cacheItem())
        guard !devices.isEmpty else {
            return items + ["CUDA forward", "CUDA backward"].map { .skipped($0, "the driver sees no GPU") }
        }
        do {
            let backend = try FlashAttention.backend(for: .cuda)
            items += CheckCommand.verificationItems(backend: backend, label: "CUDA")
        } catch {
            let fix = "a GPU of compute capability 8.0 or newer (A100, H100, RTX 30xx/40xx) is needed; `nvidia-smi` shows what is installed"
            items.append(.failed("CUDA forward", "the CUDA backend did not start: \(CLIError(error).message)", fix: fix))
        }
        return items
    }

    static func nvrtcItem(gpuPresent: Bool) -> CheckItem {
        do {
            let version = try CUDA.nvrtcVersion()
            return .passed("NVRTC", "\(version.major).\(version.minor) at \(try CUDA.nvrtcPath())")
        } catch {
            let fix = "python3 -m pip install nvidia-cuda-nvrtc, or set FLASH_ATTENTION_NVRTC to a libnvrtc.so"
            return gpuPresent ? .failed("NVRTC", "not found: \(error)", fix: fix) : .skipped("NVRTC", "not found (needed only with a GPU)")
        }
    }

    /// Where compiled kernels are kept, and how much is there.
    static func cacheItem() -> CheckItem {
        guard let cache = KernelDiskCache.standard else {
            return .skipped("Kernel cache", "neither FLASH_ATTENTION_CACHE_DIR nor HOME is set; kernels are compiled in every process")
        }
        let directory = cache.directory
        let manager = FileManager.default
        guard manager.fileExists(atPath: directory) else {
            return .passed("Kernel cache", "\(directory) (empty: nothing compiled yet)")
        }
        var bytes = 0, files = 0
        for name in (try? manager.contentsOfDirectory(atPath: directory)) ?? [] {
            if let size = (try? manager.attributesOfItem(atPath: directory + "/" + name))?[.size] as? Int {
                bytes += size
                files += 1
            }
        }
        guard access(directory, W_OK) == 0 else {
            return .failed("Kernel cache", "\(directory) is not writable", fix: "fix its permissions or set FLASH_ATTENTION_CACHE_DIR to a writable folder")
        }
        return .passed("Kernel cache", "\(directory): \(files / 3) kernel\(files / 3 == 1 ? "" : "s"), \(DemoCommand.bytes(Double(bytes)))")
    }
}
