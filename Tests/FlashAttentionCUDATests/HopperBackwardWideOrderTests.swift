import CUDADriver
import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// The wide Hopper backward (tile D = 256) with dQ added in arrival order (descriptor `orderedDQ`
/// off, `FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered`, non-deterministic calls only): both Q stage
/// forms, both types, causal and not, float32 gradients.
let hopperBackwardWideUnorderedVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            for stages in [1, 2] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: stages,
                                                     orderedDQ: false))
            }
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, headDim: 256,
                                         mask: .causal, stages: 1, orderedDQ: false))
    return list
}()

/// The wide backward's ordered dQ with a turn counter per 64-column chunk (descriptor
/// `wideChunkTurns`, `FLASH_ATTENTION_HOPPER_BWD256_TURNS=chunk`; measured slower, off): both
/// stage forms, both types, causal and not, float32 gradients.
let hopperBackwardWideChunkTurnVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            for stages in [1, 2] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: stages,
                                                     wideChunkTurns: true))
            }
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, headDim: 256,
                                         stages: 2, wideChunkTurns: true))
    return list
}()

/// The wide backward's ordered dQ with two writer threads on alternate steps (descriptor
/// `wideWriters` = 2, `FLASH_ATTENTION_HOPPER_BWD256_WRITERS=2`; built, not yet timed): both
/// stage forms, both types, causal and not, float32 gradients.
let hopperBackwardWideTwoWriterVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            for stages in [1, 2] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: stages,
                                                     wideWriters: 2))
            }
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, headDim: 256,
                                         mask: .causal, stages: 1, wideWriters: 2))
    return list
}()

@Suite("Hopper wide backward, dQ order (no GPU)")
struct HopperBackwardWideOrderTests {
    /// Arrival order is a separate writer loop: no turn counter, no completion wait between
    /// steps, every key block adds (the runtime zero-fills the accumulator for it).
    @Test func arrivalOrderWriter() throws {
        for d in hopperBackwardWideUnorderedVariants {
            #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
            #expect(d.name.contains("dqunordered"))
            let a = try HopperBackwardKernel(descriptor: d).source
            #expect(a.contains("dQ writer, arrival order") && a.contains("red_relaxed_inc((int*)p.dq_sem + tile)"))
            #expect(!a.contains("while (ld_acquire(sem) != n_block)") && !a.contains("bulk_store(dst"))
            var ordered = d; ordered.orderedDQ = true
            let b = try HopperBackwardKernel(descriptor: ordered).source
            #expect(b.contains("while (ld_acquire(sem) != n_block)") && !b.contains("arrival order"))
            #expect(a != b)
        }
    }

