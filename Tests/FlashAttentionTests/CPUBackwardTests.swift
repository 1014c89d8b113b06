import Testing
import FlashAttention
import FlashAttentionCPU
import FlashAttentionReference

/// The CPU backward against the float64 oracle. The backward's O and LSE come from the
/// oracle's forward (rounded into the tensors' types), so these tests stand on their own.
@Suite struct CPUBackwardTests {
    /// How a test lays its tensors out in memory.
    enum Storage {
        case contiguous
        /// (B, H, S, D) memory viewed as (B, S, H, D): unit dim stride, unusual row stride.
        case headMajor
        /// Every other element of a wider buffer: no stride is the dense one.
        case gapped
    }

    struct Problem: CustomTestStringConvertible {
        var batch = 1
        var seqlenQ: Int
        var seqlenK: Int
        var heads = 1
        var kvHeads = 1
        var headDim: Int
        var dtype = ElementType.float32
        var storage = Storage.contiguous
        var causal = false
        var window = SlidingWindow.unbounded
        var softcap: Float = 0
        var softmaxScale: Float? = nil
        /// 0: none; 1: slopes (H); 2: slopes (B, H).
        var alibiRank = 0
        var dropout: Float = 0
        /// Per-sequence (query, key) lengths of a varlen batch, and extra packed tokens after them.
        var varlen: [(Int, Int)]? = nil
        var trailingTokens = 0
        /// Added to every q and k value: large, same-signed scores (saturates a softcap).
        var shift: Float = 0
        var seed: UInt64 = 1

        var testDescription: String {
            var s = "B\(batch) Sq\(seqlenQ) Sk\(seqlenK) H\(heads) Hk\(kvHeads) D\(headDim) \(dtype)"
            if causal { s += " causal" }
            if window != .unbounded { s += " window(\(window.left),\(window.right))" }
            if softcap > 0 { s += " softcap\(softcap)" }
            if alibiRank > 0 { s += " alibi\(alibiRank)" }
            if dropout > 0 { s += " dropout\(dropout)" }
            if shift != 0 { s += " shift\(shift)" }
            if varlen != nil { s += " varlen" }
            if storage != .contiguous { s += " \(storage)" }
            return s
        }
    }

    /// A deterministic uniform generator in [−1, 1).
    struct Noise {
        var state: UInt64
        mutating func next() -> Float {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            z ^= z >> 31
            return Float(z >> 40) / Float(1 << 23) - 1
        }
    }

    /// A tensor of logical `shape` laid out as `storage` asks, and its view.
    final class Buffer {
        let backing: Tensor
        let view: TensorView

        init(shape: [Int], dtype: ElementType, storage: Storage) {
            switch (storage, shape.count) {
            case (.headMajor, 4):
                let (b, s, h, d) = (shape[0], shape[1], shape[2], shape[3])
                backing = Tensor(shape: [b, h, s, d], elementType: dtype)
                view = backing.view.transposed(1, 2)
            case (.headMajor, 3):
                let (t, h, d) = (shape[0], shape[1], shape[2])
                backing = Tensor(shape: [h, t, d], elementType: dtype)
                view = backing.view.transposed(0, 1)
            case (.gapped, _):
                var wide = shape
                wide[wide.count - 1] *= 2
                wide[0] += 1
                backing = Tensor(shape: wide, elementType: dtype)
                var strides = TensorView.contiguousStrides(for: wide)
                strides[strides.count - 1] = 2
                view = TensorView(data: backing.view.data, elementType: dtype, shape: shape, strides: strides)
            default:
                backing = Tensor(shape: shape, elementType: dtype)
                view = backing.view
            }
        }

        /// Element offsets of the logical elements in row-major order.
        var offsets: [Int] {
            var result: [Int] = []
            result.reserveCapacity(view.elementCount)
            func walk(_ axis: Int, _ base: Int) {
                if axis == view.rank { result.append(base); return }
                for i in 0..<view.shape[axis] { walk(axis + 1, base + i * view.strides[axis]) }
            }
            walk(0, 0)
            return result
        }

        func fill(_ values: [Float]) {
            for (value, offset) in zip(values, offsets) { view.store(value, at: offset) }
        }

