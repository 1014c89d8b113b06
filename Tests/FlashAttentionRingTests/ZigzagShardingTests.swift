import Testing
import FlashAttentionCore
import FlashAttentionRing

@Suite struct ZigzagShardingTests {
    @Test(arguments: [1, 2, 3, 4])
    func denseRoundTrip(_ P: Int) throws {
        let S = 6 * P
        let global = try RingTestProblem.random([2, S, 3, 4], seed: UInt64(P))
        let sharding = try ZigzagSharding(worldSize: P, seqlen: S)
        let back = Tensor(shape: global.shape)
        back.poison()
        for r in 0..<P {
            let local = try sharding.shard(global.view, rank: r, tokenAxis: 1)
            #expect(local.shape == [2, 6, 3, 4])
            try sharding.unshard(local.view, rank: r, tokenAxis: 1, into: back.view)
            withExtendedLifetime(local) {}
        }
        #expect(back.floats() == global.floats())
    }

    @Test func chunkAssignment() throws {
        // P = 2, S = 8: chunks of 2; rank 0 holds chunks 0 and 3, rank 1 chunks 1 and 2.
        let sharding = try ZigzagSharding(worldSize: 2, seqlen: 8)
        let positions = try Tensor(shape: [1, 8, 1, 1], values: (0..<8).map(Float.init))
        #expect(try sharding.shard(positions.view, rank: 0, tokenAxis: 1).floats() == [0, 1, 6, 7])
        #expect(try sharding.shard(positions.view, rank: 1, tokenAxis: 1).floats() == [2, 3, 4, 5])
        withExtendedLifetime(positions) {}
    }

    @Test func packedHalfMajor() throws {
        // Sequences of 4 and 8 tokens over 2 ranks: chunks of 1 and 2.
        let varlen = VarlenLayout(cuSeqlensQ: [0, 4, 12], cuSeqlensK: [0, 4, 12])
        let sharding = try ZigzagSharding(worldSize: 2, varlen: varlen)
        let positions = try Tensor(shape: [12, 1, 1], values: (0..<12).map(Float.init))
        // Rank 0: early chunks (seq 0 token 0, seq 1 tokens 4,5) then late (3, then 10,11).
        #expect(try sharding.shard(positions.view, rank: 0, tokenAxis: 0).floats() == [0, 4, 5, 3, 10, 11])
        #expect(try sharding.shard(positions.view, rank: 1, tokenAxis: 0).floats() == [1, 6, 7, 2, 8, 9])
        #expect(sharding.localHalfLayout?.cuSeqlensQ == [0, 1, 3])
        let back = Tensor(shape: [12, 1, 1])
        back.poison()
        for r in 0..<2 {
            let local = try sharding.shard(positions.view, rank: r, tokenAxis: 0)
            try sharding.unshard(local.view, rank: r, tokenAxis: 0, into: back.view)
            withExtendedLifetime(local) {}
        }
        #expect(back.floats() == positions.floats())
        withExtendedLifetime(positions) {}
    }

    @Test func refusesUnevenLengths() {
        #expect(throws: FlashAttentionError.self) { try ZigzagSharding(worldSize: 2, seqlen: 10) }
        #expect(throws: FlashAttentionError.self) {
            try ZigzagSharding(worldSize: 2, varlen: VarlenLayout(cuSeqlensQ: [0, 4, 10], cuSeqlensK: [0, 4, 10]))
        }
    }

    @Test func packedScheduleCoversEveryPairOnce() {
        // Packed blocks address halves only; causal or not, every visible chunk pair once.
        for P in 1...4 {
            for causal in [false, true] {
                var count = [Int](repeating: 0, count: 4 * P * P)
                for r in 0..<P {
                    for s in 0..<P {
                        let src = RingSchedule.source(step: s, rank: r, worldSize: P)
                        for block in RingSchedule.blocks(step: s, rank: r, worldSize: P, causal: causal, packed: true) {
                            #expect(block.q != .all && block.k != .all)
                            let i = block.q == .first ? r : 2 * P - 1 - r
                            let j = block.k == .first ? src : 2 * P - 1 - src
                            if !causal || j <= i { count[i * 2 * P + j] += 1 }
                            // An unmasked block must lie wholly below the diagonal.
                            if causal && !block.causal { #expect(j < i, "P=\(P) rank \(r) step \(s)") }
                        }
                    }
                }
                for i in 0..<(2 * P) {
                    for j in 0..<(2 * P) where !causal || j <= i {
                        #expect(count[i * 2 * P + j] == 1, "P=\(P) causal=\(causal) chunk pair (\(i), \(j))")
                    }
                }
            }
        }
    }

    @Test func scheduleCoversTheCausalTriangleOnce() {
        // Every (query chunk, key chunk) pair below the diagonal is computed exactly once.
        for P in 1...5 {
            var count = [Int](repeating: 0, count: 4 * P * P)
            for r in 0..<P {
                for s in 0..<P {
                    let src = RingSchedule.source(step: s, rank: r, worldSize: P)
                    for block in RingSchedule.blocks(step: s, rank: r, worldSize: P, causal: true, packed: false) {
                        let qc = block.q == .first ? [r] : block.q == .second ? [2 * P - 1 - r] : [r, 2 * P - 1 - r]
                        let kc = block.k == .first ? [src] : block.k == .second ? [2 * P - 1 - src] : [src, 2 * P - 1 - src]
                        for i in qc { for j in kc where j <= i { count[i * 2 * P + j] += 1 } }
                    }
                }
            }
            for i in 0..<(2 * P) { for j in 0...i { #expect(count[i * 2 * P + j] == 1, "P=\(P) chunk pair (\(i), \(j))") } }
        }
    }
}
