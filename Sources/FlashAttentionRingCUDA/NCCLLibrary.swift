#if canImport(Glibc)
import Glibc
#endif
import CNCCLShim
import FlashAttentionCore

/// NCCL loaded with `dlopen`: nothing from NCCL is needed at build time.
///
/// Search order: `$FLASH_ATTENTION_NCCL`; `libnccl.so.2` and `libnccl.so` on the loader path;
/// then `nvidia/nccl/lib/libnccl.so.2` (and any other `nvidia/*/lib/libnccl.so.2`) under
/// `python3`'s site-packages (the `nvidia-nccl-cu*` wheel PyTorch installs). Failures list every place tried.
public final class NCCLLibrary: @unchecked Sendable {
    public typealias Result = Int32
    public let path: String
    let handle: UnsafeMutableRawPointer

    let ncclGetVersion: @convention(c) (UnsafeMutablePointer<Int32>) -> Result
    let ncclGetErrorString: @convention(c) (Result) -> UnsafePointer<CChar>?
    let ncclGetLastError: (@convention(c) (UnsafeMutableRawPointer?) -> UnsafePointer<CChar>?)?
    let ncclGetUniqueId: @convention(c) (UnsafeMutablePointer<fa_nccl_unique_id>) -> Result
    let ncclCommInitRank: UnsafeMutableRawPointer
    let ncclCommDestroy: @convention(c) (UnsafeMutableRawPointer?) -> Result
    let ncclGroupStart: @convention(c) () -> Result
    let ncclGroupEnd: @convention(c) () -> Result
    /// (buffer, count, datatype, peer, comm, stream)
    let ncclSend: @convention(c) (UnsafeRawPointer?, Int, Int32, Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Result
    let ncclRecv: @convention(c) (UnsafeMutableRawPointer?, Int, Int32, Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Result
    /// (send, recv, count, datatype, op, comm, stream)
    let ncclAllReduce: @convention(c) (UnsafeRawPointer?, UnsafeMutableRawPointer?, Int, Int32, Int32, UnsafeMutableRawPointer?, UnsafeMutableRawPointer?) -> Result

    private init(path: String, handle: UnsafeMutableRawPointer) throws {
        self.path = path
        self.handle = handle
        func symbol<T>(_ name: String) throws -> T {
            guard let address = dlsym(handle, name) else {
                throw FlashAttentionError.deviceUnavailable("\(path) has no symbol \(name) (NCCL too old?)")
            }
            return unsafeBitCast(address, to: T.self)
        }
        ncclGetVersion = try symbol("ncclGetVersion")
        ncclGetErrorString = try symbol("ncclGetErrorString")
        ncclGetLastError = dlsym(handle, "ncclGetLastError").map { unsafeBitCast($0, to: (@convention(c) (UnsafeMutableRawPointer?) -> UnsafePointer<CChar>?).self) }
        ncclGetUniqueId = try symbol("ncclGetUniqueId")
        guard let initRank = dlsym(handle, "ncclCommInitRank") else {
            throw FlashAttentionError.deviceUnavailable("\(path) has no symbol ncclCommInitRank")
        }
        ncclCommInitRank = initRank
        ncclCommDestroy = try symbol("ncclCommDestroy")
        ncclGroupStart = try symbol("ncclGroupStart")
        ncclGroupEnd = try symbol("ncclGroupEnd")
        ncclSend = try symbol("ncclSend")
        ncclRecv = try symbol("ncclRecv")
        ncclAllReduce = try symbol("ncclAllReduce")
    }

    private static let state: Swift.Result<NCCLLibrary, FlashAttentionError> = {
        var tried: [String] = []
        for candidate in candidates() {
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                do { return .success(try NCCLLibrary(path: candidate, handle: handle)) } catch let error as FlashAttentionError {
                    return .failure(error)
                } catch { return .failure(.deviceUnavailable("\(error)")) }
            }
            let reason = dlerror().map { String(cString: $0) } ?? "not loadable"
            tried.append("\(candidate) (\(reason.split(separator: ":").last.map { String($0.drop(while: { $0 == " " })) } ?? reason))")
        }
        return .failure(.deviceUnavailable("NCCL (libnccl.so.2) not found (tried: \(tried.joined(separator: ", "))); set FLASH_ATTENTION_NCCL or pip install nvidia-nccl-cu12"))
    }()

    /// The loaded library (once per process).
    public static func load() throws -> NCCLLibrary { try state.get() }

    /// Where NCCL is looked for, in order.
    public static func candidates() -> [String] {
        var list: [String] = []
        if let explicit = getenv("FLASH_ATTENTION_NCCL").map({ String(cString: $0) }), !explicit.isEmpty { list.append(explicit) }
        list += ["libnccl.so.2", "libnccl.so"]
        for site in pythonSitePackages() {
            // nvidia-nccl-cu12 installs nvidia/nccl/lib; newer wheels may group libraries
            // under another nvidia/<name>/lib folder.
            var folders = ["nccl"]
            if let dir = opendir(site + "/nvidia") {
                while let entry = readdir(dir) {
                    let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
                    if !name.hasPrefix("."), name != "nccl" { folders.append(name) }
                }
                closedir(dir)
            }
            for folder in folders {
                let path = "\(site)/nvidia/\(folder)/lib/libnccl.so.2"
                if access(path, F_OK) == 0 { list.append(path) }
            }
        }
        return list
    }

    static func pythonSitePackages() -> [String] {
        let command = "python3 -c 'import site; print(\"\\n\".join(site.getsitepackages() + [site.getusersitepackages()]))' 2>/dev/null"
        guard let pipe = popen(command, "r") else { return [] }
        defer { pclose(pipe) }
        var output = ""
        var buffer = [CChar](repeating: 0, count: 4096)
        while fgets(&buffer, Int32(buffer.count), pipe) != nil {
            output += String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        }
        return output.split(separator: "\n").map(String.init).filter { !$0.isEmpty }
    }

    /// NCCL's version code (e.g. 22703 for 2.27.3).
    public func version() throws -> Int {
        var v: Int32 = 0
        try check(ncclGetVersion(&v), "ncclGetVersion")
        return Int(v)
    }

    /// Turns an `ncclResult_t` into an error carrying NCCL's message (and its last error
    /// text, which names the failing operation).
    func check(_ code: Result, _ function: String, comm: UnsafeMutableRawPointer? = nil) throws {
        guard code != 0 else { return }
        let message = ncclGetErrorString(code).map { String(cString: $0) } ?? "error \(code)"
        let detail = ncclGetLastError?(comm).map { String(cString: $0) } ?? ""
        throw FlashAttentionError.backendFailure("\(function) failed: \(message) (\(code))\(detail.isEmpty ? "" : ": \(detail)")")
    }
}

/// NCCL's 128-byte unique id: made by one rank (``generate()``), handed to every rank (a file,
/// the launcher, MPI), which then join one communicator.
public struct NCCLUniqueID: Sendable, Hashable {
    public var bytes: [UInt8]

    public init(bytes: [UInt8]) throws {
        guard bytes.count == 128 else { throw FlashAttentionError.invalidArgument(name: "nccl_id", expected: "128 bytes, got \(bytes.count)") }
        self.bytes = bytes
    }

    public static func generate() throws -> NCCLUniqueID {
        let nccl = try NCCLLibrary.load()
        var id = fa_nccl_unique_id()
        try nccl.check(nccl.ncclGetUniqueId(&id), "ncclGetUniqueId")
        let bytes = withUnsafeBytes(of: &id) { Array($0) }
        return try NCCLUniqueID(bytes: bytes)
    }
}