        func values() -> [Float] { offsets.map { view.load(at: $0) } }
    }

    struct Outcome {
        let dq: [Float], dk: [Float], dv: [Float]
        let reference: ReferenceAttention.Gradients?
        let totalQRows: Int, totalKRows: Int
    }

    /// Builds the problem's tensors, runs the CPU backward with `threads` workers and the oracle.
    /// - Parameter cpuForward: take O and LSE from the CPU forward instead of the oracle's.
    static func run(_ p: Problem, threads: [Int] = [2], oracle: Bool = true, cpuForward: Bool = false) throws -> [Outcome] {
        var noise = Noise(state: p.seed)
        let D = p.headDim
        var layout: VarlenLayout? = nil
        let qShape: [Int], kShape: [Int]
        if let lengths = p.varlen {
            var cq = [0], ck = [0]
            for (lq, lk) in lengths { cq.append(cq.last! + lq); ck.append(ck.last! + lk) }
            layout = VarlenLayout(cuSeqlensQ: cq, cuSeqlensK: ck)
            qShape = [cq.last! + p.trailingTokens, p.heads, D]
            kShape = [ck.last! + p.trailingTokens, p.kvHeads, D]
        } else {
            qShape = [p.batch, p.seqlenQ, p.heads, D]
            kShape = [p.batch, p.seqlenK, p.kvHeads, D]
        }
        func random(_ shape: [Int], shift: Float = 0) -> Buffer {
            let buffer = Buffer(shape: shape, dtype: p.dtype, storage: p.storage)
            buffer.fill((0..<shape.reduce(1, *)).map { _ in noise.next() + shift })
            return buffer
        }
        let q = random(qShape, shift: p.shift), k = random(kShape, shift: p.shift)
        let v = random(kShape), dOut = random(qShape)
        let batch = layout?.batch ?? p.batch
        var slopes: Tensor? = nil
        if p.alibiRank > 0 {
            let shape = p.alibiRank == 1 ? [p.heads] : [batch, p.heads]
            slopes = try Tensor(shape: shape, values: (0..<shape.reduce(1, *)).map { _ in 0.05 + 0.4 * abs(noise.next()) })
        }
        let options = AttentionOptions(
            softmaxScale: p.softmaxScale, causal: p.causal, window: p.window, softcap: p.softcap,
            alibi: slopes.map { ALiBi(slopes: $0.view) },
            dropout: p.dropout > 0 ? Dropout(probability: p.dropout, seed: p.seed &* 7 &+ 3) : nil)

        // O and LSE from the oracle's forward, rounded into the backward's input tensors.
        let totalQ = layout.map { $0.cuSeqlensQ.last! } ?? p.batch * p.seqlenQ
        let lseShape = layout == nil ? [p.batch, p.heads, p.seqlenQ] : [p.heads, totalQ]
        let out = Buffer(shape: qShape, dtype: p.dtype, storage: p.storage)
        let lse = Tensor(shape: lseShape)
        let forward = try ReferenceAttention.forward(ForwardArguments(
            q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: options, varlen: layout))
        if cpuForward {
            try CPUBackend(threads: 2).forward(ForwardArguments(
                q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view, options: options, varlen: layout))
        } else {
            var outValues = forward.out.map(Float.init)
            outValues += [Float](repeating: 0, count: qShape.reduce(1, *) - outValues.count)
            out.fill(outValues)
            for (i, value) in forward.lse.enumerated() { lse.view.store(Float(value), at: i) }
        }

        let dq = Buffer(shape: qShape, dtype: p.dtype, storage: p.storage)
        let dk = Buffer(shape: kShape, dtype: p.dtype, storage: p.storage)
        let dv = Buffer(shape: kShape, dtype: p.dtype, storage: p.storage)
        let arguments = BackwardArguments(
            dOut: dOut.view, q: q.view, k: k.view, v: v.view, out: out.view, lse: lse.view,
            dq: dq.view, dk: dk.view, dv: dv.view, options: options, varlen: layout)
        let reference = oracle ? try ReferenceAttention.backward(arguments) : nil
        var outcomes: [Outcome] = []
        for count in threads {
            for buffer in [dq, dk, dv] { buffer.backing.poison() }
            try CPUBackend(threads: count).backward(arguments)
            outcomes.append(Outcome(dq: dq.values(), dk: dk.values(), dv: dv.values(), reference: reference,
                                    totalQRows: totalQ, totalKRows: layout.map { $0.cuSeqlensK.last! } ?? p.batch * p.seqlenK))
        }
        return outcomes
    }

