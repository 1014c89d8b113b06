import ArgumentParser
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference
import Foundation

/// `flash-attn check`: is this install working? The machine's CPU and GPU facts, then a small
/// attention problem on every backend this build has, judged against the float64 reference.
///
/// Exits non-zero when anything that should work here fails. GPU items on a machine or build
/// without CUDA are skipped, with the reason, and do not fail the check.
public struct CheckCommand: ReportingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "check",
        abstract: "Check this install: CPU features, GPU/CUDA availability, and correctness on every backend.",
        discussion: """
            Each item prints ✓ (passed), ✗ (failed, with a fix) or - (skipped, with the reason). The \
            correctness items run small forward and backward problems (float32, bfloat16, float16; \
            causal, GQA, window, softcap, ALiBi) and compare them with float64 attention within the \
            test suite's error budgets. The exit status is 1 if any item failed.
            """)

    @Flag(help: "Print only failures and the summary.")
    public var quiet = false

    public init() {}

    public func perform() throws {
        let items = CheckCommand.collect { item in
            if !quiet || item.status == .failed { for line in item.lines(nameWidth: 22) { say(line) } }
        }
        let failed = items.filter { $0.status == .failed }.count
        let passed = items.filter { $0.status == .passed }.count
        let skipped = items.filter { if case .skipped = $0.status { true } else { false } }
        var summary = failed == 0 ? "All checks passed (\(passed) passed" : "\(failed) check\(failed == 1 ? "" : "s") FAILED (\(passed) passed"
        if !skipped.isEmpty {
            let reasons = CheckCommand.unique(skipped.compactMap { if case let .skipped(reason) = $0.status { reason } else { nil } })
            summary += ", \(skipped.count) GPU check\(skipped.count == 1 ? "" : "s") skipped: \(reasons[0])\(reasons.count > 1 ? "; …" : "")"
        }
        say(summary + ").")
        if failed > 0 { throw ExitCode(1) }
    }

    /// Every item, reported to `report` as soon as it is known.
    public static func collect(_ report: (CheckItem) -> Void) -> [CheckItem] {
        var items: [CheckItem] = []
        func add(_ item: CheckItem) {
            items.append(item)
            report(item)
        }
        add(cpuItem())
        for item in verificationItems(backend: CPUBackend(), label: "CPU") { add(item) }
        for item in CUDAChecks.items() { add(item) }
        return items
    }

    static func cpuItem() -> CheckItem {
        let features = CPUBackend.features
        let amx = features.amxTile && features.amxBF16 ? "AMX-BF16: yes" : "AMX: no"
        let bf16 = features.avx512BF16 ? "AVX512-BF16: yes" : "AVX512-BF16: no (bfloat16 converts in software)"
        let avx512 = features.avx512 ? "AVX-512: yes" : "AVX-512: no"
        return .passed("CPU", "\(SystemInfo.cpuModel); \(CPUBackend.defaultThreadCount) threads; \(avx512), \(bf16), \(amx); kernels: \(CPUBackend.instructionTier)")
    }

    /// The problems every backend is checked on: small, covering the main options and dtypes.
    static let problems: [(String, ProblemSpec)] = [
        ("float32 causal GQA", ProblemSpec(batch: 2, seqlenQ: 67, seqlenK: 90, heads: 4, kvHeads: 2, headDim: 64, causal: true, valueSeed: 1)),
        ("bfloat16 window softcap", ProblemSpec(seqlenQ: 80, seqlenK: 80, heads: 2, headDim: 128, elementType: .bfloat16,
                                                window: SlidingWindow(left: 24, right: 8), softcap: 20, valueSeed: 2)),
        ("float16 ALiBi", ProblemSpec(seqlenQ: 48, seqlenK: 61, heads: 3, headDim: 40, elementType: .float16, alibi: .heads, valueSeed: 3)),
    ]

    /// Forward and backward of each problem on `backend`, against float64. What the backend
    /// reports as unsupported (float32 or the backward on a GPU backend that lacks them) is
    /// listed, not failed.
    public static func verificationItems(backend: any AttentionBackend, label: String) -> [CheckItem] {
        let verifier = Verifier(backend: backend)
        var passed: [[String]] = [[], []], failures: [[String]] = [[], []], unsupported: [[String]] = [[], []]
        for (name, spec) in problems {
            let result = verifier.verify(spec, backward: true)
            for (pass, roles) in [(0, ["out", "lse"]), (1, ["dq", "dk", "dv"])] {
                let checks = result.checks.filter { roles.contains($0.name) }
                let bad = checks.filter { !$0.passed }
                failures[pass] += bad.map { "\(name): \($0)" }
                // The check with the least headroom stands for the pass.
                if bad.isEmpty, let worst = checks.max(by: { $0.error / max($0.budget, 1e-300) < $1.error / max($1.budget, 1e-300) }) {
                    passed[pass].append("\(name): \(worst.name) err \(formatError(worst.error)) ≤ \(formatError(worst.budget))")
                }
            }
            for failure in result.failures {
                let pass = failure.hasPrefix("backward") || failure.hasPrefix("reference backward") ? 1 : 0
                if result.unsupported, let range = failure.range(of: "unsupported: ") {
                    unsupported[pass].append("\(failure[range.upperBound...])\u{1F}\(name)")
                } else {
                    failures[pass].append("\(name): \(failure)")
                }
            }
        }
        let fix = label == "CPU"
            ? "rerun with FLASH_ATTENTION_CPU_TIER=avx2 (then generic) to see whether one instruction tier is at fault, and report this output"
            : "update the NVIDIA driver, delete the kernel cache folder, and report this output"
        // "what (problem, problem)" once per distinct reason.
        func grouped(_ entries: [String]) -> String {
            var order: [String] = [], names: [String: [String]] = [:]
            for entry in entries {
                let parts = entry.split(separator: "\u{1F}", maxSplits: 1).map(String.init)
                if names[parts[0]] == nil { order.append(parts[0]) }
                names[parts[0], default: []].append(parts.count > 1 ? parts[1] : "")
            }
            return order.map { "\($0) [\(names[$0]!.joined(separator: ", "))]" }.joined(separator: "; ")
        }
        return ["forward", "backward"].enumerated().map { pass, word in
            let title = "\(label) \(word)"
            if !failures[pass].isEmpty { return .failed(title, failures[pass].joined(separator: "; "), fix: fix) }
            if passed[pass].isEmpty {
                return .skipped(title, unsupported[pass].isEmpty ? "not run" : "not supported: " + grouped(unsupported[pass]))
            }
            let notes = unsupported[pass].isEmpty ? "" : "; not supported here: " + grouped(unsupported[pass])
            return .passed(title, passed[pass].joined(separator: "; ") + notes)
        }
    }

    static func unique(_ values: [String]) -> [String] {
        var seen = Set<String>()
        return values.filter { seen.insert($0).inserted }
    }
}
