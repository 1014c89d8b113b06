import ArgumentParser
import CUDADriver
import Dispatch
import Foundation
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionReference
import Synchronization

/// `flash-attn backward-bench`: the CUDA backward on the GPU: timings on the reference grid
/// (CUDA events, device-resident tensors), a bitwise-determinism check, a small set of
/// problems for compute-sanitizer, and parallel pre-compilation of the kernels a `verify`
/// sweep will need.
public struct BackwardBenchCommand: ParsableCommand {
    public static let configuration = CommandConfiguration(
        commandName: "backward-bench",
        abstract: "Time and check the CUDA backward (grid timings, determinism, sanitizer problems).",
        discussion: """
            --bench times the backward alone (after our forward produced O and LSE) on the \
            reference grid: 16384 tokens per batch, hidden 2048, D 64/128/256, N 512…16k, causal \
            and not, bf16 and fp16; FLOPs = 2.5 · 4·B·H·N²·D (halved for causal). \
            --determinism N reruns the backward N times per problem and compares the bytes of \
            dQ, dK and dV. --sanitize runs a few small problems once (for compute-sanitizer). \
            --warm-verify N compiles, in parallel, every kernel `flash-attn verify` needs for \
            its first N cases, so the sweep itself does not wait on NVRTC.
            """)

    @Flag(help: "Time the reference grid.")
    var bench = false
    @Option(help: "With --bench: write CSV here.")
    var csv: String?
    @Option(help: "With --bench: head dims (comma-separated).")
    var headDims = "64,128,256"
    @Option(help: "With --bench: sequence lengths (comma-separated).")
    var seqlens = "512,1024,2048,4096,8192,16384"
    @Option(help: "With --bench: element types (bf16, fp16).")
    var dtypes = "bf16,fp16"
    @Option(help: "With --bench: timed calls per point (median).")
    var iterations = 10
    @Flag(help: "With --bench: time calls that allow non-deterministic gradients (AttentionOptions.deterministic = false); with --check-dims: check such calls against the oracle.")
    var nondeterministic = false
    @Option(help: "Rerun each determinism problem this many times.")
    var determinism: Int?
    @Flag(help: "Run the small sanitizer problems once each.")
    var sanitize = false
    @Option(help: "Pre-compile the kernels of this many verify cases.")
    var warmVerify: Int?
    @Option(help: "With --warm-verify: the verify seed.")
    var seed: UInt64 = 1
    @Option(help: "With --warm-verify: parallel compiles.")
    var jobs = 16
    @Option(help: "Random float64-oracle cases (forward and backward) pinned to these head dims (comma-separated), contiguous layouts.")
    var checkDims: String?
    @Option(help: "With --check-dims: cases per head dim and element type.")
    var checkCases = 8
    @Flag(help: "With --check-dims: dense problems only (no varlen, no softcap/ALiBi/dropout/window; every other case causal), the ones the Hopper warp-specialised backward takes.")
    var checkDense = false

    public init() {}

    @Flag(help: "Compile, in parallel, the backward kernels of the --bench grid in every dQ mode (separate, ordered, atomic) and the forward kernels it runs first.")
    var warmBench = false

    public func run() throws {
        if warmBench { try warmGrid() }
        if let warmVerify { try warm(cases: warmVerify) }
        if let checkDims { try checkPinned(checkDims) }
        if let determinism { try checkDeterminism(runs: determinism) }
        if sanitize { try runSanitizerProblems() }
        if bench { try runBench() }
    }

    // MARK: - Pre-compilation