    /// ‖ours − ref‖ / ‖ref‖ (absolute when ref is 0); NaN when any element is NaN or unwritten.
    static func relativeError(_ ours: [Float], _ reference: [Double]) -> Double {
        var diff = 0.0, norm = 0.0
        for (i, value) in ours.enumerated() {
            guard value.isFinite else { return .nan }
            let r = i < reference.count ? reference[i] : 0
            diff += (Double(value) - r) * (Double(value) - r)
            norm += r * r
        }
        return norm > 0 ? (diff / norm).squareRoot() : diff.squareRoot()
    }

    /// float32: the contract's 1e-5. 16-bit storage: with float32 accumulation the error is
    /// that of rounding O and the gradients into the storage type (measured ≈ 0.45 u); naive
    /// attention in 16 bits loses at least that, so 2 u is within twice its error.
    static func budget(_ dtype: ElementType) -> Double {
        dtype == .float32 ? 1e-5 : 2 * dtype.unitRoundoff
    }

    static func check(_ p: Problem, cpuForward: Bool = false) throws {
        let outcome = try run(p, cpuForward: cpuForward)[0]
        let budget = budget(p.dtype)
        let reference = try #require(outcome.reference)
        let errors = [("dq", relativeError(outcome.dq, reference.dq)),
                      ("dk", relativeError(outcome.dk, reference.dk)),
                      ("dv", relativeError(outcome.dv, reference.dv))]
        for (name, error) in errors {
            #expect(error < budget, "\(name) relative error \(error) ≥ \(budget) for \(p.testDescription)")
        }
    }

    static let shapes: [Problem] = [
        Problem(seqlenQ: 1, seqlenK: 1, headDim: 1),
        Problem(seqlenQ: 7, seqlenK: 7, headDim: 7),
        Problem(batch: 2, seqlenQ: 23, seqlenK: 113, heads: 2, headDim: 40),
        Problem(seqlenQ: 113, seqlenK: 23, heads: 2, headDim: 59),
        Problem(seqlenQ: 113, seqlenK: 113, headDim: 80, causal: true),
        Problem(seqlenQ: 23, seqlenK: 7, headDim: 111, causal: true),
        Problem(seqlenQ: 7, seqlenK: 23, headDim: 256, causal: true),
        Problem(seqlenQ: 1, seqlenK: 113, heads: 2, headDim: 59),
        Problem(seqlenQ: 113, seqlenK: 1, headDim: 40, causal: true),
        // Several key tiles, chunks and query blocks.
        Problem(seqlenQ: 300, seqlenK: 290, heads: 2, headDim: 40, causal: true),
        Problem(seqlenQ: 150, seqlenK: 420, heads: 2, kvHeads: 1, headDim: 24, window: SlidingWindow(left: 100, right: 30)),
        Problem(seqlenQ: 140, seqlenK: 300, heads: 2, kvHeads: 1, headDim: 200, causal: true),
        Problem(seqlenQ: 600, seqlenK: 560, headDim: 16, causal: true),
    ]

    @Test(arguments: shapes) func shapesMatchTheOracle(_ p: Problem) throws { try Self.check(p) }

