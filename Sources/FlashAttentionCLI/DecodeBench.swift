import FlashAttention
import FlashAttentionCUDA
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `flash-attn bench --decode`: one decoding step (Sq = 1, one new token appended in place)
/// over a KV cache, as GB/s of cache read against this machine's measured memory bandwidth,
/// with PyTorch's `scaled_dot_product_attention(..., enable_gqa=True)` timed on the same
/// contiguous cache in the same run.
///
/// Grid (defaults): batch ∈ {1, 8, 64} (`--batch 1,8`), context ∈ {1k, 8k, 32k, 128k}
/// (`--seqlens`), H = 32 (`--heads`), Hk ∈ {8, 32} (`--kv-heads`), D = 128, bfloat16
/// (`--dtypes`), caches contiguous and paged with pages of 16 and 256 rows (the paged caches
/// are the contiguous memory cut into pages and visited through a shuffled block table, so
/// they read the same bytes in a scattered order). Cache read = 2 · B · context · Hk · D ·
/// element size bytes (K and V, each byte once).
///
/// Memory bandwidth (``DecodeBenchBandwidth``, copy and read) is measured once at the start and
/// again right before each point, which is then judged against its own measurement: on a shared
/// virtual machine the bandwidth left by the neighbours drifts by tens of percent over minutes.
/// Before every timed call (ours and torch's) a buffer twice the size of the last-level cache is
/// written, so caches that would fit in L3 (1k contexts) are read from memory, as they would be
/// between the layers of a real model.
///
/// On the CPU a point whose cache (K + V) exceeds ``maximumCacheBytes`` is skipped and listed:
/// torch needs its own copy in its layout, plus the files that carry it, so 2 GiB of cache
/// costs about 10 GiB of memory at the peak.
struct DecodeBench {
    let command: BenchCommand

    static let headDim = 128
    static let pageSizes = [16, 256]

    /// An on/off knob of the bench (`1` or `on` turns it on), read as the library reads its own
    /// (``DecodeHeuristics/switchValue(_:)``); unset or anything else is off.
    static func switchKnob(_ name: String) -> Bool {
        DecodeHeuristics.switchValue(ProcessInfo.processInfo.environment[name]) ?? false
    }

    /// The largest cache (K + V bytes) the CPU benchmark allocates: 2 GiB, or an eighth of
    /// physical memory if that is less.
    static var maximumCacheBytes: Int {
        let physical = Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
        return min(2 << 30, max(physical / 8, 64 << 20))
    }

    struct Record: Codable {
        var implementation: String
        var dtype: String
        var batch: Int
        var context: Int
        var heads: Int
        var kvHeads: Int
        var headDim: Int
        /// "contiguous" or "paged"
        var layout: String
        var pageSize: Int?
        var ms: Double
        var samplesMs: [Double]
        var cacheBytes: Int
        var gbps: Double
        /// The copy (read + write) and read bandwidths measured right before this point, and the
        /// GB/s over them in percent.
        var copyGBps: Double
        var readGBps: Double
        var percentOfCopy: Double
        var percentOfRead: Double
        /// Norm-wise relative difference of torch's output from ours (torch rows only).
        var relativeDifference: Double?
    }

    struct Report: Codable {
        var command: String
        var cpu: String
        var threads: Int
        var torch: String?
        var copyGBps: Double
        var readGBps: Double
        var records: [Record]
        var skipped: [String]
    }

    /// The grid flags of `bench --decode`, checked in the same order on every device.
    struct Grid {
        var contexts: [Int], batches: [Int], heads: Int, kvHeads: [Int], types: [ElementType], repeats: Int

