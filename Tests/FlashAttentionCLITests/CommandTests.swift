import ArgumentParser
import FlashAttention
import FlashAttentionCLI
import Foundation
import Testing

/// The other subcommands, on problems small enough for CI.
@Suite struct CommandTests {
    @Test func benchWritesCSVJSONAndChart() throws {
        let w = try Workspace()
        let command = try BenchCommand.parse([
            "--seqlens", "64,128", "--head-dims", "32", "--dtypes", "float32", "--causal", "--repeats", "1", "--no-torch",
            "--quiet", "--csv", w.file("b.csv"), "--json", w.file("b.json"), "--chart", w.file("b.svg"),
        ])
        try command.perform()
        let csv = try String(contentsOfFile: w.file("b.csv"), encoding: .utf8).split(separator: "\n")
        #expect(csv.count == 5)  // header + 2 lengths × (forward, backward)
        #expect(csv[1].hasPrefix("flash-attn cpu,float32,1,8,32,64,true,forward,"))
        let json = try JSONDecoder().decode(BenchResults.self, from: Data(contentsOf: URL(fileURLWithPath: w.file("b.json"))))
        #expect(json.records.count == 4)
        #expect(json.records.allSatisfy { $0.gflops > 0 && $0.ms > 0 })
        // 4·B·H·N²·D, halved for causal, ×2.5 for the backward.
        #expect(json.records[1].flops == 4 * 8 * 64 * 64 * 32 * 0.5 * 2.5)
        let svg = try String(contentsOfFile: w.file("b.svg"), encoding: .utf8)
        #expect(svg.hasPrefix("<svg") && svg.contains("GFLOP/s") && svg.contains("sequence length"))
    }

    @Test func benchRefusesBadLists() throws {
        for (arguments, flag) in [(["--seqlens", "0"], "--seqlens"), (["--head-dims", "300"], "--head-dims"),
                                  (["--dtypes", "float64"], "--dtypes"), (["--repeats", "0"], "--repeats")] {
            #expect { try BenchCommand.parse(arguments).perform() } throws: { CLIError($0).description.hasPrefix(flag + ":") }
        }
    }

    @Test func verifyRefusesBadHeadDims() throws {
        for bad in ["0", "257", "x", "64,-1"] {
            #expect(throws: ValidationError.self) { try VerifyCommand.parse(["--head-dims", bad, "--cases", "1"]).run() }
        }
    }

    @Test func checkPassesOnThisMachine() {
        let items = CheckCommand.collect { _ in }
        #expect(!items.contains { $0.status == .failed }, "\(items.map { "\($0.name): \($0.detail)" })")
        #expect(items.contains { $0.name == "CPU forward" && $0.status == .passed })
    }

    @Test func demoRunsASmallProblem() throws {
        try DemoCommand.parse(["--seqlen", "256", "--heads", "2", "--device", "cpu", "--quiet"]).perform()
    }

    @Test func demoSlicesCoverTheRowsWithEqualWork() {
        let slices = DemoCommand.equalWorkSlices(1000, count: 8)
        #expect(slices.first?.lowerBound == 0 && slices.last?.upperBound == 1000)
        #expect(zip(slices, slices.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(slices.count == 8)
    }

    @Test func rootCommandPointsAtCheck() throws {
        let command = try FlashAttnCommand.parseAsRoot([])
        #expect(command is FlashAttnCommand)
    }
}
