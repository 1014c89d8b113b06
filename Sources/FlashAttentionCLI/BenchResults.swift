import FlashAttention
import Foundation

/// One timed pass of one implementation at one grid point: the raw numbers `--csv` and
/// `--json` write and the table and chart show.
public struct BenchRecord: Codable, Sendable, Equatable {
    /// "flash-attn cpu", "torch sdpa cpu", ...
    public var implementation: String
    public var dtype: String
    public var batch: Int
    public var heads: Int
    public var headDim: Int
    public var seqlen: Int
    public var causal: Bool
    /// "forward" or "backward".
    public var pass: String
    /// The median of the samples, in milliseconds.
    public var ms: Double
    public var samplesMs: [Double]
    /// FLOPs = 4·B·H·Sq·Sk·D, halved for causal; the backward counts 2.5×.
    public var flops: Double
    public var gflops: Double
    /// Peak extra resident bytes during the call (see ``MemoryProbe``); nil if unknown.
    public var peakExtraBytes: Int?
    /// For peers: the norm-wise relative difference of their forward output from ours.
    public var relativeDifference: Double?

    enum CodingKeys: String, CodingKey {
        case implementation, dtype, batch, heads, causal, pass, ms, flops, gflops
        case headDim = "head_dim", seqlen, samplesMs = "samples_ms", peakExtraBytes = "peak_extra_bytes"
        case relativeDifference = "relative_difference"
    }

    /// The grid point and pass this record belongs to (without the implementation).
    var key: String { "\(dtype)/\(headDim)/\(causal)/\(seqlen)/\(pass)" }
}

/// Everything a bench run measured, with what it ran on.
public struct BenchResults: Codable, Sendable {
    public var command: String
    public var cpu: String
    public var threads: Int
    public var device: String
    public var torch: String?
    public var records: [BenchRecord] = []
    /// Grid points not run, with the reason.
    public var skipped: [String] = []

    /// The FLOP count of one pass.
    static func flops(batch: Int, heads: Int, seqlen: Int, headDim: Int, causal: Bool, backward: Bool) -> Double {
        4 * Double(batch) * Double(heads) * Double(seqlen) * Double(seqlen) * Double(headDim)
            * (causal ? 0.5 : 1) * (backward ? 2.5 : 1)
    }

    func csv() -> String {
        var lines = ["implementation,dtype,batch,heads,head_dim,seqlen,causal,pass,ms,gflops,peak_extra_bytes,relative_difference,samples_ms"]
        for r in records {
            let fields: [String] = [
                r.implementation, r.dtype, "\(r.batch)", "\(r.heads)", "\(r.headDim)", "\(r.seqlen)", "\(r.causal)", r.pass,
                String(format: "%.4f", r.ms), String(format: "%.2f", r.gflops), r.peakExtraBytes.map(String.init) ?? "",
                r.relativeDifference.map { String(format: "%.3g", $0) } ?? "",
                r.samplesMs.map { String(format: "%.4f", $0) }.joined(separator: ";"),
            ]
            lines.append(fields.map { $0.contains(",") ? "\"\($0)\"" : $0 }.joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }

    func json() throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return String(decoding: try encoder.encode(self), as: UTF8.self) + "\n"
    }
}

/// The bench table: one row per grid point and pass, ours and the peer side by side.
enum BenchTable {
    static let widths = [9, 4, 6, 6, 4, 9, 8, 9, 9, 8, 9, 6]

    static func format(_ cells: [String]) -> String {
        var text = ""
        for (index, cell) in cells.enumerated() {
            let width = widths[index]
            let padded = index == 0 || index == 2 || index == 4
                ? cell.padding(toLength: max(width, cell.count), withPad: " ", startingAt: 0)
                : String(repeating: " ", count: max(0, width - cell.count)) + cell
            text += padded
            text += index == 4 || index == 7 || index == 10 ? " | " : (index == cells.count - 1 ? "" : " ")
        }
        return text
    }

    static let header = format(["dtype", "D", "mask", "N", "pass", "ours ms", "GFLOP/s", "peak MiB",
                                "torch ms", "GFLOP/s", "peak MiB", "speed"])
    static var rule: String { String(repeating: "-", count: header.count) }

    static func mib(_ bytes: Int?) -> String { bytes.map { String(format: "%.1f", Double($0) / 1_048_576) } ?? "n/a" }

    static func row(ours: BenchRecord, peer: BenchRecord?) -> String {
        var cells = [ours.dtype, "\(ours.headDim)", ours.causal ? "causal" : "none", "\(ours.seqlen)",
                     ours.pass == "forward" ? "fwd" : "bwd",
                     String(format: "%.2f", ours.ms), String(format: "%.1f", ours.gflops), mib(ours.peakExtraBytes)]
        if let peer {
            cells += [String(format: "%.2f", peer.ms), String(format: "%.1f", peer.gflops), mib(peer.peakExtraBytes),
                      String(format: "%.2f×", peer.ms / ours.ms)]
        } else {
            cells += ["-", "-", "-", "-"]
        }
        return format(cells)
    }

    static let legend = """
        speed = torch ms / ours ms (above 1: ours is faster). GFLOP/s counts 4·B·H·N²·D per forward \
        (halved for causal; backward 2.5×). peak MiB: the most resident memory the call added \
        (VmHWM after − VmRSS before; inputs and outputs were allocated before, except that \
        torch's figure includes the output tensors it allocates).
        """
}