    /// The verify sweep stages host tensors into contiguous device buffers, so its kernels are
    /// those of contiguous views of the same shapes and types.
    func warm(cases: Int) throws {
        let backend = try CUDABackend()
        let generator = ProblemGenerator(seed: seed, elementTypes: [.float16, .bfloat16], maxWork: 3_000_000)
        var specs = (0..<cases).map { generator.spec(index: $0) }
        for D in (checkDims ?? "").split(separator: ",").compactMap({ Int($0) }) {
            for type in [ElementType.bfloat16, .float16] {
                let pinned = ProblemGenerator(seed: seed &+ UInt64(D), elementTypes: [type], maxWork: 2_000_000)
                specs += (0..<checkCases).map { pinned.spec(index: $0, constraints: pinnedConstraints(headDim: D, index: $0)) }
            }
        }
        var forward = Set<AttentionKernelDescriptor>(), backward = Set<BackwardKernelDescriptor>()
        var hopper = Set<HopperBackwardDescriptor>()
        let fake = UnsafeMutableRawPointer(bitPattern: 1 << 20)!
        for spec in specs {
            let problem = RandomProblem(spec)
            func device(_ view: TensorView) -> TensorView {
                TensorView(data: fake, elementType: view.elementType, shape: view.shape, device: .cuda(ordinal: 0))
            }
            var f = problem.forwardArguments
            (f.q, f.k, f.v, f.out) = (device(f.q), device(f.k), device(f.v), device(f.out))
            f.lse = f.lse.map(device)
            if let d = try? backend.plan(f).descriptor { forward.insert(d) }
            var b = problem.backwardArguments
            (b.q, b.k, b.v, b.out, b.dOut, b.lse) = (device(b.q), device(b.k), device(b.v), device(b.out), device(b.dOut), device(b.lse))
            (b.dq, b.dk, b.dv) = (device(b.dq), device(b.dk), device(b.dv))
            // The kernels that will run: on sm_90 often the warp-specialised backward.
            switch try? backend.backwardRoute(b) {
            case .hopper(let kernels): hopper.formUnion(kernels)
            case .generic(let plan): backward.formUnion(plan.all)
            case nil: break
            }
        }
        let start = monotonic()
        let forwardList = Array(forward), backwardList = Array(backward), hopperList = Array(hopper)
        let total = forwardList.count + backwardList.count + hopperList.count, workers = max(1, self.jobs)
        let failures = Mutex<[String]>([])
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: total, by: workers) {
                do {
                    if i < forwardList.count { _ = try KernelCompiler.compile(forwardList[i]) }
                    else if i < forwardList.count + backwardList.count {
                        _ = try GeneratedKernelCompiler.compile(backwardList[i - forwardList.count])
                    } else { _ = try GeneratedKernelCompiler.compile(hopperList[i - forwardList.count - backwardList.count]) }
                } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        let failed = failures.withLock { $0 }
        print("warm: \(forward.count) forward + \(backward.count + hopper.count) backward kernels for \(cases) verify cases in \(Int(monotonic() - start)) s, \(failed.count) failed")
        for f in failed.prefix(5) { print("  \(f.prefix(400))") }
    }

    /// The grid's kernels: every (type, D, causal) in each dQ mode, plus the forward's.
    func warmGrid() throws {
        let backend = try CUDABackend()
        let dims = headDims.split(separator: ",").compactMap { Int($0) }
        let types: [ElementType] = dtypes.split(separator: ",").map { $0 == "fp16" ? .float16 : .bfloat16 }
        var backward = Set<BackwardKernelDescriptor>(), forward = Set<AttentionKernelDescriptor>()
        let fake = UnsafeMutableRawPointer(bitPattern: 1 << 20)!
        for type in types {
            for D in dims {
                for causal in [false, true] {
                    for mode in BackwardDQMode.allCases {
                        var problem = BackwardProblem(elementType: type, headDim: D, mask: causal ? .causal : .none)
                        problem.deterministic = mode != .atomic
                        if let plan = try? BackwardHeuristics.plan(for: problem, architecture: backend.architecture, dqMode: mode) {
                            backward.formUnion(plan.all)
                        }
                    }
                    let shape = [1, 1024, 2048 / D, D]
                    func view(_ s: [Int], _ t: ElementType = type) -> TensorView { TensorView(data: fake, elementType: t, shape: s, device: .cuda(ordinal: 0)) }
                    let f = ForwardArguments(q: view(shape), k: view(shape), v: view(shape), out: view(shape),
                                             lse: view([1, 2048 / D, 1024], .float32), options: AttentionOptions(causal: causal))
                    if let d = try? backend.plan(f).descriptor { forward.insert(d) }
                }
            }
        }
        let start = monotonic()
        let list = Array(backward), forwardList = Array(forward)
        let total = list.count + forwardList.count
        let failures = Mutex<[String]>([])
        let workers = max(1, jobs)
        DispatchQueue.concurrentPerform(iterations: workers) { worker in
            for i in stride(from: worker, to: total, by: workers) {
                do {
                    if i < list.count { _ = try GeneratedKernelCompiler.compile(list[i]) } else { _ = try KernelCompiler.compile(forwardList[i - list.count]) }
                } catch { failures.withLock { $0.append("\(error)") } }
            }
        }
        let failed = failures.withLock { $0 }
        print("warm-bench: \(list.count) backward + \(forwardList.count) forward kernels in \(Int(monotonic() - start)) s, \(failed.count) failed")
        for f in failed.prefix(5) { print("  \(f.prefix(400))") }
    }

