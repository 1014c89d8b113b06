/// A failure of the CUDA driver, of NVRTC, or of loading either.
///
/// Driver and NVRTC failures carry the API function, the numeric code and its symbolic name
/// (`CUDA_ERROR_OUT_OF_MEMORY`, `NVRTC_ERROR_COMPILATION`), so a message can be searched for;
/// compile failures also carry NVRTC's log.
public enum CUDAError: Error, Sendable, Equatable, CustomStringConvertible {
    /// A shared library was not found; `tried` lists every place searched, in order.
    case libraryNotFound(library: String, tried: [String])
    /// A library loaded but lacks a function this module needs (too old a driver).
    case missingSymbol(library: String, symbol: String)
    /// A driver API call returned an error.
    case driver(function: String, code: Int32, name: String, message: String)
    /// An NVRTC call returned an error; `log` holds the compiler's output when there is one.
    case nvrtc(function: String, code: Int32, name: String, log: String)
    /// The driver loaded but there is no device with this ordinal.
    case noDevice(ordinal: Int, count: Int)
    /// A request this module refuses before calling CUDA (a size that does not fit, say).
    case invalidRequest(String)

    public var description: String {
        switch self {
        case let .libraryNotFound(library, tried):
            "\(library) not found (tried: \(tried.joined(separator: ", ")))"
        case let .missingSymbol(library, symbol):
            "\(library) has no symbol \(symbol) (driver or NVRTC too old?)"
        case let .driver(function, code, name, message):
            "\(function) failed: \(name) (\(code)): \(message)"
        case let .nvrtc(function, code, name, log):
            log.isEmpty ? "\(function) failed: \(name) (\(code))" : "\(function) failed: \(name) (\(code))\n\(log)"
        case let .noDevice(ordinal, count):
            count == 0 ? "no CUDA device found" : "no CUDA device \(ordinal) (\(count) present)"
        case let .invalidRequest(what):
            what
        }
    }
}
