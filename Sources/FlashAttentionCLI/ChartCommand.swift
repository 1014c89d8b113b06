import ArgumentParser
import FlashAttention
import Foundation

/// `flash-attn chart`: draws saved benchmark results with the bench's own chart code, so a chart
/// can be redrawn (narrowed, retitled) without timing anything again.
public struct ChartCommand: ReportingCommand {
    public static let configuration = CommandConfiguration(
        commandName: "chart",
        abstract: "Draw a bar chart (SVG) from saved benchmark results.",
        discussion: """
            Reads what `flash-attn bench --csv` or `--json` writes, or a long-format CSV with the \
            columns dtype, headdim (or head_dim), seqlen, causal, implementation and tflops (or \
            gflops), optionally pass, batch, heads and ms (docs/data/h100-forward.csv is one). \
            Lines starting with # are comments. One panel per head dim and mask (and per dtype and \
            pass), one group of bars per sequence length, one colour per implementation. \
            Throughput is drawn in TFLOP/s when the input gives tflops or the largest value is \
            2000 GFLOP/s or more, else in GFLOP/s; --unit overrides it.
            """)

    @Option(help: ArgumentHelp("Results: a CSV (bench --csv or the long format) or bench --json.", valueName: "file"))
    public var input: String
    @Option(help: ArgumentHelp("The SVG to write.", valueName: "file"))
    public var out: String
    @Option(help: ArgumentHelp("The chart's title (default: 'Attention throughput (<unit>, higher is better)').", valueName: "text"))
    public var title: String?
    @Option(help: ArgumentHelp("The grey line(s) under the title; '\\n' starts a new line.", valueName: "text"))
    public var subtitle: String?
    @Option(help: ArgumentHelp("Only these element types (comma-separated; bf16 and fp16 accepted).", valueName: "list"))
    public var dtypes: String?
    @Option(help: ArgumentHelp("Only these passes: forward, backward (comma-separated).", valueName: "list"))
    public var passes: String?
    @Option(name: .customLong("panels-per-row"), help: ArgumentHelp("Panels per line (default: all of a dtype and pass when 4 or fewer, else 2).", valueName: "n"))
    public var panelsPerRow: String?
    @Option(help: ArgumentHelp("gflops, tflops or auto (default).", valueName: "unit"))
    public var unit = "auto"

    public init() {}

