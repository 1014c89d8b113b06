#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A `dlopen`ed shared library; symbols are looked up by name and never unloaded.
///
/// Libraries are kept for the life of the process: function pointers taken from them are stored
/// in global tables, and unloading libcuda under a live context is never safe.
final class DynamicLibrary: @unchecked Sendable {
    let handle: UnsafeMutableRawPointer
    let path: String

    private init(handle: UnsafeMutableRawPointer, path: String) {
        self.handle = handle
        self.path = path
    }

    /// Opens the first of `candidates` that loads. A candidate without a slash is searched on
    /// the loader path, as `dlopen` does.
    static func open(_ candidates: [String], library: String) throws -> DynamicLibrary {
        var tried: [String] = []
        for candidate in candidates {
            if let handle = dlopen(candidate, RTLD_NOW | RTLD_LOCAL) {
                return DynamicLibrary(handle: handle, path: candidate)
            }
            let reason = dlerror().map { String(cString: $0) } ?? "not loadable"
            // dlerror repeats the path; keep only what follows it so the list stays readable.
            let short = reason.split(separator: ":").last.map { $0.trimmingCharacters() } ?? reason
            tried.append("\(candidate) (\(short))")
        }
        throw CUDAError.libraryNotFound(library: library, tried: tried)
    }

    /// The address of `symbol`, as the C function type `T`.
    func function<T>(_ symbol: String, as type: T.Type = T.self) throws -> T {
        guard let address = dlsym(handle, symbol) else {
            throw CUDAError.missingSymbol(library: path, symbol: symbol)
        }
        return unsafeBitCast(address, to: T.self)
    }

    /// Like ``function(_:as:)`` but nil when the symbol is absent (optional newer entry points).
    func optionalFunction<T>(_ symbol: String, as type: T.Type = T.self) -> T? {
        dlsym(handle, symbol).map { unsafeBitCast($0, to: T.self) }
    }
}

extension Substring {
    func trimmingCharacters() -> String {
        String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
    }
}

/// The text of a NUL-terminated C character buffer.
func decodeCString(_ buffer: [CChar]) -> String {
    String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
}
