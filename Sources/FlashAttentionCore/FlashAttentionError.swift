/// Every failure the library reports. Messages name the argument and what was expected, so a
/// command line or a Python binding can print them as they are.
public enum FlashAttentionError: Error, Equatable, CustomStringConvertible {
    /// An argument has the wrong shape, type, value or layout.
    case invalidArgument(name: String, expected: String)
    /// A valid request that this backend does not implement (yet).
    case unsupported(String)
    /// The requested device or runtime is not there (no driver, no GPU, no NVRTC).
    case deviceUnavailable(String)
    /// A backend failed while running (a CUDA error, a compile error); the text carries its log.
    case backendFailure(String)
    /// Reading or writing a file failed.
    case io(path: String, reason: String)

    public var description: String {
        switch self {
        case let .invalidArgument(name, expected): "invalid argument '\(name)': expected \(expected)"
        case let .unsupported(what): "unsupported: \(what)"
        case let .deviceUnavailable(what): "device unavailable: \(what)"
        case let .backendFailure(what): "backend failure: \(what)"
        case let .io(path, reason): "\(path): \(reason)"
        }
    }
}
