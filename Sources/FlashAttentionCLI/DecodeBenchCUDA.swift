import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// `flash-attn bench --decode --device cuda`: one decoding step (Sq = 1, one new token appended
/// in place) over a KV cache in GPU memory, as GB/s of cache read against the device's copy
/// bandwidth measured in the same run (`cuMemcpyDtoD` of 1 GiB, counting read and write, as the
/// issue's 3.02 TB/s does), with PyTorch's `scaled_dot_product_attention(..., enable_gqa=True)`
/// timed on the same contiguous cache (same values, in its preferred (B, Hk, S, D) layout).
///
/// The caches are a 32 Mi-element random pattern repeated over the (B, S, Hk, D) buffer; torch
/// builds the identical cache on its side from the same pattern file, plus the appended token,
/// so the outputs are compared too. Paged caches are the same memory cut into pages of 16 or
/// 256 rows and visited through a shuffled block table.
///
/// Timing (CUDA events, same rule for torch): a cache smaller than 4× the L2 cache is timed per
/// call with the L2 flushed before each (a 256 MiB memset), the median kept; a larger one is
/// timed as `repeats` back-to-back calls (each call streams more than L2 holds), so host work
/// overlaps the previous call's kernels as it does in a decoding loop. The time of a call
/// includes everything it queues: the append, attention and combine kernels.
struct DecodeBenchCUDA {
    let command: BenchCommand
    let backend: CUDABackend

    static let patternElements = 32 << 20
    /// `FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous`: time the contiguous cache only (split
    /// and kernel sweeps on a device, where the paged layouts would triple the call).
    static let pagedLayouts = ProcessInfo.processInfo.environment["FLASH_ATTENTION_BENCH_DECODE_LAYOUTS"] != "contiguous"
    /// `FLASH_ATTENTION_BENCH_DECODE_HOST=1` (or `on`): also print each point's host time to queue a call
    /// and its back-to-back GPU time per call (the host-overhead question of issue 6).
    static let measureHost = DecodeBench.switchKnob("FLASH_ATTENTION_BENCH_DECODE_HOST")
    static let flushBytes = 256 << 20
    /// `FLASH_ATTENTION_BENCH_DECODE_FLUSH=clean`: a diagnostic — our calls are timed after an L2
    /// flush that leaves clean lines (``DecodeBenchRead/flushL2(_:clean:multiprocessors:sink:stream:)``)
    /// instead of the memset's dirty ones; torch keeps the memset, so compare with `--no-torch`.
    static let cleanFlush = ProcessInfo.processInfo.environment["FLASH_ATTENTION_BENCH_DECODE_FLUSH"] == "clean"
    /// `FLASH_ATTENTION_BENCH_DECODE_SPLITS=n`: the contiguous call's `numSplits` (split-count
    /// sweeps on a device; 0 or unset: the heuristic's).
    static let forcedSplits = ProcessInfo.processInfo.environment["FLASH_ATTENTION_BENCH_DECODE_SPLITS"].flatMap { Int($0) } ?? 0

    func run() throws {
        let grid = try DecodeBench.Grid(command, repeatsDefault: 20, allowsFloat32: false)
        let (heads, repeats) = (grid.heads, grid.repeats)
        let outputs = try DecodeBench.outputs(command)

        let context = backend.context
        try context.makeCurrent()
        let stream = try CUDAStream(context: context)
        let timed = try CUDABackend(ordinal: context.device.ordinal, stream: stream.handle)
        let flush = try CUDABuffer(byteCount: DecodeBenchCUDA.flushBytes, context: context)
        // The pure-read ceiling kernel (`FLASH_ATTENTION_BENCH_DECODE_READ=1`), loaded once here.
        let reader = DecodeBenchRead.enabled || DecodeBenchCUDA.cleanFlush
            ? try DecodeBenchRead(context: context, architecture: timed.architecture) : nil
        let copyGBps = try DecodeBenchCUDA.copyBandwidth(context: context, stream: stream)

        var peer: DecodeBenchTorch?
        var torchNote: String?
        if !command.noTorch {
            do { peer = try DecodeBenchTorch(threads: 1, script: DecodeBenchCUDA.torchScript) } catch { torchNote = "torch: not compared (\(CLIError(error).message))" }
        }
        let scratch = "/dev/shm/flash-attn-decode-\(getpid())"
        try? FileManager.default.createDirectory(atPath: scratch, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: scratch) }