    /// The constraints of pinned case `index`: contiguous views; with `--check-dense` also no
    /// varlen and no option but a causal mask on odd cases, so that a forced Hopper backward
    /// (`FLASH_ATTENTION_HOPPER_BWD=1`) takes every case instead of handing most of them on.
    func pinnedConstraints(headDim: Int, index: Int) -> ProblemConstraints {
        guard checkDense else { return ProblemConstraints(headDim: headDim, strided: false) }
        return ProblemConstraints(headDim: headDim, options: index % 2 == 1 ? [.causal] : [], varlen: false, strided: false)
    }

    /// Oracle cases at fixed head dims (the random sweep draws D from a short list), with
    /// contiguous tensors so the vectorized (and on sm_90a, wgmma) kernels run.
    func checkPinned(_ dims: String) throws {
        let backend = try CUDABackend()
        let verifier = Verifier(backend: backend)
        var passed = 0, failed = 0
        for D in dims.split(separator: ",").compactMap({ Int($0) }) {
            for type in [ElementType.bfloat16, .float16] {
                let generator = ProblemGenerator(seed: seed &+ UInt64(D), elementTypes: [type], maxWork: 2_000_000)
                for i in 0..<checkCases {
                    var spec = generator.spec(index: i, constraints: pinnedConstraints(headDim: D, index: i))
                    spec.deterministic = !nondeterministic
                    let result = verifier.verify(spec, backward: true)
                    if result.passed { passed += 1 } else { failed += 1; print("check D=\(D) \(type) #\(i) \(result)") }
                }
            }
        }
        print("pinned head dims \(dims): \(passed) passed, \(failed) failed")
    }

    // MARK: - Device problems

    /// Random device tensors for one problem, with our forward's O and LSE.
    final class DeviceProblem {
        let q, k, v, out, dOut, dq, dk, dv: CUDATensor
        let lse: CUDATensor
        let arguments: BackwardArguments

        init(batch: Int, seqlenQ: Int, seqlenK: Int, heads: Int, kvHeads: Int, headDim: Int, type: ElementType,
             options: AttentionOptions, backend: CUDABackend, stream: CUDAStream, seed: UInt64) throws {
            let context = backend.context
            func tensor(_ shape: [Int], _ t: ElementType = type, random: UInt64? = nil) throws -> CUDATensor {
                let x = try CUDATensor(shape: shape, elementType: t, context: context)
                if let random {
                    let bits = DeviceProblem.randomBits(count: x.elementCount, type: t, seed: random)
                    try bits.withUnsafeBytes { try x.buffer.copy(from: $0, stream: stream) }
                } else {
                    try x.buffer.fill(byte: 0xFF, stream: stream)
                }
                return x
            }
            let qs = [batch, seqlenQ, heads, headDim], ks = [batch, seqlenK, kvHeads, headDim]
            q = try tensor(qs, random: seed); k = try tensor(ks, random: seed + 1); v = try tensor(ks, random: seed + 2)
            dOut = try tensor(qs, random: seed + 3)
            out = try tensor(qs); lse = try tensor([batch, heads, seqlenQ], .float32)
            dq = try tensor(qs); dk = try tensor(ks); dv = try tensor(ks)
            try backend.forward(ForwardArguments(q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: options))
            arguments = BackwardArguments(dOut: dOut.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
                                          dq: dq.view, dk: dk.view, dv: dv.view, options: options)
        }

