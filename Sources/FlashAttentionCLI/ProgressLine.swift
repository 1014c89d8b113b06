/// A one-line progress bar on a terminal; nothing otherwise (plain lines are printed instead).
///
/// Rows printed through ``line(_:)`` clear the bar first and redraw it after, so the table and
/// the bar do not interleave.
final class ProgressLine {
    let total: Int
    let enabled: Bool
    private(set) var done = 0
    private var label = ""

    init(total: Int, enabled: Bool) {
        self.total = max(total, 1)
        self.enabled = enabled
    }

    /// Shows what is running now.
    func update(_ label: String) {
        self.label = label
        draw()
    }

    /// One step finished.
    func advance() {
        done = min(done + 1, total)
        draw()
    }

    /// A line of output above the bar.
    func line(_ text: String) {
        if enabled { writeOut("\r\u{1B}[2K") }
        say(text)
        draw()
    }

    func finish() {
        if enabled { writeOut("\r\u{1B}[2K") }
    }

    private func draw() {
        guard enabled else { return }
        let width = 30
        let filled = width * done / total
        let bar = String(repeating: "█", count: filled) + String(repeating: "·", count: width - filled)
        writeOut("\r\u{1B}[2K[\(bar)] \(done)/\(total) \(label)")
    }
}