        init(_ command: BenchCommand, repeatsDefault: Int, allowsFloat32: Bool) throws {
            let contexts = try ArgumentValues.intList(command.seqlens, flag: "--seqlens", range: 1...(1 << 24),
                                                      default: [1024, 8192, 32768, 131072])
            let batches = try ArgumentValues.intList(command.batch, flag: "--batch", range: 1...4096, default: [1, 8, 64])
            let heads = try ArgumentValues.positiveInt(command.heads, flag: "--heads", default: 32)
            let kvHeads = try ArgumentValues.intList(command.kvHeads, flag: "--kv-heads", range: 1...heads, default: [8, 32].filter { $0 <= heads })
            for hk in kvHeads where heads % hk != 0 {
                throw CLIError("--kv-heads", "KV head counts that divide --heads \(heads), got \(hk)")
            }
            let types = try ArgumentValues.elementTypes(command.dtypes, flag: "--dtypes", default: [.bfloat16])
            if !allowsFloat32 {
                for type in types where type == .float32 { throw CLIError("--dtypes", "float16 or bfloat16 on CUDA, got float32") }
            }
            let repeats = try ArgumentValues.positiveInt(command.repeats, flag: "--repeats", default: repeatsDefault)
            (self.contexts, self.batches, self.heads, self.kvHeads, self.types, self.repeats) = (contexts, batches, heads, kvHeads, types, repeats)
        }

        /// Every (type, Hk, B, context) point, contexts ascending innermost.
        var points: [(ElementType, Int, Int, Int)] {
            var points: [(ElementType, Int, Int, Int)] = []
            for type in types { for hk in kvHeads { for b in batches { for s in contexts.sorted() { points.append((type, hk, b, s)) } } } }
            return points
        }
    }

    /// The `--csv` and `--json` destinations, checked writable (no `--chart` with `--decode`).
    static func outputs(_ command: BenchCommand) throws -> [(flag: String, path: String)] {
        var outputs: [(flag: String, path: String)] = []
        if let csv = command.csv { outputs.append(("--csv", csv)) }
        if let json = command.json { outputs.append(("--json", json)) }
        if command.chart != nil { throw CLIError("--chart", "no chart with --decode (use --csv or --json)") }
        try OutputFiles.checkWritable(outputs)
        return outputs
    }

    /// Ends the progress line, lists the skipped points and the torch note, then writes the
    /// `--csv`/`--json` files of the report.
    static func finish(_ report: Report, command: BenchCommand, progress: ProgressLine, torchNote: String?,
                       outputs: [(flag: String, path: String)]) throws {
        progress.finish()
        for text in report.skipped { say("skipped: \(text)") }
        if let torchNote { say(torchNote) }
        var files = OutputFiles()
        if let csv = command.csv { files.add(flag: "--csv", path: csv, bytes: Array(DecodeBench.csv(report).utf8)) }
        if let json = command.json {
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            files.add(flag: "--json", path: json, bytes: Array(try encoder.encode(report)))
        }
        try files.commit()
        for (flag, path) in outputs { say("wrote \(path) (\(flag.dropFirst(2)))") }
    }

