import CUDADriver
import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// The Hopper backward variants CI compiles: both element types, causal and not, ordered and
/// unordered dQ, float32 gradients, and the small kernels.
let hopperBackwardVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: mask))
        }
        list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: type, outType: .float32))
        list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, orderedDQ: false))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dqBuffers: 2))
    // A writer thread per dQ buffer (the default at tile D = 128 from 2k keys), causal and not;
    // arrival-order adds with two buffers (one writer).
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: mask, dqBuffers: 2, dqWriters: 2))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, stages: 3))
    list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16))
    list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: .float16, dqType: .float32))
    // Tile D = 64 (128-query steps, dQ_partial split by query rows).
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: mask))
        }
        list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: type, headDim: 64))
        list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type, headDim: 64))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, orderedDQ: false))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, headDim: 64))
    list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, dqType: .float32, headDim: 64))
    // The next step's Sᵀ pipelined behind the dQ product, both tiles.
    for mask in [KernelMask.none, .causal] {
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: mask, pipelinedS: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: mask, pipelinedS: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dqBuffers: 2, pipelinedS: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, headDim: 64, pipelinedS: true))
    // (Appended last so earlier variants keep their index in the source dumps.)
    // Tile D = 64 with two dQ buffers (barriers in the alignment pad; FLASH_ATTENTION_HOPPER_BWD_DQBUF=2):
    // a writer each, causal and not; one writer; arrival order.
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: mask, dqBuffers: 2, dqWriters: 2))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, headDim: 64, mask: .causal, dqBuffers: 2))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, orderedDQ: false, dqBuffers: 2))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, dqBuffers: 2, dqWriters: 2, pipelinedS: true))
    // dV's product issued ahead of dSᵀ (FLASH_ATTENTION_HOPPER_BWD_EARLYDV=1; tile D = 128 only):
    // the shipped shape, causal and not, both types; with the pipelined Sᵀ; float32 gradients.
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: mask, dqBuffers: 2, dqWriters: 2, earlyDV: true))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, pipelinedS: true, earlyDV: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, dqBuffers: 2, dqWriters: 2, earlyDV: true))
    // One dQ buffer (tile D = 128 below 2k keys).
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, earlyDV: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, earlyDV: true, lateDK: true))
    // With dK's product behind dQ's (FLASH_ATTENTION_HOPPER_BWD_LATEDK=1).
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: mask, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true))
        }
    }
    list += hopperBackwardWideVariants
    list += hopperBackwardGroupedVariants
    list += hopperBackwardFastPassVariants
    list += hopperBackwardPingPongVariants
    return list
}()

/// Out-of-phase (ping-pong) consumers at tile D = 128 (FLASH_ATTENTION_HOPPER_BWD_PINGPONG=1,
/// session 7): each warpgroup's dQ_partial is m64n128 over its own keys (64 more accumulator
/// registers live across the dQ product), so every product order the runtime can pick with it
/// must compile without spills: the shipped orders (causal: plain; unmasked: early dV + late dK),
/// early dV alone, one and two dQ buffers, one and two writers, arrival order, float32 gradients,
/// the grouped grid and the mask branch.
let hopperBackwardPingPongVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: 2, dqWriters: 2, pingPong: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                             pingPong: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, earlyDV: true, lateDK: true, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2, earlyDV: true, lateDK: true,
                                         pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, orderedDQ: false, dqBuffers: 2, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, dqBuffers: 2, dqWriters: 2,
                                         earlyDV: true, lateDK: true, pingPong: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: 4,
                                         maskBranch: true, pingPong: true))
    return list
}()

/// Tile D = 128 with L and D read into registers ahead of the wgmma waits (FLASH_ATTENTION_HOPPER_BWD_STATS=1)
/// and the dQ_partial fence behind dK's completion (FLASH_ATTENTION_HOPPER_BWD_LATEFENCE=1, late dK forms only),
/// session 8: 32 more registers live across the Sᵀ wait, so every form the runtime can pick with them must
/// compile without spills: unmasked (early dV + late dK) and causal defaults with one and two dQ buffers,
/// arrival order, the pipelined Sᵀ, the mask branch, the grouped grid, float32 gradients.
let hopperBackwardStatsVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for fence in [false, true] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                                 earlyStats: true, lateFence: fence))
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: 2, dqWriters: 2, earlyStats: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, earlyDV: true, lateDK: true, earlyStats: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, earlyDV: true, lateDK: true, earlyStats: true, lateFence: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, earlyDV: true, lateDK: true, lateFence: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                         lateFence: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, earlyStats: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2, earlyDV: true, lateDK: true,
                                         earlyStats: true, lateFence: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, pipelinedS: true, earlyStats: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, earlyDV: true, earlyStats: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: 4,
                                         maskBranch: true, earlyStats: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, dqBuffers: 2, dqWriters: 2,
                                         earlyDV: true, lateDK: true, earlyStats: true, lateFence: true))
    return list
}()

/// The persistent grid (FLASH_ATTENTION_HOPPER_BWD_PERSIST=1, session 8, hopbwd15; arrival-order dQ only):
/// every form the runtime can pick with it — tile D = 128 with the early dV and late dK (unmasked) with one and
/// two dQ buffers, both input types, float32 gradients (the causal and tile D = 64 forms spill; not generated).
let hopperBackwardPersistentVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for buffers in [1, 2] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, orderedDQ: false, dqBuffers: buffers, earlyDV: true,
                                                 lateDK: true, persistentTiles: true))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, orderedDQ: false,
                                         dqBuffers: 2, earlyDV: true, lateDK: true, persistentTiles: true))
    return list
}()

/// The dependent dQ conversion (FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1, session 23): ordered dQ at tile D = 64 and 128 — the
/// unmasked and causal defaults with one and two dQ buffers, head groups, both input types, float32 gradients — and both
/// conversion passes, unmasked and causal.
let hopperBackwardDependentConvertVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for buffers in [1, 2] {
            let w = buffers == 2 ? 2 : 1
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: buffers, dqWriters: w, earlyDV: true,
                                                 lateDK: true, maskBranch: true, precomputedDescriptors: true, stagedEpilogue: true,
                                                 dependentConvert: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: buffers, dqWriters: w,
                                                 earlyDV: true, lateDK: true, maskBranch: true, precomputedDescriptors: true,
                                                 stagedEpilogue: true, dependentConvert: true))
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: .causal, maskBranch: true,
                                             precomputedDescriptors: true, stagedEpilogue: true, dependentConvert: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                             headGroup: 4, maskBranch: true, precomputedDescriptors: true, dependentConvert: true))
        for tile in [64, 128] {
            for fast in [false, true] {
                for mask in [KernelMask.none, .causal] {
                    list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type, headDim: tile, mask: mask, fastPasses: fast,
                                                         dependentConvert: true))
                }
            }
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dqType: .float32, dkType: .float32, dvType: .float32,
                                         dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true, dependentConvert: true))
    list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: .float16, dqType: .float32, headDim: 128, dependentConvert: true))
    // Tile D = 256 (session 24): the one-stage Q-ring defaults (staged epilogue, two writers) causal and unmasked, the
    // deterministic two-stage form, and the conversion pass at 256 columns (plain and fast, float32 dQ plain).
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1, wideWriters: 2,
                                                 wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true, dependentConvert: true))
            for fast in [false, true] {
                list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type, headDim: 256, mask: mask, fastPasses: fast,
                                                     dependentConvert: true))
            }
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, stages: 2, wideWriters: 2, dependentConvert: true))
    }
    list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: .float16, dqType: .float32, headDim: 256, mask: .causal,
                                         dependentConvert: true))
    return list
}()

/// The key/value kernel as a dependent of the preprocess (FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=1, session 24): the unmasked
/// and causal tile D = 128 defaults (with the dependent conversion), tile D = 64, head groups, arrival-order dQ, float32
/// gradients, both input types; and the preprocess in its plain and fast forms.
let hopperBackwardDependentStatsVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                             maskBranch: true, precomputedDescriptors: true, stagedEpilogue: true,
                                             dependentConvert: true, dependentStats: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: 2, dqWriters: 2,
                                             earlyDV: true, lateDK: true, maskBranch: true, precomputedDescriptors: true,
                                             stagedEpilogue: true, dependentConvert: true, dependentStats: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: .causal, maskBranch: true,
                                             precomputedDescriptors: true, stagedEpilogue: true, dependentStats: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, maskBranch: true,
                                             precomputedDescriptors: true, dependentStats: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                             headGroup: 4, maskBranch: true, precomputedDescriptors: true, dependentStats: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, orderedDQ: false, dqBuffers: 2, earlyDV: true,
                                             lateDK: true, maskBranch: true, precomputedDescriptors: true, dependentStats: true))
        for tile in [64, 128] {
            for fast in [false, true] {
                list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: type, headDim: tile, fastPasses: fast, dependentStats: true))
            }
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dqType: .float32, dkType: .float32, dvType: .float32,
                                         dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true, dependentStats: true))
    return list
}()

/// Tile D = 128's dK/dV staged through the Q/dO ring (FLASH_ATTENTION_HOPPER_BWD_EPI=1, session 13, hopbwd17):
/// every form the runtime can pick with it — the unmasked (early dV + late dK, precomputed descriptors) and causal
/// defaults with one and two dQ buffers, ordered and arrival order, both input types, mixed 16-bit gradients,
/// and the knob forms beside it (mask branch, the causal early dV/late dK, head groups, early statistics, ping-pong).
let hopperBackwardStagedEpilogueVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for buffers in [1, 2] {
            let w = buffers == 2 ? 2 : 1
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: buffers, dqWriters: w, earlyDV: true,
                                                 lateDK: true, precomputedDescriptors: true, stagedEpilogue: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: buffers, dqWriters: w,
                                                 stagedEpilogue: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: buffers, dqWriters: w,
                                                 earlyDV: true, lateDK: true, maskBranch: true, precomputedDescriptors: true,
                                                 stagedEpilogue: true))
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, orderedDQ: false, dqBuffers: 2, earlyDV: true, lateDK: true,
                                             precomputedDescriptors: true, stagedEpilogue: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, orderedDQ: false, dqBuffers: 2,
                                             stagedEpilogue: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float16, dvType: .float16, dqBuffers: 2,
                                         dqWriters: 2, earlyDV: true, lateDK: true, precomputedDescriptors: true, stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, maskBranch: true, stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2,
                                         precomputedDescriptors: true, stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: 4,
                                         stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                         earlyStats: true, precomputedDescriptors: true, stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                         pingPong: true, stagedEpilogue: true))
    // Tile D = 64 (session 14, hopbwd19): the unmasked default (precomputed descriptors; grouped from 4k keys) and the causal
    // one (mask branch), both input types, one buffer and two (the DQBUF=2 form with its barriers in the alignment pad: a writer
    // each, ordered, or one in arrival order), mixed 16-bit gradients, and the pipelined Sᵀ beside it.
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            for (buffers, writers, ordered) in [(1, 1, true), (2, 2, true), (2, 1, false), (1, 1, false)] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: mask, orderedDQ: ordered,
                                                     dqBuffers: buffers, dqWriters: writers, maskBranch: mask == .causal,
                                                     precomputedDescriptors: true, stagedEpilogue: true))
            }
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: mask, headGroup: 4,
                                                 maskBranch: mask == .causal, precomputedDescriptors: true, stagedEpilogue: true))
        }
        // The default at unmasked 4k keys since session 14: grouped heads with two dQ buffers (a writer each) and the epilogue.
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, dqBuffers: 2, dqWriters: 2, headGroup: 4,
                                             precomputedDescriptors: true, stagedEpilogue: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float16, dvType: .float16, headDim: 64,
                                         mask: .causal, maskBranch: true, precomputedDescriptors: true, stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, pipelinedS: true,
                                         precomputedDescriptors: true, stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, stagedEpilogue: true))
    return list
}()

