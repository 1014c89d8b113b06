import Testing
import FlashAttentionCore
import FlashAttentionRing

/// Ring and Ulysses context parallelism over simulated ranks equal single-device attention.
@Suite struct RingAttentionTests {
    static let problems: [RingTestProblem] = {
        var list: [RingTestProblem] = []
        for causal in [false, true] {
            for P in [2, 3, 4] {
                // P = 3 with S = 18: chunks of 3 tokens (odd lengths).
                var p = RingTestProblem(worldSize: P, batch: 2, seqlen: P == 3 ? 18 : 8 * P)
                p.options.causal = causal
                list.append(p)
            }
            var gqa = RingTestProblem(worldSize: 2, batch: 1, seqlen: 24, heads: 4, kvHeads: 2, headDim: 32)
            gqa.options.causal = causal
            list.append(gqa)
            var packed = RingTestProblem(worldSize: 2, packed: [8, 12, 4], heads: 2, kvHeads: 1)
            packed.options.causal = causal
            list.append(packed)
            var packed3 = RingTestProblem(worldSize: 3, packed: [6, 18], heads: 3, kvHeads: 3)
            packed3.options.causal = causal
            list.append(packed3)
        }
        var capped = RingTestProblem(worldSize: 4, batch: 1, seqlen: 32)
        capped.options = AttentionOptions(softmaxScale: 0.9, causal: true, softcap: 2)
        list.append(capped)
        return list
    }()

    static let ulyssesProblems: [RingTestProblem] = {
        var list: [RingTestProblem] = []
        for causal in [false, true] {
            var p = RingTestProblem(worldSize: 2, batch: 2, seqlen: 16, heads: 4, kvHeads: 2, strategy: .ulysses)
            p.options.causal = causal
            list.append(p)
            var four = RingTestProblem(worldSize: 4, batch: 1, seqlen: 24, heads: 4, kvHeads: 4, strategy: .ulysses)
            four.options.causal = causal
            list.append(four)
            var packed = RingTestProblem(worldSize: 2, packed: [8, 4], heads: 2, kvHeads: 2, strategy: .ulysses)
            packed.options.causal = causal
            list.append(packed)
        }
        var window = RingTestProblem(worldSize: 2, batch: 1, seqlen: 32, heads: 2, kvHeads: 2, strategy: .automatic)
        window.options = AttentionOptions(causal: true, window: SlidingWindow(left: 5, right: 0))
        list.append(window)
        return list
    }()

    static func check(_ problem: RingTestProblem) throws {
        let expected = try problem.singleDevice()
        let got = try problem.contextParallel()
        for (name, x, y) in [("out", got.out, expected.out), ("lse", got.lse, expected.lse), ("dq", got.dq, expected.dq),
                             ("dk", got.dk, expected.dk), ("dv", got.dv, expected.dv)] {
            let error = relativeError(x, y)
            #expect(error < 1e-5, "\(name): relative error \(error) for \(problem)")
        }
    }

    @Test(arguments: problems)
    func ringEqualsSingleDevice(_ problem: RingTestProblem) throws {
        try Self.check(problem)
    }

    @Test(arguments: ulyssesProblems)
    func ulyssesEqualsSingleDevice(_ problem: RingTestProblem) throws {
        try Self.check(problem)
    }

    @Test func ringRefusesWindowAndALiBi() throws {
        let problem = RingTestProblem(worldSize: 2, batch: 1, seqlen: 8)
        var options = AttentionOptions(causal: true, window: SlidingWindow(left: 2, right: 0))
        let t = try problem.inputs()
        let out = Tensor(shape: [1, 4, 2, 16])
        let group = LocalRingGroup(worldSize: 2)
        let ring = RingAttention(communicator: group.communicator(rank: 0), device: CPURingDevice())
        let local = try problem.sharding().shard(t[0].view, rank: 0, tokenAxis: 1)
        #expect(throws: FlashAttentionError.self) {
            try ring.forward(ForwardArguments(q: local.view, k: local.view, v: local.view, out: out.view, options: options))
        }
        do {
            try ring.forward(ForwardArguments(q: local.view, k: local.view, v: local.view, out: out.view, options: options))
        } catch let error as FlashAttentionError {
            #expect("\(error)".contains("window"))
        }
        let slopes = try Tensor(shape: [2], values: [0.5, 0.25])
        options = AttentionOptions(causal: true, alibi: ALiBi(slopes: slopes.view))
        do {
            try ring.forward(ForwardArguments(q: local.view, k: local.view, v: local.view, out: out.view, options: options))
            Issue.record("ALiBi was not refused")
        } catch let error as FlashAttentionError {
            #expect("\(error)".contains("alibi"))
        }
        withExtendedLifetime((t, out, local, slopes)) {}
    }

    @Test func automaticStrategy() {
        let plain = AttentionOptions(causal: true)
        let windowed = AttentionOptions(causal: true, window: SlidingWindow(left: 4, right: 0))
        typealias CP = ContextParallelAttention<CPURingDevice>
        #expect(CP.resolve(.automatic, heads: 8, kvHeads: 8, worldSize: 4, options: plain) == .ring)
        #expect(CP.resolve(.automatic, heads: 8, kvHeads: 8, worldSize: 4, options: windowed) == .ulysses)
        #expect(CP.resolve(.automatic, heads: 8, kvHeads: 2, worldSize: 4, options: windowed) == .ring)
        #expect(CP.resolve(.ulysses, heads: 8, kvHeads: 8, worldSize: 4, options: plain) == .ulysses)
    }
}

extension RingTestProblem: CustomTestStringConvertible {
    var testDescription: String { description }
}
