import ArgumentParser
import FlashAttention

/// The `flash-attn` command line. Subcommands live in files of their own.
public struct FlashAttnCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flash-attn",
        abstract: "Exact, IO-aware attention (FlashAttention) on the CPU and NVIDIA GPUs.",
        discussion: "Start with `flash-attn check` (is this install working?) and `flash-attn demo`.",
        // One subcommand per line, so adding one is a one-line edit.
        subcommands: [
            RunCommand.self,
            KVCacheCommand.self,
            BenchCommand.self,
            ChartCommand.self,
            VerifyCommand.self,
            CheckCommand.self,
            DemoCommand.self,
            CompileCommand.self,
            BackwardBenchCommand.self,
            RingBenchCommand.self,
        ])

    public init() {}

    /// With no subcommand: a short pointer rather than the full help.
    public func run() throws {
        say("usage: flash-attn <subcommand> [options]   (subcommands: \(FlashAttnCommand.subcommandNames))")
        say("Start with `flash-attn check` to test this install; `flash-attn help <subcommand>` for details.")
    }

    static var subcommandNames: String {
        configuration.subcommands.compactMap { $0.configuration.commandName }.joined(separator: ", ")
    }
}