/// Precomputed wgmma descriptors (FLASH_ATTENTION_HOPPER_BWD_DESC, session 9, hopbwd16): every form the
/// runtime can pick with them at tile D = 64/128 — the unmasked (early dV + late dK) and causal defaults with
/// one and two dQ buffers, ordered (a writer each) and arrival order, both input types, float32 gradients,
/// tile D = 64 plain / grouped / mask branch / two buffers, and the measurement knobs' forms (pipelined Sᵀ,
/// early statistics, late fence, ping-pong, persistent tiles).
let hopperBackwardDescriptorVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for ordered in [true, false] {
            let w = ordered ? 2 : 1
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, orderedDQ: ordered, dqBuffers: 2, dqWriters: w,
                                                 earlyDV: true, lateDK: true, precomputedDescriptors: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, orderedDQ: ordered, dqBuffers: 2,
                                                 dqWriters: w, precomputedDescriptors: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, orderedDQ: ordered,
                                                 precomputedDescriptors: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: .causal, orderedDQ: ordered,
                                                 maskBranch: true, precomputedDescriptors: true))
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, earlyDV: true, lateDK: true, precomputedDescriptors: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, precomputedDescriptors: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, headGroup: 4, precomputedDescriptors: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, dqBuffers: 2,
                                         dqWriters: 2, earlyDV: true, lateDK: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, headDim: 64,
                                         mask: .causal, maskBranch: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: 4,
                                         maskBranch: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, dqBuffers: 2, dqWriters: 2,
                                         precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, pipelinedS: true,
                                         precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, pipelinedS: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                         earlyStats: true, lateFence: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                         pingPong: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, pingPong: true,
                                         precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2, earlyDV: true,
                                         lateDK: true, persistentTiles: true, precomputedDescriptors: true))
    // Tile D = 256 (the wide kernel), its Q-ring form only (the two-stage and plain one-stage forms spill 24–32 B
    // with them): with the staged epilogue in arrival order (the non-deterministic default from 1k/2k keys) and
    // ordered with two writers, causal and not, both types; without the staged epilogue, float32 gradients.
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1, orderedDQ: false,
                                                 wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: 1, wideWriters: 2,
                                                 wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, mask: .causal, stages: 1, orderedDQ: false,
                                         wideQRing: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, headDim: 256,
                                         mask: .causal, stages: 1, orderedDQ: false, wideQRing: true, precomputedDescriptors: true))
    // The mask branch at tile D = 256 (built in session 19, the causal default since session 20): every causal form the
    // defaults route to (arrival order and two writers, with the staged epilogue and without, float32 dK / dV), both types
    // (`wideDefaultRoutes` checks the routes are compiled); unmasked (the knob only) with the staged epilogue.
    for type in [ElementType.bfloat16, .float16] {
        for gradient in [ElementType?.none, .float32] {
            for staged in gradient == nil ? [true, false] : [false] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dkType: gradient, dvType: gradient, headDim: 256,
                                                     mask: .causal, stages: 1, orderedDQ: false, maskBranch: true, wideQRing: true,
                                                     wideStagedEpilogue: staged, precomputedDescriptors: true))
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dkType: gradient, dvType: gradient, headDim: 256,
                                                     mask: .causal, stages: 1, maskBranch: true, wideWriters: 2, wideQRing: true,
                                                     wideStagedEpilogue: staged, precomputedDescriptors: true))
            }
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, stages: 1, orderedDQ: false,
                                             maskBranch: true, wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, stages: 1, maskBranch: true,
                                             wideWriters: 2, wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true))
    }
    // What the defaults also route to (review9 enumerated them through the plan): deterministic causal D = 256 past
    // the staged epilogue's 8k keys (two writers, no staged epilogue), float32 dK/dV at every tile, fp16 beside bf16.
    for type in [ElementType.bfloat16, .float16] {
        for gradient in [ElementType?.none, .float32] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dkType: gradient, dvType: gradient, headDim: 256,
                                                 mask: .causal, stages: 1, wideWriters: 2, wideQRing: true, precomputedDescriptors: true))
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dkType: .float32, dvType: .float32, earlyDV: true,
                                             lateDK: true, precomputedDescriptors: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dkType: .float32, dvType: .float32, headDim: 64,
                                             precomputedDescriptors: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dkType: .float32, dvType: .float32, headDim: 64,
                                             headGroup: 4, precomputedDescriptors: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, headDim: 256, mask: .causal, stages: 1, orderedDQ: false,
                                         wideQRing: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, headDim: 256,
                                         mask: .causal, stages: 1, orderedDQ: false, wideQRing: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, dqBuffers: 2,
                                         dqWriters: 2, earlyDV: true, lateDK: true, precomputedDescriptors: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, headDim: 64,
                                         mask: .causal, maskBranch: true, precomputedDescriptors: true))
    return list
}()

/// The preprocess and the dQ conversion in their fast forms (FLASH_ATTENTION_HOPPER_BWD_FASTPASS,
/// session 7): every tile, both input types, O in each storage type, dQ in the inputs' type and
/// float32 (at tile D = 256 a float32 dQ keeps the plain conversion).
let hopperBackwardFastPassVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for tile in [64, 128, 256] {
        for type in [ElementType.bfloat16, .float16] {
            list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: type, headDim: tile, fastPasses: true))
            list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type, headDim: tile, fastPasses: true))
            if tile != 256 {
                list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type, dqType: .float32, headDim: tile, fastPasses: true))
            }
        }
        list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, outType: .float32, headDim: tile, fastPasses: true))
        list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: .float16, outType: .bfloat16, headDim: tile, fastPasses: true))
    }
    return list
}()

/// The key/value kernel on the linear grid ordered by head groups (FLASH_ATTENTION_HOPPER_BWD_GROUP)
/// and with the mask branch (FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH):
/// tile D = 64's shipped forms (one dQ buffer) causal and not, tile D = 128's causal (two buffers,
/// a writer each) and unmasked (early dV, late dK) defaults.
let hopperBackwardGroupedVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: .causal, headGroup: 4))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, headGroup: 4))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, headGroup: 8))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: 4))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                         headGroup: 4))
    // The mask evaluated on edge steps only (FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1): tile D = 64
    // causal and not, with the grouped order, tile D = 128 causal (two buffers, a writer each).
    for type in [ElementType.bfloat16, .float16] {
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 64, mask: .causal, maskBranch: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: 2, dqWriters: 2, maskBranch: true))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, maskBranch: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, headGroup: 4, maskBranch: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, dkType: .float32, dvType: .float32, headDim: 64,
                                         mask: .causal, maskBranch: true))
    return list
}()

/// The grouped grid (FLASH_ATTENTION_HOPPER_BWD_GROUP=G) on tile D = 128's session-13 forms (session 13 part 2, hopbwd18):
/// the unmasked default from 8k keys (early dV, late dK, precomputed descriptors, two buffers and writers) at G = 2/4/8,
/// with the staged epilogue (the 4k default; EPI=1 from 8k), the causal 1k-8k default (mask branch, staged epilogue),
/// the causal 16k default at G = 2/8 (G = 4 is in hopperBackwardGroupedVariants) and with the staged epilogue,
/// arrival-order dQ. The group only changes the block decode ahead of the pipeline, but every form the knob can
/// pick at these rows must still compile clean.
let hopperBackwardGroupedTile128Variants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for g in [2, 4, 8] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                                 headGroup: g, precomputedDescriptors: true))
        }
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                             headGroup: 4, precomputedDescriptors: true, stagedEpilogue: true))
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, mask: .causal, dqBuffers: 2, dqWriters: 2, earlyDV: true,
                                             lateDK: true, headGroup: 4, maskBranch: true, precomputedDescriptors: true, stagedEpilogue: true))
    }
    for g in [2, 8] {
        list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: g))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, mask: .causal, dqBuffers: 2, dqWriters: 2, headGroup: 4,
                                         stagedEpilogue: true))
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2, earlyDV: true, lateDK: true,
                                         headGroup: 4, precomputedDescriptors: true))
    // The unmasked default from 4k keys (session 19 from 8k, session 20 from 4k): head groups of 4 beside the mask branch, key-block
    // order and arrival order; at 4k with the staged epilogue.
    for type in [ElementType.bfloat16, .float16] {
        for staged in [false, true] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                                 headGroup: 4, maskBranch: true, precomputedDescriptors: true, stagedEpilogue: staged))
        }
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2, earlyDV: true, lateDK: true,
                                         headGroup: 4, maskBranch: true, precomputedDescriptors: true))
    return list
}()

/// The key/value kernel the defaults route each problem to (`HopperBackwardDescriptor.resolvedPlan`, what
/// `CUDABackend.hopperBackwardPlan` launches, with no knob set and the fast passes where the problem takes them), skipping
/// the problems the Hopper backward does not take.
func hopperBackwardDefaultRoutes(_ problems: [BackwardProblem], l2CacheBytes: Int) -> [(BackwardProblem, HopperBackwardDescriptor)] {
    problems.compactMap { p in hopperBackwardDefaultPlan(p, l2CacheBytes: l2CacheBytes).map { (p, $0[1]) } }
}

/// All three kernels (preprocess, key/value, conversion) the defaults launch for `problem`; nil where the Hopper backward
/// does not take it.
func hopperBackwardDefaultPlan(_ problem: BackwardProblem, l2CacheBytes: Int) -> [HopperBackwardDescriptor]? {
    typealias H = HopperBackwardDescriptor
    return H.resolvedPlan(for: problem, fastPasses: H.defaultFastPasses(problem), l2CacheBytes: l2CacheBytes)
}

/// `kernels` without the names in `compiled` and without repeats, in order: the routed kernels a CI list has to add.
func hopperBackwardUncompiled(_ kernels: [HopperBackwardDescriptor], besides compiled: [HopperBackwardDescriptor]) -> [HopperBackwardDescriptor] {
    var names = Set(compiled.map(\.name))
    return kernels.filter { names.insert($0.name).inserted }
}

/// `problem(type, gradient)` for both input types, with 16-bit (nil) and float32 dK / dV.
func typeAndGradientProblems(_ problem: (ElementType, ElementType?) -> BackwardProblem) -> [BackwardProblem] {
    [ElementType.bfloat16, .float16].flatMap { type in [ElementType?.none, .float32].map { problem(type, $0) } }
}

/// Every (problem, key/value kernel) the defaults route a tile D = 256 problem to: D = 192 / 256, each mask (windows route
/// elsewhere), 512…32k keys, deterministic or not, both types, float32 dK / dV.
func hopperBackwardWideDefaultRoutes() -> [(BackwardProblem, HopperBackwardDescriptor)] {
    var problems: [BackwardProblem] = []
    for D in [192, 256] {
        for mask in KernelMask.allCases {
            for n in [512, 1000, 1024, 2047, 2048, 4096, 8192, 8193, 16384, 32768] {
                for deterministic in [true, false] {
                    problems += typeAndGradientProblems {
                        BackwardProblem(elementType: $0, dkType: $1, dvType: $1, headDim: D, mask: mask, deterministic: deterministic, seqlenK: n)
                    }
                }
            }
        }
    }
    return hopperBackwardDefaultRoutes(problems, l2CacheBytes: 50 << 20)
}

/// Every (problem, key/value kernel) the defaults route a causal tile D = 64 / 128 problem with many kv heads to
/// (``HopperBackwardDescriptor/causalManyHeadsGroup(_:)``, sessions 21–22): D = 64 / 96 / 128, 2k…32k keys, 16 / 32 / 64 /
/// 96 kv heads, deterministic or not, both types, float32 dK / dV.
func hopperBackwardManyHeadsRoutes() -> [(BackwardProblem, HopperBackwardDescriptor)] {
    var problems: [BackwardProblem] = []
    for D in [64, 96, 128] {
        for n in [2048, 4095, 4096, 8192, 16384, 16385, 32768] {
            for kvHeads in [16, 32, 64, 96] {
                for deterministic in [true, false] {
                    problems += typeAndGradientProblems {
                        BackwardProblem(elementType: $0, dkType: $1, dvType: $1, headDim: D, mask: .causal, deterministic: deterministic,
                                        seqlenK: n, kvHeads: kvHeads)
                    }
                }
            }
        }
    }
    return hopperBackwardDefaultRoutes(problems, l2CacheBytes: 50 << 20)
}

/// The routed many-heads kernels (``hopperBackwardManyHeadsRoutes()``) with head groups that no other list compiles, one each.
let hopperBackwardManyHeadsRoutedVariants: [HopperBackwardDescriptor] = hopperBackwardUncompiled(
    hopperBackwardManyHeadsRoutes().map(\.1).filter { $0.headGroup > 0 },
    besides: hopperBackwardVariants + hopperBackwardDescriptorVariants + hopperBackwardStagedEpilogueVariants
        + hopperBackwardGroupedVariants + hopperBackwardGroupedTile128Variants)

/// Every (problem, key/value kernel) the persistent-grid default routes to
/// (``HopperBackwardDescriptor/defaultPersistentTiles(_:l2CacheBytes:)``, session 21, on an H200-class L2): non-deterministic
/// unmasked D = 96 / 128 from 4k keys, both types, float32 dK / dV.
func hopperBackwardPersistentRoutes() -> [(BackwardProblem, HopperBackwardDescriptor)] {
    let h200 = 60 << 20
    var problems: [BackwardProblem] = []
    for D in [96, 128] {
        for n in [2048, 4095, 4096, 8192, 16384, 32768] {
            problems += typeAndGradientProblems {
                BackwardProblem(elementType: $0, dkType: $1, dvType: $1, headDim: D, deterministic: false, seqlenK: n, kvHeads: 16)
            }
        }
    }
    return hopperBackwardDefaultRoutes(problems.filter { HopperBackwardDescriptor.defaultPersistentTiles($0, l2CacheBytes: h200) },
                                       l2CacheBytes: h200)
}

/// The routed persistent kernels (``hopperBackwardPersistentRoutes()``) no other list compiles, one each.
let hopperBackwardPersistentRoutedVariants: [HopperBackwardDescriptor] = hopperBackwardUncompiled(
    hopperBackwardPersistentRoutes().map(\.1), besides: hopperBackwardPersistentVariants + hopperBackwardDescriptorVariants)

/// The wide kernels the other lists compile.
var hopperBackwardCompiledWideVariants: [HopperBackwardDescriptor] {
    (hopperBackwardVariants + hopperBackwardDescriptorVariants + hopperBackwardWideVariants + hopperBackwardWideEpilogueVariants
        + hopperBackwardWideUnorderedVariants + hopperBackwardWideChunkTurnVariants + hopperBackwardWideTwoWriterVariants
        + hopperBackwardWideQRingVariants + hopperBackwardWideGroupedVariants).filter { $0.headDim == 256 }
}

/// The routed wide kernels (``hopperBackwardWideDefaultRoutes()``) no other list compiles, one each.
let hopperBackwardWideRoutedVariants: [HopperBackwardDescriptor] = hopperBackwardUncompiled(
    hopperBackwardWideDefaultRoutes().map(\.1), besides: hopperBackwardCompiledWideVariants)

