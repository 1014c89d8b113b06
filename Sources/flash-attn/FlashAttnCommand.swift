import ArgumentParser
import FlashAttention

@main
struct FlashAttnCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "flash-attn",
        abstract: "Exact, IO-aware attention (FlashAttention) on the CPU and NVIDIA GPUs.",
        subcommands: [])
}
