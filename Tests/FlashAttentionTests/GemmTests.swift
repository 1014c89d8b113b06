import Testing
import CFlashKernels
import FlashAttention

/// fa_gemm on every instruction tier this CPU has, against a float64 loop, on edge sizes
/// (odd m, n, k; padded leading dimensions; both A layouts; overwrite and accumulate).
@Suite struct GemmTests {
    static let tiers: [fa_tier] = [FA_TIER_GENERIC, FA_TIER_AVX2, FA_TIER_AVX512]

    /// A deterministic pseudo-random fill in [-0.5, 0.5).
    static func fill(_ count: Int, seed: UInt64) -> [Float] {
        var state = seed &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<count).map { _ in
            state ^= state << 13; state ^= state >> 7; state ^= state << 17
            return Float(state >> 40) / Float(1 << 24) - 0.5
        }
    }

    /// Runs one product on one tier; returns the largest absolute error, or nil if the CPU
    /// lacks the tier. Elements of C outside m×n (the padding) must be left untouched.
    static func maxError(tier: fa_tier, transA: Bool, m: Int, n: Int, k: Int, beta: Float) -> Double? {
        let lda = (transA ? m : k) + 3, ldb = n + 5, ldc = n + 2
        let a = fill((transA ? k : m) * lda, seed: 1), b = fill(k * ldb, seed: 2)
        var c = fill(m * ldc, seed: 3)
        if beta == 0 { for i in c.indices where i % ldc < n { c[i] = .nan } }  // must not be read
        var expected = [Double](repeating: 0, count: m * ldc)
        for i in 0..<m {
            for j in 0..<ldc {
                guard j < n else { expected[i * ldc + j] = Double(c[i * ldc + j]); continue }
                var sum = beta == 0 ? 0 : Double(beta) * Double(c[i * ldc + j])
                for p in 0..<k {
                    sum += Double(transA ? a[p * lda + i] : a[i * lda + p]) * Double(b[p * ldb + j])
                }
                expected[i * ldc + j] = sum
            }
        }
        let ran = fa_gemm_tier(tier, transA ? 1 : 0, Int32(m), Int32(n), Int32(k), a, Int32(lda), b, Int32(ldb),
                               &c, Int32(ldc), beta)
        guard ran == 1 else { return nil }
        var worst = 0.0
        for i in c.indices {
            let e = abs(Double(c[i]) - expected[i])
            if !(e <= worst) { worst = e.isNaN ? .infinity : e }
        }
        return worst
    }

    @Test(arguments: [(1, 1, 1), (3, 5, 7), (7, 33, 1), (8, 32, 16), (9, 17, 31), (13, 47, 64),
                      (17, 15, 2), (31, 65, 9), (64, 64, 128), (65, 63, 40), (113, 97, 111), (5, 129, 256)])
    func matchesFloat64(size: (Int, Int, Int)) {
        let (m, n, k) = size
        for tier in GemmTests.tiers {
            for transA in [false, true] {
                for beta: Float in [0, 1] {
                    guard let error = GemmTests.maxError(tier: tier, transA: transA, m: m, n: n, k: k, beta: beta)
                    else { continue }
                    // |terms| ≤ 0.25, so k·2⁻²⁴·(k·0.25 + 1) bounds float32 rounding comfortably.
                    let bound = Double(k + 2) * 0x1p-24 * (Double(k) * 0.25 + 1) * 4
                    #expect(error <= bound, "tier \(tier.rawValue) m=\(m) n=\(n) k=\(k) transA=\(transA) beta=\(beta)")
                }
            }
        }
    }

    @Test func emptyReductionOverwritesOrKeeps() {
        // k = 0: C = beta·C, so beta 0 zeroes C and beta 1 leaves it.
        for tier in GemmTests.tiers {
            var c: [Float] = [.nan, .nan, .nan, .nan]
            let a: [Float] = [1], b: [Float] = [1]
            guard fa_gemm_tier(tier, 0, 2, 2, 0, a, 1, b, 2, &c, 2, 0) == 1 else { continue }
            #expect(c == [0, 0, 0, 0])
            c = [1, 2, 3, 4]
            _ = fa_gemm_tier(tier, 1, 2, 2, 0, a, 2, b, 2, &c, 2, 1)
            #expect(c == [1, 2, 3, 4])
        }
    }

    /// fa_gemm_bf16 (AVX512-BF16 only) against float64 on the bfloat16-rounded inputs.
    @Test(arguments: [(1, 1, 1), (7, 33, 3), (9, 17, 32), (13, 47, 64), (65, 63, 20), (64, 128, 64)])
    func bfloat16PairsMatchFloat64(size: (Int, Int, Int)) {
        guard fa_bf16_dot_supported() != 0 else { return }
        let (m, n, kp) = size
        func bf16(_ x: Float) -> UInt16 { HalfConversion.bfloat16Bits(x) }
        func value(_ h: UInt16) -> Double { Double(HalfConversion.float(bfloat16Bits: h)) }
        for transA in [false, true] {
            for beta: Float in [0, 1] {
                let lda = (transA ? m : kp) + 1, ldb = n + 3, ldc = n + 2
                let aValues = GemmTests.fill((transA ? kp : m) * lda * 2, seed: 4).map(bf16)
                let bValues = GemmTests.fill(kp * ldb * 2, seed: 5).map(bf16)
                let a = (0..<(aValues.count / 2)).map { UInt32(aValues[2 * $0]) | UInt32(aValues[2 * $0 + 1]) << 16 }
                let b = (0..<(bValues.count / 2)).map { UInt32(bValues[2 * $0]) | UInt32(bValues[2 * $0 + 1]) << 16 }
                var c = GemmTests.fill(m * ldc, seed: 6)
                let c0 = c
                fa_gemm_bf16(transA ? 1 : 0, Int32(m), Int32(n), Int32(kp), a, Int32(lda), b, Int32(ldb), &c, Int32(ldc), beta)
                var worst = 0.0
                for i in 0..<m {
                    for j in 0..<ldc {
                        var expected = Double(c0[i * ldc + j])
                        if j < n {
                            expected = beta == 0 ? 0 : expected
                            for p in 0..<kp {
                                let word = transA ? a[p * lda + i] : a[i * lda + p]
                                let lo = value(UInt16(word & 0xFFFF)), hi = value(UInt16(word >> 16))
                                expected += lo * value(UInt16(b[p * ldb + j] & 0xFFFF)) + hi * value(UInt16(b[p * ldb + j] >> 16))
                            }
                        }
                        let e = abs(Double(c[i * ldc + j]) - expected)
                        if !(e <= worst) { worst = e.isNaN ? .infinity : e }
                    }
                }
                #expect(worst <= Double(2 * kp + 2) * 0x1p-24 * (Double(kp) * 0.5 + 1) * 4,
                        "m=\(m) n=\(n) kp=\(kp) transA=\(transA) beta=\(beta)")
            }
        }
    }
}