/// Tile D = 256 with head groups (session 20, `FLASH_ATTENTION_HOPPER_BWD_GROUP`): the arrival-order and ordered two-writer
/// forms, unmasked and causal with the mask branch, with and without the staged epilogue.
let hopperBackwardWideGroupedVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for g in [1, 2] {
        for mask in [KernelMask.none, .causal] {
            for staged in [true, false] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, mask: mask, stages: 1, orderedDQ: false,
                                                     headGroup: g, maskBranch: mask == .causal, wideQRing: true, wideStagedEpilogue: staged,
                                                     precomputedDescriptors: true))
            }
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .float16, headDim: 256, mask: mask, stages: 1, headGroup: g,
                                                 maskBranch: mask == .causal, wideWriters: 2, wideQRing: true, precomputedDescriptors: true))
        }
    }
    return list
}()

/// Tile D = 256 (the wide kernel: 64 keys shared by both consumer warpgroups, head dim split):
/// both Q stage counts, both types, causal and not, float32 gradients, the convert kernels.
let hopperBackwardWideVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for mask in [KernelMask.none, .causal] {
            for stages in [1, 2] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: type, headDim: 256, mask: mask, stages: stages))
            }
        }
        list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: type, headDim: 256))
    }
    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32, headDim: 256, mask: .causal))
    list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: .float16, dqType: .float32, headDim: 256))
    return list
}()

struct HopperBackwardCase: CustomTestStringConvertible, Sendable {
    var descriptor: HopperBackwardDescriptor
    var testDescription: String { descriptor.name }
}

@Suite("Hopper TMA warp-specialised backward (no GPU)")
struct HopperBackwardKernelTests {
    @Test func equalDescriptorsGenerateIdenticalSource() throws {
        for d in hopperBackwardVariants {
            let copy = d
            let a = try HopperBackwardKernel(descriptor: d).source, b = try HopperBackwardKernel(descriptor: copy).source
            #expect(a == b)
            #expect(!a.contains("#include"), "NVRTC runs without CUDA headers")
            if d.pass == .keyValue {
                #expect(a.contains("cp.async.bulk.tensor") && a.contains("setmaxnreg") && a.contains("wgmma.mma_async"))
                // Ordered variants add dQ only through the turn counter: one bulk reduction
                // after the acquire, never an element-wise atomic.
                #expect(!a.contains("\"red.global") && !a.contains("atom."))
            }
        }
        let names = Set(hopperBackwardVariants.map(\.name))
        #expect(names.count == hopperBackwardVariants.count, "names identify variants")
    }

    @Test func parameterBytesMatchTheStruct() throws {
        var p = BackwardParameters()
        p.q = 0x1122_3344_5566_7788
        p.seqlenQ = 77
        let maps = (0..<4).map { i in [UInt8](repeating: UInt8(i + 1), count: 128) }
        let bytes = HopperBackwardKernel.packedParameters(tensorMaps: maps, parameters: p)
        #expect(bytes.count == HopperBackwardKernel.parameterStructSize && bytes.count % 64 == 0)
        #expect(Array(bytes[384..<512]) == maps[3])
        #expect(Array(bytes[512..<(512 + p.packed().count)]) == p.packed())
        let source = try HopperBackwardKernel(descriptor: hopperBackwardVariants[0]).source
        #expect(source.contains("sizeof(HopperBwdParams) == \(HopperBackwardKernel.parameterStructSize)"))
    }

