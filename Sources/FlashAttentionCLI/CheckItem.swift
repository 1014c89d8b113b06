/// One line of `flash-attn check`: what was checked, how it went, and how to fix it.
public struct CheckItem: Sendable {
    public enum Status: Sendable, Equatable {
        case passed
        case failed
        /// Not applicable here (no GPU, no CUDA backend in this build), with the reason.
        case skipped(String)
    }

    public var name: String
    public var status: Status
    /// What was found: versions, sizes, errors against the float64 reference.
    public var detail: String
    /// For a failure: what to do about it.
    public var fix: String?

    public init(name: String, status: Status, detail: String, fix: String? = nil) {
        self.name = name
        self.status = status
        self.detail = detail
        self.fix = fix
    }

    public static func passed(_ name: String, _ detail: String) -> CheckItem { CheckItem(name: name, status: .passed, detail: detail) }
    public static func failed(_ name: String, _ detail: String, fix: String) -> CheckItem {
        CheckItem(name: name, status: .failed, detail: detail, fix: fix)
    }
    public static func skipped(_ name: String, _ reason: String) -> CheckItem { CheckItem(name: name, status: .skipped(reason), detail: "") }

    var symbol: String {
        switch status {
        case .passed: "✓"
        case .failed: "✗"
        case .skipped: "-"
        }
    }

    /// The item as printed: `✓ name  detail`, then an indented `fix:` line for a failure.
    func lines(nameWidth: Int) -> [String] {
        let text: String
        switch status {
        case .skipped(let reason): text = "skipped: \(reason)"
        default: text = detail
        }
        var result = ["  \(symbol) " + name.padding(toLength: max(nameWidth, name.count), withPad: " ", startingAt: 0) + "  " + text]
        if let fix, status == .failed { result.append("      fix: \(fix)") }
        return result
    }
}