    /// The runtime's plan: deterministic calls stay ordered (the caller passes `wideOrderedDQ`
    /// true for them); the default is arrival order from 2k keys (1k causal); the tile D ≤ 128
    /// order knob leaves the wide kernel alone, and the wide one leaves tile D ≤ 128 alone.
    @Test func planOrder() {
        var p = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal, softcap: false, alibi: false,
                                dropout: false, varlen: false, vectorized: true, convertGradOut: false, deterministic: false, seqlenK: 4096)
        #expect(!HopperBackwardDescriptor.defaultWideOrderedDQ(p))
        p.seqlenK = 1024
        #expect(!HopperBackwardDescriptor.defaultWideOrderedDQ(p))
        p.seqlenK = 1023
        #expect(HopperBackwardDescriptor.defaultWideOrderedDQ(p))
        p.mask = .none; p.seqlenK = 2047
        #expect(HopperBackwardDescriptor.defaultWideOrderedDQ(p))
        p.seqlenK = 2048
        #expect(!HopperBackwardDescriptor.defaultWideOrderedDQ(p))
        p.mask = .causal; p.seqlenK = 4096
        #expect(HopperBackwardDescriptor.plan(for: p)?[1].orderedDQ == true)
        #expect(HopperBackwardDescriptor.plan(for: p, wideOrderedDQ: false)?[1].orderedDQ == false)
        #expect(HopperBackwardDescriptor.plan(for: p, wideOrderedDQ: false)?[1].name == "hbwd_dkdv_bf16_d256_m64n64s2_causal_dqunordered_sm_90a")
        #expect(HopperBackwardDescriptor.plan(for: p, orderedDQ: false)?[1].orderedDQ == true)
        p.headDim = 128
        #expect(HopperBackwardDescriptor.plan(for: p, wideOrderedDQ: false)?[1].orderedDQ == true)
    }

    /// Chunk turns: four counter arrays (the runtime sizes them), one turn wait and one release
    /// per chunk, valid only at tile D = 256 with ordered dQ.
    @Test func chunkTurnWriter() throws {
        for d in hopperBackwardWideChunkTurnVariants {
            #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
            #expect(d.name.hasSuffix("_ct_sm_90a"))
            let a = try HopperBackwardKernel(descriptor: d).source
            #expect(a.contains("ld_acquire(sem + k * sem_chunk) != n_block") && a.contains("bulk_wait_group<1>()"))
            var tile = d; tile.wideChunkTurns = false
            #expect(!(try HopperBackwardKernel(descriptor: tile).source).contains("sem_chunk"))
        }
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, orderedDQ: false,
                                         wideChunkTurns: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 128, wideChunkTurns: true).invalidReason != nil)
        let p = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .none, softcap: false, alibi: false, dropout: false,
                                varlen: false, vectorized: true, convertGradOut: false, deterministic: true, seqlenK: 8192)
        #expect(!HopperBackwardDescriptor.defaultWideChunkTurns(p))
        #expect(HopperBackwardDescriptor.plan(for: p, wideChunkTurns: true)?[1].wideChunkTurns == true)
        #expect(HopperBackwardDescriptor.plan(for: p, wideOrderedDQ: false, wideChunkTurns: true)?[1].wideChunkTurns == false)
    }

    /// Two writers: warps 1 and 2 on alternate steps, a full barrier per step parity (the
    /// consumers arrive on their step's); only with ordered dQ and one turn per tile.
    @Test func twoWriters() throws {
        for d in hopperBackwardWideTwoWriterVariants {
            #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
            #expect(d.name.hasSuffix("_ww2_sm_90a"))
            let a = try HopperBackwardKernel(descriptor: d).source
            #expect(a.contains("(warp == 1 || warp == 2) && lane == 0") && a.contains("mbar_init(bar_dq_full2, CONSUMER_THREADS)"))
            #expect(a.contains("for (int step = w; step < steps; step += 2)"))
            #expect(a.contains("mbar_arrive((((step) & 1) ? bar_dq_full2 : bar_dq_full))"))
            if d.stages == 2 { #expect(a.contains("(((step - 1) & 1) ? bar_dq_full2 : bar_dq_full)")) }
            var one = d; one.wideWriters = 1
            #expect(!(try HopperBackwardKernel(descriptor: one).source).contains("bar_dq_full2"))
        }
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, orderedDQ: false, wideWriters: 2).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, wideChunkTurns: true, wideWriters: 2).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 128, wideWriters: 2).invalidReason != nil)
        let p = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal, softcap: false, alibi: false, dropout: false,
                                varlen: false, vectorized: true, convertGradOut: false, deterministic: true, seqlenK: 2048)
        #expect(HopperBackwardDescriptor.defaultWideWriters(p) == 2)
        #expect(HopperBackwardDescriptor.plan(for: p, wideWriters: 2)?[1].wideWriters == 2)
        #expect(HopperBackwardDescriptor.plan(for: p, wideOrderedDQ: false, wideWriters: 2)?[1].wideWriters == 1)
    }

    /// Every arrival-order, chunk-turn and two-writer variant compiles for sm_90a with NVRTC, spills nothing, has no stack
    /// frame, and keeps setmaxnreg and the wgmma waits as written.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: (hopperBackwardWideUnorderedVariants + hopperBackwardWideChunkTurnVariants + hopperBackwardWideTwoWriterVariants).map { HopperBackwardCase(descriptor: $0) })
    func compilesWithoutSpills(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}