    /// Which problems the Hopper backward takes; the rest stays on the other kernels.
    @Test func acceptsOnlyItsProblems() {
        let plain = BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, softcap: false, alibi: false,
                                    dropout: false, varlen: false, vectorized: true, convertGradOut: false, deterministic: true, seqlenK: 4096)
        #expect(HopperBackwardDescriptor.accepts(plain))
        #expect(HopperBackwardDescriptor.plan(for: plain)?.map(\.pass) == [.preprocess, .keyValue, .convertDQ])
        var p = plain; p.mask = .window
        #expect(!HopperBackwardDescriptor.accepts(p))
        p = plain; p.dropout = true
        #expect(!HopperBackwardDescriptor.accepts(p))
        p = plain; p.varlen = true
        #expect(!HopperBackwardDescriptor.accepts(p))
        p = plain; p.headDim = 264
        #expect(!HopperBackwardDescriptor.accepts(p))
        // D = 129…256: the wide kernel (tile 256, 64-key blocks) between the tile D = 128
        // preprocess and a tile D = 256 convert.
        for D in [136, 160, 200, 232, 256] {
            p = plain; p.headDim = D
            let plan = HopperBackwardDescriptor.plan(for: p)
            #expect(plan?.map(\.headDim) == [128, 256, 256] && plan?[1].blockN == 64 && plan?[1].blockM == 64)
        }
        p = plain; p.headDim = 256
        #expect(HopperBackwardDescriptor.defaultOn(p) == HopperBackwardDescriptor.defaultWide)
        // Two Q stages (two dQ staging rounds) on unmasked problems from 4k keys, one elsewhere.
        for (mask, keys, stages) in [(KernelMask.none, 4096, 2), (.none, 2048, 1), (.causal, 16384, 1), (.causal, 1024, 1)] {
            var q = p; q.mask = mask; q.seqlenK = keys
            #expect(HopperBackwardDescriptor.defaultWideStages(q) == stages)
        }
        #expect(HopperBackwardDescriptor.plan(for: p, wideStages: 1)?[1].name == "hbwd_dkdv_bf16_d256_m64n64s1_causal_sm_90a")
        #expect(HopperBackwardDescriptor.plan(for: p, orderedDQ: false, dqBuffers: 2, dqWriters: 2, earlyDV: true)?[1].orderedDQ == true,
                "knobs of the tile D = 128 schedules leave the wide kernel as it is")
        p = plain; p.headDim = 100
        #expect(!HopperBackwardDescriptor.accepts(p), "D % 8 != 0")
        // D ≤ 64 runs tile D = 64 (128-query steps) in all three kernels.
        for D in [8, 40, 64] {
            p = plain; p.headDim = D
            let plan = HopperBackwardDescriptor.plan(for: p)
            #expect(plan?.map(\.headDim) == [64, 64, 64] && plan?.map(\.blockM) == [128, 128, 128])
        }
        p = plain; p.headDim = 72
        #expect(HopperBackwardDescriptor.plan(for: p)?.map(\.headDim) == [128, 128, 128])
        // Two dQ buffers fit tile D = 64 with the barriers in the alignment pad.
        p = plain; p.headDim = 64
        #expect(HopperBackwardDescriptor.plan(for: p, dqBuffers: 2, dqWriters: 2)?[1].name.contains("dqbuf2_w2") == true)
        p = plain; p.convertGradOut = true
        #expect(!HopperBackwardDescriptor.accepts(p))
        // On by default from 1k keys (measured faster there), off below.
        p = plain
        #expect(HopperBackwardDescriptor.defaultOn(p))
        p.seqlenK = 512
        #expect(!HopperBackwardDescriptor.defaultOn(p))
        // D ≤ 64: unmasked from 1k keys, causal from 2k (measured at D = 64).
        p = plain; p.headDim = 64; p.seqlenK = 1024
        #expect(!HopperBackwardDescriptor.defaultOn(p))
        p.seqlenK = 2048
        #expect(HopperBackwardDescriptor.defaultOn(p))
        p.mask = .none; p.seqlenK = 1024
        #expect(HopperBackwardDescriptor.defaultOn(p))
        p.seqlenK = 512
        #expect(!HopperBackwardDescriptor.defaultOn(p))
        // Two dQ buffers (a writer each) by default at tile D = 128 from 1k keys (2k before session 13), causal or not
        // (measured faster there); tile D = 64 beside its staged epilogue at unmasked 2k–4k and causal 4k–8k (session 14).
        p = plain; p.mask = .none; p.seqlenK = 2048
        #expect(HopperBackwardDescriptor.defaultDQBuffers(p) == 2 && HopperBackwardDescriptor.defaultDQWriters(p) == 2)
        p.seqlenK = 1024
        #expect(HopperBackwardDescriptor.defaultDQBuffers(p) == 2)
        p.seqlenK = 1023
        #expect(HopperBackwardDescriptor.defaultDQBuffers(p) == 1)
        p.seqlenK = 2048; p.mask = .causal
        #expect(HopperBackwardDescriptor.defaultDQBuffers(p) == 2)
        #expect(HopperBackwardDescriptor.defaultOrderedDQ(p))
        p.mask = .none; p.headDim = 64
        #expect(HopperBackwardDescriptor.defaultDQBuffers(p) == 2)
        for (mask, n, buffers) in [(KernelMask.none, 1024, 1), (.none, 4096, 2), (.none, 8192, 1), (.causal, 2048, 1), (.causal, 4096, 2),
                                   (.causal, 8192, 2), (.causal, 16384, 1)] {
            p.mask = mask; p.seqlenK = n
            #expect(HopperBackwardDescriptor.defaultDQBuffers(p) == buffers, "D = 64 \(mask) \(n)")
        }
        p.mask = .none; p.seqlenK = 2048
        p.headDim = plain.headDim
        #expect(HopperBackwardDescriptor.plan(for: p, dqBuffers: 2)?[1].dqBuffers == 2)
        p.headDim = 64
        #expect(HopperBackwardDescriptor.plan(for: p, dqBuffers: 2)?[1].dqBuffers == 2, "tile D = 64 fits two")
        // A writer per buffer needs two buffers and ordered adds.
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqWriters: 2).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2,
                                         dqWriters: 2).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2).invalidReason == nil)
        p = plain; p.mask = .none
        #expect(HopperBackwardDescriptor.plan(for: p, dqBuffers: 2, dqWriters: 2)?[1].name.contains("dqbuf2_w2") == true)
        // The pipelined Sᵀ schedule stays a knob (measured slower or level).
        #expect(!HopperBackwardDescriptor.defaultPipelinedS(plain))
        var d = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16)
        d.headDim = 192
        #expect(d.invalidReason != nil)
        d.headDim = 256
        #expect(d.invalidReason == nil)
        d.stages = 3
        #expect(d.invalidReason != nil, "tile D = 256 takes one or two Q stages")
        #expect(hopperBackwardVariants.allSatisfy { $0.invalidReason == nil })
    }

    /// The early dV / late dK orders exist at tile D = 128 only: a tile D = 64 descriptor asking
    /// for them is invalid, and a plan for a D ≤ 64 problem drops them instead of handing the
    /// problem to the other kernels.
    @Test func productOrderKnobs() throws {
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, earlyDV: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, lateDK: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, pipelinedS: true, earlyDV: true, lateDK: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, earlyDV: true, lateDK: true).invalidReason == nil)
        let small = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 64), earlyDV: true, lateDK: true))
        #expect(small[1].headDim == 64 && !small[1].earlyDV && !small[1].lateDK)
        let large = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 128), earlyDV: true, lateDK: true))
        #expect(large[1].earlyDV && large[1].lateDK && large[1].name.hasSuffix("_edv_ldk_sm_90a"))
        let piped = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 128), pipelinedS: true,
                                                               earlyDV: true, lateDK: true))
        #expect(piped[1].pipelinedS && piped[1].earlyDV && !piped[1].lateDK, "a knob combination never hands the problem on")
        // Defaults: unmasked problems at tile D = 128 take both, causal ones from 1k keys up to 8k (session 13), 16k (session 15),
        // tile D = 64 neither.
        for (D, mask, n, on) in [(128, KernelMask.none, 2048, true), (96, .none, 2048, true), (128, .causal, 4096, true), (128, .causal, 1024, true),
                                 (96, .causal, 8192, true), (128, .causal, 512, false), (128, .causal, 16384, true), (128, .causal, 16385, false),
                                 (128, .causal, 32768, false), (64, .none, 4096, false),
                                 (64, .causal, 4096, false)] {
            let problem = BackwardProblem(elementType: .float16, headDim: D, mask: mask, seqlenK: n)
            #expect(HopperBackwardDescriptor.defaultMaskBranch(problem) == (on && mask == .causal || D == 64 && mask == .causal), "D = \(D) \(mask) \(n)")
            #expect(!HopperBackwardDescriptor.unmaskedTile128LongForm(problem), "D = \(D) \(mask) \(n)")
            #expect(HopperBackwardDescriptor.defaultEarlyDV(problem) == on && HopperBackwardDescriptor.defaultLateDK(problem) == on)
            let plan = try #require(HopperBackwardDescriptor.plan(for: problem, earlyDV: HopperBackwardDescriptor.defaultEarlyDV(problem),
                                                                  lateDK: HopperBackwardDescriptor.defaultLateDK(problem)))
            #expect(plan[1].earlyDV == on && plan[1].lateDK == on)
        }
        // Off, the source is the shipped one (the new text is generated only when asked for).
        let plain = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16)).source
        #expect(!plain.contains("Pᵀ as A fragments") && plain.contains("wgmma_wait<0>();\n            touch_s(dpt);"))
    }

    /// The grouped grid order: a linear index decoded as the kernel does covers every
    /// (batch, kv head, key block) once, key blocks ascend (longest first on causal problems)
    /// within each group of heads, and the 3-D grid's source is unchanged when it is off.
    @Test func headGroupOrder() throws {
        for (heads, blocks, batch, g) in [(32, 16, 2, 4), (6, 5, 3, 4), (3, 7, 1, 8), (5, 1, 2, 2)] {
            var seen = Set<[Int]>(), order: [[Int]] = []
            for x in 0..<(heads * blocks * batch) {
                // The generated decode (HopperBackwardKernel.blockDecode), in Swift; the source
                // checks below pin the generated lines to these expressions one for one.
                let perBatch = heads * blocks, b = x / perBatch, inBatch = x % perBatch
                let g0 = inBatch / (g * blocks) * g, inGroup = inBatch % (g * blocks)
                let gHeads = min(g, heads - g0)
                let n = inGroup / gHeads, h = g0 + inGroup % gHeads
                #expect(b < batch && h < heads && n < blocks)
                seen.insert([b, h, n]); order.append([b, h, n])
            }
            #expect(seen.count == heads * blocks * batch)
            for h in 0..<heads {
                let ns = order.filter { $0[0] == 0 && $0[1] == h }.map { $0[2] }
                #expect(ns == Array(0..<blocks))
            }
        }
        let grouped = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, headGroup: 4)
        #expect(grouped.invalidReason == nil && grouped.name.hasSuffix("_causal_g4_sm_90a"))
        let groupedText = try HopperBackwardKernel(descriptor: grouped).source
        #expect(groupedText.contains("Linear grid in groups of 4 heads"))
        for line in ["const int per_batch = kv_heads * n_blocks;",
                     "const int batch = (int)(blockIdx.x / per_batch), in_batch = (int)(blockIdx.x % per_batch);",
                     "const int g0 = in_batch / (4 * n_blocks) * 4, in_group = in_batch % (4 * n_blocks);",
                     "const int g_heads = imin(4, kv_heads - g0);",
                     "const int n_block = in_group / g_heads, kv_head = g0 + in_group % g_heads;"] {
            #expect(groupedText.contains(line), "the generated decode changed: \(line)")
        }
        let plain = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64)).source
        #expect(plain.contains("const int n_block = blockIdx.y, kv_head = blockIdx.x, batch = blockIdx.z;") && !plain.contains("Linear grid"))
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, headGroup: 65).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, headGroup: 4).headGroup == 0)
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 64, mask: .causal), headGroup: 4))
        #expect(plan[1].headGroup == 4 && plan[0].headGroup == 0 && plan[2].headGroup == 0)
    }

    /// Head groups in the wide kernel (tile D = 256, session 20): the same linear-grid decode as tile D = 64 / 128, named
    /// apart, carried by the plan; without them the wide source is the 3-D grid's.
    @Test func headGroupWide() throws {
        let grouped = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1, orderedDQ: false, headGroup: 1,
                                               wideQRing: true, precomputedDescriptors: true)
        #expect(grouped.invalidReason == nil && grouped.name == "hbwd_dkdv_bf16_d256_m64n64s1_dqunordered_g1_qr_pd_sm_90a")
        let text = try grouped.generatedSource()
        #expect(text.contains("Linear grid in groups of 1 heads") && text.contains("const int g_heads = imin(1, kv_heads - g0);")
                && !text.contains("const int n_block = blockIdx.y"))
        let plain = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1, orderedDQ: false,
                                             wideQRing: true, precomputedDescriptors: true)
        #expect(try plain.generatedSource().contains("const int n_block = blockIdx.y, kv_head = blockIdx.x, batch = blockIdx.z;"))
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 256), headGroup: 2,
                                                              wideOrderedDQ: false))
        #expect(plan[1].headGroup == 2 && plan[1].headDim == 256 && plan[0].headGroup == 0)
        #expect(hopperBackwardWideGroupedVariants.allSatisfy { $0.invalidReason == nil && $0.headGroup > 0 && $0.headDim == 256 })
        // The default (session 20): one head at a time from 2048 keys, every mask (non-deterministic calls here).
        for (n, mask, g) in [(16384, KernelMask.none, 1), (2048, .causal, 1), (4096, .window, 1), (2047, .none, 0), (512, .causal, 0)] {
            #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 200, mask: mask,
                                                                              deterministic: false, seqlenK: n)) == g)
        }
        // Deterministic calls (the init's default): the 3-D grid, except unmasked from 4k keys in groups (session 21).
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, seqlenK: 2048)) == 0)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, seqlenK: 4096)) == 4)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, seqlenK: 8192)) == 2)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, seqlenK: 16384)) == 1)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal, seqlenK: 4096)) == 0)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal,
                                                                          deterministic: false, seqlenK: 4096)) == 1)
    }

    /// Every grouped wide variant compiles for sm_90a with NVRTC: no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardWideGroupedVariants.map { HopperBackwardCase(descriptor: $0) })
    func groupedWideVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The grouped grid at tile D = 128 (session 13 part 2): its forms are valid, named apart (suffix `gG` beside the
    /// session-13 suffixes), and the plan carries G with the staged epilogue and product order; the default stays the
    /// 3-D grid at tile D = 128 (measured: docs/performance.md, "Session 13, part 2").
    @Test func headGroupTile128() throws {
        #expect(hopperBackwardGroupedTile128Variants.allSatisfy { $0.invalidReason == nil && $0.headGroup > 0 && $0.headDim == 128 })
        #expect(Set(hopperBackwardGroupedTile128Variants.map(\.name)).count == hopperBackwardGroupedTile128Variants.count)
        #expect(hopperBackwardGroupedTile128Variants[0].name == "hbwd_dkdv_bf16_d128_m64n128s2_dqbuf2_w2_edv_ldk_g2_pd_sm_90a")
        let problem = BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, seqlenK: 8192)
        let plan = try #require(HopperBackwardDescriptor.plan(for: problem, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                                              headGroup: 4, maskBranch: true, precomputedDescriptors: true,
                                                              stagedEpilogue: true))
        #expect(plan[1].name == "hbwd_dkdv_bf16_d128_m64n128s2_causal_dqbuf2_w2_edv_ldk_g4_mb_pd_ste_sm_90a")
        // The default: the 3-D grid, except unmasked tile D = 128 from 4k keys (head groups of 4 beside the mask branch, session 19
        // from 8k, session 20 from 4k).
        for n in [2048, 4095, 4096, 8192, 16384] {
            for mask in [KernelMask.none, .causal] {
                for D in [128, 96] {
                    let problem = BackwardProblem(elementType: .float16, headDim: D, mask: mask, seqlenK: n)
                    let long = mask == .none && n >= 4096
                    #expect(HopperBackwardDescriptor.unmaskedTile128LongForm(problem) == long, "D = \(D) \(mask) \(n)")
                    #expect(HopperBackwardDescriptor.defaultHeadGroup(problem) == (long ? 4 : 0), "D = \(D) \(mask) \(n)")
                    if mask == .none { #expect(HopperBackwardDescriptor.defaultMaskBranch(problem) == long, "D = \(D) \(n)") }
                }
            }
        }
        #expect(!HopperBackwardDescriptor.unmaskedTile128LongForm(BackwardProblem(elementType: .float16, headDim: 64, seqlenK: 16384)))
        #expect(!HopperBackwardDescriptor.unmaskedTile128LongForm(BackwardProblem(elementType: .float16, headDim: 256, seqlenK: 16384)))
        let long = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 128, seqlenK: 8192),
                                                              dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true, headGroup: 4,
                                                              maskBranch: true, precomputedDescriptors: true))
        #expect(long[1].name == "hbwd_dkdv_bf16_d128_m64n128s2_dqbuf2_w2_edv_ldk_g4_mb_pd_sm_90a")
        #expect(hopperBackwardGroupedTile128Variants.contains { $0.name == long[1].name })
        // At 4k the staged epilogue runs beside them: that kernel is compiled in CI too.
        let p4 = BackwardProblem(elementType: .float16, headDim: 128, seqlenK: 4096)
        let at4k = try #require(HopperBackwardDescriptor.plan(for: p4, dqBuffers: HopperBackwardDescriptor.defaultDQBuffers(p4), dqWriters: 2,
                                                              earlyDV: true, lateDK: true, headGroup: HopperBackwardDescriptor.defaultHeadGroup(p4),
                                                              maskBranch: HopperBackwardDescriptor.defaultMaskBranch(p4),
                                                              precomputedDescriptors: true,
                                                              stagedEpilogue: HopperBackwardDescriptor.defaultStagedEpilogue(p4)))
        #expect(at4k[1].name == "hbwd_dkdv_fp16_d128_m64n128s2_dqbuf2_w2_edv_ldk_g4_mb_pd_ste_sm_90a")
        #expect(hopperBackwardGroupedTile128Variants.contains { $0.name == at4k[1].name })
    }

    /// Every grouped tile D = 128 variant compiles for sm_90a with NVRTC: no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardGroupedTile128Variants.map { HopperBackwardCase(descriptor: $0) })
    func groupedTile128VariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The mask branch: off, the exponentials are the shipped predicated loop; on, one branch on
    /// `edge` with an unmasked loop beside it (at tile D = 256 in warpgroup 0).
    @Test func maskBranch() throws {
        let on = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal, maskBranch: true)
        #expect(on.invalidReason == nil && on.name.hasSuffix("_causal_mb_sm_90a"))
        let text = try HopperBackwardKernel(descriptor: on).source
        #expect(text.contains("if (edge) {") && text.contains("every key visible to every query"))
        let off = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, mask: .causal)).source
        #expect(!off.contains("if (edge) {")
                && off.contains("            #pragma unroll\n            for (int nt = 0; nt < Q_TILES; ++nt)\n                #pragma unroll\n                for (int e = 0; e < 4; ++e) {\n                    const int j = key0"))
        // Tile D = 256 (session 19; the causal default since session 20): warpgroup 0's exponentials branch the same way;
        // without it the text is the predicated loop.
        let wideOn = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, mask: .causal, stages: 1, orderedDQ: false,
                                              maskBranch: true, wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true)
        #expect(wideOn.invalidReason == nil && wideOn.name == "hbwd_dkdv_bf16_d256_m64n64s1_causal_dqunordered_mb_qr_se_pd_sm_90a")
        let wideText = try wideOn.generatedSource()
        #expect(wideText.contains("if (edge) {") && wideText.contains("every key visible to every query"))
        let wideOff = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, mask: .causal, stages: 1, orderedDQ: false,
                                               wideQRing: true, wideStagedEpilogue: true, precomputedDescriptors: true)
        #expect(!(try wideOff.generatedSource()).contains("if (edge) {"))
        let widePlan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal), maskBranch: true))
        #expect(widePlan[1].maskBranch && widePlan[1].headDim == 256)
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 64, mask: .causal), maskBranch: true))
        #expect(plan[1].maskBranch && !plan[0].maskBranch && !plan[2].maskBranch)
    }

    /// The wide kernels the defaults route to (session 20): causal takes the mask branch, unmasked and windowed do not;
    /// from 2048 keys non-deterministic calls run one head at a time (G = 1), deterministic ones only unmasked from 4k
    /// keys, in groups of 4 / 2 / 1 heads (session 21); else the 3-D grid. Every one of them is compiled in CI (``hopperBackwardWideRoutedVariants``
    /// holds those no other list compiles).
    @Test func wideDefaultRoutes() throws {
        let routes = hopperBackwardWideDefaultRoutes()
        #expect(!routes.isEmpty)
        let compiled = Set((hopperBackwardCompiledWideVariants + hopperBackwardWideRoutedVariants).map(\.name))
        for (problem, kernel) in routes {
            let causal = problem.mask == .causal
            #expect(HopperBackwardDescriptor.defaultMaskBranch(problem) == causal
                    && HopperBackwardDescriptor.causalWideMaskBranch(problem) == causal, "\(kernel.name)")
            #expect(kernel.maskBranch == causal && kernel.name.contains("_mb_") == causal, "\(kernel.name)")
            // Non-deterministic calls one head at a time; deterministic ones only unmasked from 4k keys, in groups of
            // 4 / 2 / 1 heads from 4k / 8k / 16k (session 21: key-block turns queue).
            let n = problem.seqlenK, nd = !problem.deterministic
            let group = n < 2048 ? 0 : nd ? 1 : problem.mask != .none || n < 4096 ? 0 : n >= 16384 ? 1 : n >= 8192 ? 2 : 4
            #expect(kernel.headGroup == group && kernel.name.contains("_g\(group)_") == (group > 0), "\(kernel.name)")
            #expect(kernel.stages == 1 || (problem.deterministic && problem.mask == .none && problem.seqlenK >= 4096), "\(kernel.name)")
            #expect(compiled.contains(kernel.name), "\(kernel.name) is routed to but not compiled in CI")
        }
        // Tile D = 64 / 128 keep their rules.
        #expect(!HopperBackwardDescriptor.causalWideMaskBranch(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, seqlenK: 32768)))
        #expect(HopperBackwardDescriptor.wideHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 128, seqlenK: 32768)) == 0)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, seqlenK: 32768)) == 0)
    }

    /// Causal tile D = 64 / 128 with many kv heads and long rows run head groups of 4 (sessions 21–22): exactly where
    /// ``HopperBackwardDescriptor/causalManyHeadsGroup(_:)`` says, on the kernel the rest of the defaults pick; unknown heads,
    /// unmasked rows (their own rule) and tile D = 256 are not touched.
    @Test func manyHeadsDefaultRoutes() throws {
        let routes = hopperBackwardManyHeadsRoutes()
        #expect(!routes.isEmpty)
        for (problem, kernel) in routes {
            let tile = HopperBackwardDescriptor.tileHeadDim(problem.headDim)
            let grouped = tile == 128
                ? (problem.seqlenK >= 8192 && problem.kvHeads >= 32) || (problem.seqlenK >= 4096 && problem.kvHeads >= 64)
                : problem.seqlenK >= 16384 && problem.kvHeads >= 64
            #expect(HopperBackwardDescriptor.causalManyHeadsGroup(problem) == grouped, "\(kernel.name)")
            #expect(kernel.headGroup == (grouped ? 4 : 0) && kernel.name.contains("_g4_") == grouped, "\(kernel.name)")
        }
        #expect(Set(routes.filter { $0.1.headGroup > 0 }.map { $0.1.name }).count >= 8)
        #expect(!hopperBackwardManyHeadsRoutedVariants.isEmpty)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, seqlenK: 16384)) == 0)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 64, mask: .causal, seqlenK: 16384,
                                                                          kvHeads: 32)) == 0)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 128, seqlenK: 2048, kvHeads: 64)) == 0)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, seqlenK: 4096,
                                                                          kvHeads: 64)) == 4)
        #expect(HopperBackwardDescriptor.defaultHeadGroup(BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, seqlenK: 4096,
                                                                          kvHeads: 32)) == 0)
        #expect(!HopperBackwardDescriptor.causalManyHeadsGroup(BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .causal,
                                                                                seqlenK: 16384, kvHeads: 64)))
    }

    /// The routed many-heads kernels no other list compiles: for sm_90a with NVRTC, no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardManyHeadsRoutedVariants.map { HopperBackwardCase(descriptor: $0) })
    func manyHeadsRoutedVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The persistent grid by default (session 21): non-deterministic unmasked tile D = 128 from 4096 keys on an L2 of 56 MB
    /// or more (the H200's 60 MB, not the H100's 50 MB); the routed kernels are persistent, in arrival order, with the mask
    /// branch and no head groups, and CI compiles every one.
    @Test func persistentDefaultRoutes() throws {
        typealias H = HopperBackwardDescriptor
        let h200 = 60 << 20, h100 = 50 << 20
        for (D, n, mask, deterministic, l2, expected) in [
            (128, 4096, KernelMask.none, false, h200, true), (128, 16384, .none, false, h200, true), (96, 8192, .none, false, h200, true),
            (128, 4095, .none, false, h200, false), (128, 16384, .none, true, h200, false), (128, 16384, .causal, false, h200, false),
            (128, 16384, .none, false, h100, false), (64, 16384, .none, false, h200, false), (256, 16384, .none, false, h200, false),
        ] {
            let p = BackwardProblem(elementType: .bfloat16, headDim: D, mask: mask, deterministic: deterministic, seqlenK: n)
            #expect(H.defaultPersistentTiles(p, l2CacheBytes: l2) == expected, "D = \(D) N = \(n) \(mask) det \(deterministic) L2 \(l2 >> 20) MB")
        }
        let routes = hopperBackwardPersistentRoutes()
        #expect(routes.count == 2 * 4 * 2 * 2)
        // The kernel the forced runs checked on the H200 (session 21: `…_PERSIST=1 …_GROUP=0`) is the one the default picks.
        #expect(routes.contains { $0.1.name == "hbwd_dkdv_bf16_d128_m64n128s2_dqunordered_dqbuf2_edv_ldk_mb_pt_pd_sm_90a" })
        #expect(routes.contains { $0.1.name == "hbwd_dkdv_fp16_d128_m64n128s2_dqunordered_dqbuf2_edv_ldk_mb_pt_pd_sm_90a" })
        let compiled = Set((hopperBackwardPersistentVariants + hopperBackwardDescriptorVariants + hopperBackwardPersistentRoutedVariants).map(\.name))
        for (_, kernel) in routes {
            #expect(kernel.persistentTiles && !kernel.orderedDQ && kernel.maskBranch && kernel.headGroup == 0 && kernel.invalidReason == nil,
                    "\(kernel.name)")
            #expect(kernel.name.contains("_dqunordered_") && kernel.name.contains("_mb_pt_pd"), "\(kernel.name)")
            #expect(compiled.contains(kernel.name), "\(kernel.name) is routed to but not compiled in CI")
        }
    }

    /// The resolver the runtime launches through: a knob set in the settings overrides its default, and the layout's
    /// int-range limits turn the linear grids off.
    @Test func resolvedPlanKnobs() throws {
        typealias H = HopperBackwardDescriptor
        let p = BackwardProblem(elementType: .bfloat16, headDim: 128, deterministic: false, seqlenK: 16384, kvHeads: 16)
        let h200 = 60 << 20
        let shipped = try #require(H.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: h200))
        #expect(shipped[1].persistentTiles && shipped[1].headGroup == 0 && shipped[0].fastPasses)
        let h100 = try #require(H.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: 50 << 20))
        #expect(!h100[1].persistentTiles && h100[1].headGroup == 4 && h100[1].maskBranch)
        let off = try #require(H.resolvedPlan(for: p, settings: HopperBackwardSettings(persist: "0"), fastPasses: true, l2CacheBytes: h200))
        #expect(off[1] == h100[1])
        #expect(try #require(H.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: h200, persistentTilesFit: false))[1] == h100[1])
        let grouped = try #require(H.resolvedPlan(for: p, settings: HopperBackwardSettings(headGroup: "2", persist: "0"), fastPasses: true,
                                                  l2CacheBytes: h200))
        #expect(grouped[1].headGroup == 2)
        let tooMany = try #require(H.resolvedPlan(for: p, settings: HopperBackwardSettings(headGroup: "2", persist: "0"), fastPasses: true,
                                                  l2CacheBytes: h200, linearGridFits: false))
        #expect(tooMany[1].headGroup == 0)
        let ordered = try #require(H.resolvedPlan(for: p, settings: HopperBackwardSettings(order: "ordered"), fastPasses: false, l2CacheBytes: h200))
        #expect(!ordered[1].persistentTiles && ordered[1].orderedDQ && !ordered[0].fastPasses)
        var deterministic = p
        deterministic.deterministic = true
        #expect(try #require(H.resolvedPlan(for: deterministic, fastPasses: true, l2CacheBytes: h200))[1].orderedDQ)
    }

    /// The routed persistent kernels no other list compiles: for sm_90a with NVRTC, no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardPersistentRoutedVariants.map { HopperBackwardCase(descriptor: $0) })
    func persistentRoutedVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The routed wide kernels no other list compiles: for sm_90a with NVRTC, no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardWideRoutedVariants.map { HopperBackwardCase(descriptor: $0) })
    func wideRoutedVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The fast preprocess and conversion: named apart, only on those two passes (not the
    /// key/value kernel, not a float32 dQ at tile D = 256), carried by the plan, and the plain
    /// forms' source is unchanged when off.
    @Test func fastPasses() throws {
        let pre = HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, headDim: 64, fastPasses: true)
        let cvt = HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, fastPasses: true)
        #expect(pre.fastPasses && pre.name.hasSuffix("_m128_d64v_sm_90a") && cvt.name.hasSuffix("_d128_v_sm_90a"))
        #expect(try HopperBackwardKernel(descriptor: pre).source.contains("constexpr int LPR = HEAD_DIM / 8;"))
        #expect(try HopperBackwardKernel(descriptor: cvt).source.contains("__shared__ __align__(16) dq_t tile_s[BLOCK_M * PITCH];"))
        let plainPre = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16)).source
        let plainCvt = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16)).source
        #expect(!plainPre.contains("LPR") && plainPre.contains("for (int d = lane; d < p.head_dim; d += 32)"))
        #expect(!plainCvt.contains("tile_s") && plainCvt.contains("for (int f = threadIdx.x; f < BLOCK_M * HEAD_DIM / 4; f += 256)"))
        #expect(!HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, fastPasses: true).fastPasses)
        #expect(HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, headDim: 256, fastPasses: true).fastPasses)
        #expect(!HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, dqType: .float32, headDim: 256, fastPasses: true).fastPasses)
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 96), fastPasses: true))
        #expect(plan[0].fastPasses && !plan[1].fastPasses && plan[2].fastPasses)
        let wide = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 256), fastPasses: true))
        #expect(wide[0].fastPasses && wide[0].headDim == 256 && !wide[1].fastPasses && wide[2].fastPasses)
        let widePlain = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 256)))
        #expect(widePlain.allSatisfy { !$0.fastPasses } && widePlain[0].headDim == 128)
        // With the fast passes the route starts at 512 keys for tile D = 64/128 (not tile 256, not below 512).
        var short = BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal, softcap: false, alibi: false,
                                    dropout: false, varlen: false, vectorized: true, convertGradOut: false, deterministic: true, seqlenK: 512)
        #expect(!HopperBackwardDescriptor.defaultOn(short) && HopperBackwardDescriptor.defaultOnWithFastPasses(short))
        short.headDim = 64; short.seqlenK = 1024
        #expect(!HopperBackwardDescriptor.defaultOn(short) && HopperBackwardDescriptor.defaultOnWithFastPasses(short))
        short.seqlenK = 256
        #expect(!HopperBackwardDescriptor.defaultOnWithFastPasses(short))
        short.headDim = 192; short.seqlenK = 4096
        #expect(!HopperBackwardDescriptor.defaultOnWithFastPasses(short))
        short.headDim = 128; short.dropout = true
        #expect(!HopperBackwardDescriptor.defaultOnWithFastPasses(short))
    }

    /// Ping-pong consumers: tile D = 128 only, never with the pipelined Sᵀ, carried by the plan
    /// (dropped, not refused, where the tile cannot take it), named apart; the shipped source has
    /// none of its text, and its source has no barrier across the warpgroups inside a step.
    @Test func pingPongConsumers() throws {
        let on = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                          pingPong: true)
        #expect(on.invalidReason == nil && on.name.hasSuffix("_edv_ldk_pp_sm_90a") && on.dqColumns == 128)
        #expect(on.sharedMemoryBytes == 231_680, "the same tiles as the two-buffer layout")
        let text = try HopperBackwardKernel(descriptor: on).source
        #expect(text.contains("named_sync(BAR_TURN + wg, CONSUMER_THREADS)") && text.contains("wgmma.mma_async.sync.aligned.m64n128k16.f32.bf16.bf16")
                && text.contains("mbar_init(bar_dq_half + 8 * b, 128);") && !text.contains("named_sync(BAR_DS"))
        let off = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2,
                                                                                dqWriters: 2, earlyDV: true, lateDK: true)).source
        #expect(!off.contains("BAR_TURN") && !off.contains("bar_dq_half") && off.contains("named_sync(BAR_DS, CONSUMER_THREADS);"))
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, pingPong: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, pingPong: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, pipelinedS: true, pingPong: true).invalidReason != nil)
        #expect(!HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, pingPong: true).pingPong)
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 96), pingPong: true))
        #expect(!plan[0].pingPong && plan[1].pingPong && !plan[2].pingPong)
        let small = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 64), pingPong: true))
        #expect(!small[1].pingPong)
        let piped = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 128), pipelinedS: true,
                                                               pingPong: true))
        #expect(piped[1].pipelinedS && !piped[1].pingPong)
        #expect(hopperBackwardPingPongVariants.allSatisfy { $0.invalidReason == nil && $0.pingPong })
    }

    /// The early statistics and the late dQ fence (session 8): tile D = 128 only, the fence only
    /// with the late dK, neither with ping-pong consumers; carried by the plan (dropped where the
    /// tile or the product order cannot take them), named apart; the shipped source has none of
    /// their text, and with them the L/D loads come before the Sᵀ wait and the fence after dK's.
    @Test func earlyStatsAndLateFence() throws {
        let on = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                          earlyStats: true, lateFence: true)
        #expect(on.invalidReason == nil && on.name.hasSuffix("_edv_ldk_es_lf_sm_90a"))
        let text = try HopperBackwardKernel(descriptor: on).source
        let load = try #require(text.range(of: "float lv[Q_TILES][2], dlv[Q_TILES][2];"))
        let sWait = try #require(text.range(of: "wgmma_wait<1>();\n            touch_s(st);"))
        #expect(load.lowerBound < sWait.lowerBound, "L and D are read before the Sᵀ wait")
        #expect(text.contains("fast_exp2(st[nt][e] * scale_log2 - lv[nt][e & 1])") && text.contains("(dpt[nt][e] - dlv[nt][e & 1])")
                && !text.contains("l_row[col]") && !text.contains("d_row[nt * 8 + (e & 1)]"))
        let dkWait = try #require(text.range(of: "wgmma_wait<0>();\n            touch_o(acc_dv); touch_o(acc_dk);"))
        let fence = try #require(text.range(of: "fence_async_shared();                // the staged dQ_partial"))
        #expect(dkWait.lowerBound < fence.lowerBound)
        let off = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2,
                                                                                dqWriters: 2, earlyDV: true, lateDK: true)).source
        #expect(!off.contains("dlv[") && !off.contains("the staged dQ_partial") && off.contains("l_row[col]"))
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, earlyStats: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, lateFence: true).invalidReason != nil, "needs the late dK")
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, pingPong: true, earlyStats: true).invalidReason != nil)
        #expect(!HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, earlyStats: true, lateFence: true).earlyStats)
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 96), earlyDV: true,
                                                              lateDK: true, earlyStats: true, lateFence: true))
        #expect(!plan[0].earlyStats && plan[1].earlyStats && plan[1].lateFence && !plan[2].earlyStats)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, earlyDV: true,
                                         persistentTiles: true).invalidReason != nil, "the compiled forms have the late dK")
        let causal = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 128, mask: .causal),
                                                                earlyStats: true, lateFence: true))
        #expect(causal[1].earlyStats && !causal[1].lateFence, "no late dK, no late fence")
        let small = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 64), earlyStats: true))
        #expect(!small[1].earlyStats)
        let pp = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 128), pingPong: true,
                                                            earlyStats: true))
        #expect(pp[1].pingPong && !pp[1].earlyStats)
        #expect(hopperBackwardStatsVariants.allSatisfy { $0.invalidReason == nil && ($0.earlyStats || $0.lateFence) })
    }

    /// Every early-statistics / late-fence variant compiles for sm_90a with NVRTC: no spills, no
    /// stack frame, no serialized wgmma, no C7508/C7514/C7517.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardStatsVariants.map { HopperBackwardCase(descriptor: $0) })
    func statsVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The key/value kernel's shared memory: tile D = 128 keeps the plain layout (tiles,
    /// 256 B of barriers, 1 KB of alignment slack); tile D = 64 with two dQ buffers would need
    /// 232,704 B that way, so its barriers share the slack (232,432 of 232,448 B).
    @Test func sharedMemoryLayouts() {
        func kv(_ D: Int, _ buffers: Int, stages: Int = 2) -> HopperBackwardDescriptor {
            HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: D, stages: stages, dqBuffers: buffers,
                                     dqWriters: buffers)
        }
        let limit = GPUArchitecture.sm90a.maxSharedMemoryPerBlock
        #expect(kv(128, 1).sharedMemoryBytes == 198_912 && !kv(128, 1).barriersInAlignmentPad)
        #expect(kv(128, 2).sharedMemoryBytes == 231_680 && !kv(128, 2).barriersInAlignmentPad)
        #expect(kv(64, 1).sharedMemoryBytes == 199_936 && !kv(64, 1).barriersInAlignmentPad)
        #expect(kv(64, 2).tileBytes + HopperBackwardDescriptor.barrierBytes + 1024 == 232_704)
        #expect(kv(64, 2).barriersInAlignmentPad && kv(64, 2).sharedMemoryBytes == 232_432 && 232_432 <= limit)
        #expect(kv(64, 2).invalidReason == nil)
        #expect(kv(64, 1, stages: 3).invalidReason != nil, "no layout fits three stages at tile D = 64")
        let padded = try? HopperBackwardKernel(descriptor: kv(64, 2)).source
        #expect(padded?.contains("pad >= BAR_BYTES ? sK - BAR_BYTES") == true)
        let plain = try? HopperBackwardKernel(descriptor: kv(128, 2)).source
        #expect(plain?.contains("BAR_BYTES") == false)
        // Tile D = 256: one Q stage with a 64 KB dQ staging, or two with 32 KB (two rounds).
        let wide1 = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1)
        let wide2 = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 2)
        #expect(wide1.sharedMemoryBytes == 231_168 && wide2.sharedMemoryBytes == 231_424)
        #expect(wide1.invalidReason == nil && wide2.invalidReason == nil && wide2.sharedMemoryBytes <= limit)
    }

    /// The persistent grid (session 8): arrival-order dQ at tile D = 64/128 only (ordered turns
    /// across a persistent schedule can deadlock), named apart, carried by the plan only where it
    /// applies; its source walks tiles with a K/V-free barrier, and the shipped source has none of it.
    @Test func persistentTiles() throws {
        let on = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dqBuffers: 2, earlyDV: true,
                                          lateDK: true, persistentTiles: true)
        #expect(on.invalidReason == nil && on.name.hasSuffix("_dqunordered_dqbuf2_edv_ldk_pt_sm_90a"))
        let text = try HopperBackwardKernel(descriptor: on).source
        #expect(text.contains("kv_tile += gridDim.x") && text.contains("mbar_arrive(bar_kv_free)")
                && text.contains("mbar_wait(bar_kv_free, (it - 1) & 1)") && text.contains("mbar_wait(bar_kv, it & 1)"))
        #expect(!text.contains("ld_acquire(sem)"), "no turn chain in the persistent form")
        let off = try HopperBackwardKernel(descriptor: HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false,
                                                                                dqBuffers: 2, earlyDV: true, lateDK: true)).source
        #expect(!off.contains("bar_kv_free") && !off.contains("kv_tile"))
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, persistentTiles: true).invalidReason != nil, "ordered dQ")
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, orderedDQ: false,
                                         persistentTiles: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, pipelinedS: true,
                                         persistentTiles: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, pingPong: true,
                                         persistentTiles: true).invalidReason != nil)
        #expect(!HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, persistentTiles: true).persistentTiles)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, orderedDQ: false,
                                         persistentTiles: true).invalidReason != nil, "no early dV: spills")
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 64, orderedDQ: false,
                                         persistentTiles: true).invalidReason != nil, "tile D = 64 spills")
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 96), orderedDQ: false,
                                                              earlyDV: true, lateDK: true, headGroup: 4, persistentTiles: true))
        #expect(plan[1].persistentTiles && plan[1].headGroup == 0 && !plan[0].persistentTiles && !plan[2].persistentTiles)
        let causal = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 128, mask: .causal),
                                                                orderedDQ: false, persistentTiles: true))
        #expect(!causal[1].persistentTiles)
        // Causal tile D = 128 takes the early dV and late dK by default since session 13; the persistent loop stays unmasked
        // (session 14: never checked causal), both in the descriptor and in the plan.
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, mask: .causal, orderedDQ: false, earlyDV: true,
                                         lateDK: true, persistentTiles: true).invalidReason != nil, "causal")
        let causalEarly = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 128, mask: .causal,
                                                                                          deterministic: false, seqlenK: 2048),
                                                                     orderedDQ: false, earlyDV: true, lateDK: true, persistentTiles: true))
        #expect(!causalEarly[1].persistentTiles && causalEarly[1].earlyDV && causalEarly[1].invalidReason == nil)
        let ordered = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 128), persistentTiles: true))
        #expect(!ordered[1].persistentTiles, "ordered dQ keeps the one-tile grid")
        #expect(hopperBackwardPersistentVariants.allSatisfy { $0.invalidReason == nil && $0.persistentTiles })
    }

    /// The dependent dQ conversion (session 23): named apart on both passes it changes (the conversion pass by its mask too),
    /// valid only with ordered dQ at tile D = 64/128, carried by the plan to both only there; the key/value kernel lets its
    /// dependents launch, the conversion pass waits on each tile's turn counter and on the key/value grid at its end, and the
    /// sources without it have none of it.
    @Test func dependentConvert() throws {
        let kv = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                          dependentConvert: true)
        #expect(kv.invalidReason == nil && kv.name.hasSuffix("_dqbuf2_w2_edv_ldk_dc_sm_90a"))
        let text = try HopperBackwardKernel(descriptor: kv).source
        #expect(text.contains("griddepcontrol.launch_dependents;"))
        var plainKV = kv
        plainKV.dependentConvert = false
        let plainKVText = try HopperBackwardKernel(descriptor: plainKV).source
        #expect(!plainKVText.contains("griddepcontrol"))
        let convert = HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, headDim: 128, mask: .causal, fastPasses: true,
                                               dependentConvert: true)
        #expect(convert.name.hasSuffix("_v_dc_causal_sm_90a"))
        let convertText = try HopperBackwardKernel(descriptor: convert).source
        #expect(convertText.contains("while (ld_acquire(sem) < expect)") && convertText.contains("griddepcontrol.wait;")
                && convertText.contains("constexpr bool CAUSAL = true;"))
        var plainConvert = convert
        plainConvert.dependentConvert = false
        plainConvert.mask = .none
        let plainConvertText = try HopperBackwardKernel(descriptor: plainConvert).source
        #expect(!plainConvertText.contains("griddepcontrol") && !plainConvertText.contains("ld_acquire"))
        #expect(!HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, dependentConvert: true).dependentConvert)
        for bad in [HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, dependentConvert: true),
                    HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1, wideChunkTurns: true,
                                             dependentConvert: true),
                    HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1, orderedDQ: false,
                                             dependentConvert: true)] {
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
        // Tile D = 256 (session 24): the wide kernel lets its dependents launch; the conversion pass at 256 columns waits.
        let wideKV = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, mask: .causal, stages: 1,
                                              wideWriters: 2, wideQRing: true, dependentConvert: true)
        let wideKVText = try HopperBackwardKernel(descriptor: wideKV).source
        #expect(wideKV.invalidReason == nil && wideKVText.contains("griddepcontrol.launch_dependents;"))
        let wideConvert = HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, headDim: 256, mask: .causal, dependentConvert: true)
        let wideConvertText = try HopperBackwardKernel(descriptor: wideConvert).source
        #expect(wideConvert.invalidReason == nil && wideConvertText.contains("while (ld_acquire(sem) < expect)"))
        #expect(hopperBackwardDependentConvertVariants.allSatisfy { $0.invalidReason == nil && $0.dependentConvert })
        // The route: both passes where the form applies (the conversion pass with the problem's mask), neither elsewhere,
        // nothing unless asked for.
        let knob = HopperBackwardSettings(dependentConvert: "1")
        for (d, mask, keys) in [(128, KernelMask.none, 1024), (128, .causal, 1024), (64, .causal, 2048), (96, .none, 8192)] {
            let problem = BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, deterministic: true, seqlenK: keys)
            let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: knob, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(plan[1].dependentConvert && plan[2].dependentConvert && plan[2].mask == mask && !plan[0].dependentConvert, "\(d) \(mask)")
            let off = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: HopperBackwardSettings(dependentConvert: "0"),
                                                                          fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(!off[1].dependentConvert && !off[2].dependentConvert && off[2].mask == .none)
            // Unset: on up to 2048 keys (where it was timed).
            let unset = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(unset[1].dependentConvert == (keys <= 2048) && unset[2].dependentConvert == (keys <= 2048))
        }
        let persistent = try #require(HopperBackwardDescriptor.resolvedPlan(
            for: BackwardProblem(elementType: .bfloat16, headDim: 128, deterministic: false, seqlenK: 8192), settings: knob,
            fastPasses: true, l2CacheBytes: 60 << 20))
        #expect(persistent[1].persistentTiles && !persistent[1].dependentConvert && !persistent[2].dependentConvert,
                "arrival order: its counters count reads, not completed adds")
        // Tile D = 256: where its dQ is ordered with one turn a tile (unmasked below 2k keys, causal below 1k; deterministic
        // calls always), by default up to 2k keys; not in arrival order.
        for (mask, keys, det, expected) in [(KernelMask.none, 1024, false, true), (.causal, 512, false, true), (.causal, 1024, false, false),
                                            (.none, 2048, true, true), (.none, 4096, true, false)] {
            let wide = try #require(HopperBackwardDescriptor.resolvedPlan(
                for: BackwardProblem(elementType: .bfloat16, headDim: 256, mask: mask, deterministic: det, seqlenK: keys),
                fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(wide[1].dependentConvert == expected && wide[2].dependentConvert == expected && (wide[2].mask == mask) == (expected || mask == .none),
                    "\(mask) \(keys) \(det)")
        }
        let chunk = try #require(HopperBackwardDescriptor.resolvedPlan(
            for: BackwardProblem(elementType: .bfloat16, headDim: 256, seqlenK: 1024), settings: HopperBackwardSettings(wideTurns: "chunk", dependentConvert: "1"),
            fastPasses: true, l2CacheBytes: 60 << 20))
        #expect(chunk[1].wideChunkTurns && !chunk[1].dependentConvert && !chunk[2].dependentConvert)
    }

    /// The key/value kernel as a dependent of the preprocess (session 24): named apart on both passes it changes, valid only at
    /// tile D = 64/128 and not on the conversion pass; the preprocess lets its dependents launch, the key/value producer waits
    /// ahead of its first L/D load (after its K, V, Q and dO loads) and thread 0 at the end; the plan carries it to both passes
    /// where it applies; the sources without it have none of it.
    @Test func dependentStats() throws {
        let kv = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                          dependentStats: true)
        #expect(kv.invalidReason == nil && kv.name.hasSuffix("_dqbuf2_w2_edv_ldk_ds_sm_90a"))
        let text = try HopperBackwardKernel(descriptor: kv).source
        let wait = try #require(text.range(of: "if (step == 0) asm volatile(\"griddepcontrol.wait;\""))
        let firstQ = try #require(text.range(of: "tma_load(sQ"))
        let firstL = try #require(text.range(of: "bulk_load(sL"))
        #expect(firstQ.lowerBound < wait.lowerBound && wait.lowerBound < firstL.lowerBound, "K/V/Q/dO ahead of the wait, L/D after it")
        #expect(text.contains("if (threadIdx.x == 0) asm volatile(\"griddepcontrol.wait;\""))
        #expect(!text.contains("griddepcontrol.launch_dependents"), "no dependent conversion here")
        var plainKV = kv
        plainKV.dependentStats = false
        #expect(!(try HopperBackwardKernel(descriptor: plainKV).source).contains("griddepcontrol"))
        for fast in [false, true] {
            let pre = HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, fastPasses: fast, dependentStats: true)
            #expect(pre.invalidReason == nil && pre.name.hasSuffix("_ds_sm_90a"), "\(pre.name)")
            #expect((try HopperBackwardKernel(descriptor: pre).source).contains("griddepcontrol.launch_dependents;"))
            var plainPre = pre
            plainPre.dependentStats = false
            #expect(!(try HopperBackwardKernel(descriptor: plainPre).source).contains("griddepcontrol"))
        }
        #expect(!HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, dependentStats: true).dependentStats)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1, dependentStats: true).invalidReason != nil)
        #expect(hopperBackwardDependentStatsVariants.allSatisfy { $0.invalidReason == nil && $0.dependentStats })
        let knob = HopperBackwardSettings(dependentStats: "1")
        for (d, mask, keys, det) in [(128, KernelMask.none, 1024, true), (128, .causal, 4096, false), (64, .none, 8192, false)] {
            let problem = BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, deterministic: det, seqlenK: keys)
            let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: knob, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(plan[0].dependentStats && plan[1].dependentStats && !plan[2].dependentStats, "\(d) \(mask) \(keys)")
            let off = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: HopperBackwardSettings(dependentStats: "0"),
                                                                          fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(!off[0].dependentStats && !off[1].dependentStats)
        }
        // Unset: unmasked tile D = 64/128 up to 512 keys (where it won), nowhere else.
        for (d, mask, keys, expected) in [(128, KernelMask.none, 512, true), (64, .none, 512, true), (96, .none, 500, true),
                                          (128, .causal, 512, false), (128, .none, 1024, false), (256, .none, 512, false)] {
            let problem = BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, deterministic: false, seqlenK: keys)
            let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(plan[0].dependentStats == expected && plan[1].dependentStats == expected, "\(d) \(mask) \(keys)")
        }
        let wide = try #require(HopperBackwardDescriptor.resolvedPlan(
            for: BackwardProblem(elementType: .bfloat16, headDim: 256, seqlenK: 1024), settings: knob, fastPasses: true, l2CacheBytes: 60 << 20))
        #expect(!wide[0].dependentStats && !wide[1].dependentStats)
        // The persistent grid (unmasked tile D = 128 from 4k keys on a 60 MB L2) keeps the plain launch (its producer spills with it).
        let persistent = try #require(HopperBackwardDescriptor.resolvedPlan(
            for: BackwardProblem(elementType: .bfloat16, headDim: 128, deterministic: false, seqlenK: 8192), settings: knob,
            fastPasses: true, l2CacheBytes: 60 << 20))
        #expect(persistent[1].persistentTiles && !persistent[0].dependentStats && !persistent[1].dependentStats)
        var pt = persistent[1]
        pt.dependentStats = true
        #expect(pt.invalidReason != nil)
    }

    /// Every variant of the dependent key/value launch compiles for sm_90a with NVRTC: no spills, no stack frame, no
    /// serialized wgmma, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardDependentStatsVariants.map { HopperBackwardCase(descriptor: $0) })
    func dependentStatsVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// Every dependent-conversion variant compiles for sm_90a with NVRTC: no spills, no stack frame, no serialized wgmma, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardDependentConvertVariants.map { HopperBackwardCase(descriptor: $0) })
    func dependentConvertVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// Every persistent variant compiles for sm_90a with NVRTC: no spills, no stack frame, no
    /// serialized wgmma, no C7508/C7514/C7517.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardPersistentVariants.map { HopperBackwardCase(descriptor: $0) })
    func persistentVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// Every precomputed-descriptor variant compiles for sm_90a with NVRTC: no spills, no stack frame,
    /// no serialized wgmma, no C7508/C7514/C7517.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardDescriptorVariants.map { HopperBackwardCase(descriptor: $0) })
    func descriptorVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The precomputed descriptors: named apart (suffix `pd`), generated only when asked for (the
    /// shipped text has no `desc_at`), key/value kernels only, and every listed variant is valid.
    @Test func precomputedDescriptors() throws {
        let on = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                          precomputedDescriptors: true)
        #expect(on.invalidReason == nil && on.name.hasSuffix("_edv_ldk_pd_sm_90a"))
        var off = on
        off.precomputedDescriptors = false
        let a = try HopperBackwardKernel(descriptor: on).source, b = try HopperBackwardKernel(descriptor: off).source
        #expect(a.contains("desc_at(desc_word(") && !a.contains("smem_desc(sK"))
        #expect(!b.contains("desc_at") && b.contains("smem_desc(sK + wg_rows + off_n, 16, 1024)"))
        #expect(!HopperBackwardDescriptor(pass: .preprocess, elementType: .bfloat16, precomputedDescriptors: true).precomputedDescriptors)
        // Tile D = 256: the Q-ring form only (the others spill); a plan drops them elsewhere instead of handing the problem on.
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 2,
                                         precomputedDescriptors: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1,
                                         precomputedDescriptors: true).invalidReason != nil)
        let wide = BackwardProblem(elementType: .bfloat16, headDim: 256, mask: .none, seqlenK: 8192)
        let ring = try #require(HopperBackwardDescriptor.plan(for: wide, wideStages: 1, wideQRing: true, precomputedDescriptors: true))
        #expect(ring[1].precomputedDescriptors && ring[1].name.hasSuffix("_qr_pd_sm_90a"))
        let two = try #require(HopperBackwardDescriptor.plan(for: wide, wideStages: 2, precomputedDescriptors: true))
        #expect(!two[1].precomputedDescriptors)
        // Defaults (H100, session 9): tile D = 64 both masks, tile D = 128 unmasked, tile D = 256 causal; since session 13
        // causal tile D = 128 from 1k keys up to 8k (beside the early dV, late dK and mask branch), since session 15 up to 16k.
        for (D, mask, n, on) in [(64, KernelMask.none, 4096, true), (40, .causal, 4096, true), (128, .none, 4096, true), (96, .none, 4096, true),
                                 (128, .causal, 4096, true), (128, .causal, 16384, true), (128, .causal, 32768, false), (128, .causal, 512, false),
                                 (256, .none, 4096, false), (256, .causal, 4096, true), (192, .causal, 4096, true)] {
            for deterministic in [true, false] {
                let problem = BackwardProblem(elementType: .float16, headDim: D, mask: mask, deterministic: deterministic, seqlenK: n)
                #expect(HopperBackwardDescriptor.defaultPrecomputedDescriptors(problem) == on, "D = \(D) \(mask)")
            }
        }
        #expect(hopperBackwardDescriptorVariants.allSatisfy { $0.invalidReason == nil && $0.precomputedDescriptors })
        #expect(Set(hopperBackwardDescriptorVariants.map(\.name)).count == hopperBackwardDescriptorVariants.count)
    }

    /// Every staged-epilogue variant compiles for sm_90a with NVRTC: no spills, no stack frame, no
    /// serialized wgmma, no C7508/C7514/C7517.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardStagedEpilogueVariants.map { HopperBackwardCase(descriptor: $0) })
    func stagedEpilogueVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }

    /// The staged dK/dV epilogue (session 13; tile D = 64 since session 14): tile D = 64/128 with 16-bit dK/dV on the one-tile grid only,
    /// named apart (suffix `ste`), carried by the plan only where it applies, off by default; the shipped
    /// source keeps the direct 4-byte stores.
    @Test func stagedEpilogue() throws {
        let on = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dqBuffers: 2, dqWriters: 2, earlyDV: true, lateDK: true,
                                          precomputedDescriptors: true, stagedEpilogue: true)
        #expect(on.invalidReason == nil && on.name.hasSuffix("_edv_ldk_pd_ste_sm_90a"))
        var off = on
        off.stagedEpilogue = false
        let a = try HopperBackwardKernel(descriptor: on).source, b = try HopperBackwardKernel(descriptor: off).source
        #expect(a.contains("named_sync(BAR_EPI, CONSUMER_THREADS)") && a.contains("ld_shared_u4(se_k + off)")
                && a.contains("const u32 se_k = sQ + wg * 2 * (64 * 256)") && !a.contains("store_dk2(dk_row + col"))
        #expect(!b.contains("BAR_EPI") && b.contains("store_dk2(dk_row + col"))
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256, stages: 1,
                                         stagedEpilogue: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, dkType: .float32, dvType: .float32,
                                         stagedEpilogue: true).invalidReason != nil)
        #expect(HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, orderedDQ: false, earlyDV: true, lateDK: true,
                                         persistentTiles: true, stagedEpilogue: true).invalidReason != nil)
        #expect(!HopperBackwardDescriptor(pass: .convertDQ, elementType: .bfloat16, stagedEpilogue: true).stagedEpilogue)
        let plan = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 96, mask: .causal),
                                                              stagedEpilogue: true))
        #expect(plan[1].stagedEpilogue && !plan[0].stagedEpilogue && !plan[2].stagedEpilogue)
        // Tile D = 64 (session 14): the plan carries it (the knob's route), with one or two dQ buffers; float32 dK/dV keep the
        // direct stores; its staging is Q's two 16 KB stages, rows of 128 B (8 pieces).
        let small = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 64), stagedEpilogue: true))
        #expect(small[1].stagedEpilogue && small[1].headDim == 64 && small[1].name.hasSuffix("_ste_sm_90a"))
        #expect(!small[0].stagedEpilogue && !small[2].stagedEpilogue)
        let small40 = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .bfloat16, headDim: 40, mask: .causal),
                                                                 dqBuffers: 2, dqWriters: 2, maskBranch: true, stagedEpilogue: true))
        #expect(small40[1].stagedEpilogue && small40[1].dqBuffers == 2 && small40[1].barriersInAlignmentPad
                && small40[1].name.hasSuffix("_causal_dqbuf2_w2_mb_ste_sm_90a"))
        let small32 = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, dkType: .float32, dvType: .float32,
                                                                                     headDim: 64), stagedEpilogue: true))
        #expect(!small32[1].stagedEpilogue, "float32 dK/dV keep the direct stores")
        let unstaged = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 64)))
        #expect(!unstaged[1].stagedEpilogue && unstaged[1].sharedMemoryBytes == small[1].sharedMemoryBytes, "no new shared memory")
        let s64 = try HopperBackwardKernel(descriptor: small[1]).source
        #expect(s64.contains("const u32 se_k = sQ + wg * 2 * (64 * 128), se_v = se_k + 64 * 128;")
                && s64.contains("for (int i = 0; i < 64 * 8 / 128; ++i)") && s64.contains("row = idx >> 3, c = idx & 7;")
                && s64.contains("const u32 off = row * 128 + ((c ^ (row & 7)) << 4);") && s64.contains("16 KB of the Q/dO ring")
                && !s64.contains("store_dk2(dk_row + col"))
        let wide32 = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, dkType: .float32, dvType: .float32,
                                                                                     headDim: 128), stagedEpilogue: true))
        #expect(!wide32[1].stagedEpilogue, "float32 dK/dV keep the direct stores")
        let persistent = try #require(HopperBackwardDescriptor.plan(for: BackwardProblem(elementType: .float16, headDim: 128), orderedDQ: false,
                                                                    earlyDV: true, lateDK: true, persistentTiles: true, stagedEpilogue: true))
        #expect(persistent[1].persistentTiles && !persistent[1].stagedEpilogue)
        // Default: tile D = 128 from 512 keys (session 29; 1k in session 13) up to 4k, causal up to 8k (session 13) and 16k
        // (session 15); tile D = 64 from 512 keys, up to 4k, causal up to 8k (session 14).
        for (D, mask, n, on) in [(128, KernelMask.none, 1024, true), (96, .none, 4096, true), (128, .none, 8192, false), (128, .causal, 8192, true),
                                 (128, .causal, 16384, true), (128, .causal, 32768, false), (128, .none, 16384, false), (128, .none, 512, true),
                                 (128, .causal, 512, true), (128, .none, 511, false),
                                 (64, .none, 2048, true), (256, .none, 2048, false),
                                 (64, .causal, 4096, true), (40, .none, 1024, true), (64, .none, 512, true), (64, .none, 256, false),
                                 (64, .none, 8192, false), (64, .causal, 8192, true), (48, .causal, 16384, false)] {
            #expect(HopperBackwardDescriptor.defaultStagedEpilogue(BackwardProblem(elementType: .bfloat16, headDim: D, mask: mask, seqlenK: n)) == on,
                    "D = \(D) \(mask) \(n)")
        }
        #expect(hopperBackwardStagedEpilogueVariants.allSatisfy { $0.invalidReason == nil && $0.stagedEpilogue })
        #expect(Set(hopperBackwardStagedEpilogueVariants.map(\.name)).count == hopperBackwardStagedEpilogueVariants.count)
    }

    /// `FLASH_ATTENTION_HOPPER_BWD_STAGES=3` (a tuning hook, session 27): three Q/dO stages in tile D = 128's key/value kernel
    /// where one dQ buffer leaves room (224 KB of tiles); where the layout cannot hold them (two dQ buffers, tile D = 64's
    /// dQ staging) the plan keeps two stages instead of leaving the Hopper backward; tile D = 256 never changes.
    @Test func stagesHook() throws {
        let three = HopperBackwardSettings(buffers: "1", stages: "3")
        for (d, mask, keys) in [(128, KernelMask.none, 1024), (128, .causal, 512), (128, .none, 8192)] {
            let problem = BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, deterministic: false, seqlenK: keys)
            let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: three, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(plan[1].stages == 3 && plan[1].dqBuffers == 1 && plan[1].name.contains("s3"), "\(plan[1].name)")
            let shipped = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(shipped[1].stages == 2, "\(shipped[1].name)")
        }
        for (d, settings) in [(128, HopperBackwardSettings(buffers: "2", stages: "3")), (64, three), (256, three)] {
            let problem = BackwardProblem(elementType: .bfloat16, headDim: d, mask: .none, deterministic: false, seqlenK: 1024)
            let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: settings, fastPasses: true, l2CacheBytes: 60 << 20),
                                    "D = \(d): the hook must not leave the Hopper backward")
            #expect(plan[1].stages != 3, "\(plan[1].name)")
        }
    }

    /// The three-stage key/value kernels the hook reaches compile clean (no spill, no stack frame).
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"))
    func stagesHookCompilesClean() throws {
        let three = HopperBackwardSettings(buffers: "1", stages: "3")
        for mask in [KernelMask.none, .causal] {
            let problem = BackwardProblem(elementType: .bfloat16, headDim: 128, mask: mask, deterministic: false, seqlenK: 1024)
            let plan = try #require(HopperBackwardDescriptor.resolvedPlan(for: problem, settings: three, fastPasses: true, l2CacheBytes: 60 << 20))
            try expectHopperBackwardCompilesClean(plan[1])
        }
    }

    /// Every variant compiles for sm_90a with NVRTC, spills nothing and has no stack frame.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardVariants.map { HopperBackwardCase(descriptor: $0) })
    func compilesWithoutSpills(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}