    static let options: [Problem] = [
        // Windows that empty whole rows (Sq > Sk pushes early rows' windows left of key 0).
        Problem(seqlenQ: 113, seqlenK: 23, heads: 2, headDim: 7, window: SlidingWindow(left: 3, right: 1)),
        Problem(seqlenQ: 23, seqlenK: 113, headDim: 40, window: SlidingWindow(left: 0, right: 0)),
        Problem(seqlenQ: 23, seqlenK: 113, headDim: 40, causal: true, window: SlidingWindow(left: 5, right: -1)),
        Problem(seqlenQ: 200, seqlenK: 180, headDim: 16, window: SlidingWindow(left: -1, right: 2)),
        Problem(seqlenQ: 113, seqlenK: 113, heads: 2, headDim: 59, softcap: 2, softmaxScale: 0.6),
        Problem(seqlenQ: 23, seqlenK: 113, headDim: 40, causal: true, softcap: 30),
        // Saturated softcap: tanh near ±1, where 1 − tanh² must not come from a rounded tanh.
        // (1 − t·t from a rounded t gave 4e-4 and 7e-3 here; sech² from e^(−2|u|) gives 1e-6.)
        Problem(seqlenQ: 23, seqlenK: 113, heads: 2, headDim: 40, softcap: 1, shift: 1),
        Problem(seqlenQ: 113, seqlenK: 113, heads: 2, kvHeads: 1, headDim: 40, causal: true, softcap: 2, shift: 1.5),
        Problem(seqlenQ: 113, seqlenK: 113, heads: 3, headDim: 40, causal: true, alibiRank: 1),
        Problem(batch: 2, seqlenQ: 23, seqlenK: 113, heads: 2, headDim: 7, alibiRank: 2),
        Problem(seqlenQ: 113, seqlenK: 113, heads: 2, headDim: 40, dropout: 0.3),
        Problem(batch: 2, seqlenQ: 113, seqlenK: 23, heads: 4, kvHeads: 2, headDim: 59, causal: true,
                softcap: 3, alibiRank: 2, dropout: 0.15),
        // GQA 4 and MQA 8.
        Problem(seqlenQ: 113, seqlenK: 113, heads: 8, kvHeads: 2, headDim: 40, causal: true),
        Problem(seqlenQ: 23, seqlenK: 113, heads: 8, kvHeads: 1, headDim: 59, dropout: 0.2),
    ]

    @Test(arguments: options) func optionsMatchTheOracle(_ p: Problem) throws { try Self.check(p) }

    static let layouts: [Problem] = [
        Problem(batch: 2, seqlenQ: 23, seqlenK: 113, heads: 4, kvHeads: 2, headDim: 40, storage: .headMajor, causal: true),
        Problem(batch: 2, seqlenQ: 113, seqlenK: 23, heads: 2, headDim: 59, storage: .gapped, softcap: 5),
        Problem(seqlenQ: 0, seqlenK: 0, heads: 4, kvHeads: 2, headDim: 40, storage: .gapped, causal: true,
                alibiRank: 1, dropout: 0.1, varlen: [(23, 113), (0, 7), (113, 23), (7, 0), (40, 300)], trailingTokens: 3),
        Problem(seqlenQ: 0, seqlenK: 0, heads: 2, headDim: 7, storage: .headMajor,
                window: SlidingWindow(left: 4, right: 4), varlen: [(113, 113), (1, 1), (23, 7)]),
        Problem(seqlenQ: 0, seqlenK: 0, heads: 2, headDim: 59, varlen: [(23, 23), (113, 7)], trailingTokens: 2),
    ]

    @Test(arguments: layouts) func layoutsMatchTheOracle(_ p: Problem) throws { try Self.check(p) }

    static let dtypes: [Problem] = [ElementType.float16, .bfloat16].flatMap { dtype in [
        Problem(seqlenQ: 113, seqlenK: 113, heads: 2, headDim: 59, dtype: dtype, causal: true),
        Problem(batch: 2, seqlenQ: 23, seqlenK: 113, heads: 4, kvHeads: 1, headDim: 80, dtype: dtype,
                storage: .gapped, softcap: 5, alibiRank: 1, dropout: 0.2),
        Problem(seqlenQ: 0, seqlenK: 0, heads: 2, headDim: 40, dtype: dtype, storage: .headMajor,
                window: SlidingWindow(left: 20, right: 0), varlen: [(113, 23), (7, 113)], trailingTokens: 1),
    ] }

    @Test(arguments: dtypes) func sixteenBitStorageMatchesTheOracle(_ p: Problem) throws { try Self.check(p) }