    public func perform() throws {
        let perRow = try panelsPerRow.map { try ArgumentValues.positiveInt($0, flag: "--panels-per-row", default: 1) }
        let tera: Bool?
        switch unit.lowercased() {
        case "auto": tera = nil
        case "gflops", "gflop/s": tera = false
        case "tflops", "tflop/s": tera = true
        default: throw CLIError("--unit", "gflops, tflops or auto, got '\(unit)'")
        }
        try OutputFiles.checkWritable([("--out", out)])
        guard let data = FileManager.default.contents(atPath: input) else {
            throw CLIError("--input", "a readable file, could not read '\(input)'")
        }
        let text = String(decoding: data, as: UTF8.self)
        var loaded = try Self.load(text, name: input)
        func drawable() -> [BenchRecord] { loaded.results.records.filter { $0.gflops.isFinite && $0.gflops > 0 } }
        guard !drawable().isEmpty else {
            throw CLIError("--input", "at least one result with a positive throughput, found none in '\(input)'")
        }
        if let dtypes {
            let wanted = Set(dtypes.split(separator: ",").map { Self.normalDtype($0.trimmingCharacters(in: .whitespaces)) })
            let present = Self.uniqueSorted(drawable().map(\.dtype))
            loaded.results.records.removeAll { !wanted.contains($0.dtype) }
            if drawable().isEmpty { throw CLIError("--dtypes", "one of \(present.joined(separator: ", ")) (what the input holds), got '\(dtypes)'") }
        }
        if let passes {
            let wanted = Set(passes.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() })
            if let bad = wanted.first(where: { $0 != "forward" && $0 != "backward" }) {
                throw CLIError("--passes", "forward and/or backward, got '\(bad)'")
            }
            let present = Self.uniqueSorted(drawable().map(\.pass))
            loaded.results.records.removeAll { !wanted.contains($0.pass) }
            if drawable().isEmpty { throw CLIError("--passes", "one of \(present.joined(separator: ", ")) (what the input holds), got '\(passes)'") }
        }
        let drawn = drawable()
        let panelKeys = Set(drawn.map { "\($0.headDim)/\($0.causal)" }).count
        // The FLOP count as drawn: the backward's factor only when a backward is drawn.
        let flopsNote = "FLOPs = 4·B·H·N²·D (causal ½" + (drawn.contains { $0.pass == "backward" } ? ", backward 2.5×)" : ")")
        let defaultSubtitle = loaded.subtitle.isEmpty ? flopsNote : "\(loaded.subtitle); \(flopsNote)"
        let layout = BenchChart.Layout(title: title, subtitle: (subtitle ?? defaultSubtitle).replacingOccurrences(of: "\\n", with: "\n"),
                                       panelsPerRow: perRow ?? (panelKeys > 4 ? 2 : nil), tera: tera ?? loaded.tera)
        var files = OutputFiles()
        files.add(flag: "--out", path: out, bytes: Array(BenchChart.svg(loaded.results, layout: layout).utf8))
        try files.commit()
        let implementations = BenchChart.unique(drawn.map(\.implementation))
        // Every (dtype, pass) gets a panel for every (head dim, mask), with data or not.
        let panels = Set(drawn.map { "\($0.dtype)/\($0.pass)" }).count * panelKeys
        say("wrote \(out): \(panels) panels, \(drawn.count) bars, \(implementations.joined(separator: ", "))")
    }

    /// Results read from a file, with the subtitle and unit the file implies.
    struct Loaded {
        var results: BenchResults
        /// What the file says of the machine and problem sizes (the FLOP count is added later).
        var subtitle: String
        /// True when the file gave TFLOP/s; nil when it leaves the choice to the chart.
        var tera: Bool?
    }

    /// Parses `flash-attn bench --json`, `--csv`, or the long format (see the discussion).
    static func load(_ text: String, name: String) throws -> Loaded {
        if text.drop(while: \.isWhitespace).first == "{" {
            let results: BenchResults
            do {
                results = try JSONDecoder().decode(BenchResults.self, from: Data(text.utf8))
            } catch {
                throw CLIError("--input", "bench --json output, could not decode '\(name)': \(error)")
            }
            let first = results.records.first
            return Loaded(results: results, subtitle: "\(results.device) (\(results.cpu)), \(results.threads) threads, "
                          + "B=\(first?.batch ?? 1) H=\(first?.heads ?? 8)", tera: nil)
        }
        var header: [String]?
        var records: [BenchRecord] = []
        var sawTera = false
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let fields = splitCSV(line)
            guard let columns = header else {
                header = fields.map { $0.lowercased() }
                try checkHeader(header!, name: name)
                sawTera = header!.contains("tflops")
                continue
            }
            guard fields.count == columns.count else {
                throw CLIError("--input", "\(columns.count) fields on line \(index + 1) of '\(name)', got \(fields.count)")
            }
            if let record = try record(Dictionary(zip(columns, fields), uniquingKeysWith: { a, _ in a }), line: index + 1, name: name) {
                records.append(record)
            }
        }
        guard header != nil else { throw CLIError("--input", "a CSV header line in '\(name)', found none") }
        var results = BenchResults(command: "", cpu: "", threads: 0, device: "")
        results.records = records
        let batches = Set(records.map(\.batch)), heads = Set(records.map(\.heads))
        var subtitle = "from \((name as NSString).lastPathComponent)"
        if batches.count == 1, heads.count == 1, let b = batches.first, let h = heads.first, b > 0, h > 0 {
            subtitle += ", B=\(b) H=\(h)"
        }
        return Loaded(results: results, subtitle: subtitle, tera: sawTera ? true : nil)
    }

    static func checkHeader(_ columns: [String], name: String) throws {
        var missing = ["implementation", "dtype", "seqlen", "causal"].filter { !columns.contains($0) }
        if !columns.contains("head_dim") && !columns.contains("headdim") { missing.append("head_dim (or headdim)") }
        if !columns.contains("gflops") && !columns.contains("tflops") { missing.append("gflops (or tflops)") }
        if !missing.isEmpty {
            throw CLIError("--input", "a CSV header with \(missing.joined(separator: ", ")) in '\(name)', got '\(columns.joined(separator: ","))'")
        }
    }

    /// One CSV row as a record; nil for a row without a throughput (a peer that could not run).
    static func record(_ row: [String: String], line: Int, name: String) throws -> BenchRecord? {
        func bad(_ column: String, _ what: String) -> CLIError {
            CLIError("--input", "\(what) in column \(column) on line \(line) of '\(name)', got '\(row[column] ?? "")'")
        }
        func integer(_ column: String, required: Bool) throws -> Int? {
            guard let text = row[column], !text.isEmpty else {
                if required { throw bad(column, "an integer") }
                return nil
            }
            guard let value = Int(text), value >= 0 else { throw bad(column, "a non-negative integer") }
            return value
        }
        let headColumn = row["head_dim"] != nil ? "head_dim" : "headdim"
        guard let headDim = try integer(headColumn, required: true), let seqlen = try integer("seqlen", required: true) else { return nil }
        let causal: Bool
        switch row["causal"]?.lowercased() {
        case "true", "1", "yes": causal = true
        case "false", "0", "no": causal = false
        default: throw bad("causal", "true/false or 1/0")
        }
        guard let implementation = row["implementation"], !implementation.isEmpty else { throw bad("implementation", "a name") }
        guard let dtype = row["dtype"], !dtype.isEmpty else { throw bad("dtype", "an element type") }
        let pass = (row["pass"].flatMap { $0.isEmpty ? nil : $0 } ?? "forward").lowercased()
        let throughputColumn = row["tflops"] != nil ? "tflops" : "gflops"
        guard let text = row[throughputColumn], !text.isEmpty else { return nil }
        guard let throughput = Double(text), !(throughput < 0) else { throw bad(throughputColumn, "a number ≥ 0") }
        let gflops = throughputColumn == "tflops" ? throughput * 1000 : throughput
        let batch = try integer("batch", required: false) ?? 0, heads = try integer("heads", required: false) ?? 0
        let ms = try row["ms"].flatMap { text -> Double? in
            guard !text.isEmpty else { return nil }
            guard let value = Double(text) else { throw bad("ms", "a number") }
            return value
        } ?? .nan
        return BenchRecord(implementation: implementation, dtype: normalDtype(dtype), batch: batch, heads: heads,
                           headDim: headDim, seqlen: seqlen, causal: causal, pass: pass, ms: ms, samplesMs: [],
                           flops: gflops * 1e6 * ms, gflops: gflops,
                           peakExtraBytes: nil)
    }

    static func uniqueSorted(_ values: [String]) -> [String] { Array(Set(values)).sorted() }

    /// The project's names for element types (what `bench --dtypes` takes), from common short forms.
    static func normalDtype(_ name: String) -> String {
        switch name.lowercased() {
        case "bf16": "bfloat16"
        case "fp16", "f16", "half": "float16"
        case "fp32", "f32", "float": "float32"
        default: name.lowercased()
        }
    }

    /// Splits one CSV line: fields may be quoted, with "" for a quote inside.
    static func splitCSV(_ line: String) -> [String] {
        var fields: [String] = [], field = "", quoted = false
        var characters = line.makeIterator()
        var pending: Character? = nil
        while let c = pending ?? characters.next() {
            pending = nil
            if quoted {
                if c == "\"" {
                    if let next = characters.next() {
                        if next == "\"" { field.append("\"") } else { quoted = false; pending = next }
                    } else {
                        quoted = false
                    }
                } else {
                    field.append(c)
                }
            } else if c == "\"" && field.isEmpty {
                quoted = true
            } else if c == "," {
                fields.append(field)
                field = ""
            } else {
                field.append(c)
            }
        }
        fields.append(field)
        return fields.map { $0.trimmingCharacters(in: .whitespaces) }
    }
}