/// Compiles `descriptor` for sm_90a with NVRTC and expects a clean ptxas report: an image, no
/// spills, no stack frame, setmaxnreg kept, no serialized wgmma and no wgmma wait warnings.
func expectHopperBackwardCompilesClean(_ descriptor: HopperBackwardDescriptor) throws {
    let compiled = try GeneratedKernelCompiler.compile(descriptor, cache: nil)
    #expect(!compiled.image.isEmpty)
    let report = try #require(compiled.report, "no ptxas report in the log:\n\(compiled.log)")
    if FileSystemProbe.verbose { print("REPORT \(descriptor.name)\n\(compiled.log)") }
    #expect(!report.spills, "\(descriptor.name) spills: \(report)\n\(compiled.log)")
    #expect(report.stackFrameBytes == 0, "\(descriptor.name) has a stack frame: \(report)")
    #expect(!compiled.log.contains("C7508"), "setmaxnreg ignored:\n\(compiled.log)")
    #expect(!compiled.log.contains("serialized"), "wgmma serialized:\n\(compiled.log)")
    #expect(!compiled.log.contains("C7514") && !compiled.log.contains("C7517"), "wgmma wait warnings:\n\(compiled.log)")
}

/// Session 29's timeline diagnostic on the key/value kernels the short rows route to (tile D = 64 / 128, 512 / 1k / 2k keys,
/// unmasked and causal, bf16; the H200's L2).
let hopperBackwardTimelineVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for d in [64, 128] {
        for mask in [KernelMask.none, .causal] {
            for n in [512, 1024, 2048] {
                let p = BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, deterministic: false, seqlenK: n, kvHeads: 2048 / d)
                guard var kv = HopperBackwardDescriptor.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: 60 << 20)?[1] else { continue }
                kv.timeline = true
                if kv.invalidReason == nil && !list.contains(where: { $0.name == kv.name }) { list.append(kv) }
            }
        }
    }
    return list
}()