        let device = context.device
        var report = DecodeBench.Report(command: (["flash-attn"] + CommandLine.arguments.dropFirst()).joined(separator: " "),
                                        cpu: device.name, threads: device.multiprocessorCount, torch: peer?.version,
                                        copyGBps: copyGBps, readGBps: 0, records: [], skipped: [])
        let points = grid.points
        let progress = ProgressLine(total: points.count, enabled: stdoutIsTerminal && !command.quiet)
        progress.line("flash-attn bench --decode: cuda, \(device.name) (\(device.multiprocessorCount) SMs); H=\(heads) D=\(DecodeBench.headDim), Sq=1 with 1 token appended"
            + (peer.map { ", torch \($0.version) SDPA on the same contiguous cache" } ?? ""))
        progress.line(String(format: "device copy bandwidth (cuMemcpyDtoD, 1 GiB, read + write): %.1f GB/s", copyGBps))
        progress.line(DecodeBenchCUDA.header)
        let cap = Int(Double(device.totalMemory) * 0.42)
        for (type, hk, b, s) in points {
            let bytes = 2 * b * s * hk * DecodeBench.headDim * type.byteCount
            let label = "\(type) B=\(b) context=\(s) Hk=\(hk)"
            guard bytes <= cap else {
                report.skipped.append("\(label): cache \(bytes >> 20) MiB > \(cap >> 20) MiB (42% of the device's memory, so torch's copy fits after ours is freed)")
                progress.advance()
                continue
            }
            progress.update(label)
            let records = try measure(type: type, batch: b, context: s, heads: heads, kvHeads: hk, repeats: repeats,
                                      backend: timed, stream: stream, flush: flush, reader: reader, peer: peer, scratch: scratch,
                                      copyGBps: copyGBps)
            report.records += records
            let torch = records.first { $0.implementation.hasPrefix("torch") }
            for record in records where !record.implementation.hasPrefix("torch") && !record.implementation.hasPrefix("pure") {
                progress.line(DecodeBenchCUDA.row(record, torch: record.layout == "contiguous" ? torch : nil))
            }
            progress.advance()
        }
        try DecodeBench.finish(report, command: command, progress: progress, torchNote: torchNote, outputs: outputs)
    }

    /// Best of five 1 GiB device-to-device copies, counting bytes read and written.
    static func copyBandwidth(context: CUDAContext, stream: CUDAStream) throws -> Double {
        let bytes = 1 << 30
        let a = try CUDABuffer(byteCount: bytes, context: context), b = try CUDABuffer(byteCount: bytes, context: context)
        try a.fill(byte: 1, stream: stream)
        let start = try CUDAEvent(context: context), end = try CUDAEvent(context: context)
        var best = Double.infinity
        for _ in 0..<6 {
            try start.record(on: stream)
            try CUDAMemory.copy(deviceToDevice: b.address, from: a.address, byteCount: bytes, stream: stream)
            try end.record(on: stream)
            try end.synchronize()
            best = min(best, try CUDAEvent.elapsedMilliseconds(from: start, to: end))
        }
        return 2 * Double(bytes) / (best * 1e-3) / 1e9
    }

    /// The repeated random pattern both sides build their caches from (uniform, unit variance).
    static func pattern(_ type: ElementType, seed: UInt64) -> Tensor {
        var state = seed
        return DecodeBench.random([patternElements], type, &state)
    }

    /// Fills a device buffer with `pattern` repeated: the pattern once, then doubling copies.
    static func fill(_ buffer: CUDABuffer, with pattern: Tensor, stream: CUDAStream) throws {
        let patternBytes = pattern.elementCount * pattern.elementType.byteCount
        let first = min(patternBytes, buffer.byteCount)
        try buffer.copy(from: UnsafeRawBufferPointer(start: pattern.storage.baseAddress!, count: first), stream: stream)
        var filled = first
        while filled < buffer.byteCount {
            let n = min(filled, buffer.byteCount - filled)
            try CUDAMemory.copy(deviceToDevice: buffer.address + CUdeviceptr(filled), from: buffer.address, byteCount: n, stream: stream)
            filled += n
        }
    }

    func measure(type: ElementType, batch: Int, context: Int, heads: Int, kvHeads: Int, repeats: Int,
                 backend: CUDABackend, stream: CUDAStream, flush: CUDABuffer, reader: DecodeBenchRead?, peer: DecodeBenchTorch?,
                 scratch: String, copyGBps: Double) throws -> [DecodeBench.Record] {
        let d = DecodeBench.headDim
        let cacheBytes = 2 * batch * context * kvHeads * d * type.byteCount
        let perCall = cacheBytes < 4 * 50 * (1 << 20)
        func record(_ name: String, _ layout: String, _ page: Int?, _ samples: [Double]) -> DecodeBench.Record {
            let ms = BenchCommand.median(samples)
            let gbps = Double(cacheBytes) / (ms * 1e-3) / 1e9
            return DecodeBench.Record(implementation: name, dtype: type.rawValue, batch: batch, context: context, heads: heads,
                                      kvHeads: kvHeads, headDim: d, layout: layout, pageSize: page, ms: ms, samplesMs: samples,
                                      cacheBytes: cacheBytes, gbps: gbps, copyGBps: copyGBps, readGBps: 0,
                                      percentOfCopy: 100 * gbps / copyGBps, percentOfRead: 0)
        }
        var seed = UInt64(batch &* 1_000_003 &+ context &* 31 &+ kvHeads)
        let q = DecodeBench.random([batch, 1, heads, d], type, &seed)
        let kNew = DecodeBench.random([batch, 1, kvHeads, d], type, &seed)
        let vNew = DecodeBench.random([batch, 1, kvHeads, d], type, &seed)
        let kPattern = DecodeBenchCUDA.pattern(type, seed: 11), vPattern = DecodeBenchCUDA.pattern(type, seed: 12)
        var records: [DecodeBench.Record] = []
        var oursOut: [Float] = []
        let ctx = backend.context
        let start = try CUDAEvent(context: ctx), end = try CUDAEvent(context: ctx)
        let lengths = [Int32](repeating: Int32(context - 1), count: batch)
        let options = AttentionOptions(causal: true)
        do {
            func upload(_ tensor: Tensor) throws -> CUDATensor {
                let t = try CUDATensor(shape: tensor.shape, elementType: type, context: ctx)
                try t.copy(from: tensor.view, stream: stream)
                return t
            }
            let dq = try upload(q), dk = try upload(kNew), dv = try upload(vNew)
            let kCache = try CUDATensor(shape: [batch, context, kvHeads, d], elementType: type, context: ctx)
            let vCache = try CUDATensor(shape: [batch, context, kvHeads, d], elementType: type, context: ctx)
            try DecodeBenchCUDA.fill(kCache.buffer, with: kPattern, stream: stream)
            try DecodeBenchCUDA.fill(vCache.buffer, with: vPattern, stream: stream)
            let out = try CUDATensor(shape: q.shape, elementType: type, context: ctx)
            let lse = try CUDATensor(shape: [batch, heads, 1], elementType: .float32, context: ctx)
            try stream.synchronize()

            let flushSink = try CUDABuffer(byteCount: 256, context: ctx)
            func time(_ arguments: KVCacheArguments) throws -> [Double] {
                try backend.forwardWithKVCache(arguments)  // compile, load, upload the index arrays
                try backend.forwardWithKVCache(arguments)
                try stream.synchronize()
                if perCall {
                    return try (0..<repeats).map { _ in
                        if DecodeBenchCUDA.cleanFlush, let reader {
                            try reader.flushL2(flush, clean: true, multiprocessors: ctx.device.multiprocessorCount, sink: flushSink, stream: stream)
                        } else {
                            try flush.fill(byte: 0, stream: stream)
                        }
                        try start.record(on: stream)
                        try backend.forwardWithKVCache(arguments)
                        try end.record(on: stream)
                        try end.synchronize()
                        return try CUDAEvent.elapsedMilliseconds(from: start, to: end)
                    }
                }
                // Three batches of back-to-back calls; each sample is a batch's mean.
                return try (0..<3).map { _ in
                    try start.record(on: stream)
                    for _ in 0..<repeats { try backend.forwardWithKVCache(arguments) }
                    try end.record(on: stream)
                    try end.synchronize()
                    return try CUDAEvent.elapsedMilliseconds(from: start, to: end) / Double(repeats)
                }
            }
            let ours = "flash-attn cuda"
            let contiguous = KVCacheArguments(q: dq.view, kCache: kCache.view, vCache: vCache.view, k: dk.view, v: dv.view,
                                              cacheSeqlens: lengths, out: out.view, lse: lse.view, options: options,
                                              numSplits: DecodeBenchCUDA.forcedSplits)
            records.append(record(ours, "contiguous", nil, try time(contiguous)))
            if let reader, DecodeBenchRead.enabled {
                // The pure-read ceiling of the same bytes, timed the same way.
                let sink = try CUDABuffer(byteCount: 256, context: ctx)
                let read = try reader.measure(a: kCache.buffer.address, b: vCache.buffer.address, bytesEach: cacheBytes / 2,
                                              multiprocessors: ctx.device.multiprocessorCount, perCall: perCall, repeats: repeats,
                                              flush: flush, sink: sink, stream: stream, context: ctx)
                let ceiling = record("pure read cuda", "contiguous", nil, [read.ms])
                records.append(ceiling)
                say(String(format: "read ceiling B=%d context=%d Hk=%d: %.2f us (%.0f GB/s, %.0f%% of copy; %d CTAs/SM) — ours %.2f us = %.0f%% of it",
                           batch, context, kvHeads, read.ms * 1000, ceiling.gbps, ceiling.percentOfCopy, read.ctasPerSM,
                           records[0].ms * 1000, 100 * read.ms / records[0].ms))
                if DecodeBenchRead.allForms {
                    // Diagnostics: bulk copies, and both reads after a flush that leaves clean lines.
                    let sms = ctx.device.multiprocessorCount
                    let a = kCache.buffer.address, b = vCache.buffer.address, each = cacheBytes / 2
                    let ldgClean = try reader.measure(a: a, b: b, bytesEach: each, multiprocessors: sms, perCall: perCall, repeats: repeats,
                                                      clean: true, flush: flush, sink: sink, stream: stream, context: ctx)
                    records.append(record("pure read cuda clean-l2", "contiguous", nil, [ldgClean.ms]))
                    var line = String(format: "read forms B=%d context=%d Hk=%d: ldg %.2f us (dirty L2) / %.2f us (clean L2, %d CTAs/SM)",
                                      batch, context, kvHeads, read.ms * 1000, ldgClean.ms * 1000, ldgClean.ctasPerSM)
                    for clean in [false, true] {
                        if let bulk = try reader.measureBulk(a: a, b: b, bytesEach: each, multiprocessors: sms, perCall: perCall,
                                                             repeats: repeats, clean: clean, flush: flush, sink: sink, stream: stream, context: ctx) {
                            records.append(record("pure read bulk cuda" + (clean ? " clean-l2" : ""), "contiguous", nil, [bulk.ms]))
                            line += String(format: "; bulk %.2f us", bulk.ms * 1000) + " (\(clean ? "clean" : "dirty") L2; \(bulk.shape))"
                        }
                    }
                    say(line)
                }
            }
            if DecodeBenchCUDA.measureHost {
                // Where a call's time goes: host time to queue one call (wall clock, no sync), and
                // the GPU time per call of 100 back-to-back calls (events), which exceeds the
                // per-call figure only when the host cannot keep up.
                let calls = 100
                try stream.synchronize()
                try start.record(on: stream)
                let t0 = DispatchTime.now().uptimeNanoseconds
                for _ in 0..<calls { try backend.forwardWithKVCache(contiguous) }
                let t1 = DispatchTime.now().uptimeNanoseconds
                try end.record(on: stream)
                try end.synchronize()
                let gpu = try CUDAEvent.elapsedMilliseconds(from: start, to: end) * 1000 / Double(calls)
                say(String(format: "host B=%d context=%d Hk=%d: %.2f us/call to queue, %.2f us/call back-to-back (events), %.2f us per call (median)",
                           batch, context, kvHeads, Double(t1 - t0) / 1000 / Double(calls), gpu, BenchCommand.median(records[0].samplesMs) * 1000))
            }
            let host = Tensor(shape: q.shape, elementType: type)
            try out.copy(to: host.view, stream: stream)
            oursOut = host.floats()

            for page in DecodeBench.pageSizes where context % page == 0 && DecodeBenchCUDA.pagedLayouts {
                let pages = batch * context / page, perRow = context / page
                var order = Array(0..<pages)
                var state = seed | 1
                for i in stride(from: pages - 1, to: 0, by: -1) {
                    state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    order.swapAt(i, Int((state >> 33) % UInt64(i + 1)))
                }
                func paged(_ view: TensorView) -> TensorView {
                    TensorView(data: view.data, elementType: type, shape: [pages, page, kvHeads, d], device: view.device)
                }
                let arguments = KVCacheArguments(
                    q: dq.view, kCache: paged(kCache.view), vCache: paged(vCache.view), k: dk.view, v: dv.view,
                    cacheSeqlens: lengths, blockTable: BlockTable(entries: order.map { Int32($0) }, maxBlocksPerSequence: perRow),
                    out: out.view, lse: lse.view, options: options)
                records.append(record(ours, "paged", page, try time(arguments)))
            }
            try stream.synchronize()
        }  // our device tensors are freed here, before torch allocates its copy

        guard let peer else { return records }
        var paths: [String: String] = [:]
        for (name, tensor) in [("q", q), ("knew", kNew), ("vnew", vNew), ("kpattern", kPattern), ("vpattern", vPattern)] {
            let path = scratch + "/\(name).bin"
            guard let file = fopen(path, "wb") else { throw CLIError(message: "could not write \(path) for torch") }
            let written = fwrite(tensor.storage.baseAddress!, 1, tensor.elementCount * type.byteCount, file)
            fclose(file)
            guard written == tensor.elementCount * type.byteCount else { throw CLIError(message: "could not write \(path) for torch (is /dev/shm full?)") }
            paths[name] = path
        }
        let outPath = scratch + "/out.bin"
        defer { for path in Array(paths.values) + [outPath] { unlink(path) } }
        var request: [String: Any] = ["op": "decode_cuda", "out": outPath, "batch": batch, "context": context, "heads": heads,
                                      "kv_heads": kvHeads, "head_dim": d, "dtype": type.rawValue, "repeats": repeats,
                                      "per_call": perCall, "flush_bytes": DecodeBenchCUDA.flushBytes]
        for (key, path) in paths { request[key] = path }
        let samples = try peer.decode(request)
        var torchRecord = record("torch sdpa cuda", "contiguous", nil, samples)
        if let data = FileManager.default.contents(atPath: outPath), data.count == oursOut.count * 4 {
            let theirs = data.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) }
            torchRecord.relativeDifference = BenchCommand.relativeDifference(theirs, oursOut)
        }
        records.append(torchRecord)
        return records
    }

    static let header = "dtype      B  context  Hk  layout           ms      GB/s  %copy | torch ms  torch GB/s  ours/torch  diff"

    static func row(_ r: DecodeBench.Record, torch: DecodeBench.Record? = nil) -> String {
        let pad = DecodeBench.pad
        let layout = r.layout == "paged" ? "paged/\(r.pageSize ?? 0)" : r.layout
        var text = pad(r.dtype, 9, true) + pad("\(r.batch)", 3, false) + pad("\(r.context)", 9, false) + pad("\(r.kvHeads)", 4, false) + "  "
            + pad(layout, 11, true) + pad(String(format: "%.4f", r.ms), 9, false) + pad(String(format: "%.1f", r.gbps), 10, false)
            + pad(String(format: "%.0f%%", r.percentOfCopy), 7, false) + " |"
        if let torch {
            text += pad(String(format: "%.4f", torch.ms), 9, false) + pad(String(format: "%.1f", torch.gbps), 12, false)
                + pad(String(format: "%.2fx", torch.ms / r.ms), 12, false)
                + pad(torch.relativeDifference.map { String(format: "%.1e", $0) } ?? "-", 9, false)
        }
        return text
    }

    /// The torch worker for GPU points: builds the cache from the same pattern in (B, Hk, S, D),
    /// appends the same token at position S − 1, and times SDPA with the same flush rule.
    static let torchScript = #"""
