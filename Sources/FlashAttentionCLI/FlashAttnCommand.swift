import ArgumentParser
import FlashAttention

/// The `flash-attn` command line. Subcommands live in files of their own.
public struct FlashAttnCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "flash-attn",
        abstract: "Exact, IO-aware attention (FlashAttention) on the CPU and NVIDIA GPUs.",
        subcommands: [])

    public init() {}
}