@Suite("Hopper backward timeline diagnostic (no GPU)")
struct HopperBackwardTimelineTests {
    /// Stamps from every role, the row behind the turn counters, nothing of it in the plain source; per-tile grids only.
    @Test func timelineSource() throws {
        #expect(hopperBackwardTimelineVariants.count >= 6)
        for d in hopperBackwardTimelineVariants {
            #expect(d.name.hasSuffix("_tl_sm_90a"))
            let source = try HopperBackwardKernel(descriptor: d).source
            for slot in [1, 2, 3, 4, 5, 7, 9] { #expect(source.contains("FA_TL(\(slot));"), "slot \(slot) in \(d.name)") }
            #expect(source.contains("if (threadIdx.x == 0) FA_TL(0);") && source.contains("tl_row[15] =") && source.contains("(unsigned char*)p.dq_sem"))
            #expect(source.contains(d.dqWriters == 2 ? "if (w == 1) FA_TL(8);" : "FA_TL(6);"))
            var plain = d
            plain.timeline = false
            #expect(!(try HopperBackwardKernel(descriptor: plain).source).contains("FA_TL"))
        }
        var persistent = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 128, orderedDQ: false, earlyDV: true, lateDK: true,
                                                  persistentTiles: true)
        #expect(persistent.invalidReason == nil)
        persistent.timeline = true
        #expect(persistent.invalidReason != nil)
        var wide = HopperBackwardDescriptor(pass: .keyValue, elementType: .bfloat16, headDim: 256)
        wide.timeline = true
        #expect(wide.invalidReason != nil)
        #expect(HopperBackwardTimeline.bytes(ctas: 2048) == 2048 * 128)
    }

