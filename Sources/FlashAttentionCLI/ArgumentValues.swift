import FlashAttention

/// Parsing of flag values that the command line checks itself (rather than through
/// ArgumentParser's types), so that a bad value gets the one-line `error: --flag: expected ...`
/// report like every other refusal.
public enum ArgumentValues {
    public static func elementType(_ text: String, flag: String = "--dtype") throws -> ElementType {
        guard let type = ElementType(name: text) else {
            throw CLIError(flag, "one of float32, float16, bfloat16, got '\(text)'")
        }
        return type
    }

    public static func device(_ text: String, flag: String = "--device") throws -> DeviceSelection {
        guard let device = DeviceSelection(rawValue: text.lowercased()) else {
            throw CLIError(flag, "one of cpu, cuda, auto, got '\(text)'")
        }
        return device
    }

    public static func windowBound(_ text: String?, flag: String) throws -> Int {
        guard let text else { return -1 }
        guard let value = Int(text), value >= -1 else {
            throw CLIError(flag, "an integer ≥ -1 (-1 is unbounded), got '\(text)'")
        }
        return value
    }

    public static func softcap(_ text: String?, flag: String = "--softcap") throws -> Float {
        guard let text else { return 0 }
        guard let value = Float(text), value.isFinite, value >= 0 else {
            throw CLIError(flag, "a finite number ≥ 0 (0 disables the softcap), got '\(text)'")
        }
        return value
    }

    public static func scale(_ text: String?, flag: String = "--scale") throws -> Float? {
        guard let text else { return nil }
        guard let value = Float(text), value.isFinite else {
            throw CLIError(flag, "a finite number (the default is 1/√D), got '\(text)'")
        }
        return value
    }

    /// The score and mask options `run` and `kvcache` share (`--scale`, `--causal`,
    /// `--window-left`, `--window-right`, `--softcap`), checked in that order.
    public static func attentionOptions(
        scale: String?, causal: Bool, windowLeft: String?, windowRight: String?, softcap: String?
    ) throws -> AttentionOptions {
        AttentionOptions(
            softmaxScale: try Self.scale(scale), causal: causal,
            window: SlidingWindow(left: try windowBound(windowLeft, flag: "--window-left"),
                                  right: try windowBound(windowRight, flag: "--window-right")),
            softcap: try Self.softcap(softcap))
    }

    public static func positiveInt(_ text: String?, flag: String, default value: Int) throws -> Int {
        guard let text else { return value }
        guard let parsed = Int(text), parsed >= 1 else { throw CLIError(flag, "a positive integer, got '\(text)'") }
        return parsed
    }

    public static func positiveDouble(_ text: String?, flag: String, default value: Double) throws -> Double {
        guard let text else { return value }
        guard let parsed = Double(text), parsed.isFinite, parsed > 0 else { throw CLIError(flag, "a positive number, got '\(text)'") }
        return parsed
    }

    /// A comma-separated list of positive integers, such as `512,1024,2048`.
    public static func intList(_ text: String?, flag: String, range: ClosedRange<Int>, default value: [Int]) throws -> [Int] {
        guard let text else { return value }
        var result: [Int] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let item = part.trimmed
            guard let number = Int(item), range.contains(number) else {
                throw CLIError(flag, "a comma-separated list of integers in \(range.lowerBound)...\(range.upperBound), got '\(text)'")
            }
            if !result.contains(number) { result.append(number) }
        }
        return result
    }

    public static func elementTypes(_ text: String?, flag: String, default value: [ElementType]) throws -> [ElementType] {
        guard let text else { return value }
        var result: [ElementType] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let type = try elementType(part.trimmed, flag: flag)
            if !result.contains(type) { result.append(type) }
        }
        return result
    }
}

extension StringProtocol {
    /// Without surrounding spaces and tabs.
    var trimmed: String {
        var slice = Substring(self)
        while let first = slice.first, first == " " || first == "\t" { slice.removeFirst() }
        while let last = slice.last, last == " " || last == "\t" { slice.removeLast() }
        return String(slice)
    }
}
