import CUDADriver
import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// The wide Hopper backward's staged epilogue (descriptor `wideStagedEpilogue`,
/// `FLASH_ATTENTION_HOPPER_BWD256_EPI`; one Q stage, 16-bit dK and dV; session 8, default up to 8k keys):
/// both types, causal and not, with and without the Q ring, ordered (two writers) and arrival-order
/// dQ, and dK/dV in the other 16-bit type.
let hopperBackwardWideEpilogueVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1,
                                                 wideWriters: 2, wideQRing: true, wideStagedEpilogue: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1,
                                                 orderedDQ: false, wideQRing: true, wideStagedEpilogue: true))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, mask: .causal, stages: 1,
                                         wideWriters: 2, wideStagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float16, dvType: .float16, headDim: 256,
                                         stages: 1, orderedDQ: false, wideQRing: true, wideStagedEpilogue: true))
    return list
}()

@Suite("Hopper wide backward, staged epilogue (no GPU)")
struct HopperBackwardWideEpilogueTests {
    /// The staged text: the wait for the writer's last read, the swizzled packs in dK's and dV's
    /// types, a named barrier per warpgroup, 16-byte stores; the plain stores are gone. With the
    /// flag off the kernel is the plain one, character for character.
    @Test func epilogueText() throws {
        for d in hopperBackwardWideEpilogueVariants {
            #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
            #expect(d.name.hasSuffix("_se_sm_90a"))
            let a = try HopperBackwardKernel(descriptor: d).source
            #expect(a.contains("mbar_wait(bar_dq_empty, (steps & 1) ^ 1);"))
            #expect(a.contains("constexpr int BAR_STAGED = 3;") && a.contains("named_sync(BAR_STAGED + wg, 128);"))
            let packK = d.dkType == .bfloat16 ? "pack_bf16x2" : "pack_f16x2", packV = d.dvType == .bfloat16 ? "pack_bf16x2" : "pack_f16x2"
            #expect(a.contains("st_shared_u32(rk + c, \(packK)(acc_dk[dt][2 * r] * factor, acc_dk[dt][2 * r + 1] * factor));"))
            #expect(a.contains("st_shared_u32(rv + c, \(packV)(acc_dv[dt][2 * r], acc_dv[dt][2 * r + 1]));"))
            #expect(a.contains("*(uint4*)(dk_tile + (i64)j * p.dk_row_stride + col) = ld_shared_u4(se_k + off);"))
            #expect(!a.contains("store_dk2(dk_row + col"))
            var plain = d; plain.wideStagedEpilogue = false
            let b = try HopperBackwardKernel(descriptor: plain).source
            #expect(b.contains("store_dk2(dk_row + col") && !b.contains("se_k") && !b.contains("ld_shared_u4"))
        }
    }

    /// Only the one-stage form with 16-bit dK and dV takes it; the plan passes it only there.
    /// The default: up to 8k keys, in both call kinds, wherever the plan allows it (one stage,
    /// 16-bit dK/dV); deterministic unmasked calls from 4k keys run two stages and so never get it.
    @Test func epilogueDefault() {
        for deterministic in [false, true] {
            for mask in [KernelMask.none, .causal] {
                for keys in [512, 2048, 4096, 8192, 16384] {
                    let p = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: mask, deterministic: deterministic, seqlenK: keys)
                    let on = HopperBackwardDescriptor.defaultWideStagedEpilogue(p)
                    #expect(on == (keys <= 8192))
                    let stages = HopperBackwardDescriptor.defaultWideStages(p)
                    let kv = HopperBackwardDescriptor.plan(for: p, wideStages: stages, wideQRing: true, wideStagedEpilogue: on)?[1]
                    #expect(kv?.wideStagedEpilogue == (on && stages == 1))
                    #expect(kv?.name.contains("_se_") == (on && stages == 1))
                }
            }
        }
    }

    @Test func epiloguePlan() {
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 2, wideStagedEpilogue: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, headDim: 256, stages: 1,
                                         wideStagedEpilogue: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 128, wideStagedEpilogue: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, headDim: 256, wideStagedEpilogue: true).wideStagedEpilogue == false)
        var p = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal, deterministic: false, seqlenK: 2048)
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 1, wideQRing: true, wideStagedEpilogue: true)?[1].wideStagedEpilogue == true)
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 2, wideStagedEpilogue: true)?[1].wideStagedEpilogue == false)
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 1)?[1].wideStagedEpilogue == false)
        #expect(HopperBackwardDescriptor.defaultWideStagedEpilogue(p))
        p.dvType = .float32
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 1, wideStagedEpilogue: true)?[1].wideStagedEpilogue == false)
    }

    /// Every variant compiles for sm_90a with NVRTC: no spills, no stack frame, setmaxnreg kept,
    /// no serialized wgmma and no injected wgmma waits.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardWideEpilogueVariants.map { HopperBackwardCase(descriptor: $0) })
    func compilesWithoutSpills(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}
