import Foundation

/// Grouped bar charts of benchmark throughput, as a self-contained SVG.
///
/// One panel per (head dim, mask) and per (dtype, pass); in each panel one group of bars per
/// sequence length and one colour per implementation, so ours and the peers timed in the same
/// run stand side by side. A (dtype, pass) group's panels share their y scale; they stand in
/// one line unless ``Layout/panelsPerRow`` wraps them.
enum BenchChart {
    static let palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    static let panelWidth = 330.0, panelHeight = 230.0
    static let marginLeft = 62.0, marginRight = 14.0, marginTop = 30.0, marginBottom = 44.0

    /// What a caller may change; the defaults are `flash-attn bench --chart`'s chart.
    struct Layout {
        /// The first line; nil: "Attention throughput (<unit>, higher is better)".
        var title: String?
        /// The grey lines under the title ("\n" separates them); nil: machine, threads, B, H.
        var subtitle: String?
        /// Panels per line; nil: all panels of a (dtype, pass) group in one line.
        var panelsPerRow: Int?
        /// TFLOP/s (true) or GFLOP/s (false); nil: TFLOP/s when the largest value is 2000 GFLOP/s or more.
        var tera: Bool?
    }

    static func svg(_ results: BenchResults, layout: Layout = Layout()) -> String {
        let records = results.records.filter { $0.gflops.isFinite && $0.gflops > 0 }
        let implementations = unique(records.map(\.implementation))
        let columns = unique(records.map { ColumnKey(headDim: $0.headDim, causal: $0.causal) })
        let rows = unique(records.map { RowKey(dtype: $0.dtype, pass: $0.pass) })
        let maxValue = records.map(\.gflops).max() ?? 1
        let useTera = layout.tera ?? (maxValue >= 2000)
        let unit = useTera ? "TFLOP/s" : "GFLOP/s"
        let scale = useTera ? 1e-3 : 1.0
        let perLine = min(max(layout.panelsPerRow ?? columns.count, 1), max(columns.count, 1))
        let linesPerRow = (max(columns.count, 1) + perLine - 1) / perLine

        let title = layout.title ?? "Attention throughput (\(unit), higher is better)"
        let subtitle = (layout.subtitle ?? "\(results.cpu), \(results.threads) threads, B=\(records.first?.batch ?? 1) H=\(records.first?.heads ?? 8); FLOPs = 4·B·H·N²·D (causal ½, backward 2.5×)")
            .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        let legendTop = 29.0 + 15 * Double(subtitle.count)
        let width = max(Double(perLine) * panelWidth, 520)
        let legend = legendPositions(implementations, width: width)
        let headerHeight = legendTop + 18 * Double((legend.map(\.line).max() ?? 0) + 1)
        let height = headerHeight + Double(max(rows.count, 1) * linesPerRow) * panelHeight + 8
        var svg = """
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" \
            viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="11">
            <rect width="100%" height="100%" fill="white"/>
            <text x="12" y="20" font-size="15" font-weight="bold">\(escape(title))</text>

            """
        for (index, line) in subtitle.enumerated() {
            svg += "<text x=\"12\" y=\"\(f(37 + 15 * Double(index)))\" fill=\"#444\">\(escape(line))</text>\n"
        }
        for (index, (name, position)) in zip(implementations, legend).enumerated() {
            let y = legendTop + 18 * Double(position.line)
            svg += "<rect x=\"\(f(position.x))\" y=\"\(f(y))\" width=\"12\" height=\"12\" fill=\"\(palette[index % palette.count])\"/>"
            svg += "<text x=\"\(f(position.x + 17))\" y=\"\(f(y + 10))\">\(escape(name))</text>\n"
        }
        if records.isEmpty {
            svg += "<text x=\"12\" y=\"\(f(headerHeight + 26))\">no results</text>\n</svg>\n"
            return svg
        }
        for (rowIndex, row) in rows.enumerated() {
            let rowRecords = records.filter { $0.dtype == row.dtype && $0.pass == row.pass }
            let top = niceCeiling((rowRecords.map(\.gflops).max() ?? 1) * scale)
            for (columnIndex, column) in columns.enumerated() {
                let panel = rowRecords.filter { $0.headDim == column.headDim && $0.causal == column.causal }
                let line = rowIndex * linesPerRow + columnIndex / perLine
                svg += panelSVG(panel, x: Double(columnIndex % perLine) * panelWidth, y: headerHeight + Double(line) * panelHeight,
                                title: "\(row.dtype) \(row.pass), D=\(column.headDim), \(column.causal ? "causal" : "no mask")",
                                top: top, scale: scale, unit: unit, implementations: implementations)
            }
        }
        return svg + "</svg>\n"
    }

    struct ColumnKey: Hashable { var headDim: Int; var causal: Bool }
    struct RowKey: Hashable { var dtype: String; var pass: String }

