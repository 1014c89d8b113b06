import CUDADriver
import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// The wide Hopper backward's Q ring (descriptor `wideQRing`, `FLASH_ATTENTION_HOPPER_BWD256_QRING=1|0`;
/// the one-stage form only; built in session 7, the default wherever one stage runs since session 8): both types, causal and not,
/// one and two ordered writers, arrival order, float32 gradients.
let hopperBackwardWideQRingVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1,
                                                 wideWriters: 2, wideQRing: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1,
                                                 orderedDQ: false, wideQRing: true))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, headDim: 256,
                                         mask: .causal, stages: 1, wideQRing: true))
    return list
}()

@Suite("Hopper wide backward, Q ring (no GPU)")
struct HopperBackwardWideQRingTests {
    /// The ring's text: three half-tile slots, half 1 with L, no float32 Pᵀ (dSᵀ from the staged
    /// 16-bit Pᵀ, unpacked in the element type's format); the same shared memory as one stage.
    @Test func ringText() throws {
        for d in hopperBackwardWideQRingVariants {
            #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
            #expect(d.name.hasSuffix("_qr_sm_90a"))
            #expect(d.sharedMemoryBytes == 231_168)
            let a = try HopperBackwardKernel(descriptor: d).source
            #expect(a.contains("constexpr int Q_SLOTS = 3;") && a.contains("const u32 sdO = sQ + Q_SLOTS * QH_BYTES;"))
            #expect(a.contains("const u32 sdQ = sdS + PT_BYTES;") && !a.contains("sPf"))
            #expect(a.contains("tma_load(sQ + slot * QH_BYTES + db * COL_BLOCK, &hp.tm_q, q_full, (2 + db) * 64, m0, h, batch);"))
            #expect(a.contains("bulk_load(sL, (const float*)p.lse_log2 + stat, STAT_BYTES, q_full);"))
            #expect(a.contains("if (wg == 0) mbar_wait(bar_q_full + 8 * slot1, ((2 * step + 1) / Q_SLOTS) & 1);"))
            #expect(a.contains("if (wg == 1) mbar_wait(bar_q_full + 8 * slot1, ((2 * step + 1) / Q_SLOTS) & 1);"))
            #expect(a.contains("smem_desc(q_half + ks * 16 * 128, COL_BLOCK, 1024)"))
            #expect(a.contains("mbar_arrive(bar_q_free + 8 * slot0);") && a.contains("mbar_arrive(bar_q_free + 8 * slot1);"))
            // dSᵀ = Pᵀ ∘ (dPᵀ − D) with the 16-bit P: the pairs warpgroup 0 stored, unpacked.
            #expect(a.contains("unpack_input2(ld_shared_u32(p_lo + c), p0, p1);") && a.contains("sp[nt][0] = p0 * (sp[nt][0] - d_row[nt * 8]);"))
            let unpack = d.elementType == .bfloat16 ? "lo = __uint_as_float(w << 16); hi = __uint_as_float(w & 0xffff0000u);"
                : "lo = f16_to_f32((u16)(w & 0xffffu)); hi = f16_to_f32((u16)(w >> 16));"
            #expect(a.contains(unpack))
            var plain = d; plain.wideQRing = false
            let b = try HopperBackwardKernel(descriptor: plain).source
            #expect(b.contains("ld_shared_f4(sPf + (nt * 128 + ct) * 16)") && !b.contains("Q_SLOTS") && !b.contains("unpack_input2"))
        }
    }

    /// Only the one-stage wide form takes the ring; the plan passes it only where one stage runs.
    @Test func ringPlan() {
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 2, wideQRing: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 128, wideQRing: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, headDim: 256, wideQRing: true).wideQRing == false)
        let p = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal, softcap: false, alibi: false, dropout: false,
                                varlen: false, vectorized: true, convertGradOut: false, deterministic: true, seqlenK: 2048)
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 1, wideQRing: true)?[1].wideQRing == true)
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 2, wideQRing: true)?[1].wideQRing == false)
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 1)?[1].wideQRing == false)
    }

    /// The defaults (session 8): non-deterministic calls run one stage at every length and mask
    /// (so with the ring); deterministic calls keep two stages on unmasked problems from 4k keys;
    /// the ring is on wherever one stage runs.
    @Test func ringDefaults() {
        for deterministic in [false, true] {
            for mask in [KernelMask.none, .causal] {
                for keys in [512, 1024, 2048, 4096, 8192, 16384] {
                    for D in [136, 192, 256] {
                        let p = BackwardProblem(elementType: .bfloat16, headDim: D, mask: mask, deterministic: deterministic, seqlenK: keys)
                        let stages = HopperBackwardDescriptor.defaultWideStages(p)
                        #expect(stages == (deterministic && mask == .none && keys >= 4096 ? 2 : 1))
                        #expect(HopperBackwardDescriptor.defaultWideQRing(p))
                        let kv = HopperBackwardDescriptor.plan(for: p, wideStages: stages, wideQRing: HopperBackwardDescriptor.defaultWideQRing(p))?[1]
                        #expect(kv?.wideQRing == (stages == 1))
                        #expect(kv?.name.hasSuffix("_qr_sm_90a") == (stages == 1))
                    }
                }
            }
        }
    }

    /// Every ring variant compiles for sm_90a with NVRTC: no spills, no stack frame, setmaxnreg
    /// kept, no serialized wgmma and no injected wgmma waits.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardWideQRingVariants.map { HopperBackwardCase(descriptor: $0) })
    func compilesWithoutSpills(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}