    func run() throws {
        let deviceSelection = try ArgumentValues.device(command.device)
        let grid = try Grid(command, repeatsDefault: 5, allowsFloat32: true)
        let (heads, repeats) = (grid.heads, grid.repeats)
        let threads = try ArgumentValues.positiveInt(command.threads, flag: "--threads", default: SystemInfo.defaultThreads)
        let outputs = try DecodeBench.outputs(command)
        let backend: any KVCacheBackend
        do {
            backend = try FlashAttention.kvCacheBackend(for: deviceSelection, threads: threads)
        } catch let error as FlashAttentionError {
            throw CLIError("--device", message: "\(deviceSelection.rawValue) cannot run --decode here: \(error)")
        }

        if let gpu = backend as? CUDABackend { return try DecodeBenchCUDA(command: command, backend: gpu).run() }
        let bandwidth = DecodeBenchBandwidth.measure(threads: threads)
        var peer: DecodeBenchTorch?
        var torchNote: String?
        if !command.noTorch, backend.name == "cpu" {
            do { peer = try DecodeBenchTorch(threads: threads) } catch { torchNote = "torch: not compared (\(CLIError(error).message))" }
        }
        let cap = DecodeBench.maximumCacheBytes
        var report = Report(command: (["flash-attn"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                            cpu: SystemInfo.cpuModel, threads: threads, torch: peer?.version,
                            copyGBps: bandwidth.copyGBps, readGBps: bandwidth.readGBps, records: [], skipped: [])
        let points = grid.points
        let progress = ProgressLine(total: points.count, enabled: stdoutIsTerminal && !command.quiet)
        progress.line("flash-attn bench --decode: \(backend.name), \(threads) threads, \(report.cpu); H=\(heads) D=\(DecodeBench.headDim), Sq=1 with 1 token appended"
            + (peer.map { ", torch \($0.version) on the same contiguous cache" } ?? ""))
        progress.line(String(format: "memory bandwidth at the start (%d threads, 512 MiB buffers): copy %.1f GB/s (read + write), read %.1f GB/s; each point is judged against a measurement taken right before it",
                             threads, bandwidth.copyGBps, bandwidth.readGBps))
        progress.line(DecodeBench.header)
        let scratch = "/dev/shm/flash-attn-decode-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        for (type, hk, b, s) in points {
            let bytes = 2 * b * s * hk * DecodeBench.headDim * type.byteCount
            let label = "\(type) B=\(b) context=\(s) Hk=\(hk)"
            guard bytes <= cap else {
                report.skipped.append("\(label): cache \(bytes >> 20) MiB > the \(cap >> 20) MiB cap")
                progress.advance()
                continue
            }
            progress.update(label)
            let local = DecodeBenchBandwidth.measure(threads: threads, bytes: 256 << 20, passes: 3)
            let records = try measure(type: type, batch: b, context: s, heads: heads, kvHeads: hk, repeats: repeats,
                                      backend: backend, peer: peer, scratch: scratch, bandwidth: local)
            report.records += records
            let torch = records.first { $0.implementation.hasPrefix("torch") }
            for record in records where !record.implementation.hasPrefix("torch") {
                progress.line(DecodeBench.row(record, torch: record.layout == "contiguous" ? torch : nil))
            }
            progress.advance()
        }
        try DecodeBench.finish(report, command: command, progress: progress, torchNote: torchNote, outputs: outputs)
    }

    /// One (type, B, context, Hk) point: ours on the contiguous cache and on each page size,
    /// then torch on the contiguous cache.
    func measure(type: ElementType, batch: Int, context: Int, heads: Int, kvHeads: Int, repeats: Int,
                 backend: any KVCacheBackend, peer: DecodeBenchTorch?, scratch: String,
                 bandwidth: DecodeBenchBandwidth) throws -> [Record] {
        let d = DecodeBench.headDim
        var seed = UInt64(batch &* 1_000_003 &+ context &* 31 &+ kvHeads)
        let q = DecodeBench.random([batch, 1, heads, d], type, &seed)
        let kNew = DecodeBench.random([batch, 1, kvHeads, d], type, &seed)
        let vNew = DecodeBench.random([batch, 1, kvHeads, d], type, &seed)
        let kCache = DecodeBench.random([batch, context, kvHeads, d], type, &seed)
        let vCache = DecodeBench.random([batch, context, kvHeads, d], type, &seed)
        let out = Tensor(shape: q.shape, elementType: type), lse = Tensor(shape: [batch, heads, 1])
        let lengths = [Int32](repeating: Int32(context - 1), count: batch)
        let cacheBytes = 2 * batch * context * kvHeads * d * type.byteCount
        func record(_ name: String, _ layout: String, _ page: Int?, _ samples: [Double]) -> Record {
            let ms = BenchCommand.median(samples)
            let gbps = Double(cacheBytes) / (ms * 1e-3) / 1e9
            return Record(implementation: name, dtype: type.rawValue, batch: batch, context: context, heads: heads,
                          kvHeads: kvHeads, headDim: d, layout: layout, pageSize: page, ms: ms, samplesMs: samples,
                          cacheBytes: cacheBytes, gbps: gbps, copyGBps: bandwidth.copyGBps, readGBps: bandwidth.readGBps,
                          percentOfCopy: 100 * gbps / bandwidth.copyGBps, percentOfRead: 100 * gbps / bandwidth.readGBps)
        }
        func time(_ arguments: KVCacheArguments) throws -> [Double] {
            try backend.forwardWithKVCache(arguments)  // warm-up
            let clock = ContinuousClock()
            return try (0..<repeats).map { _ in
                DecodeBench.evictCaches()
                let start = clock.now
                try backend.forwardWithKVCache(arguments)
                let elapsed = clock.now - start
                return (Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18) * 1e3
            }
        }
        let ours = "flash-attn \(backend.name)"
        let options = AttentionOptions(causal: true)
        let contiguous = KVCacheArguments(q: q.view, kCache: kCache.view, vCache: vCache.view, k: kNew.view, v: vNew.view,
                                          cacheSeqlens: lengths, out: out.view, lse: lse.view, options: options)
        var records = [record(ours, "contiguous", nil, try time(contiguous))]

        for page in DecodeBench.pageSizes where context % page == 0 {
            // The same memory as pages of `page` rows, visited in a shuffled order.
            let pages = batch * context / page, perRow = context / page
            var order = Array(0..<pages)
            var state = seed | 1
            for i in stride(from: pages - 1, to: 0, by: -1) {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                order.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
            }
            func paged(_ view: TensorView) -> TensorView {
                TensorView(data: view.data, elementType: type, shape: [pages, page, kvHeads, d])
            }
            let arguments = KVCacheArguments(
                q: q.view, kCache: paged(kCache.view), vCache: paged(vCache.view), k: kNew.view, v: vNew.view,
                cacheSeqlens: lengths, blockTable: BlockTable(entries: order.map { Int32($0) }, maxBlocksPerSequence: perRow),
                out: out.view, lse: lse.view, options: options)
            records.append(record(ours, "paged", page, try time(arguments)))
        }
        // The paged runs appended into other slots of the same memory: run the contiguous call
        // once more and hand torch exactly the cache it read.
        try backend.forwardWithKVCache(contiguous)
        let oursOut = out.floats()

        guard let peer else { return records }
        var paths: [String: String] = [:]
        for (name, tensor) in [("q", q), ("k", kCache), ("v", vCache)] {
            let path = scratch + "/\(name).bin"
            guard let file = fopen(path, "wb") else { throw CLIError(message: "could not write \(path) for torch") }
            let written = fwrite(tensor.storage.baseAddress!, 1, tensor.elementCount * type.byteCount, file)
            fclose(file)
            guard written == tensor.elementCount * type.byteCount else { throw CLIError(message: "could not write \(path) for torch (is /dev/shm full?)") }
            paths[name] = path
        }
        let outPath = scratch + "/out.bin"
        defer { for path in Array(paths.values) + [outPath] { unlink(path) } }
        let samples = try peer.decode(["q": paths["q"]!, "k": paths["k"]!, "v": paths["v"]!, "out": outPath,
                                       "batch": batch, "context": context, "heads": heads, "kv_heads": kvHeads,
                                       "head_dim": d, "dtype": type.rawValue, "repeats": repeats,
                                       "evict_bytes": DecodeBench.evictionBuffer.count])
        var torchRecord = record("torch sdpa cpu", "contiguous", nil, samples)
        if let data = FileManager.default.contents(atPath: outPath), data.count == oursOut.count * 4 {
            let theirs = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            torchRecord.relativeDifference = BenchCommand.relativeDifference(theirs, oursOut)
        }
        records.append(torchRecord)
        return records
    }

    /// Writes a buffer twice the size of this machine's largest cache (64 MiB if unknown), so
    /// nothing of the previous call is left in L3.
    static func evictCaches() {
        let bytes = evictionBuffer.count
        guard bytes > 0 else { return }
        let words = evictionBuffer.baseAddress!.assumingMemoryBound(to: UInt64.self)
        for i in 0..<(bytes / 8) { words[i] &+= 1 }
    }

    nonisolated(unsafe) static let evictionBuffer: UnsafeMutableRawBufferPointer = {
        var largest = 32 << 20
        for level in 0..<8 {
            let path = "/sys/devices/system/cpu/cpu0/cache/index\(level)/size"
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { continue }
            let trimmed = text.trimmingCharacters(in: .whitespacesAndNewlines)
            if trimmed.hasSuffix("K"), let k = Int(trimmed.dropLast()) { largest = max(largest, k << 10) }
            if trimmed.hasSuffix("M"), let m = Int(trimmed.dropLast()) { largest = max(largest, m << 20) }
        }
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2 * largest, alignment: 64)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
        return buffer
    }()

