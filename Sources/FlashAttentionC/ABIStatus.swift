import CFlashAttentionABI
import FlashAttention

/// Status codes as the C ABI returns them, and the one place where Swift errors become
/// (status, thread-local message) pairs.
enum ABIStatus {
    static let success = fa_status(FA_SUCCESS.rawValue)
    static let invalidArgument = fa_status(FA_ERROR_INVALID_ARGUMENT.rawValue)
    static let unsupported = fa_status(FA_ERROR_UNSUPPORTED.rawValue)
    static let deviceUnavailable = fa_status(FA_ERROR_DEVICE_UNAVAILABLE.rawValue)
    static let backendFailure = fa_status(FA_ERROR_BACKEND_FAILURE.rawValue)
    static let internalError = fa_status(FA_ERROR_INTERNAL.rawValue)

    static func code(for error: FlashAttentionError) -> fa_status {
        switch error {
        case .invalidArgument: invalidArgument
        case .unsupported: unsupported
        case .deviceUnavailable: deviceUnavailable
        case .backendFailure, .io: backendFailure
        }
    }

    /// Runs one entry point: clears the thread's message, and turns any thrown error into its
    /// status and message. Nothing a caller passes can make this trap: every check on caller
    /// data throws instead.
    static func run(_ body: () throws -> Void) -> fa_status {
        fa_internal_clear_error()
        do {
            try body()
            return success
        } catch let error as FlashAttentionError {
            fa_internal_set_error(error.description)
            return code(for: error)
        } catch {
            fa_internal_set_error("internal error: \(error)")
            return internalError
        }
    }
}