    /// Every timeline kernel compiles for sm_90a with NVRTC: no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardTimelineVariants.map { HopperBackwardCase(descriptor: $0) })
    func timelineVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}

/// Every (problem, key/value kernel) the defaults route the short tile D = 128 rows to since session 29 (the staged dK/dV
/// epilogue from 512 keys): D = 96 / 128, unmasked and causal, 512…1023 keys, deterministic or not, both types.
func hopperBackwardShortRoutes() -> [(BackwardProblem, HopperBackwardDescriptor)] {
    var problems: [BackwardProblem] = []
    for D in [96, 128] {
        for mask in [KernelMask.none, .causal] {
            for n in [512, 513, 1000, 1023] {
                for deterministic in [true, false] {
                    for type in [ElementType.bfloat16, .float16] {
                        problems.append(BackwardProblem(elementType: type, headDim: D, mask: mask, deterministic: deterministic, seqlenK: n, kvHeads: 16))
                    }
                }
            }
        }
    }
    return hopperBackwardDefaultRoutes(problems, l2CacheBytes: 60 << 20)
}

/// The short rows' routed kernels that no other list compiles, one each.
let hopperBackwardShortRoutedVariants: [HopperBackwardDescriptor] = hopperBackwardUncompiled(
    hopperBackwardShortRoutes().map(\.1),
    besides: hopperBackwardVariants + hopperBackwardDescriptorVariants + hopperBackwardStagedEpilogueVariants
        + hopperBackwardGroupedVariants + hopperBackwardGroupedTile128Variants)