    /// Uniform values of unit variance, rounded to the element type (bfloat16 written directly).
    static func random(_ shape: [Int], _ type: ElementType, _ state: inout UInt64) -> Tensor {
        let tensor = Tensor(shape: shape, elementType: type)
        let count = tensor.elementCount
        var s = state | 1
        @inline(__always) func next() -> Float {
            s ^= s >> 12
            s ^= s << 25
            s ^= s >> 27
            return (Float((s &* 0x2545_F491_4F6C_DD1D) >> 40) / Float(1 << 24) * 2 - 1) * 1.732_050_8
        }
        if type == .bfloat16 {
            let bits = tensor.storage.baseAddress!.assumingMemoryBound(to: UInt16.self)
            for i in 0..<count { bits[i] = HalfConversion.bfloat16Bits(next()) }
        } else {
            let view = tensor.view
            for i in 0..<count { view.store(next(), at: i) }
        }
        state = s
        return tensor
    }

    static let header = "dtype      B  context  Hk  layout           ms      GB/s  %copy  %read  copy/read GB/s | torch ms  torch GB/s  ours/torch  diff"

    static func pad(_ text: String, _ width: Int, right: Bool = false) -> String {
        let fill = String(repeating: " ", count: max(0, width - text.count))
        return right ? text + fill : fill + text
    }