import json, sys
def main():
    import numpy as np
    import torch
    import torch.nn.functional as F
    kinds = {"bfloat16": torch.bfloat16, "float16": torch.float16}
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
            op = req.get("op")
            if op == "quit":
                break
            if op == "hello":
                reply = {"ok": True, "torch": torch.__version__ + " on " + torch.cuda.get_device_name(0)}
            elif op in ("decode", "decode_cuda"):
                B, S, H, Hk, D = (int(req[key]) for key in ("batch", "context", "heads", "kv_heads", "head_dim"))
                dtype = kinds[req["dtype"]]
                dev = torch.device("cuda")
                def raw(path, shape):
                    array = np.fromfile(path, dtype=np.uint16).reshape(shape)
                    return torch.from_numpy(array.view(np.int16)).view(dtype).to(dev)
                q = raw(req["q"], (B, 1, H, D)).permute(0, 2, 1, 3).contiguous()
                def cache(pattern_path, new_path):
                    pattern = raw(pattern_path, (-1,))
                    P = pattern.numel()
                    n = S * Hk * D
                    out = torch.empty((B, Hk, S, D), dtype=dtype, device=dev)
                    for b in range(B):
                        start = (b * n) % P
                        rolled = torch.roll(pattern, -start)
                        flat = rolled.repeat((n + P - 1) // P)[:n]
                        out[b] = flat.view(S, Hk, D).permute(1, 0, 2)
                        del rolled, flat
                    new = raw(new_path, (B, 1, Hk, D))
                    out[:, :, S - 1, :] = new[:, 0, :, :]
                    return out
                k = cache(req["kpattern"], req["knew"])
                v = cache(req["vpattern"], req["vnew"])
                kwargs = {"enable_gqa": True} if H != Hk else {}
                def run():
                    return F.scaled_dot_product_attention(q, k, v, **kwargs)
                with torch.no_grad():
                    out = run()
                    run()
                    torch.cuda.synchronize()
                    flush = torch.empty(int(req["flush_bytes"]), dtype=torch.uint8, device=dev)
                    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    repeats = int(req["repeats"])
                    times = []
                    if req["per_call"]:
                        for _ in range(repeats):
                            flush.zero_()
                            start.record()
                            run()
                            end.record()
                            end.synchronize()
                            times.append(start.elapsed_time(end))
                    else:
                        for _ in range(3):
                            start.record()
                            for _ in range(repeats):
                                run()
                            end.record()
                            end.synchronize()
                            times.append(start.elapsed_time(end) / repeats)
                out.float().permute(0, 2, 1, 3).contiguous().cpu().numpy().tofile(req["out"])
                del q, k, v, out, flush
                torch.cuda.empty_cache()
                reply = {"ok": True, "ms": times}
            else:
                reply = {"ok": False, "error": "unknown op %r" % (op,)}
        except Exception as error:
            reply = {"ok": False, "error": "%s: %s" % (type(error).__name__, error)}
            try:
                torch.cuda.empty_cache()
            except Exception:
                pass
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
main()
"""#
}