@Suite("Hopper backward short rows (no GPU)")
struct HopperBackwardShortRowTests {
    /// Session 29: tile D = 128 stages dK / dV from 512 keys, unmasked and causal, every call kind.
    @Test func shortRowsStageTheEpilogue() throws {
        let routes = hopperBackwardShortRoutes()
        #expect(routes.count == 2 * 2 * 4 * 2 * 2)
        for (p, kernel) in routes {
            #expect(kernel.stagedEpilogue && kernel.name.contains("_ste"), "\(p.headDim) \(p.mask) \(p.seqlenK): \(kernel.name)")
        }
        #expect(routes.contains { $0.1.name == "hbwd_dkdv_bf16_d128_m64n128s2_edv_ldk_pd_ste_dc_ds_sm_90a" })
        #expect(routes.contains { $0.1.name == "hbwd_dkdv_fp16_d128_m64n128s2_causal_ste_dc_sm_90a" })
    }

    /// The routed short-row kernels no other list compiles: for sm_90a with NVRTC, no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardShortRoutedVariants.map { HopperBackwardCase(descriptor: $0) })
    func shortRoutedVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}

/// Session 29's tail split on the unmasked per-tile-grid kernels the defaults route to (tile D = 64 / 128, 512…16k keys,
/// both types; with and without the timeline), and D = 40 (tile 64, products over 48 columns since session 34).
let hopperBackwardTailSplitVariants: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    for d in [64, 128, 40] {
        for n in [512, 1024, 2048, 4096, 8192, 16384] {
            for type in [ElementType.bfloat16, .float16] {
                let p = BackwardProblem(elementType: type, headDim: d, deterministic: false, seqlenK: n, kvHeads: 2048 / d)
                guard var kv = HopperBackwardDescriptor.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: 60 << 20)?[1] else { continue }
                kv.tailSplit = true
                if kv.invalidReason == nil && !list.contains(where: { $0.name == kv.name }) { list.append(kv) }
            }
        }
    }
    if var stamped = list.first {
        stamped.timeline = true
        list.append(stamped)
    }
    return list
}()

@Suite("Hopper backward tail split (no GPU)")
struct HopperBackwardTailSplitTests {
    /// The split's arithmetic: T = G mod S blocks in the last round, k parts each from the tail's time model (one wave where
    /// T leaves room, waves of thirds and more where it does not), none where no split gains a step; the knob's k.
    @Test func splitArithmetic() {
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 4096, multiprocessors: 132, steps: 128) == (4, 33))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 4096, multiprocessors: 132, steps: 16) == (4, 16))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 32) == (68, 3), "two waves of thirds")
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 16) == (68, 3))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 64) == (68, 5), "three waves of fifths")
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 128) == (68, 7))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 8) == (0, 1), "thirds of 8 steps gain less than a step")
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 32, parts: 12) == (68, 12))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 8, parts: 12) == (68, 8), "at most the steps")
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2048, multiprocessors: 132, steps: 32, parts: 1) == (0, 1))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 2112, multiprocessors: 132, steps: 32) == (0, 1), "whole rounds")
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 3, multiprocessors: 132, steps: 5) == (3, 5))
        #expect(HopperBackwardKernel.tailSplit(keyBlocks: 3, multiprocessors: 132, steps: 1) == (0, 1))
        #expect(HopperBackwardKernel.tailBytes(units: 4, headDim: 64) == 1024 + 4 * 2 * 128 * 64 * 4 && HopperBackwardKernel.tailBytes(units: 0, headDim: 64) == 0)
    }

    /// The linear decode, the part's step range in every role, the part epilogue beside the block's own; refused where it does
    /// not apply; nothing of it in the plain source.
    @Test func tailSplitSource() throws {
        #expect(hopperBackwardTailSplitVariants.count >= 6 && hopperBackwardTailSplitVariants.contains { $0.headGroup > 0 })
        for d in hopperBackwardTailSplitVariants {
            #expect(d.name.contains("_ts"))
            let source = try HopperBackwardKernel(descriptor: d).source
            #expect(source.contains("const int ts_unit = ts_q < 0 ? (int)blockIdx.x : ts_units - p.tail_units + ts_q / p.tail_parts;")
                    && source.contains("const int s0 = (int)((long long)ts_part * ts_steps / ts_parts);")
                    && source.contains("if (ts_parts > 1) {") && source.contains("st_shared_u32(sdS, atomicAdd(ts_count, 1) == ts_parts - 1 ? 1u : 0u);")
                    && !source.contains("__shared__ int"))
            #expect(source.components(separatedBy: "(s0 + step) / m_steps").count >= 3, "producer, writer and consumers decode from s0")
            #expect(d.timeline || (!source.contains("blockIdx.y") && !source.contains("blockIdx.z")), "a linear grid (the timeline's row index reads all three)")
            var plain = d
            plain.tailSplit = false
            plain.timeline = false
            let plainSource = try HopperBackwardKernel(descriptor: plain).source
            #expect(!plainSource.contains("ts_") && !plainSource.contains("BAR_TAIL"))
        }
        let base = try #require(hopperBackwardTailSplitVariants.first)
        for change in [{ (d: inout HopperBackwardDescriptor) in d.mask = .causal }, { $0.persistentTiles = true }, { $0.dkType = .float32 }] {
            var d = base
            change(&d)
            #expect(d.invalidReason != nil, "\(d.name)")
        }
    }

    /// The default (unmasked tile D = 64 from 8k keys, non-deterministic calls) and the knob, which never splits a
    /// deterministic call.
    @Test func tailSplitRoutes() throws {
        typealias H = HopperBackwardDescriptor
        for (d, mask, n, det, expected) in [(64, KernelMask.none, 8192, false, true), (64, .none, 16384, false, true), (40, .none, 8192, false, true),
                                            (64, .none, 4096, false, false), (64, .none, 16384, true, false), (64, .causal, 16384, false, false),
                                            (128, .none, 2048, false, false), (128, .none, 16384, false, false)] {
            let p = BackwardProblem(elementType: .bfloat16, headDim: d, mask: mask, deterministic: det, seqlenK: n, kvHeads: 2048 / d)
            #expect(H.defaultTailSplit(p) == expected, "\(d) \(mask) \(n) det \(det)")
            let plan = try #require(H.resolvedPlan(for: p, fastPasses: true, l2CacheBytes: 60 << 20))
            #expect(plan[1].tailSplit == expected && !plan[0].tailSplit && !plan[2].tailSplit, "\(plan[1].name)")
            if expected { #expect(hopperBackwardTailSplitVariants.contains { $0.name == plan[1].name }, "\(plan[1].name) is compiled in CI") }
        }
        let forced = HopperBackwardSettings(tailSplit: "1"), off = HopperBackwardSettings(tailSplit: "0")
        let short = BackwardProblem(elementType: .float16, headDim: 128, deterministic: false, seqlenK: 1024, kvHeads: 16)
        #expect(try #require(H.resolvedPlan(for: short, settings: forced, fastPasses: true, l2CacheBytes: 60 << 20))[1].tailSplit)
        var det = short
        det.deterministic = true
        #expect(!(try #require(H.resolvedPlan(for: det, settings: forced, fastPasses: true, l2CacheBytes: 60 << 20))[1].tailSplit))
        let long = BackwardProblem(elementType: .bfloat16, headDim: 64, deterministic: false, seqlenK: 16384, kvHeads: 32)
        #expect(!(try #require(H.resolvedPlan(for: long, settings: off, fastPasses: true, l2CacheBytes: 60 << 20))[1].tailSplit))
    }

    /// Every tail-split kernel compiles for sm_90a with NVRTC: no spills, no stack frame, no C75xx.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperBackwardTailSplitVariants.map { HopperBackwardCase(descriptor: $0) })
    func tailSplitVariantsCompileClean(_ testCase: HopperBackwardCase) throws {
        try expectHopperBackwardCompilesClean(testCase.descriptor)
    }
}
