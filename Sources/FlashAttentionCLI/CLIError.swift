import ArgumentParser
import FlashAttention
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A refusal the command line reports as one line, `error: <argument>: expected <what>, ...`.
public struct CLIError: Error, CustomStringConvertible, Equatable {
    /// The flag or argument at fault (`--q`, `--window-left`), or empty for a general failure.
    public var argument: String
    public var message: String

    /// - Parameters:
    ///   - argument: the flag at fault, such as `--k`.
    ///   - expected: what the flag should have been, and what it was.
    public init(_ argument: String, _ expected: String) {
        self.argument = argument
        message = "expected " + expected
    }

    /// A refusal of `argument` in words of its own (a file's format problem, say).
    public init(_ argument: String, message: String) {
        self.argument = argument
        self.message = message
    }

    /// A failure that is not about one argument.
    public init(message: String) {
        argument = ""
        self.message = message
    }

    public var description: String {
        let text = argument.isEmpty ? message : "\(argument): \(message)"
        // One line whatever the underlying message held.
        return text.split(whereSeparator: \.isNewline).joined(separator: " ")
    }

    /// The library's own argument names, as the command line spells them.
    static let flagForLibraryName: [String: String] = [
        "q": "--q", "k": "--k", "v": "--v", "out": "--out", "lse": "--lse", "dout": "--grad-out",
        "dq": "--dq", "dk": "--dk", "dv": "--dv", "softcap": "--softcap", "softmax_scale": "--scale",
        "window_left": "--window-left", "window_right": "--window-right", "alibi_slopes": "--alibi",
        "device": "--device",
    ]

    /// Rewrites a library error so it names the command-line flag.
    public init(_ error: any Error) {
        switch error {
        case let error as CLIError:
            self = error
        case let FlashAttentionError.invalidArgument(name, expected):
            self.init(CLIError.flagForLibraryName[name] ?? name, expected)
        case let FlashAttentionError.deviceUnavailable(what):
            self.init("--device", "an available device: \(what)")
        case let error as FlashAttentionError:
            self.init(message: error.description)
        default:
            self.init(message: String(describing: error))
        }
    }
}

/// Prints to standard error.
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// A subcommand whose failures are printed as one `error: ...` line with exit status 1, with no
/// usage text and no stack trace. Tests call ``perform()`` and see the thrown ``CLIError``.
protocol ReportingCommand: ParsableCommand {
    func perform() throws
}

extension ReportingCommand {
    public func run() throws {
        do {
            try perform()
        } catch let exit as ExitCode {
            throw exit
        } catch {
            printError("error: \(CLIError(error))")
            throw ExitCode(1)
        }
    }
}

/// Whether standard output is a terminal (progress bars) or a pipe/file (plain lines).
var stdoutIsTerminal: Bool { isatty(STDOUT_FILENO) == 1 }

/// Writes a line to standard output unbuffered, so progress shows through pipes too.
func say(_ text: String) {
    writeOut(text + "\n")
}

/// Writes text to standard output without buffering (progress bars rewrite their line).
func writeOut(_ text: String) {
    FileHandle.standardOutput.write(Data(text.utf8))
}