        /// Uniform values in [−1, 1) as 16-bit storage bits (xorshift), in chunks of 2²⁰ elements generated in
        /// parallel: a --bench point fills four 32M-element tensors (16k tokens × hidden 2048), which one thread took
        /// most of a point's wall time for (session 14). Chunk 0 continues the original single stream, so tensors of
        /// up to 2²⁰ elements (the --sanitize problems) keep their values; chunk c > 0 starts from its own mixed seed
        /// (the --determinism problems, 2 × 1000 × 8 × D, change past element 2²⁰ but stay fixed per seed).
        static func randomBits(count: Int, type: ElementType, seed: UInt64) -> [UInt16] {
            let chunk = 1 << 20, chunks = (count + chunk - 1) / chunk
            let bfloat16 = type == .bfloat16
            var bits = [UInt16](repeating: 0, count: count)
            bits.withUnsafeMutableBufferPointer { buffer in
                // An address, not the pointer: the closure is @Sendable; chunks write disjoint ranges.
                let address = UInt(bitPattern: buffer.baseAddress)
                DispatchQueue.concurrentPerform(iterations: chunks) { c in
                    guard let out = UnsafeMutablePointer<UInt16>(bitPattern: address) else { return }
                    var state = (c == 0 ? seed : seed ^ (UInt64(c) &* 0xD1B5_4A32_D192_ED03)) &* 0x9E37_79B9_7F4A_7C15 | 1
                    for i in (c * chunk)..<min(count, (c + 1) * chunk) {
                        state ^= state << 13; state ^= state >> 7; state ^= state << 17
                        let x = Float(Int32(truncatingIfNeeded: state >> 32)) * 0x1p-31
                        out[i] = bfloat16 ? HalfConversion.bfloat16Bits(x) : HalfConversion.float16Bits(x)
                    }
                }
            }
            return bits
        }

        func gradientBytes(stream: CUDAStream) throws -> [UInt8] {
            var all: [UInt8] = []
            for t in [dq, dk, dv] {
                var bytes = [UInt8](repeating: 0, count: t.byteCount)
                try bytes.withUnsafeMutableBytes { try t.buffer.copy(to: $0, stream: stream) }
                all += bytes
            }
            return all
        }
    }

    func checkDeterminism(runs: Int) throws {
        let base = try CUDABackend()
        let stream = try CUDAStream(context: base.context)
        let backend = try CUDABackend(stream: stream.handle)
        var lines: [String] = []
        var allSame = true
        let cases: [(Int, ElementType, AttentionOptions, String)] = [
            (64, .bfloat16, AttentionOptions(causal: true), "causal"),
            (128, .bfloat16, AttentionOptions(causal: true, dropout: Dropout(probability: 0.1, seed: 5)), "causal+dropout"),
            (128, .float16, AttentionOptions(), "none"),
            (256, .bfloat16, AttentionOptions(causal: true), "causal"),
            (80, .float16, AttentionOptions(window: SlidingWindow(left: 100, right: 30), softcap: 20), "window+softcap"),
        ]
        for (D, type, options, label) in cases {
            let problem = try DeviceProblem(batch: 2, seqlenQ: 1000, seqlenK: 1100, heads: 8, kvHeads: 2, headDim: D, type: type,
                                            options: options, backend: backend, stream: stream, seed: 11)
            try backend.backward(problem.arguments)
            let first = try problem.gradientBytes(stream: stream)
            var same = 0
            for _ in 0..<runs {
                try problem.dq.buffer.fill(byte: 0xFF, stream: stream)
                try problem.dk.buffer.fill(byte: 0xFF, stream: stream)
                try problem.dv.buffer.fill(byte: 0xFF, stream: stream)
                try backend.backward(problem.arguments)
                if try problem.gradientBytes(stream: stream) == first { same += 1 }
            }
            allSame = allSame && same == runs
            lines.append("determinism D=\(D) \(type) \(label) GQA 8/2 Sq=1000 Sk=1100: \(same)/\(runs) reruns bitwise identical")
        }
        for line in lines { print(line) }
        print("determinism: \(allSame ? "all bitwise identical" : "DIFFERENCES FOUND")")
    }