    static func panelSVG(_ records: [BenchRecord], x: Double, y: Double, title: String, top: Double, scale: Double,
                         unit: String, implementations: [String]) -> String {
        let left = x + marginLeft, right = x + panelWidth - marginRight
        let plotTop = y + marginTop, bottom = y + panelHeight - marginBottom
        var svg = "<g class=\"panel\">\n<text x=\"\(f((left + right) / 2))\" y=\"\(f(y + 18))\" text-anchor=\"middle\" font-weight=\"bold\">\(escape(title))</text>\n"
        // Y axis with ticks and grid.
        let ticks = 5
        for tick in 0...ticks {
            let value = top * Double(tick) / Double(ticks)
            let ty = bottom - (bottom - plotTop) * Double(tick) / Double(ticks)
            svg += "<line x1=\"\(f(left))\" y1=\"\(f(ty))\" x2=\"\(f(right))\" y2=\"\(f(ty))\" stroke=\"#e3e3e3\"/>"
            svg += "<text x=\"\(f(left - 5))\" y=\"\(f(ty + 4))\" text-anchor=\"end\">\(label(value))</text>\n"
        }
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(plotTop))\" x2=\"\(f(left))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>"
        svg += "<line x1=\"\(f(left))\" y1=\"\(f(bottom))\" x2=\"\(f(right))\" y2=\"\(f(bottom))\" stroke=\"#333\"/>\n"
        svg += "<text transform=\"translate(\(f(x + 14)),\(f((plotTop + bottom) / 2))) rotate(-90)\" text-anchor=\"middle\">\(unit)</text>\n"
        svg += "<text x=\"\(f((left + right) / 2))\" y=\"\(f(bottom + 34))\" text-anchor=\"middle\">sequence length N (Sq = Sk)</text>\n"
        let lengths = unique(records.map(\.seqlen)).sorted()
        guard !lengths.isEmpty else { return svg + "<text x=\"\(f(left + 10))\" y=\"\(f(plotTop + 20))\">no data</text>\n</g>\n" }
        let groupWidth = (right - left) / Double(lengths.count)
        let barWidth = groupWidth * 0.8 / Double(max(implementations.count, 1))
        for (groupIndex, n) in lengths.enumerated() {
            let groupLeft = left + Double(groupIndex) * groupWidth + groupWidth * 0.1
            for (implementationIndex, name) in implementations.enumerated() {
                guard let record = records.first(where: { $0.seqlen == n && $0.implementation == name }) else { continue }
                let value = record.gflops * scale
                let barHeight = (bottom - plotTop) * min(value / top, 1)
                let bx = groupLeft + Double(implementationIndex) * barWidth
                svg += "<rect x=\"\(f(bx))\" y=\"\(f(bottom - barHeight))\" width=\"\(f(max(barWidth - 1, 1)))\" height=\"\(f(barHeight))\" fill=\"\(palette[implementationIndex % palette.count])\">"
                let time = record.ms.isFinite ? ", \(String(format: "%.2f", record.ms)) ms" : ""
                svg += "<title>\(escape("\(name) N=\(n): \(label(value)) \(unit)\(time)"))</title></rect>\n"
            }
            svg += "<text x=\"\(f(left + (Double(groupIndex) + 0.5) * groupWidth))\" y=\"\(f(bottom + 15))\" text-anchor=\"middle\">\(n >= 1024 && n % 1024 == 0 ? "\(n / 1024)k" : "\(n)")</text>\n"
        }
        return svg + "</g>\n"
    }

    /// Where each legend entry goes: left to right, on a new line when the next would pass
    /// `width` (text width estimated at 6.5 px a character for the 11 px font).
    static func legendPositions(_ names: [String], width: Double) -> [(x: Double, line: Int)] {
        var x = 12.0, line = 0
        var positions: [(x: Double, line: Int)] = []
        for name in names {
            let entryWidth = 17 + Double(name.count) * 6.5
            if x > 12, x + entryWidth > width - 12 { x = 12; line += 1 }
            positions.append((x, line))
            x += entryWidth + 18
        }
        return positions
    }

    /// 1, 2 or 5 times a power of ten, at least `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0, value.isFinite else { return 1 }
        let power = pow(10, floor(log10(value)))
        for step in [1.0, 2.0, 2.5, 5.0, 10.0] where step * power >= value { return step * power }
        return 10 * power
    }

    static func label(_ value: Double) -> String {
        if value == 0 { return "0" }
        if value >= 100 { return String(format: "%.0f", value) }
        if value >= 10 { return String(format: "%.1f", value).replacingOccurrences(of: ".0", with: "") }
        return String(format: "%.2g", value)
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func unique<T: Hashable>(_ values: [T]) -> [T] {
        var seen = Set<T>()
        return values.filter { seen.insert($0).inserted }
    }
}