    static func row(_ r: Record, torch: Record? = nil) -> String {
        let layout = r.layout == "paged" ? "paged/\(r.pageSize ?? 0)" : r.layout
        var text = pad(r.dtype, 9, right: true) + pad("\(r.batch)", 3) + pad("\(r.context)", 9) + pad("\(r.kvHeads)", 4) + "  "
            + pad(layout, 11, right: true) + pad(String(format: "%.3f", r.ms), 9) + pad(String(format: "%.1f", r.gbps), 10)
            + pad(String(format: "%.0f%%", r.percentOfCopy), 7) + pad(String(format: "%.0f%%", r.percentOfRead), 7)
            + pad(String(format: "%.1f/%.1f", r.copyGBps, r.readGBps), 16) + " |"
        if let torch {
            text += pad(String(format: "%.3f", torch.ms), 9) + pad(String(format: "%.1f", torch.gbps), 12)
                + pad(String(format: "%.2fx", torch.ms / r.ms), 12)
                + pad(torch.relativeDifference.map { String(format: "%.1e", $0) } ?? "-", 9)
        }
        return text
    }

    static func csv(_ report: Report) -> String {
        var lines = ["implementation,dtype,batch,context,heads,kv_heads,head_dim,layout,page_size,ms,cache_bytes,gbps,percent_of_copy,percent_of_read,copy_gbps,read_gbps,relative_difference"]
        for r in report.records {
            lines.append([r.implementation, r.dtype, "\(r.batch)", "\(r.context)", "\(r.heads)", "\(r.kvHeads)", "\(r.headDim)",
                          r.layout, r.pageSize.map(String.init) ?? "", String(format: "%.4f", r.ms), "\(r.cacheBytes)",
                          String(format: "%.2f", r.gbps), String(format: "%.1f", r.percentOfCopy),
                          String(format: "%.1f", r.percentOfRead), String(format: "%.2f", r.copyGBps),
                          String(format: "%.2f", r.readGBps), r.relativeDifference.map { String(format: "%.3g", $0) } ?? ""]
                .joined(separator: ","))
        }
        return lines.joined(separator: "\n") + "\n"
    }
}