    /// Small problems covering each kernel shape and option, run once (compute-sanitizer).
    func runSanitizerProblems() throws {
        let base = try CUDABackend()
        let stream = try CUDAStream(context: base.context)
        let backend = try CUDABackend(stream: stream.handle)
        let slopes = Tensor(shape: [4], elementType: .float32)
        for h in 0..<4 { slopes.view.store(Float(h + 1) * 0.125, at: h) }
        let cases: [(Int, Int, Int, ElementType, AttentionOptions)] = [
            (64, 130, 130, .bfloat16, AttentionOptions(causal: true)),
            (128, 77, 200, .float16, AttentionOptions(window: SlidingWindow(left: 20, right: 5), softcap: 10,
                                                      alibi: ALiBi(slopes: slopes.view), dropout: Dropout(probability: 0.3, seed: 9))),
            (256, 150, 90, .bfloat16, AttentionOptions(causal: true, dropout: Dropout(probability: 0.2, seed: 3))),
            (40, 65, 70, .float16, AttentionOptions()),
        ]
        for (D, sq, sk, type, options) in cases {
            let problem = try DeviceProblem(batch: 1, seqlenQ: sq, seqlenK: sk, heads: 4, kvHeads: 2, headDim: D, type: type,
                                            options: options, backend: backend, stream: stream, seed: 3)
            try backend.backward(problem.arguments)
            try stream.synchronize()
            let bytes = try problem.gradientBytes(stream: stream)
            let unwritten = stride(from: 0, to: bytes.count, by: 2).filter { bytes[$0] == 0xFF && bytes[$0 + 1] == 0xFF }.count
            print("sanitize D=\(D) Sq=\(sq) Sk=\(sk) \(type): \(try backend.backwardRoute(problem.arguments).kernelNames.joined(separator: " ")) unwritten=\(unwritten)")
        }
        withExtendedLifetime(slopes) {}
    }

    // MARK: - Grid timings

    func runBench() throws {
        let base = try CUDABackend()
        let context = base.context
        try context.makeCurrent()
        let stream = try CUDAStream(context: context)
        let backend = try CUDABackend(stream: stream.handle)
        let dims = headDims.split(separator: ",").compactMap { Int($0) }
        let lengths = seqlens.split(separator: ",").compactMap { Int($0) }
        let types: [ElementType] = dtypes.split(separator: ",").map { $0 == "fp16" ? .float16 : .bfloat16 }
        var rows: [String] = ["dtype,headdim,seqlen,causal,batch,heads,ms,tflops,variant"]
        print("device: \(context.device.name)")
        for type in types {
            for D in dims {
                for N in lengths {
                    let B = 16384 / N, H = 2048 / D
                    for causal in [false, true] {
                        let options = AttentionOptions(causal: causal, deterministic: !nondeterministic)
                        let problem = try DeviceProblem(batch: B, seqlenQ: N, seqlenK: N, heads: H, kvHeads: H, headDim: D, type: type,
                                                        options: options, backend: backend, stream: stream, seed: UInt64(D * 7 + N))
                        // The kernels actually launched (the Hopper ones where they apply).
                        let variant = try backend.backwardRoute(problem.arguments).kernelNames.joined(separator: "+")
                        for _ in 0..<2 { try backend.backward(problem.arguments) }
                        try stream.synchronize()
                        let events = try (0...iterations).map { _ in try CUDAEvent(context: context) }
                        try events[0].record(on: stream)
                        for i in 1...iterations {
                            try backend.backward(problem.arguments)
                            try events[i].record(on: stream)
                        }
                        try events[iterations].synchronize()
                        var times: [Double] = []
                        for i in 1...iterations { times.append(try CUDAEvent.elapsedMilliseconds(from: events[i - 1], to: events[i])) }
                        times.sort()
                        let ms = times[times.count / 2]
                        let flops = 2.5 * 4.0 * Double(B * H) * Double(N) * Double(N) * Double(D) * (causal ? 0.5 : 1)
                        let tflops = flops / (ms * 1e-3) / 1e12
                        let name = type == .bfloat16 ? "bf16" : "fp16"
                        rows.append("\(name),\(D),\(N),\(causal ? 1 : 0),\(B),\(H),\(ms),\(tflops),\(variant)")
                        print("\(name) D=\(D) N=\(N)\(causal ? " causal" : "") \(String(format: "%.3f", ms)) ms \(String(format: "%.1f", tflops)) TFLOP/s")
                    }
                }
            }
        }
        if let csv {
            let text = rows.joined(separator: "\n") + "\n"
            guard let file = fopen(csv, "w") else { throw ValidationError("cannot write \(csv)") }
            fputs(text, file)
            fclose(file)
        }
    }

    func monotonic() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_MONOTONIC, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
}