    /// The whole CPU pipeline: O and LSE from the CPU forward, gradients from the CPU backward.
    static let pipeline: [Problem] = [
        Problem(batch: 2, seqlenQ: 113, seqlenK: 300, heads: 8, kvHeads: 2, headDim: 59, causal: true, dropout: 0.2),
        Problem(seqlenQ: 200, seqlenK: 23, heads: 2, headDim: 80, storage: .gapped, softcap: 4, alibiRank: 1),
        Problem(seqlenQ: 0, seqlenK: 0, heads: 4, kvHeads: 1, headDim: 40, dtype: .bfloat16, storage: .headMajor,
                window: SlidingWindow(left: 30, right: 5), varlen: [(113, 140), (7, 23), (60, 0)]),
    ]

    @Test(arguments: pipeline) func afterTheCPUForwardMatchesTheOracle(_ p: Problem) throws {
        try Self.check(p, cpuForward: true)
    }

    @Test func rowsThatSeeNoKeyGetZeroGradients() throws {
        // Causal with Sq > Sk: the first Sq − Sk rows see nothing (LSE = +∞).
        let p = Problem(seqlenQ: 40, seqlenK: 10, headDim: 16, causal: true)
        let outcome = try Self.run(p)[0]
        #expect(outcome.dq[0..<(30 * 16)].allSatisfy { $0 == 0 })
        #expect(outcome.dq.allSatisfy { $0.isFinite })
    }

    @Test func keysNoQuerySeesGetZeroGradients() throws {
        // Window (0, 0) with Sq < Sk: only keys Sk − Sq ..< Sk are seen.
        let p = Problem(seqlenQ: 10, seqlenK: 50, headDim: 16, window: SlidingWindow(left: 0, right: 0))
        let outcome = try Self.run(p)[0]
        #expect(outcome.dk[0..<(40 * 16)].allSatisfy { $0 == 0 })
        #expect(outcome.dv[0..<(40 * 16)].allSatisfy { $0 == 0 })
        #expect(outcome.dk[(40 * 16)...].contains { $0 != 0 })
    }

    /// The backward skips tiles with MaskGeometry's unions; check them against brute force,
    /// including windows that empty rows at either end.
    @Test func maskUnionsMatchBruteForce() {
        for sq in [0, 1, 5, 17] { for sk in [0, 1, 6, 19] {
            for left in [-1, 0, 2, 7] { for right in [-1, 0, 1, 9] { for causal in [false, true] {
                let g = MaskGeometry(seqlenQ: sq, seqlenK: sk,
                                     options: AttentionOptions(causal: causal, window: SlidingWindow(left: left, right: right)))
                for lo in 0...sq { for hi in lo...sq {
                    let seen = (lo..<hi).flatMap { Array(g.keyRange(row: $0)) }
                    let expected = seen.isEmpty ? 0..<0 : seen.min()!..<(seen.max()! + 1)
                    #expect(g.keyRange(rows: lo..<hi) == expected, "keyRange(rows: \(lo)..<\(hi)) sq \(sq) sk \(sk) \(left),\(right) \(causal)")
                } }
                for lo in 0...sk { for hi in lo...sk {
                    let seen = (lo..<hi).flatMap { Array(g.queryRange(key: $0)) }
                    let expected = seen.isEmpty ? 0..<0 : seen.min()!..<(seen.max()! + 1)
                    #expect(g.queryRange(keys: lo..<hi) == expected, "queryRange(keys: \(lo)..<\(hi)) sq \(sq) sk \(sk) \(left),\(right) \(causal)")
                } }
            } } }
        } }
    }

    @Test func bitwiseIdenticalAcrossRunsAndThreadCounts() throws {
        for p in [
            Problem(seqlenQ: 300, seqlenK: 400, heads: 4, kvHeads: 2, headDim: 40, causal: true, softcap: 4, dropout: 0.2),
            Problem(seqlenQ: 0, seqlenK: 0, heads: 2, kvHeads: 1, headDim: 24, dtype: .bfloat16,
                    varlen: [(200, 300), (37, 10), (129, 129)]),
        ] {
            let runs = try Self.run(p, threads: [2, 1, 2, 3], oracle: false)
            for other in runs.dropFirst() {
                for (a, b) in [(runs[0].dq, other.dq), (runs[0].dk, other.dk), (runs[0].dv, other.dv)] {
                    #expect(a.map(\.bitPattern) == b.map(\.bitPattern))
                }
            }
        }
    }
}
