#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Entry point of the driver module: loads libcuda and NVRTC on first use and says whether a
/// GPU is usable.
///
/// Loading happens once per process; a failure is remembered and rethrown with the list of
/// places tried, so `--device cuda` can print one clear line.
public enum CUDA {
    private static let driverState: Swift.Result<DriverAPI, CUDAError> = {
        do {
            let library = try DynamicLibrary.open(["libcuda.so.1", "libcuda.so"], library: "libcuda (the NVIDIA driver)")
            let api = try DriverAPI(library: library)
            try api.check(api.cuInit(0), "cuInit")
            return .success(api)
        } catch let error as CUDAError {
            return .failure(error)
        } catch {
            return .failure(.invalidRequest("\(error)"))
        }
    }()

    private static let nvrtcState: Swift.Result<NVRTCAPI, CUDAError> = {
        do {
            let library = try DynamicLibrary.open(nvrtcCandidates(), library: "NVRTC (libnvrtc)")
            return .success(try NVRTCAPI(library: library))
        } catch let error as CUDAError {
            return .failure(error)
        } catch {
            return .failure(.invalidRequest("\(error)"))
        }
    }()

    static func driver() throws -> DriverAPI { try driverState.get() }
    static func nvrtc() throws -> NVRTCAPI { try nvrtcState.get() }

    /// Where NVRTC is looked for, in order: `$FLASH_ATTENTION_NVRTC`; `libnvrtc.so`, `.so.13`
    /// and `.so.12` on the loader path; `/usr/local/cuda/lib64`; then the `nvidia/*/lib` folders
    /// of the pip NVRTC wheels in `python3`'s site-packages (the wheel installs without a toolkit).
    public static func nvrtcCandidates() -> [String] {
        var candidates: [String] = []
        if let explicit = getenv("FLASH_ATTENTION_NVRTC").map({ String(cString: $0) }), !explicit.isEmpty {
            candidates.append(explicit)
        }
        candidates += ["libnvrtc.so", "libnvrtc.so.13", "libnvrtc.so.12"]
        candidates += ["/usr/local/cuda/lib64/libnvrtc.so", "/usr/local/cuda/lib64/libnvrtc.so.13", "/usr/local/cuda/lib64/libnvrtc.so.12"]
        for site in pythonSitePackages() {
            let base = site + "/nvidia"
            for folder in directoryEntries(base).sorted(by: >) {
                for name in ["libnvrtc.so.13", "libnvrtc.so.12", "libnvrtc.so"] {
                    let path = "\(base)/\(folder)/lib/\(name)"
                    if access(path, F_OK) == 0 { candidates.append(path) }
                }
            }
        }
        return candidates
    }

    /// The path NVRTC was loaded from.
    public static func nvrtcPath() throws -> String { try nvrtc().library.path }

    /// NVRTC's version as (major, minor).
    public static func nvrtcVersion() throws -> (major: Int, minor: Int) {
        let api = try nvrtc()
        var major: Int32 = 0, minor: Int32 = 0
        try api.check(api.nvrtcVersion(&major, &minor), "nvrtcVersion")
        return (Int(major), Int(minor))
    }

    /// The real architectures NVRTC can emit code for (`[75, 80, …, 90, …]`).
    public static func nvrtcSupportedArchitectures() throws -> [Int] {
        let api = try nvrtc()
        guard let count = api.nvrtcGetNumSupportedArchs, let list = api.nvrtcGetSupportedArchs else { return [] }
        var n: Int32 = 0
        try api.check(count(&n), "nvrtcGetNumSupportedArchs")
        var archs = [Int32](repeating: 0, count: Int(n))
        try api.check(list(&archs), "nvrtcGetSupportedArchs")
        return archs.map(Int.init)
    }

    /// The driver's CUDA version, e.g. 13000 for 13.0.
    public static func driverVersion() throws -> Int {
        let api = try driver()
        var version: Int32 = 0
        try api.check(api.cuDriverGetVersion(&version), "cuDriverGetVersion")
        return Int(version)
    }

    /// The number of CUDA devices; throws when the driver is missing.
    public static func deviceCount() throws -> Int {
        let api = try driver()
        var count: Int32 = 0
        try api.check(api.cuDeviceGetCount(&count), "cuDeviceGetCount")
        return Int(count)
    }

    /// Whether the driver loads and at least one device is present. Never throws.
    public static var isAvailable: Bool { ((try? deviceCount()) ?? 0) > 0 }

    /// Why CUDA is unusable, or nil when a device is present.
    public static var unavailableReason: String? {
        do {
            let count = try deviceCount()
            return count > 0 ? nil : CUDAError.noDevice(ordinal: 0, count: 0).description
        } catch {
            return "\(error)"
        }
    }

    // MARK: - Search helpers

    static func pythonSitePackages() -> [String] {
        let script = "import site,sys\\ntry:\\n p=site.getsitepackages()\\nexcept Exception:\\n p=[]\\nprint(chr(10).join(p+[site.getusersitepackages()]))"
        guard let pipe = popen("python3 -c \"exec('\(script)')\" 2>/dev/null", "r") else { return [] }
        defer { pclose(pipe) }
        var output = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            output += decodeCString(buffer)
        }
        return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    static func directoryEntries(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }
}
