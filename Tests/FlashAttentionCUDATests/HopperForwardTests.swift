import CUDADriver
import FlashAttentionCUDA
import FlashAttentionCore
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// The Hopper TMA warp-specialised forward variants CI compiles: both element types, head dims
/// 64 and 128, causal and not, dense and varlen, with and without LSE, float32 output, and
/// the table's persistent shapes.
let hopperVariants: [AttentionKernelDescriptor] = {
    var list: [AttentionKernelDescriptor] = []
    for type in [ElementType.bfloat16, .float16] {
        for d in [64, 128] {
            for mask in [KernelMask.none, .causal] {
                list.append(AttentionKernelDescriptor(
                    architecture: .sm90a, elementType: type, headDim: d, blockM: 128, blockN: 128, warps: 12,
                    mask: mask, mainloop: .tmaWarpSpecialized, stages: 2))
            }
        }
    }
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, varlen: true, writeLSE: false, mainloop: .tmaWarpSpecialized, stages: 2))
    // The table's persistent shapes.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true))
    // The dynamic tile scheduler (causal, varlen, fp32 output) and D = 256 (80- and 64-key steps).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true))
    // D = 64 with 192-key steps (the table's rows from N = 2k).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 128, blockN: 192, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 192, warps: 12,
        varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true))
    for type in [ElementType.bfloat16, .float16] {
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 80, warps: 12,
            varlen: type == .float16, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 80, warps: 12,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 64, warps: 12,
            mask: .causal, varlen: type == .float16, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true))
    }
    // Two Q buffers (the next tile's Q loads under this tile's last steps): the persistent and
    // dynamic shapes with room for a second Q beside the K/V ring.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 160, warps: 12,
        varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 192, warps: 12,
        varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 128, blockN: 192, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2))
    // A share of the softmax's exponentials on the FMA pipe (D = 64, where the MUFU binds).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, emulatedExp2Every: 4))
    // The overlapped epilogue (off by default): one and two Q buffers, the static and the dynamic grid.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, overlapEpilogue: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        qStages: 2, overlapEpilogue: true))
    // The TMA store of O (off by default): the table's short-N shapes (two Q buffers, static and
    // dynamic grid, dense and varlen) and the one-tile-per-block grid.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        qStages: 2, tmaStoreO: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2, tmaStoreO: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        varlen: true, writeLSE: false, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, tmaStoreO: true))
    // Three consumer warpgroups at D = 64 (off by default, FLASH_ATTENTION_HOPPER_WG=3): the table's
    // D = 64 shapes with 192-row tiles — two Q buffers with the TMA store of O, the dynamic
    // scheduler (causal, with the store; varlen with a float32 output; one Q buffer: two spill),
    // the one-Q persistent grid and the one-tile-per-block grid.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, tmaStoreO: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, tmaStoreO: true))
    // Three consumer warpgroups with two Q buffers beside the dynamic scheduler (causal D = 64,
    // FLASH_ATTENTION_HOPPER_WG=3): late tile addresses, plain, with the TMA store of O, and
    // varlen with a float32 output (the most registers).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, lateTileAddresses: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        varlen: true, writeLSE: false, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, lateTileAddresses: true))
    // O staged in the Q buffer for the TMA store at D = 256 (FLASH_ATTENTION_HOPPER_OQ=1): the
    // table's two D = 256 shapes (80-key persistent, causal 64-key dynamic) without and with LSE.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        writeLSE: false, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true))
    // ... and the long-N rows without a store of their own (FLASH_ATTENTION_HOPPER_OQ=1): D = 128
    // 176-key steps, causal D = 128 beside the dynamic scheduler, D = 64 three warpgroups.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true))
    // Session 7 candidates (FLASH_ATTENTION_HOPPER_TILES, FLASH_ATTENTION_HOPPER_LATE): causal D = 128
    // with 176-key steps beside the dynamic scheduler and late tile addresses (without them it spills
    // 8 B; varlen with a float32 output, the most registers) and with 160-key steps (0 spills without
    // them); unmasked D = 256 with 64-key steps and O staged in the Q buffer. (Causal D = 256 with
    // 80-key steps beside the scheduler spills 8–12 B even with late tile addresses: not a candidate.)
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 160, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true))
    // The O rescale skipped in warps whose row maxima stayed put (FLASH_ATTENTION_HOPPER_RESCALE=skip,
    // off by default): the D = 256 table shapes (80-key persistent with O in the Q buffer, causal
    // 64-key dynamic), causal D = 128 176-key with late tile addresses, D = 64 three warpgroups.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, skipUnchangedRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true,
        skipUnchangedRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        skipUnchangedRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        skipUnchangedRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true, skipUnchangedRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, skipUnchangedRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, skipUnchangedRescale: true))
    // Session 7, part 2 (FLASH_ATTENTION_HOPPER_OKV; default since session 8 at tile D = 256 causal up to 1k
    // keys and unmasked 512, defaultStageOInLastStage): O staged in the
    // last key step's K (warpgroup 0) / V (warpgroup 1) stage, the Q buffer freed after the last S
    // product — the table's D = 256 short-N shapes (80-key persistent, causal 64-key dynamic; with
    // and without LSE) and D = 128 two Q buffers (no staging tile of its own).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInLastStage: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, writeLSE: false, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInLastStage: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, stageOInLastStage: true))
    // Session 8 (FLASH_ATTENTION_HOPPER_DIAG; default at causal tile D = 64/128 up to 1k keys,
    // defaultHalfDiagonalStep): the half-width diagonal softmax on the short causal
    // rows — D = 64 128-key two Q buffers (bf16; fp16 varlen with a float32 output), D = 128 with the
    // TMA store, D = 256 64-key with O in the last stage, D = 64 three warpgroups (192 rows, late tile
    // addresses), D = 128 176-key (late tile addresses: 88-key halves are not whole k16 pairs, refused).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true, halfDiagonalStep: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, halfDiagonalStep: true))
    // Session 8 (FLASH_ATTENTION_HOPPER_TREE=1, off: checked on the GPU, timed 0.96–1.00x): the softmax's row maximum
    // and sum in four partial chains — D = 64 causal with the half-width diagonal softmax, D = 64
    // three warpgroups (160 registers: the tightest), D = 128 176-key (unmasked, and causal with late
    // tile addresses), D = 256 80-key with O in the Q buffer and causal 64-key with O in the last stage.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, treeRowReductions: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, treeRowReductions: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, treeRowReductions: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, treeRowReductions: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true, treeRowReductions: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true, treeRowReductions: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true, treeRowReductions: true))
    // Session 8 (FLASH_ATTENTION_HOPPER_WGSTEPS=1, off: built, not yet measured): per-warpgroup key-step
    // counts on the causal 64-key rows (tile D = 256), warpgroup 0 skipping a diagonal block it sees
    // none of — O in the last stage (bf16, fp16 without LSE), O in the Q buffer (fp16, bf16). Refused
    // with direct stores (the long-N row and varlen: 8 B of spills, NVRTC 13.5).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true, warpgroupStepCount: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, writeLSE: false, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true, warpgroupStepCount: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, warpgroupStepCount: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, warpgroupStepCount: true))
    // Session 9 (FLASH_ATTENTION_HOPPER_DESC=1): precomputed wgmma descriptors on the shipped long and
    // short shapes — D = 128 176-key (unmasked; causal with late tile addresses; fp16 varlen float32
    // output), D = 128 causal 128-key with the store and the half-width diagonal, D = 64 causal with two
    // Q buffers and three warpgroups (160 registers: the tightest), D = 256 80-key with O in the Q buffer
    // and causal 64-key with O in the last stage and per-warpgroup step counts.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true, warpgroupStepCount: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        precomputedDescriptors: true))
    // The other kernels the precomputed-descriptor default picks for dense 16-bit problems: causal D = 128
    // 128-key steps (2049–4095 queries), causal D = 64 three warpgroups (2k and up), causal D = 256 with O
    // in the Q buffer (2k), unmasked D = 256 with O in the last stage (512).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInLastStage: true,
        precomputedDescriptors: true))
    // Session 9, part 2 (FLASH_ATTENTION_HOPPER_EARLYRESCALE=1): the O rescale at the end of the step that
    // computed alpha, with and without precomputed descriptors — D = 128 176-key unmasked (xd, plain, with the
    // skipped unchanged rescale, with the overlapped epilogue), causal late tile addresses, causal 128-key with
    // the store, two Q buffers and the half-width diagonal; D = 64 three warpgroups (160 registers) causal
    // varlen and unmasked with the store; D = 256 80-key unmasked (direct stores; O in the Q buffer) and causal
    // 64-key (the long row; O in the last stage with per-warpgroup step counts).
    for xd in [true, false] {
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
            mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: xd, earlyRescale: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
            mask: .causal, varlen: true, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
            lateTileAddresses: true, precomputedDescriptors: xd, earlyRescale: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
            mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: xd, earlyRescale: true))
    }
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, skipUnchangedRescale: true, precomputedDescriptors: true,
        earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, overlapEpilogue: true, precomputedDescriptors: true,
        earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true, precomputedDescriptors: true, earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true,
        precomputedDescriptors: true, earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        precomputedDescriptors: true, earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInLastStage: true, warpgroupStepCount: true, precomputedDescriptors: true, earlyRescale: true))
    // The kernels the early-rescale default picks for dense bf16 problems that no variant above is: causal D = 64
    // up to 1k (half-width diagonal, no xd), unmasked D = 64 at 512 (two Q buffers, the store) and from 2k,
    // unmasked D = 256 at 1k (O in the Q buffer).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, precomputedDescriptors: true,
        earlyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: true, earlyRescale: true))
    // 128-key steps at D = 256 in one K and one V stage with P·V and S in separate turns (separateValueTurn,
    // FLASH_ATTENTION_HOPPER_WIDE256=2): the forms the D = 256 rows take, both element types — causal beside
    // the dynamic scheduler and unmasked persistent, O staged in the Q buffer or the last K/V stage,
    // with and without the early rescale (always with the precomputed descriptors), one without LSE.
    for type in [ElementType.bfloat16, .float16] {
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true, dynamicScheduler: true,
            tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true, separateValueTurn: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true, dynamicScheduler: true,
            tmaStoreO: true, stageOInLastStage: true, precomputedDescriptors: true, earlyRescale: true, separateValueTurn: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
            writeLSE: type == .bfloat16, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true,
            tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true, earlyRescale: type == .float16, separateValueTurn: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
            mainloop: .tmaWarpSpecialized, stages: 1, persistent: true,
            tmaStoreO: true, stageOInLastStage: true, precomputedDescriptors: true, earlyRescale: type == .bfloat16, separateValueTurn: true))
    }
    // Narrow diagonal products (narrowDiagonal + narrowDiagonalValues, FLASH_ATTENTION_HOPPER_NARROWDIAG=1; the S
    // product alone, =2) on the kernels the causal D = 64 / 128 rows take up to 1k keys (D = 64 with the early
    // rescale, D = 128 with the store and the precomputed descriptors; the other way round ptxas serialises:
    // C7511), both element types, and the S-only form of each head dim.
    for type in [ElementType.bfloat16, .float16] {
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 64, blockM: 128, blockN: 128, warps: 12,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
            halfDiagonalStep: true, earlyRescale: true, narrowDiagonal: true, narrowDiagonalValues: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 128, blockM: 128, blockN: 128, warps: 12,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
            tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, narrowDiagonal: true, narrowDiagonalValues: true))
    }
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, earlyRescale: true, narrowDiagonal: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, narrowDiagonal: true))
    // Session 11 (FLASH_ATTENTION_HOPPER_OWNO=1): warpgroup 0's O in a staging buffer of its own beside the
    // 128-key causal D = 256 form (warpgroup 1's in the last V stage) — the short rows' form with the early
    // rescale and the long rows' without, both element types; one without LSE.
    for type in [ElementType.bfloat16, .float16] {
        for early in [true, false] {
            list.append(AttentionKernelDescriptor(
                architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
                mask: .causal, writeLSE: type == .bfloat16 || early, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true,
                dynamicScheduler: true, tmaStoreO: true, stageOInLastStage: true, precomputedDescriptors: true, earlyRescale: early,
                separateValueTurn: true, stageOInOwnBuffer: true))
        }
    }
    // Session 11 (FLASH_ATTENTION_HOPPER_TWOBLOCKS=1): two blocks per multiprocessor (288 threads, the producer in
    // warp 8, 96 registers a thread, 32-key steps in 3 stages): the causal forms the knob gives (dynamic scheduler
    // with late tile addresses, with and without the half-width diagonal softmax and the early rescale) and the
    // unmasked one, both element types where the knob reaches them, with the TMA store of O.
    for type in [ElementType.bfloat16, .float16] {
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 64, blockM: 128, blockN: 32, warps: 9, minBlocksPerMultiprocessor: 2,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 3, persistent: true, dynamicScheduler: true, qStages: 2,
            tmaStoreO: true, lateTileAddresses: true, halfDiagonalStep: true, earlyRescale: true))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 64, blockM: 128, blockN: 32, warps: 9, minBlocksPerMultiprocessor: 2,
            mainloop: .tmaWarpSpecialized, stages: 3, persistent: true, qStages: 2, tmaStoreO: true, earlyRescale: type == .bfloat16))
    }
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 32, warps: 9, minBlocksPerMultiprocessor: 2,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 3, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, lateTileAddresses: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, outputType: .float32, headDim: 64, blockM: 128, blockN: 32, warps: 9,
        minBlocksPerMultiprocessor: 2, mask: .causal, mainloop: .tmaWarpSpecialized, stages: 3, persistent: true, dynamicScheduler: true,
        qStages: 2, lateTileAddresses: true, earlyRescale: true))
    // Session 12 (FLASH_ATTENTION_HOPPER_QHALVES=1 / 2): Q in per-warpgroup halves on the 128-key causal D = 256 rows —
    // `qh` beside warpgroup 0's own O buffer (the 512 / 1k form with the early rescale, the 2k form without) and beside
    // the Q-buffer staging (the 4k form), `qr` (three rotating halves, O staged in them) with and without the early
    // rescale — both element types; `qh` on the unmasked 80-key rows (O in the last stages, in the Q buffer).
    for type in [ElementType.bfloat16, .float16] {
        for early in [true, false] {
            list.append(AttentionKernelDescriptor(
                architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
                mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true,
                dynamicScheduler: true, tmaStoreO: true, stageOInLastStage: true, precomputedDescriptors: true, earlyRescale: early,
                separateValueTurn: true, stageOInOwnBuffer: true, queryHalves: 2))
            list.append(AttentionKernelDescriptor(
                architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
                mask: .causal, writeLSE: type == .bfloat16 || early, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true,
                dynamicScheduler: true, tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true, earlyRescale: early,
                separateValueTurn: true, queryHalves: 3))
        }
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 128, warps: 12,
            mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true,
            dynamicScheduler: true, tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true,
            separateValueTurn: true, queryHalves: 2))
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 256, blockM: 128, blockN: 80, warps: 12,
            mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInLastStage: true,
            precomputedDescriptors: true, earlyRescale: true, queryHalves: 2))
    }
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 80, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, stageOInQueryBuffer: true, queryHalves: 2))
    // Session 12 (FLASH_ATTENTION_HOPPER_FOLDED=1|3): two blocks per multiprocessor with the producer folded into
    // consumer warp 4 (256 threads, 128 registers a thread, 64-key steps): the causal forms the knob gives at 512 keys
    // (dynamic scheduler, half-width diagonal softmax, early rescale) in 2 and 3 stages, the unmasked one (persistent
    // stride, precomputed descriptors), both element types, with the TMA store of O; one without LSE, and the
    // float32-output form (direct stores).
    for type in [ElementType.bfloat16, .float16] {
        for stages in [2, 3] {
            list.append(AttentionKernelDescriptor(
                architecture: .sm90a, elementType: type, headDim: 64, blockM: 128, blockN: 64, warps: 8, minBlocksPerMultiprocessor: 2,
                mask: .causal, writeLSE: type == .bfloat16 || stages == 2, mainloop: .tmaWarpSpecialized, stages: stages, persistent: true,
                dynamicScheduler: true, qStages: 2, tmaStoreO: true, lateTileAddresses: true, halfDiagonalStep: true, earlyRescale: true,
                foldedProducer: true))
        }
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 64, blockM: 128, blockN: 64, warps: 8, minBlocksPerMultiprocessor: 2,
            mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, lateTileAddresses: true,
            precomputedDescriptors: true, earlyRescale: true, foldedProducer: true))
    }
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, outputType: .float32, headDim: 64, blockM: 128, blockN: 64, warps: 8,
        minBlocksPerMultiprocessor: 2, mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        qStages: 2, lateTileAddresses: true, earlyRescale: true, foldedProducer: true))
    // ... and with the copies in warpgroup 1's slack (foldedCopiesInSlack, FLASH_ATTENTION_HOPPER_FOLDED=4|5): causal in 3
    // stages, unmasked in 2.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 64, warps: 8, minBlocksPerMultiprocessor: 2,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 3, persistent: true, dynamicScheduler: true, qStages: 2, tmaStoreO: true,
        lateTileAddresses: true, halfDiagonalStep: true, earlyRescale: true, foldedProducer: true, foldedCopiesInSlack: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 128, blockN: 64, warps: 8, minBlocksPerMultiprocessor: 2,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, lateTileAddresses: true,
        precomputedDescriptors: true, earlyRescale: true, foldedProducer: true, foldedCopiesInSlack: true))
    // Session 12 (FLASH_ATTENTION_HOPPER_QHALVES128=1): two stages of Q halves (four 16 KB halves in the two Q buffers'
    // bytes) on the tile D = 128 rows with two Q buffers and the TMA store of O: the causal 128-key forms (half-width
    // diagonal softmax and precomputed descriptors up to 1k keys, descriptors only at 2k) and the unmasked one, both
    // element types.
    for type in [ElementType.bfloat16, .float16] {
        for diag in [true, false] {
            list.append(AttentionKernelDescriptor(
                architecture: .sm90a, elementType: type, headDim: 128, blockM: 128, blockN: 128, warps: 12,
                mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
                tmaStoreO: true, halfDiagonalStep: diag, precomputedDescriptors: true, queryHalves: 4))
        }
        list.append(AttentionKernelDescriptor(
            architecture: .sm90a, elementType: type, headDim: 128, blockM: 128, blockN: 128, warps: 12,
            mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, tmaStoreO: true, queryHalves: 4))
    }
    // Session 12 (hopfwd21, both off: checked / timed on the GPU, see docs/performance.md). The loop's P·V wait held
    // behind the softmax (valueWaitAfterSoftmax, FLASH_ATTENTION_HOPPER_VALUEWAIT=1): the shipped causal D = 64 row
    // (…pdq2hder), D = 64 three warpgroups unmasked, causal D = 128 with the store.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, earlyRescale: true, valueWaitAfterSoftmax: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true,
        precomputedDescriptors: true, earlyRescale: true, valueWaitAfterSoftmax: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, valueWaitAfterSoftmax: true))
    // ... and the producer's waits sleeping on the barrier (sleepingProducerWaits, FLASH_ATTENTION_HOPPER_PRODUCERSLEEP=1):
    // the shipped causal D = 64 row, D = 64 three warpgroups unmasked, causal D = 256 128-key steps in Q halves (qr).
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, earlyRescale: true, sleepingProducerWaits: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true,
        precomputedDescriptors: true, earlyRescale: true, sleepingProducerWaits: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true, earlyRescale: true, separateValueTurn: true,
        queryHalves: 3, sleepingProducerWaits: true))
    // ... and cuDNN's step order (exponentialTurn, FLASH_ATTENTION_HOPPER_EXPTURN=1; built after the calls, not run on a
    // GPU): causal D = 64 (the shipped row without hd / er), D = 64 three warpgroups unmasked with precomputed descriptors
    // and the store, causal D = 128 with the store and the sleeping producer, D = 256 64-key with O in the Q buffer.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        exponentialTurn: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true,
        precomputedDescriptors: true, exponentialTurn: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, sleepingProducerWaits: true, exponentialTurn: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 256, blockM: 128, blockN: 64, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, exponentialTurn: true))
    // ... and its lean form (leanExponentialTurn, FLASH_ATTENTION_HOPPER_EXPTURN=lean; session 12, part 2): the causal D = 64
    // and D = 128 (with the store) rows of N ≤ 1k with hd and precomputed descriptors, D = 64 three warpgroups unmasked.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true,
        precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true))
    // ... and empty warpgroups skipping their work (skipEmptyWarpgroups, FLASH_ATTENTION_HOPPER_EMPTYWG=1; session 13,
    // hopfwd24): the three-warpgroup unmasked D = 64 rows at 512 (xd, er), 1k and 2k, causal D = 64 three warpgroups
    // (late tile addresses), unmasked D = 128 with the store, and causal D = 64 in the lean order.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true,
        precomputedDescriptors: true, earlyRescale: true, skipEmptyWarpgroups: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, skipEmptyWarpgroups: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: true, earlyRescale: true,
        skipEmptyWarpgroups: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, precomputedDescriptors: true, earlyRescale: true, skipEmptyWarpgroups: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true, skipEmptyWarpgroups: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        skipEmptyWarpgroups: true))
    // ... and the lean form overlapped (overlappedExponentialTurn, FLASH_ATTENTION_HOPPER_EXPOVERLAP=1|2; session 13, hopfwd25):
    // S and P·V back to back, the row maximum under P·V; `xo` on the causal D = 64 row with hd (the default row) and the
    // D = 64 three-warpgroup unmasked one, `xoa` (the turn handed over after P's packing) on causal D = 128 with the store.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        overlappedExponentialTurn: 1))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        overlappedExponentialTurn: 2))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, qStages: 2, tmaStoreO: true,
        precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true, overlappedExponentialTurn: 1))
    // ... and the row sum from P's packed pairs (packedRowSum, FLASH_ATTENTION_HOPPER_PACKSUM=1; session 15, hopfwd28): the
    // long unmasked rows (D = 128 176-key steps, D = 64 three warpgroups with xd / er), causal D = 128 176-key with late tile
    // addresses, causal D = 64 in the lean order with hd (its half-width conversion), causal D = 128 `xo`, D = 256 `vt`.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, packedRowSum: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, packedRowSum: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: true, earlyRescale: true,
        packedRowSum: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true,
        lateTileAddresses: true, packedRowSum: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        packedRowSum: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        overlappedExponentialTurn: 1, packedRowSum: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true, earlyRescale: true, separateValueTurn: true,
        packedRowSum: true))
    // ... and the lazy O rescale (lazyRescale, FLASH_ATTENTION_HOPPER_RESCALE=lazy; session 15, hopfwd28): the long rows it was
    // timed on (D = 64 three warpgroups unmasked with xd / er and causal with late tile addresses, D = 128 176-key unmasked),
    // causal D = 128 `xo` (the split softmax's α), causal D = 64 in the lean order with hd, causal D = 256 `vt`.
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, precomputedDescriptors: true, earlyRescale: true,
        lazyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, precomputedDescriptors: true, earlyRescale: true, lazyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 64, blockM: 192, blockN: 128, warps: 16,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        lateTileAddresses: true, precomputedDescriptors: true, earlyRescale: true, lazyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 176, warps: 12,
        mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, lazyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .float16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        overlappedExponentialTurn: 1, lazyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 2, persistent: true, dynamicScheduler: true, qStages: 2,
        tmaStoreO: true, halfDiagonalStep: true, precomputedDescriptors: true, exponentialTurn: true, leanExponentialTurn: true,
        lazyRescale: true))
    list.append(AttentionKernelDescriptor(
        architecture: .sm90a, elementType: .bfloat16, headDim: 256, blockM: 128, blockN: 128, warps: 12,
        mask: .causal, mainloop: .tmaWarpSpecialized, stages: 1, persistent: true, dynamicScheduler: true,
        tmaStoreO: true, stageOInQueryBuffer: true, precomputedDescriptors: true, earlyRescale: true, separateValueTurn: true,
        lazyRescale: true))
    // Session 24: the programmatic dependent launch on the first persistent dense kernel of each family (head dim, mask,
    // consumer warpgroups, blocks per SM, folded producer, speculative maximum).
    var families = Set<String>()
    for d in list where d.persistent && !d.varlen && !d.dependentLaunch {
        let family = "\(d.headDim) \(d.mask) \(d.consumerWarpgroups) \(d.minBlocksPerMultiprocessor) \(d.foldedProducer) \(d.speculativeMax)"
        guard families.insert(family).inserted else { continue }
        var dependent = d
        dependent.dependentLaunch = true
        list.append(dependent)
    }
    // Session 28: the stream-K tail on the rows the table routes at unmasked tile D = 128 512 / 1k keys (the 128-key store
    // row with and without xd; a knob there) and at tile D = 256 16k (the default's 80-key row).
    var tails: [AttentionKernelDescriptor] = []
    for (d, n) in [(128, 512), (128, 1024), (256, 16384)] {
        if let d = try? KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: .none, tensorMapFriendly: true,
                                                                          seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor {
            tails.append(d)
        }
    }
    for d in tails {
        var tail = d
        tail.streamKTail = true
        if tail.invalidReason == nil && !list.contains(where: { $0.name == tail.name }) { list.append(tail) }
    }
    return list
}()

struct HopperCase: CustomTestStringConvertible, Sendable {
    var descriptor: AttentionKernelDescriptor
    var testDescription: String { descriptor.name }
}

@Suite("Hopper TMA warp-specialised forward (no GPU)")
struct HopperForwardTests {
    @Test func equalDescriptorsGenerateIdenticalSource() throws {
        for d in hopperVariants {
            let a = try AttentionKernel(descriptor: d).source, b = try AttentionKernel(descriptor: d).source
            #expect(a == b)
            // Two blocks per SM keep the launch bound's registers: no setmaxnreg there.
            #expect(a.contains("cp.async.bulk.tensor") && a.contains("setmaxnreg") != d.twoBlocksPerMultiprocessor && a.contains("wgmma.mma_async"))
            #expect(!a.contains("#include"), "NVRTC runs without CUDA headers")
        }
        #expect(try AttentionKernel(descriptor: hopperVariants[0]).source != AttentionKernel(descriptor: hopperVariants[1]).source)
    }

    /// The struct the kernel declares and the bytes the launcher packs have the same size, and
    /// the forward parameters start right after the three 128-byte maps.
    @Test func parameterBytesMatchTheStruct() throws {
        var p = ForwardParameters()
        p.q = 0x1122_3344_5566_7788
        p.seqlenQ = 77
        let maps = (0..<3).map { i in [UInt8](repeating: UInt8(i + 1), count: 128) }
        let bytes = HopperForwardKernel.packedParameters(tensorMaps: maps, parameters: p)
        #expect(bytes.count == HopperForwardKernel.parameterStructSize)
        #expect(bytes.count % 64 == 0)
        #expect(Array(bytes[0..<128]) == maps[0] && Array(bytes[256..<384]) == maps[2])
        #expect(Array(bytes[384..<(384 + p.packed().count)]) == p.packed())
        let counter = HopperForwardKernel.packedParameters(tensorMaps: maps, parameters: p, tileCounter: 0x0102_0304_0506_0708)
        #expect(Array(counter[(384 + p.packed().count)..<(392 + p.packed().count)]) == [8, 7, 6, 5, 4, 3, 2, 1])
        let source = try AttentionKernel(descriptor: hopperVariants[0]).source
        #expect(source.contains("sizeof(HopperParams) == \(HopperForwardKernel.parameterStructSize)"))
        // The TMA store of O: a fourth map (O's) after V's, the parameters after it.
        let withO = HopperForwardKernel.packedParameters(tensorMaps: maps + [[UInt8](repeating: 9, count: 128)], parameters: p)
        #expect(withO.count == HopperForwardKernel.parameterStructSize(tensorMaps: 4) && withO.count % 64 == 0)
        #expect(Array(withO[384..<512]) == [UInt8](repeating: 9, count: 128))
        #expect(Array(withO[512..<(512 + p.packed().count)]) == p.packed())
        let stored = try #require(hopperVariants.first { $0.tmaStoreO })
        let storedSource = try AttentionKernel(descriptor: stored).source
        #expect(storedSource.contains("TensorMap tm_o;") && storedSource.contains("cp.async.bulk.tensor.4d.global.shared::cta"))
        #expect(storedSource.contains("sizeof(HopperParams) == \(HopperForwardKernel.parameterStructSize(tensorMaps: 4))"))
        #expect(!source.contains("tm_o") && !source.contains("stmatrix"), "kernels without the store keep their source")
    }

    /// The TMA store of O stages a tile of its own: it fits beside 128-key stages at D = 128 with
    /// two Q buffers (the short-N rows), not beside 176-key stages; it needs a 16-bit output of
    /// the input's type and excludes the overlapped epilogue.
    @Test func tmaStoreOShapes() throws {
        let short128 = try #require(hopperVariants.first { $0.tmaStoreO && $0.headDim == 128 && $0.mask == .none })
        #expect(short128.invalidReason == nil && short128.sharedMemoryBytes <= GPUArchitecture.sm90a.maxSharedMemoryPerBlock)
        var plain = short128
        plain.tmaStoreO = false
        #expect(short128.sharedMemoryBytes == plain.sharedMemoryBytes + 128 * 128 * 2)
        var wide = short128
        wide.blockN = 176
        wide.qStages = 1
        #expect(wide.invalidReason != nil, "no room for the staging tile beside 176-key stages")
        var f32 = short128
        f32.outputType = .float32
        #expect(f32.invalidReason != nil)
        var overlap = short128
        overlap.overlapEpilogue = true
        #expect(overlap.invalidReason != nil)
        var loop = short128
        (loop.mainloop, loop.persistent, loop.qStages, loop.warps, loop.blockM) = (.wgmma, false, 1, 4, 64)
        #expect(loop.invalidReason != nil, "only the TMA loop stores O by TMA")
        #expect(short128.name.hasSuffix("tmaws2pq2so_sm_90a"))
    }

    /// Three consumer warpgroups: 192-row tiles of 16 warps at D = 64 with up to 128-key steps;
    /// the turn barriers go round three warpgroups and each consumer has 160 registers.
    @Test func threeConsumerWarpgroups() throws {
        let three = try #require(hopperVariants.first { $0.blockM == 192 && $0.tmaStoreO && $0.persistent })
        #expect(three.invalidReason == nil && three.consumerWarpgroups == 3 && three.threads == 512)
        #expect(three.name.contains("m192n128w16b1"))
        let source = try AttentionKernel(descriptor: three).source
        #expect(source.contains("constexpr int CONSUMER_THREADS = 384;") && source.contains("constexpr int TURN_THREADS = 256;"))
        #expect(source.contains("setmaxnreg.inc.sync.aligned.u32 160;") && source.contains("named_arrive(BAR_TURN + (wg == 2 ? 0 : wg + 1), TURN_THREADS);"))
        #expect(source.contains("constexpr int BAR_STORE = 4;"))
        let two = try AttentionKernel(descriptor: hopperVariants[0]).source
        #expect(two.contains("setmaxnreg.inc.sync.aligned.u32 240;") && !two.contains("TURN_THREADS"))
        var wide = three
        wide.blockN = 192
        #expect(wide.invalidReason != nil, "192-key steps need more than 160 registers")
        var d128 = three
        d128.headDim = 128
        #expect(d128.invalidReason != nil)
        var odd = three
        odd.warps = 12
        #expect(odd.invalidReason != nil, "192 rows are 3 consumer warpgroups + the producer: 16 warps")
        var dynamicTwoQ = three
        (dynamicTwoQ.mask, dynamicTwoQ.dynamicScheduler, dynamicTwoQ.tmaStoreO) = (.causal, true, false)
        #expect(dynamicTwoQ.invalidReason != nil, "the dynamic scheduler with two Q buffers spills 12 B at 160 registers")
        // Late tile addresses make room for it; they read the dynamic scheduler's slot.
        var late = dynamicTwoQ
        late.lateTileAddresses = true
        #expect(late.invalidReason == nil && late.name.hasSuffix("tmaws2pdq2lt_sm_90a"))
        let lateSource = try AttentionKernel(descriptor: late).source
        #expect(lateSource.contains("const int e_m_block = ld_shared_s32(slot)") && lateSource.contains("epilogue(o_tile, lse_tile, e_rows);"))
        var staticLate = late
        staticLate.dynamicScheduler = false
        #expect(staticLate.invalidReason != nil, "late tile addresses need the dynamic scheduler's slot")
        #expect(!(try AttentionKernel(descriptor: three).source).contains("e_m_block"), "kernels without late tile addresses keep their source")
    }

    /// O staged in the Q buffer (D = 256): no staging tile of its own, so the shared memory is
    /// the plain kernel's; dense tensors with the TMA store only.
    @Test func stageOInQueryBufferShapes() throws {
        let oq = try #require(hopperVariants.first { $0.stageOInQueryBuffer && $0.mask == .none })
        #expect(oq.invalidReason == nil && oq.name.hasSuffix("tmaws2psooq_sm_90a"))
        var plain = oq
        (plain.tmaStoreO, plain.stageOInQueryBuffer) = (false, false)
        #expect(oq.sharedMemoryBytes == plain.sharedMemoryBytes)
        var ownTile = oq
        ownTile.stageOInQueryBuffer = false
        #expect(ownTile.invalidReason != nil, "no room for a staging tile of its own at D = 256")
        var varlen = oq
        varlen.varlen = true
        #expect(varlen.invalidReason != nil)
        var noStore = oq
        noStore.tmaStoreO = false
        #expect(noStore.invalidReason != nil)
        let source = try AttentionKernel(descriptor: oq).source
        #expect(source.contains("const u32 o_stage = sQ + qb * Q_BYTES + wg * 64 * 128;") && !source.contains("const u32 sO"))
        #expect(!(try AttentionKernel(descriptor: plain).source).contains("o_stage"))
    }

    /// O staged in the last key step's K / V stages (session 7, part 2): no shared memory of its
    /// own, the Q buffer freed after the last S product, each stage held until its store has read it.
    @Test func stageOInLastStageShapes() throws {
        let okv = try #require(hopperVariants.first { $0.stageOInLastStage && $0.mask == .none && $0.headDim == 256 })
        #expect(okv.invalidReason == nil && okv.name.hasSuffix("tmaws2psookv_sm_90a"))
        var plain = okv
        (plain.tmaStoreO, plain.stageOInLastStage) = (false, false)
        #expect(okv.sharedMemoryBytes == plain.sharedMemoryBytes && okv.sharedMemoryBytes <= 232_448)
        let changes: [(inout AttentionKernelDescriptor) -> Void] = [{ $0.varlen = true }, { $0.tmaStoreO = false },
                                                                  { $0.stageOInQueryBuffer = true }, { $0.blockN = 48 }]
        for change in changes {
            var bad = okv
            change(&bad)
            #expect(bad.invalidReason != nil)
        }
        let source = try AttentionKernel(descriptor: okv).source
        #expect(source.contains("const u32 o_stage = (wg == 0 ? sK : sV) + okv_stage * KV_BYTES;") && !source.contains("const u32 sO"))
        #expect(source.contains("if (wg == 1) named_arrive(BAR_OKV, 256);") && source.contains("named_sync(BAR_OKV + wg, 256);"))
        #expect(source.contains("mbar_arrive((wg == 0 ? bar_k_free : bar_v_free) + 8 * okv_stage);"))
        // The Q buffer goes back after the last S product, as without the store.
        #expect(source.contains("mbar_arrive(bar_q_free + 8 * qb);\n            if (wg == 1) named_arrive(BAR_OKV, 256);"))
        var oq = okv
        (oq.stageOInLastStage, oq.stageOInQueryBuffer) = (false, true)
        #expect(!(try AttentionKernel(descriptor: oq).source).contains("OKV"), "kernels without it keep their source")
    }

    /// The half-width diagonal softmax (session 8): only causal, whole k16 pairs in each half, not
    /// with the overlapped epilogue; its text appears only in kernels that have it.
    @Test func halfDiagonalStepShapes() throws {
        let hd = try #require(hopperVariants.first { $0.halfDiagonalStep && $0.headDim == 64 && $0.blockM == 128 && !$0.varlen })
        #expect(hd.invalidReason == nil && hd.name.hasSuffix("tmaws2pdq2hd_sm_90a"))
        let changes: [(inout AttentionKernelDescriptor) -> Void] = [{ $0.mask = .none }, { $0.blockN = 176 }, { $0.blockN = 80 },
                                                                  { $0.overlapEpilogue = true }, { $0.mainloop = .wgmma }]
        for change in changes {
            var bad = hd
            change(&bad)
            #expect(bad.invalidReason != nil)
        }
        let source = try AttentionKernel(descriptor: hd).source
        #expect(source.contains("if (half) { softmax_half((n_blocks - 1) * BLOCK_N); convert_p_half(); } else { softmax((n_blocks - 1) * BLOCK_N); convert_p(); }"))
        #expect(source.contains("auto softmax_half = [&](int n0) {\n                if (n0 + (BLOCK_N / 2) > full_hi) {"))
        #expect(source.contains("pk[ks][0] = pk[ks][1] = pk[ks][2] = pk[ks][3] = 0u;"))
        // The products stay full width: the two wrappers (S m64n128, P·V m64n64 at D = 64), no third.
        #expect(source.components(separatedBy: "wgmma.mma_async.sync.aligned.").count == 3 && source.contains("m64n128k16"))
        var plain = hd
        plain.halfDiagonalStep = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(!plainSource.contains("softmax_half") && !plainSource.contains("convert_p_half") && plainSource.contains("auto softmax = [&](int n0) {"))
    }

    /// Narrow diagonal products (session 11): only beside the half-width softmax, at tile D = 64 / 128 with
    /// two consumer warpgroups and 128-key steps, dense, 16-bit outputs; the text only in kernels that have it,
    /// every branch around a product a whole group (fence to wait) on a lane-0 value.
    @Test func narrowDiagonalShapes() throws {
        let nd = try #require(hopperVariants.first { $0.narrowDiagonalValues && $0.headDim == 64 && !$0.precomputedDescriptors })
        #expect(nd.invalidReason == nil && nd.name.hasSuffix("tmaws2pdq2hdndnver_sm_90a"))
        let changes: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.halfDiagonalStep = false }, { $0.mask = .none }, { $0.blockN = 64 }, { $0.blockN = 176 }, { $0.varlen = true },
            { $0.outputType = .float32 }, { ($0.blockM, $0.warps) = (192, 16) }, { $0.overlapEpilogue = true },
            { ($0.headDim, $0.blockN) = (256, 64) }, { $0.headDim = 128 }, { $0.precomputedDescriptors = true }, { $0.narrowDiagonal = false },
            { $0.mainloop = .wgmma }]
        for change in changes {
            var bad = nd
            change(&bad)
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
        for d in hopperVariants where d.narrowDiagonal {
            let source = try AttentionKernel(descriptor: d).source
            #expect(source.contains("const bool half = __shfl_sync(0xffffffffu, (int)(imin(seqlen_k, m0 + wg * 64 + 64 + diag) <= (n_blocks - 1) * BLOCK_N + BLOCK_N / 2), 0) != 0;"))
            #expect(source.contains("if (half) { wgmma_fence(); issue_qk_narrow(stage); named_arrive(BAR_TURN + (1 - wg), CONSUMER_THREADS); wgmma_wait<0>(); }"))
            // S at half width (m64n64) beside the full m64n128.
            #expect(source.contains("m64n64k16") && source.contains("m64n128k16"))
            // The P·V over half the k16 steps (in the loop's first step and the tile's last), with P's upper half never packed;
            // without it, the zeros the full-width P·V reads.
            #expect(source.contains("const bool narrow = __shfl_sync(0xffffffffu, (int)(it == 1 && half), 0) != 0;") == d.narrowDiagonalValues)
            #expect(source.contains("if (narrow_last) { wgmma_fence(); issue_pv_narrow(stage); wgmma_wait<0>(); }") == d.narrowDiagonalValues)
            #expect(source.contains("for (int ks = 0; ks < BLOCK_N / 32; ++ks) wgmma_pv") == d.narrowDiagonalValues)
            #expect(source.contains("pk[ks][0] = pk[ks][1] = pk[ks][2] = pk[ks][3] = 0u;") != d.narrowDiagonalValues)
            var plain = d
            (plain.narrowDiagonal, plain.narrowDiagonalValues) = (false, false)
            let plainSource = try AttentionKernel(descriptor: plain).source
            #expect(!plainSource.contains("narrow") && plainSource.contains("pk[ks][0] = pk[ks][1] = pk[ks][2] = pk[ks][3] = 0u;"))
        }
    }

    /// The softmax's row maximum and sum in four partial chains (session 8): the text only in kernels
    /// that have it, in the full and the half-width diagonal softmax alike.
    @Test func warpgroupStepCountShapes() throws {
        let ws = try #require(hopperVariants.first { $0.warpgroupStepCount && $0.stageOInLastStage })
        #expect(ws.name.hasSuffix("okvws1_sm_90a"))
        let source = try AttentionKernel(descriptor: ws).source
        // The loop's first index and the first step's stage follow the warpgroup's count; the
        // skipped step's turn and stages are still taken and released.
        #expect(source.contains("for (int it = 1 + ws_first; it < n_blocks; ++it)"))
        #expect(source.contains("if (ws_first) { named_sync(BAR_TURN + 0, CONSUMER_THREADS); named_arrive(BAR_TURN + 1, CONSUMER_THREADS); }"))
        #expect(source.contains("if (ws_first) { mbar_arrive(bar_k_free + 8 * (kv_iter % STAGES)); mbar_arrive(bar_v_free + 8 * (kv_iter % STAGES)); }"))
        var plain = ws
        plain.warpgroupStepCount = false
        #expect(!(try AttentionKernel(descriptor: plain).source.contains("ws_first")))
        var refused = ws
        refused.halfDiagonalStep = true
        #expect(refused.invalidReason != nil)
        refused = ws
        refused.mask = .none
        #expect(refused.invalidReason != nil)
        refused = ws
        (refused.tmaStoreO, refused.stageOInLastStage) = (false, false)
        #expect(refused.invalidReason != nil)
    }

    /// Precomputed wgmma descriptors (session 9): every product's descriptor is its operand's base
    /// low word plus an immediate; the full-address `smem_desc` form only in kernels without it.
    @Test func precomputedDescriptorsShapes() throws {
        let xd = try #require(hopperVariants.first { $0.precomputedDescriptors && $0.blockN == 176 && $0.mask == .none })
        #expect(xd.invalidReason == nil && xd.name.hasSuffix("tmaws2pxd_sm_90a"))
        let source = try AttentionKernel(descriptor: xd).source
        #expect(source.contains("wgmma_qk_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, ks > 0 ? 1 : 0);"))
        #expect(source.contains("wgmma_pv_d(acc_o, pk[ks], v_lo + ks * ((16 * 128) >> 4), DESC_HI);"))
        #expect(source.contains("const int wg = __shfl_sync(0xffffffffu, (warp >> 2) - 1, 0);"))
        #expect(!source.contains("smem_desc(q_base") && !source.contains("smem_desc(v_base"))
        var plain = xd
        plain.precomputedDescriptors = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(!plainSource.contains("desc_lo") && !plainSource.contains("wgmma_qk_d") && plainSource.contains("smem_desc(q_base + block * BLOCK_M * 128 + within, 16, 1024)"))
        // The high word the wrappers assume is smem_desc's for the 1024-byte stride and the 128-byte swizzle.
        #expect(source.contains("constexpr u32 DESC_HI = (1024u >> 4) | (1u << 30);"))
        var wgmmaLoop = xd
        (wgmmaLoop.mainloop, wgmmaLoop.persistent) = (.wgmma, false)
        #expect(wgmmaLoop.invalidReason != nil)
    }

    /// The O rescale at the end of the step that computed α (session 9, part 2): no rescale between a
    /// turn's S and P·V issues or before the tile's last P·V, one at the end of each loop step (after its
    /// wait for the previous P·V), none in the first step (O is zero there); the text without it unchanged.
    @Test func earlyRescaleShapes() throws {
        let er = try #require(hopperVariants.first { $0.earlyRescale && $0.precomputedDescriptors && $0.blockN == 176 && $0.mask == .none && !$0.skipUnchangedRescale })
        #expect(er.invalidReason == nil && er.name.hasSuffix("tmaws2pxder_sm_90a"))
        let source = try AttentionKernel(descriptor: er).source
        #expect(source.components(separatedBy: "rescale_o();").count == 2, "one call site")
        #expect(source.contains("mbar_arrive(bar_v_free + 8 * prev);\n                convert_p();\n                // O·α now (the previous P·V has completed), before the next turn, not inside it.\n                rescale_o();\n            }"))
        #expect(source.contains("issue_qk(stage);\n                mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);"))
        #expect(source.contains("const int last = kv_iter + n_blocks - 1, stage = last % STAGES;\n                mbar_wait(bar_v_full"))
        var plain = er
        plain.earlyRescale = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(plainSource.components(separatedBy: "rescale_o();").count == 3 && !plainSource.contains("O·α now"))
        #expect(plainSource.contains("issue_qk(stage);\n                rescale_o();\n                mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);"))
        // The skipped unchanged rescale keeps its vote at the step's end.
        let skip = try #require(hopperVariants.first { $0.earlyRescale && $0.skipUnchangedRescale })
        let skipSource = try AttentionKernel(descriptor: skip).source
        #expect(skipSource.contains("// O·α now (the previous P·V has completed), before the next turn, not inside it.\n                if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) rescale_o();"))
        #expect(skipSource.components(separatedBy: "rescale_o();").count == 2)
        var wgmmaLoop = er
        (wgmmaLoop.mainloop, wgmmaLoop.persistent, wgmmaLoop.precomputedDescriptors) = (.wgmma, false, false)
        #expect(wgmmaLoop.invalidReason != nil)
    }

    /// desc(addr + off) = desc(addr) + off / 16 on the low word: the address field (bits 0–13)
    /// never carries into the leading-offset field for shared addresses below 228 KB.
    @Test func descriptorLowWordAddsWithoutCarry() throws {
        // The generated low word is the expression `low` restates below (so this checks the kernels' arithmetic).
        let xd = try #require(hopperVariants.first { $0.precomputedDescriptors })
        #expect(try AttentionKernel(descriptor: xd).source.contains(
            "FA_DEVICE u32 desc_lo(u32 addr, u32 leading_bytes) { return (addr >> 4) | ((leading_bytes >> 4) << 16); }"))
        func full(_ addr: UInt32, _ lead: UInt32) -> UInt64 {
            let a = UInt64((addr & 0x3FFFF) >> 4), l = UInt64((lead >> 4) & 0x3FFF) << 16
            return a | l | (UInt64(1024 >> 4) << 32) | (UInt64(1) << 62)
        }
        func low(_ addr: UInt32, _ lead: UInt32) -> UInt32 { (addr >> 4) | ((lead >> 4) << 16) }
        let hi = UInt64((UInt32(1024) >> 4) | (UInt32(1) << 30)) << 32
        let leads: [UInt32] = [16, 176 * 128, 64 * 128, 80 * 128]
        let offsets: [UInt32] = [0, 32, 96, 1024, 176 * 128, 64 * 128 * 3 + 96]
        let limit: UInt32 = 228 * 1024
        for lead in leads {
            for base in stride(from: UInt32(0), to: limit, by: 1024) {
                for off in offsets where base + off < limit {
                    let sum: UInt32 = low(base, lead) + (off >> 4)
                    #expect(UInt64(sum) | hi == full(base + off, lead))
                }
            }
        }
    }

    @Test func treeRowReductionsShapes() throws {
        let tr = try #require(hopperVariants.first { $0.treeRowReductions && $0.halfDiagonalStep })
        #expect(tr.invalidReason == nil && tr.name.hasSuffix("tmaws2pdq2hdtr_sm_90a"))
        let source = try AttentionKernel(descriptor: tr).source
        #expect(source.components(separatedBy: "float mp[4] = {row_max[r], row_max[r], row_max[r], row_max[r]};").count == 3)
        #expect(source.components(separatedBy: "row_sum[r] = row_sum[r] * alpha[r] + ((sp[0] + sp[1]) + (sp[2] + sp[3]));").count == 3)
        #expect(!source.contains("sum += pv;"))
        var plain = tr
        plain.treeRowReductions = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(!plainSource.contains("mp[4]") && plainSource.components(separatedBy: "sum += pv;").count == 3)
        var wgmmaLoop = tr
        (wgmmaLoop.mainloop, wgmmaLoop.persistent, wgmmaLoop.dynamicScheduler, wgmmaLoop.qStages, wgmmaLoop.halfDiagonalStep) = (.wgmma, false, false, 1, false)
        #expect(wgmmaLoop.invalidReason != nil)
    }

    /// Session 12 (hopfwd21): the P·V wait after the softmax (`vw`), the sleeping producer waits (`ps`) and cuDNN's step
    /// order (`xt`) — their text, their refusals, and that no problem routes to any while their knobs are unset (`vw` and
    /// `ps` measured slower or level; `xt` not yet run).
    @Test func valueWaitAndProducerSleepShapes() throws {
        let vw = try #require(hopperVariants.first { $0.valueWaitAfterSoftmax && $0.halfDiagonalStep })
        #expect(vw.invalidReason == nil && vw.name.hasSuffix("tmaws2pdq2hdervw_sm_90a"))
        let vwSource = try AttentionKernel(descriptor: vw).source
        let fence = "if (row_sum[0] < 0.0f) __trap();"
        #expect(vwSource.components(separatedBy: fence).count == 2)
        #expect(vwSource.contains("softmax((n_blocks - 1 - it) * BLOCK_N);\n                " + fence))
        var plain = vw
        plain.valueWaitAfterSoftmax = false
        #expect(!(try AttentionKernel(descriptor: plain).source).contains("__trap()"))
        let wide = try #require(hopperVariants.first { $0.separateValueTurn && !$0.sleepingProducerWaits })
        var wideHeld = wide
        wideHeld.valueWaitAfterSoftmax = true
        #expect(wideHeld.invalidReason != nil)

        let ps = try #require(hopperVariants.first { $0.sleepingProducerWaits && $0.halfDiagonalStep })
        #expect(ps.invalidReason == nil && ps.name.hasSuffix("tmaws2pdq2hderps_sm_90a"))
        let psSource = try AttentionKernel(descriptor: ps).source
        #expect(psSource.contains("mbarrier.try_wait.parity.shared::cta.b64 p, [%1], %2, %3;"))
        #expect(psSource.contains("mbar_wait_sleep(bar_k_free + 8 * stage, phase ^ 1);") && psSource.contains("mbar_wait_sleep(bar_v_free + 8 * stage, phase ^ 1);"))
        #expect(psSource.contains("mbar_wait_sleep(bar_q_free + 8 * qb,") && !psSource.contains("mbar_wait_sleep(bar_k_full"))
        var unslept = ps
        unslept.sleepingProducerWaits = false
        #expect(!(try AttentionKernel(descriptor: unslept).source).contains("mbar_wait_sleep"))
        let halves = try #require(hopperVariants.first { $0.sleepingProducerWaits && $0.queryHalves == 3 })
        #expect((try AttentionKernel(descriptor: halves).source).contains("mbar_wait_sleep(bar_q_free + 8 * qb1,"))
        let folded = try #require(hopperVariants.first { $0.foldedProducer })
        var foldedSleeping = folded
        foldedSleeping.sleepingProducerWaits = true
        #expect(foldedSleeping.invalidReason != nil)
        var mma = ps
        (mma.mainloop, mma.persistent, mma.dynamicScheduler, mma.qStages, mma.halfDiagonalStep, mma.earlyRescale) = (.mmaSync, false, false, 1, false, false)
        #expect(mma.invalidReason != nil)

        // cuDNN's order: one loop of every step (S waited for at once, the turn around the exponentials, P·V waited for at
        // once), no trailing P·V, the split softmax only.
        let xt = try #require(hopperVariants.first { $0.exponentialTurn && $0.mask == .causal && $0.headDim == 64 })
        #expect(xt.invalidReason == nil && xt.name.hasSuffix("tmaws2pdq2xt_sm_90a"))
        let xtSource = try AttentionKernel(descriptor: xt).source
        #expect(xtSource.contains("for (int it = 0; it < n_blocks; ++it) {") && xtSource.contains("auto softmax_max = [&](int n0) {"))
        #expect(xtSource.contains("softmax_exp();") && !xtSource.contains("auto softmax = [&]") && !xtSource.contains("const int last = kv_iter + n_blocks - 1"))
        #expect(xtSource.components(separatedBy: "named_sync(BAR_TURN + wg, CONSUMER_THREADS);").count == 2)
        let xtRefusals: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.halfDiagonalStep = true }, { $0.earlyRescale = true }, { $0.overlapEpilogue = true }, { $0.valueWaitAfterSoftmax = true }, { $0.emulatedExp2Every = 4 },
        ]
        for change in xtRefusals {
            var d = xt
            change(&d)
            #expect(d.invalidReason != nil, "\(d.name)")
        }
        // The lean form: the diagonal step peeled (no α, no O·α there; half width with hd), the loop from the second step.
        let xl = try #require(hopperVariants.first { $0.leanExponentialTurn && $0.mask == .causal && $0.headDim == 64 })
        #expect(xl.invalidReason == nil && xl.name.hasSuffix("tmaws2pdq2hdxdxtxl_sm_90a"))
        let xlSource = try AttentionKernel(descriptor: xl).source
        #expect(xlSource.contains("for (int it = 1; it < n_blocks; ++it) {") && xlSource.contains("auto softmax_max_first_half = [&](int n0) {"))
        #expect(xlSource.contains("softmax_exp_first_half(); convert_p_half();") && xlSource.contains("row_sum[r] = t[0];  // the tile's first step: l was 0"))
        #expect(xlSource.components(separatedBy: "named_sync(BAR_TURN + wg, CONSUMER_THREADS);").count == 3)
        #expect(xlSource.components(separatedBy: "rescale_o();").count == xtSource.components(separatedBy: "rescale_o();").count)
        var leanAlone = xl
        leanAlone.exponentialTurn = false
        leanAlone.halfDiagonalStep = false
        #expect(leanAlone.invalidReason != nil)
        var leanEarly = xl
        leanEarly.earlyRescale = true
        #expect(leanEarly.invalidReason != nil)
        var shipped = xt
        shipped.exponentialTurn = false
        #expect((try AttentionKernel(descriptor: shipped).source).contains("const int last = kv_iter + n_blocks - 1"))
        // The overlapped lean form: S then P·V issued back to back, S waited for alone, the maximum before the P·V wait, one
        // turn a step, the tile's last P·V after the loop; the block-ending branches (two, three with `xoa`).
        let xo = try #require(hopperVariants.first { $0.overlappedExponentialTurn == 1 && $0.mask == .causal && $0.headDim == 64 })
        #expect(xo.invalidReason == nil && xo.name.hasSuffix("tmaws2pdq2hdxdxtxlxo_sm_90a"))
        let xoSource = try AttentionKernel(descriptor: xo).source
        #expect(xoSource.contains("issue_qk(stage);\n                mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);\n                wgmma_fence();\n                issue_pv(prev);\n                wgmma_wait<1>();"))
        #expect(xoSource.contains("const int last = kv_iter + n_blocks - 1") && xoSource.components(separatedBy: "issue_pv(").count == 3)
        #expect(xoSource.components(separatedBy: "named_sync(BAR_TURN + wg, CONSUMER_THREADS);").count == 3)
        #expect(xoSource.components(separatedBy: "== 0x7fbfffffu) __trap();").count == 3 && !xoSource.contains("row_sum[1] < 0.0f) __trap();"))
        let xoa = try #require(hopperVariants.first { $0.overlappedExponentialTurn == 2 })
        #expect(xoa.invalidReason == nil && xoa.name.hasSuffix("xtxlxoa_sm_90a"))
        #expect((try AttentionKernel(descriptor: xoa).source).contains("if (row_sum[0] < 0.0f || row_sum[1] < 0.0f) __trap();"))
        var overlapAlone = xl
        overlapAlone.leanExponentialTurn = false
        overlapAlone.overlappedExponentialTurn = 1
        #expect(overlapAlone.invalidReason != nil)
        var overlapBad = xo
        overlapBad.overlappedExponentialTurn = 3
        #expect(overlapBad.invalidReason != nil)
        var unoverlapped = xo
        unoverlapped.overlappedExponentialTurn = 0
        #expect((try AttentionKernel(descriptor: unoverlapped).source) == xlSource)

        guard getenv("FLASH_ATTENTION_HOPPER_VALUEWAIT") == nil && getenv("FLASH_ATTENTION_HOPPER_PRODUCERSLEEP") == nil
            && getenv("FLASH_ATTENTION_HOPPER_EXPTURN") == nil && getenv("FLASH_ATTENTION_HOPPER_EXPOVERLAP") == nil
            && getenv("FLASH_ATTENTION_HOPPER_STORE") == nil && getenv("FLASH_ATTENTION_HOPPER_TWOBLOCKS") == nil
            && getenv("FLASH_ATTENTION_HOPPER_TILES") == nil else { return }
        for d in [64, 128, 256] {
            for mask in [KernelMask.causal, .none] {
                for n in [512, 768, 1024, 1500, 2048, 8192] {
                    let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, tensorMapFriendly: true,
                                                                                       seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                    // The lean order is the default on causal tile D = 64's two-warpgroup rows (below 2k queries), storing O by TMA
                    // up to 1k keys, and on causal tile D = 128 at 513…1024 keys overlapped (`xoa`, session 13; 1025…2048 keys
                    // took `xo` in sessions 14–18, the shipped order with `sx` since session 19), nowhere else.
                    let lean = mask == .causal && (d == 64 && n < 2048 || d == 128 && n > 512 && n <= 1024)
                    #expect(!routed.valueWaitAfterSoftmax && !routed.sleepingProducerWaits, "D = \(d) \(mask) N = \(n): \(routed.name)")
                    #expect(routed.exponentialTurn == lean && routed.leanExponentialTurn == lean, "D = \(d) \(mask) N = \(n): \(routed.name)")
                    // (The half-width diagonal softmax is the row's: up to 1k keys.)
                    if lean { #expect(routed.precomputedDescriptors && !routed.earlyRescale && routed.halfDiagonalStep == (n <= 1024) && routed.invalidReason == nil, "\(routed.name)") }
                    #expect(routed.overlappedExponentialTurn == (lean && d == 128 ? 2 : 0), "D = \(d) \(mask) N = \(n): \(routed.name)")
                    // (Causal tile D = 128 past 1k keys: the speculative maximum in the shipped order.)
                    if mask == .causal && d == 128 && n > 1024 { #expect(routed.speculativeMax, "D = \(d) \(mask) N = \(n): \(routed.name)") }
                    if lean && d == 64 { #expect(routed.tmaStoreO == (n <= 1024), "D = \(d) \(mask) N = \(n): \(routed.name)") }
                }
            }
        }
        let rule = KernelHeuristics.defaultLeanExponentialTurn
        #expect(rule(64, true, 2, false, true, 512) && rule(64, true, 2, false, true, 2048) && !rule(64, true, 2, false, true, 2049))
        #expect(!rule(64, true, 3, false, true, 1024) && !rule(64, false, 2, false, true, 1024) && !rule(128, true, 2, false, true, 512))
        #expect(rule(128, true, 2, false, true, 513) && rule(128, true, 2, false, true, 1024) && !rule(128, true, 2, false, true, 1025))
        #expect(!rule(128, true, 2, false, true, 2048) && !rule(128, true, 2, false, true, 4096))
        #expect(!rule(128, false, 2, false, true, 768) && !rule(256, true, 2, false, true, 768))
        let overlap = KernelHeuristics.defaultOverlappedExponentialTurn
        #expect(overlap(128, true, 768) == 2 && overlap(128, true, 1024) == 2 && overlap(128, true, 512) == 0 && overlap(128, true, 1025) == 0
                && overlap(128, true, 2048) == 0 && overlap(64, true, 768) == 0 && overlap(64, true, 2048) == 0)
        let store = KernelHeuristics.defaultLeanStoreO
        #expect(store(64, true, false, 1024) && !store(64, true, false, 1025) && !store(64, true, true, 512) && !store(64, false, false, 512)
                && !store(128, true, false, 512) && !store(64, true, false, 0))
        #expect(!rule(64, true, 2, true, true, 1024) && !rule(64, true, 2, false, false, 1024) && !rule(64, true, 2, false, true, 0))
    }

    @Test func invalidShapesAreRefused() {
        var d = hopperVariants[0]
        d.headDim = 256
        #expect(d.invalidReason != nil, "128-key steps at D = 256 overflow shared memory")
        d = hopperVariants[0]
        d.headDim = 192
        #expect(d.invalidReason != nil)
        d = hopperVariants[0]
        d.dynamicScheduler = true
        #expect(d.invalidReason != nil, "the dynamic scheduler needs the persistent grid")
        d = hopperVariants[0]
        d.architecture = .sm80
        #expect(d.invalidReason != nil)
        d = hopperVariants[0]
        d.dropout = true
        #expect(d.invalidReason != nil)
        d = hopperVariants[0]
        d.mainloop = .wgmma
        d.warps = 4
        d.blockM = 64
        d.persistent = true
        #expect(d.invalidReason != nil, "only the TMA loop has a persistent grid")
        #expect(hopperVariants.allSatisfy { $0.invalidReason == nil })
    }

    /// The heuristics pick the TMA kernel for plain problems with TMA-friendly tensors, the
    /// table's shape for each (D, mask), and leave everything else to the other loops.
    @Test func heuristicsRouteByTheTable() throws {
        // The switches change the answers; this checks the table itself.
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_QBUF") == nil, getenv("FLASH_ATTENTION_HOPPER_OVERLAP") == nil,
              getenv("FLASH_ATTENTION_HOPPER_STORE") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WG") == nil, getenv("FLASH_ATTENTION_HOPPER_LATE") == nil, getenv("FLASH_ATTENTION_HOPPER_OQ") == nil,
              getenv("FLASH_ATTENTION_HOPPER_OKV") == nil, getenv("FLASH_ATTENTION_HOPPER_DIAG") == nil else { return }
        // (FLASH_ATTENTION_HOPPER_OQ=1 stages O in the Q buffer on every row without a store.)
        func pick(_ p: AttentionProblem) throws -> AttentionKernelDescriptor { try KernelHeuristics.descriptor(for: p, architecture: .sm90a).descriptor }
        let causal128 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 4096))
        #expect(causal128.mainloop == .tmaWarpSpecialized && causal128.blockN == 176 && causal128.persistent && causal128.dynamicScheduler
                && causal128.qStages == 1 && causal128.lateTileAddresses)
        // Causal D = 128 from 4k: 176-key steps with late tile addresses (session 7); 128-key steps
        // below 4k, for varlen problems, and with FLASH_ATTENTION_HOPPER_LATE=0.
        let causal128Below4k = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 4095))
        #expect(causal128Below4k.blockN == 128 && causal128Below4k.dynamicScheduler && !causal128Below4k.lateTileAddresses)
        let causal128Varlen = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, varlen: true, tensorMapFriendly: true, seqlenQ: 8192))
        #expect(causal128Varlen.blockN == 128 && causal128Varlen.dynamicScheduler && !causal128Varlen.lateTileAddresses)
        let causal128F32At8k = try pick(AttentionProblem(elementType: .float16, outputType: .float32, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 8192))
        #expect(causal128F32At8k.blockN == 176 && causal128F32At8k.lateTileAddresses)
        // Two Q buffers and the TMA store of O where tiles are a few key steps long (D = 128 causal
        // up to 2k); the one-buffer dynamic-scheduler kernel beyond, and for float32 outputs.
        let shortCausal128 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(shortCausal128.blockN == 128 && shortCausal128.dynamicScheduler && shortCausal128.qStages == 2 && shortCausal128.tmaStoreO)
        let causal128At2k = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 2048))
        #expect(causal128At2k.dynamicScheduler && causal128At2k.qStages == 2 && causal128At2k.tmaStoreO)
        let causal128Past2k = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 2049))
        #expect(causal128Past2k.dynamicScheduler && causal128Past2k.qStages == 1 && !causal128Past2k.tmaStoreO)
        let causal128F32 = try pick(AttentionProblem(elementType: .bfloat16, outputType: .float32, headDim: 128, mask: .causal, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(causal128F32.dynamicScheduler && causal128F32.qStages == 2 && !causal128F32.tmaStoreO)
        // Non-causal D = 128 up to 4k: 128-key steps, two Q buffers and the TMA store of O; 176-key
        // steps beyond, and for outputs the store cannot write (float32).
        let plain128 = try pick(AttentionProblem(elementType: .float16, headDim: 128, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(plain128.mainloop == .tmaWarpSpecialized && plain128.blockN == 128 && plain128.persistent && plain128.qStages == 2 && plain128.tmaStoreO)
        let plain128At4k = try pick(AttentionProblem(elementType: .float16, headDim: 128, tensorMapFriendly: true, seqlenQ: 4096))
        #expect(plain128At4k.blockN == 128 && plain128At4k.qStages == 2 && plain128At4k.tmaStoreO)
        let long128 = try pick(AttentionProblem(elementType: .float16, headDim: 128, tensorMapFriendly: true, seqlenQ: 4097))
        #expect(long128.blockN == 176 && long128.qStages == 1 && !long128.tmaStoreO)
        let f32At1k = try pick(AttentionProblem(elementType: .float16, outputType: .float32, headDim: 128, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(f32At1k.blockN == 176 && !f32At1k.tmaStoreO)
        let f32Short = try pick(AttentionProblem(elementType: .float16, outputType: .float32, headDim: 128, tensorMapFriendly: true, seqlenQ: 512))
        #expect(f32Short.blockN == 128 && f32Short.qStages == 2 && !f32Short.tmaStoreO)
        let short128 = try pick(AttentionProblem(elementType: .float16, headDim: 128, tensorMapFriendly: true, seqlenQ: 512))
        #expect(short128.blockN == 128 && short128.persistent && short128.qStages == 2 && short128.tmaStoreO)
        let plain40 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 40, varlen: true, tensorMapFriendly: true))
        // Varlen keeps two consumer warpgroups: no oracle case on a GPU has reached a varlen 192-row kernel.
        #expect(plain40.mainloop == .tmaWarpSpecialized && plain40.headDim == 64 && plain40.persistent && plain40.blockN == 128 && plain40.blockM == 128)
        // D = 64 non-causal: three consumer warpgroups (192-row tiles, 128-key steps) at every N,
        // with two Q buffers and the TMA store of O below 2k; float32 outputs keep two warpgroups
        // (192-key steps from 2k).
        let long64 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 64, tensorMapFriendly: true, seqlenQ: 2048))
        #expect(long64.blockM == 192 && long64.warps == 16 && long64.blockN == 128 && long64.qStages == 1 && !long64.tmaStoreO)
        let short64 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 64, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(short64.blockM == 192 && short64.blockN == 128 && short64.qStages == 2 && short64.tmaStoreO)
        let long64F32 = try pick(AttentionProblem(elementType: .bfloat16, outputType: .float32, headDim: 64, tensorMapFriendly: true, seqlenQ: 2048))
        #expect(long64F32.blockM == 128 && long64F32.blockN == 192)
        let short64F32 = try pick(AttentionProblem(elementType: .float16, outputType: .float32, headDim: 64, tensorMapFriendly: true, seqlenQ: 512))
        #expect(short64F32.blockM == 128 && short64F32.qStages == 2 && !short64F32.tmaStoreO)
        // D = 256: 80-key steps persistent; causal 64-key steps with the dynamic scheduler; up to
        // N = 4k (causal 2k) the TMA store of O staged in the Q buffer (dense 16-bit outputs).
        let plain256 = try pick(AttentionProblem(elementType: .float16, headDim: 256, tensorMapFriendly: true, seqlenQ: 2048))
        #expect(plain256.mainloop == .tmaWarpSpecialized && plain256.blockN == 80 && plain256.persistent && !plain256.dynamicScheduler)
        #expect(plain256.tmaStoreO && plain256.stageOInQueryBuffer)
        #expect(try pick(AttentionProblem(elementType: .float16, headDim: 256, tensorMapFriendly: true, seqlenQ: 4096)).stageOInQueryBuffer)
        let long256 = try pick(AttentionProblem(elementType: .float16, headDim: 256, tensorMapFriendly: true, seqlenQ: 4097))
        #expect(long256.blockN == 80 && !long256.tmaStoreO && !long256.stageOInQueryBuffer)
        let varlen256 = try pick(AttentionProblem(elementType: .float16, headDim: 256, varlen: true, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(varlen256.blockN == 80 && !varlen256.tmaStoreO, "the varlen kernel keeps direct stores")
        let f32At256 = try pick(AttentionProblem(elementType: .float16, outputType: .float32, headDim: 256, tensorMapFriendly: true, seqlenQ: 1024))
        #expect(f32At256.blockN == 80 && !f32At256.tmaStoreO)
        let causal256 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 256, mask: .causal, tensorMapFriendly: true))
        #expect(causal256.mainloop == .tmaWarpSpecialized && causal256.blockN == 64 && causal256.dynamicScheduler && causal256.stageOInQueryBuffer)
        let longCausal256 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 256, mask: .causal, tensorMapFriendly: true, seqlenQ: 2049))
        #expect(longCausal256.blockN == 64 && longCausal256.dynamicScheduler && !longCausal256.tmaStoreO)
        // Causal D = 64: two warpgroups, 128-key steps with two Q buffers below 2k (the wgmma loop
        // no longer runs it); from 2k three warpgroups with two Q buffers beside the dynamic
        // scheduler (late tile addresses); float32 outputs keep two (192-key steps from 4k).
        for n in [512, 1024, 2047] {
            let short = try pick(AttentionProblem(elementType: .bfloat16, headDim: 64, mask: .causal, tensorMapFriendly: true, seqlenQ: n))
            #expect(short.mainloop == .tmaWarpSpecialized && short.blockN == 128 && short.dynamicScheduler && short.qStages == 2 && !short.tmaStoreO && short.blockM == 128)
        }
        for n in [2048, 4096, 16384] {
            let causal64 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 64, mask: .causal, tensorMapFriendly: true, seqlenQ: n))
            #expect(causal64.blockM == 192 && causal64.blockN == 128 && causal64.dynamicScheduler && causal64.qStages == 2 && causal64.lateTileAddresses)
        }
        let causal64F32 = try pick(AttentionProblem(elementType: .bfloat16, outputType: .float32, headDim: 64, mask: .causal, tensorMapFriendly: true, seqlenQ: 4096))
        #expect(causal64F32.mainloop == .tmaWarpSpecialized && causal64F32.blockM == 128 && causal64F32.blockN == 192 && causal64F32.dynamicScheduler && causal64F32.qStages == 1)
        // Softcap since session 34 (the tanh in the softmax) at tile D = 128 with at most 128-key steps, beside ALiBi not.
        for d in [64, 160, 192, 256] {
            #expect(try pick(AttentionProblem(elementType: .bfloat16, headDim: d, softcap: true, tensorMapFriendly: true, seqlenQ: 4096, seqlenK: 4096)).mainloop != .tmaWarpSpecialized)
        }
        for mask in [KernelMask.none, .causal] {
            for n in [0, 512, 1024, 4096, 16384] {
                let k = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: mask, softcap: true, tensorMapFriendly: true, seqlenQ: n, seqlenK: n))
                #expect(k.mainloop == .tmaWarpSpecialized && k.blockN <= 128, "\(k.name)")
            }
        }
        let capped = try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, softcap: true, tensorMapFriendly: true))
        #expect(capped.mainloop == .tmaWarpSpecialized && capped.softcap && !capped.prescaleScores && capped.name.contains("_softcap_"))
        // Not for: unfriendly strides, dropout, other architectures (sliding windows and ALiBi since session 35:
        // HopperWindowTests, HopperAlibiTests).
        #expect(try pick(AttentionProblem(elementType: .bfloat16, headDim: 128)).mainloop == .wgmma)
        #expect(try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, dropout: true, tensorMapFriendly: true)).mainloop == .mmaSync)
        #expect(try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, alibi: true)).mainloop == .wgmma)
        #expect(try pick(AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .window)).mainloop == .wgmma)
        // Tile D = 192 at an unknown length: the TMA kernel padded to 256 (its own rows start at 2k queries; PaddedTileHeadDim).
        let d192 = try pick(AttentionProblem(elementType: .bfloat16, headDim: 192, tensorMapFriendly: true))
        #expect(getenv("FLASH_ATTENTION_PAD_TILES") != nil || (d192.mainloop == .tmaWarpSpecialized && d192.headDim == 256))
        #expect(try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, tensorMapFriendly: true), architecture: .sm80).descriptor.mainloop == .mmaSync)
    }

    /// O staged in the last key step's K/V stages is the default exactly where it measured
    /// faster (session 8 lead call, scripts/device/hopper_fwd8.sh): tile D = 256, causal up to 1k
    /// keys, unmasked up to 512; the Q-buffer staging elsewhere, and nothing for unknown lengths.
    @Test func stageOInLastStageDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_OKV") == nil, getenv("FLASH_ATTENTION_HOPPER_OQ") == nil,
              getenv("FLASH_ATTENTION_HOPPER_TILES") == nil, getenv("FLASH_ATTENTION_HOPPER_STORE") == nil,
              getenv("FLASH_ATTENTION_HOPPER_LATE") == nil, getenv("FLASH_ATTENTION_HOPPER_OWNO") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WIDE256") == nil, getenv("FLASH_ATTENTION_HOPPER_DESC") == nil,
              getenv("FLASH_ATTENTION_HOPPER_QHALVES") == nil else { return }
        let rule = KernelHeuristics.defaultStageOInLastStage
        #expect(rule(256, true, 512) && rule(256, true, 1024) && !rule(256, true, 1025) && !rule(256, true, 2048))
        #expect(rule(256, false, 128) && rule(256, false, 512) && !rule(256, false, 513) && !rule(256, false, 1024))
        #expect(!rule(256, true, 0) && !rule(256, false, 0), "unknown key counts keep the Q-buffer staging")
        for D in [64, 128] { #expect(!rule(D, true, 512) && !rule(D, false, 512)) }
        func pick(_ mask: KernelMask, _ n: Int, _ type: ElementType = .bfloat16, varlen: Bool = false) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, headDim: 256, mask: mask, varlen: varlen, tensorMapFriendly: true,
                                                                  seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
        }
        // (Causal 2k: the 128-key form with warpgroup 0's O in its own buffer, warpgroup 1's in the last V stage, session 11;
        // causal up to 1k: three rotating Q halves, each warpgroup staging O in its own half, session 12.)
        for (mask, n, okv) in [(KernelMask.causal, 512, false), (.causal, 1024, false), (.causal, 2048, true), (.causal, 4096, false),
                               (.none, 512, true), (.none, 1024, false), (.none, 4096, false)] {
            for type in [ElementType.bfloat16, .float16] {
                let d = try pick(mask, n, type)
                #expect(d.tmaStoreO && d.stageOInLastStage == okv && d.stageOInQueryBuffer == !okv, "\(mask) N = \(n): \(d.name)")
            }
        }
        // The rule keys on keys, not queries: a short query block over long keys keeps the Q buffer.
        let longKeys = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 256, mask: .causal, tensorMapFriendly: true,
                                                                             seqlenQ: 512, seqlenK: 4096), architecture: .sm90a).descriptor
        #expect(longKeys.stageOInQueryBuffer && !longKeys.stageOInLastStage)
        // Rows without the Q-buffer staging never take it (varlen, float32 outputs, D = 128).
        #expect(!(try pick(.causal, 512, varlen: true)).stageOInLastStage)
        let f32 = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .float16, outputType: .float32, headDim: 256, mask: .causal,
                                                                        tensorMapFriendly: true, seqlenQ: 512, seqlenK: 512), architecture: .sm90a).descriptor
        #expect(!f32.stageOInLastStage && !f32.tmaStoreO)
        let d128 = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true,
                                                                         seqlenQ: 512, seqlenK: 512), architecture: .sm90a).descriptor
        #expect(!d128.stageOInLastStage)
    }

    /// The half-width diagonal softmax is the default exactly where it measured faster (session 8,
    /// scripts/device/hopper_fwd9.sh): causal tile D = 64 / 128 up to 1k keys, dense 16-bit problems.
    @Test func halfDiagonalStepDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_DIAG") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WG") == nil, getenv("FLASH_ATTENTION_HOPPER_OVERLAP") == nil, getenv("FLASH_ATTENTION_HOPPER_QBUF") == nil,
              getenv("FLASH_ATTENTION_HOPPER_STORE") == nil, getenv("FLASH_ATTENTION_HOPPER_OKV") == nil else { return }
        let rule = KernelHeuristics.defaultHalfDiagonalStep
        for D in [64, 128] {
            #expect(rule(D, true, 512) && rule(D, true, 1024) && !rule(D, true, 1025) && !rule(D, true, 0) && !rule(D, false, 512))
        }
        #expect(!rule(256, true, 512) && !rule(256, true, 1024), "D = 256 lost (0.95–0.98×)")
        func pick(_ D: Int, _ n: Int, _ type: ElementType = .bfloat16, out: ElementType? = nil, mask: KernelMask = .causal, varlen: Bool = false) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, outputType: out, headDim: D, mask: mask, varlen: varlen,
                                                                  tensorMapFriendly: true, seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
        }
        for D in [64, 128] {
            for type in [ElementType.bfloat16, .float16] {
                for n in [512, 1024] { #expect(try pick(D, n, type).halfDiagonalStep, "D = \(D) N = \(n)") }
                // D = 64 at 2048 takes it beside the empty warpgroups on its three-warpgroup row (defaultCausalThreeWarpgroupDiagonal).
                for n in [2048, 4096] {
                    #expect((try pick(D, n, type)).halfDiagonalStep == (D == 64 && getenv("FLASH_ATTENTION_HOPPER_EMPTYWG") == nil))
                }
                #expect(!(try pick(D, 8192, type)).halfDiagonalStep)
                #expect(!(try pick(D, 512, type, mask: .none)).halfDiagonalStep)
            }
            let varlen = try pick(D, 512, varlen: true), f32 = try pick(D, 512, out: .float32)
            #expect(!varlen.halfDiagonalStep && !f32.halfDiagonalStep)
        }
        let d256 = try pick(256, 512), d256At1k = try pick(256, 1024)
        #expect(!d256.halfDiagonalStep && !d256At1k.halfDiagonalStep)
        // A problem of unknown length keeps the kernel without it (the table variants CI compiles).
        #expect(!(try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 64, mask: .causal, tensorMapFriendly: true),
                                                  architecture: .sm90a).descriptor.halfDiagonalStep))
    }

    /// Precomputed wgmma descriptors are the default exactly where they measured faster (session 9,
    /// scripts/device/hopper_fwd12.sh, five rounds): causal D = 128 everywhere, causal D = 64 past 1k
    /// keys, causal D = 256 everywhere, unmasked D = 256 up to 512; beside the early rescale
    /// (hopper_fwd13.sh) also unmasked D = 64 except 513–1024 keys and unmasked D = 256 up to 1k; never
    /// for unknown lengths.
    /// Narrow diagonal products are not a default (session 11: 0.73–0.93× the shipped kernels wherever they
    /// were timed): no problem routes to them while `FLASH_ATTENTION_HOPPER_NARROWDIAG` is unset, and the rule
    /// says no everywhere.
    @Test func narrowDiagonalDefault() throws {
        for D in [64, 128, 256] {
            for n in [0, 512, 1024, 2048] { #expect(!KernelHeuristics.defaultNarrowDiagonal(tileHeadDim: D, causal: true, seqlenK: n)) }
        }
        guard getenv("FLASH_ATTENTION_HOPPER_NARROWDIAG") == nil else { return }
        for D in [64, 128] {
            for n in [512, 1024, 2048] {
                let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: D, mask: .causal, tensorMapFriendly: true,
                                                                              seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                #expect(!d.narrowDiagonal, "D = \(D) N = \(n): \(d.name)")
            }
        }
    }

    /// Two blocks per multiprocessor: 288 threads (consumers in warps 0–7, the producer warp 8), no setmaxnreg,
    /// `__launch_bounds__(THREADS, 2)`, tile D = 64 at ≤ 32-key steps, dense; the shipped kernels keep their text.
    @Test func twoBlocksShapes() throws {
        let two = try #require(hopperVariants.first { $0.twoBlocksPerMultiprocessor && $0.mask == .causal })
        #expect(two.threads == 288 && two.name.contains("m128n32w9b2") && two.sharedMemoryBytes <= AttentionKernelDescriptor.twoBlocksSharedMemoryLimit)
        let source = try AttentionKernel(descriptor: two).source
        #expect(source.contains("__launch_bounds__(THREADS, 2)") && source.contains("if (warp == 2 * 4) {") && source.contains("const int ctid = tid;"))
        #expect(!source.contains("setmaxnreg"))
        let one = try AttentionKernel(descriptor: hopperVariants[0]).source
        #expect(one.contains("__launch_bounds__(THREADS, 1)") && one.contains("setmaxnreg.dec") && !one.contains("warp == 2 * 4"))
        let refusals: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.blockN = 64 }, { $0.headDim = 128 }, { $0.varlen = true }, { $0.warps = 12 }, { $0.minBlocksPerMultiprocessor = 3 },
            { ($0.dynamicScheduler, $0.lateTileAddresses, $0.persistent) = (false, false, false) }, { $0.warpgroupStepCount = true },
        ]
        for change in refusals {
            var d = two
            change(&d)
            #expect(d.invalidReason != nil, "\(d.name)")
        }
        var wide = hopperVariants[0]
        wide.minBlocksPerMultiprocessor = 2
        #expect(wide.invalidReason != nil, "12 warps at two blocks per SM")
    }

    /// Two blocks per multiprocessor are not a default (session 11, see docs/performance.md): no problem routes
    /// to them while `FLASH_ATTENTION_HOPPER_TWOBLOCKS` is unset, and the rule says no everywhere.
    @Test func twoBlocksDefault() throws {
        for causal in [true, false] {
            for n in [0, 512, 1024, 2048, 4096] {
                #expect(!KernelHeuristics.defaultTwoBlocks(tileHeadDim: 64, causal: causal, seqlenQ: n, seqlenK: n))
            }
        }
        guard getenv("FLASH_ATTENTION_HOPPER_TWOBLOCKS") == nil else { return }
        for mask in [KernelMask.causal, .none] {
            for n in [512, 1024, 2048, 8192] {
                let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 64, mask: mask, tensorMapFriendly: true,
                                                                              seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                #expect(!d.twoBlocksPerMultiprocessor, "\(mask) N = \(n): \(d.name)")
            }
        }
    }

    /// The folded producer: 256 threads (two consumer warpgroups, no producer warp), `__launch_bounds__(THREADS, 2)`,
    /// no setmaxnreg, lane 0 of warp 4 issuing the copies; tile D = 64 at ≤ 64-key steps, two Q buffers, dense; the
    /// 288-thread form and the shipped kernels keep their text.
    @Test func foldedProducerShapes() throws {
        let folded = try #require(hopperVariants.first { $0.foldedProducer && $0.mask == .causal })
        #expect(folded.threads == 256 && folded.twoBlocksPerMultiprocessor && folded.name.contains("m128n64w8b2") && folded.name.hasSuffix("fp_sm_90a"))
        #expect(folded.sharedMemoryBytes <= AttentionKernelDescriptor.twoBlocksSharedMemoryLimit)
        let source = try AttentionKernel(descriptor: folded).source
        #expect(source.contains("__launch_bounds__(THREADS, 2)") && source.contains("const bool issuer = warp == 4 && lane == 0;"))
        #expect(source.contains("copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, cur + STAGES + 1);"))
        #expect(!source.contains("setmaxnreg") && !source.contains("if (warp == 2 * 4) {") && !source.contains("if (warp < 4) {"))
        let two = try #require(hopperVariants.first { $0.twoBlocksPerMultiprocessor && !$0.foldedProducer })
        #expect(!(try AttentionKernel(descriptor: two).source).contains("copy_steps"))
        #expect(!(try AttentionKernel(descriptor: hopperVariants[0]).source).contains("issuer"))
        let refusals: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.blockN = 128 }, { $0.headDim = 128 }, { $0.varlen = true }, { $0.warps = 9 }, { $0.minBlocksPerMultiprocessor = 1 },
            { $0.qStages = 1 }, { ($0.dynamicScheduler, $0.persistent) = (false, false) }, { $0.mainloop = .wgmma },
        ]
        for change in refusals {
            var d = folded
            change(&d)
            #expect(d.invalidReason != nil, "\(d.name)")
        }
        // Late tile addresses read the folded producer's slot in either tile order.
        var stride = folded
        stride.dynamicScheduler = false
        #expect(stride.invalidReason == nil, "\(stride.name)")
        // Copies in the slack: issued after the turn's hand-over (K one step back, V two), none after the releases.
        let slack = try #require(hopperVariants.first { $0.foldedCopiesInSlack && $0.mask == .causal })
        #expect(slack.name.hasSuffix("fpsl_sm_90a"))
        let slackSource = try AttentionKernel(descriptor: slack).source
        #expect(slackSource.contains("if (issuer) { copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, cur + STAGES); copy_steps(bar_v_full, bar_v_free, sV, &hp.tm_v, copy_next + 4, cur + STAGES - 1); }"))
        #expect(slackSource.contains("if (issuer) { take_next(); copy_steps(") && !slackSource.contains("cur + STAGES + 1"))
        var alone = folded
        alone.foldedProducer = false
        alone.foldedCopiesInSlack = true
        #expect(alone.invalidReason != nil)
    }

    /// The folded producer is not a default (session 12, see docs/performance.md: 0.57–0.77× the shipped kernels):
    /// the rule says no everywhere, no problem routes to it while `FLASH_ATTENTION_HOPPER_FOLDED` is unset, and the
    /// knob's values map to stage counts (1 and 2: two stages, 3: three; anything else leaves the rule).
    @Test func foldedProducerDefault() throws {
        for causal in [true, false] {
            for n in [0, 512, 1024, 2048, 4096] { #expect(!KernelHeuristics.defaultFoldedProducer(tileHeadDim: 64, causal: causal, seqlenK: n)) }
        }
        for (knob, stages, slack) in [("1", 2, false), ("2", 2, false), ("3", 3, false), ("4", 3, true), ("5", 2, true)] {
            let form = try #require(KernelHeuristics.foldedProducerForm(knob: knob))
            #expect(form.stages == stages && form.slack == slack, "FLASH_ATTENTION_HOPPER_FOLDED=\(knob)")
        }
        #expect(KernelHeuristics.foldedProducerForm(knob: "0") == nil && KernelHeuristics.foldedProducerForm(knob: nil) == nil)
        guard getenv("FLASH_ATTENTION_HOPPER_FOLDED") == nil else { return }
        for mask in [KernelMask.causal, .none] {
            for n in [512, 1024, 2048, 8192] {
                let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 64, mask: mask, tensorMapFriendly: true,
                                                                              seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                #expect(!d.foldedProducer, "\(mask) N = \(n): \(d.name)")
            }
        }
    }

    @Test func precomputedDescriptorsDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_DESC") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WG") == nil, getenv("FLASH_ATTENTION_HOPPER_EARLYRESCALE") == nil,
              getenv("FLASH_ATTENTION_HOPPER_EXPTURN") == nil else { return }
        func rule(_ D: Int, _ causal: Bool, _ n: Int, _ early: Bool = false) -> Bool {
            KernelHeuristics.defaultPrecomputedDescriptors(tileHeadDim: D, causal: causal, seqlenK: n, earlyRescale: early)
        }
        for n in [512, 1024, 2048, 4096, 16384] {
            // (Unmasked tile D = 128 up to 512 keys since session 26.)
            #expect(rule(128, true, n) && rule(128, false, n) == (n <= 512) && !rule(64, false, n) && rule(128, false, n, true) == (n <= 512), "N = \(n)")
        }
        #expect(rule(128, false, 1) && rule(128, false, 256) && !rule(128, false, 513))
        #expect(!rule(64, true, 512) && !rule(64, true, 1024) && rule(64, true, 1025) && rule(64, true, 16384))
        #expect(rule(256, true, 512) && rule(256, true, 2048) && rule(256, true, 4096) && rule(256, true, 16384))
        #expect(rule(256, false, 512) && !rule(256, false, 513) && !rule(256, false, 16384))
        // Beside the early rescale: unmasked D = 64 and D = 256 at every length (session 19: D = 64 513–1024 keys, D = 256 1025–8191).
        #expect(rule(64, false, 512, true) && rule(64, false, 513, true) && rule(64, false, 1024, true) && rule(64, false, 1025, true) && rule(64, false, 16384, true))
        #expect(rule(256, false, 1024, true) && rule(256, false, 1025, true) && rule(256, false, 8191, true)
                && rule(256, false, 8192, true) && rule(256, false, 16384, true))
        for D in [64, 128, 256] { #expect(!rule(D, true, 0) && !rule(D, false, 0) && !rule(D, false, 0, true), "unknown key counts keep the shipped descriptors") }
        func pick(_ D: Int, _ mask: KernelMask, _ n: Int, _ type: ElementType = .bfloat16) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, headDim: D, mask: mask, tensorMapFriendly: true,
                                                                  seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
        }
        for type in [ElementType.bfloat16, .float16] {
            for (D, mask, n, on) in [(128, KernelMask.causal, 512, true), (128, .causal, 16384, true), (128, .none, 512, true), (128, .none, 1024, false), (128, .none, 8192, false),
                                     // (Causal D = 64 below 2k queries: the rule says no, but the lean cuDNN step order,
                                     // the default there since session 12, brings its own descriptors.)
                                     (64, .causal, 1024, true), (64, .causal, 2048, true), (64, .none, 512, true), (64, .none, 1024, true), (64, .none, 4096, true),
                                     (256, .causal, 1024, true), (256, .causal, 4096, true), (256, .causal, 8192, true), (256, .none, 512, true), (256, .none, 1024, true),
                                     // (Unmasked D = 256 2k–4k: xd + er beside `sx` since session 19.)
                                     (256, .none, 2048, true), (256, .none, 4096, true), (256, .none, 8192, true), (256, .none, 16384, true)] {
                let d = try pick(D, mask, n, type)
                #expect(d.mainloop == .tmaWarpSpecialized && d.precomputedDescriptors == on, "D = \(D) \(mask) N = \(n): \(d.name)")
            }
        }
        #expect(!(try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .causal, tensorMapFriendly: true),
                                                  architecture: .sm90a).descriptor.precomputedDescriptors))
    }

    /// The early O rescale is the default exactly where it measured faster (session 9 part 2,
    /// scripts/device/hopper_fwd13.sh, three rounds): causal D = 64 everywhere, causal D = 256 up to 1k keys,
    /// unmasked D = 64 everywhere (with xd; 513–1024 keys since session 19), unmasked D = 256 up to 1k and from 8k (with xd; session 15); never at D = 128
    /// or for unknown lengths. `FLASH_ATTENTION_HOPPER_EARLYRESCALE` overrides (not set here).
    @Test func earlyRescaleDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_DESC") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WG") == nil, getenv("FLASH_ATTENTION_HOPPER_EARLYRESCALE") == nil,
              getenv("FLASH_ATTENTION_HOPPER_QHALVES") == nil, getenv("FLASH_ATTENTION_HOPPER_EXPTURN") == nil else { return }
        let rule = KernelHeuristics.defaultEarlyRescale
        for n in [512, 1024, 2048, 16384] { #expect(!rule(128, true, n) && !rule(128, false, n) && rule(64, true, n), "N = \(n)") }
        #expect(rule(256, true, 512) && rule(256, true, 1024) && !rule(256, true, 1025) && !rule(256, true, 8192))
        #expect(rule(64, false, 512) && rule(64, false, 513) && rule(64, false, 1024) && rule(64, false, 1025) && rule(64, false, 16384))
        #expect(rule(256, false, 1024) && rule(256, false, 1025) && rule(256, false, 8191) && rule(256, false, 8192) && rule(256, false, 16384))
        for D in [64, 128, 256] { #expect(!rule(D, true, 0) && !rule(D, false, 0), "unknown key counts keep the rescale in the turn") }
        for type in [ElementType.bfloat16, .float16] {
            // (Causal D = 64 at 512: the lean cuDNN step order, the default there since session 12, drops the early
            // rescale and brings the precomputed descriptors.)
            for (D, mask, n, early, xd) in [(64, KernelMask.causal, 512, false, true), (64, .causal, 8192, true, true), (64, .none, 512, true, true),
                                            (64, .none, 1024, true, true), (64, .none, 2048, true, true), (128, .causal, 2048, false, true),
                                            (128, .none, 8192, false, false), (256, .causal, 1024, true, true), (256, .causal, 2048, false, true),
                                            (256, .none, 1024, true, true), (256, .none, 4096, true, true),
                                            // (Unmasked D = 256 from 8k: the long row `…tmaws2pxder`, session 15.)
                                            (256, .none, 8192, true, true), (256, .none, 16384, true, true)] {
                let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, headDim: D, mask: mask, tensorMapFriendly: true,
                                                                              seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                #expect(d.earlyRescale == early && d.precomputedDescriptors == xd && d.invalidReason == nil, "D = \(D) \(mask) N = \(n): \(d.name)")
                // (The 128-key causal D = 256 form's suffixes `vt`, `ob`, the Q halves' `qh` / `qr`, the empty
                // warpgroups' `ew`, the lazy rescale's `lr` and the speculative maximum's `sx` follow `er`.)
                // (The stream-K tail's `_sk` comes after them all.)
                var name = d.name.replacingOccurrences(of: "_sk_sm_90a", with: "_sm_90a")
                for suffix in ["sx", "lr", "ew", "qr", "qh", "ob", "vt"] { name = name.replacingOccurrences(of: suffix + "_sm_90a", with: "_sm_90a") }
                #expect(name.hasSuffix("er_sm_90a") == early, "D = \(D) \(mask) N = \(n): \(d.name)")
            }
        }
    }

    /// P·V and S in separate turns (``AttentionKernelDescriptor/separateValueTurn``): a tile D = 256 form
    /// with the precomputed descriptors and the TMA store of O; its name ends in
    /// `vt`; each loop step takes two turns (four turn barriers a step against the shipped two) and S's
    /// first k step writes its accumulators only. Refused in any other shape (128 keys in one stage only)
    /// and beside the overlapped epilogue, the half-width diagonal or per-warpgroup step counts.
    @Test func separateValueTurnShapes() throws {
        let vt = try #require(hopperVariants.first { $0.separateValueTurn && $0.mask == .causal && $0.stageOInQueryBuffer })
        #expect(vt.invalidReason == nil && vt.name.hasSuffix("tmaws1pdsooqxdvt_sm_90a"), "\(vt.name)")
        let source = try AttentionKernel(descriptor: vt).source
        #expect(source.contains("FA_DEVICE void wgmma_qk_first_d(float (&s)[N_TILES][4]") && source.contains("\"=f\"(s[15][3])"))
        #expect(source.contains("issue_qk_fresh(stage);") && !source.contains("issue_qk_half"))
        #expect(source.components(separatedBy: "named_sync(BAR_TURN + wg, CONSUMER_THREADS);").count - 1 == 3, "first step one turn, loop steps two")
        var plain = vt
        plain.separateValueTurn = false
        #expect(!(try AttentionKernel(descriptor: plain).source.contains("issue_qk_fresh")))
        for change in [{ (d: inout AttentionKernelDescriptor) in d.headDim = 128 }, { $0.precomputedDescriptors = false },
                       { $0.tmaStoreO = false; $0.stageOInQueryBuffer = false }, { $0.halfDiagonalStep = true },
                       { $0.overlapEpilogue = true }, { $0.warpgroupStepCount = true }, { $0.blockN = 160 }, { $0.blockN = 64 },
                       { $0.stages = 2 }] as [(inout AttentionKernelDescriptor) -> Void] {
            var bad = vt
            change(&bad)
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
    }

    /// Warpgroup 0's O in a staging buffer of its own (``AttentionKernelDescriptor/stageOInOwnBuffer``, suffix
    /// `ob`): only beside O in the last K/V stages and the 128-key one-stage form; 32 KB more shared memory,
    /// still under the sm_90 limit; the last K stage goes back at the last S (no held-back K arrival, no
    /// K-stage hand-over barrier), warpgroup 1 still stages in the V stage; kernels without it keep their text.
    @Test func stageOInOwnBufferShapes() throws {
        let ob = try #require(hopperVariants.first { $0.stageOInOwnBuffer && $0.earlyRescale && $0.elementType == .bfloat16 })
        #expect(ob.invalidReason == nil && ob.name.hasSuffix("tmaws1pdsookvxdervtob_sm_90a"), "\(ob.name)")
        var okv = ob
        okv.stageOInOwnBuffer = false
        #expect(ob.sharedMemoryBytes == okv.sharedMemoryBytes + 64 * 256 * 2 && ob.sharedMemoryBytes <= GPUArchitecture.sm90a.maxSharedMemoryPerBlock)
        let source = try AttentionKernel(descriptor: ob).source
        #expect(source.contains("const u32 sO = sV + STAGES * KV_BYTES;") && source.contains("const u32 bar_q = sO + O_OWN_BYTES;"))
        #expect(source.contains("const u32 o_stage = wg == 0 ? sO : sV + okv_stage * KV_BYTES;") && source.contains("else named_sync(BAR_OKV + 1, 256);"))
        #expect(source.contains("mbar_arrive(bar_v_free + 8 * okv_stage);") && !source.contains("bar_k_free : bar_v_free"))
        #expect(!source.contains("if (wg != 0 ||") && !source.contains("named_arrive(BAR_OKV, 256)"), "the K stage goes back at the last S")
        #expect(source.contains("named_arrive(BAR_OKV + 1, 256);"), "warpgroup 1 still waits for warpgroup 0's last P·V")
        let okvSource = try AttentionKernel(descriptor: okv).source
        #expect(!okvSource.contains("O_OWN_BYTES") && !okvSource.contains("const u32 sO"), "kernels without it keep their source")
        let changes: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.stageOInLastStage = false }, { $0.stageOInLastStage = false; $0.stageOInQueryBuffer = true },
            { $0.separateValueTurn = false; $0.blockN = 64; $0.stages = 2 }, { $0.varlen = true }, { $0.outputType = .float32 },
            { $0.mainloop = .wgmma }]
        for change in changes {
            var bad = ob
            change(&bad)
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
    }

    /// Q in per-warpgroup halves (``AttentionKernelDescriptor/queryHalves``, suffixes `qh` / `qr`): 64-row halves with
    /// a full / free barrier pair each (free counts one warpgroup), 64-row Q offsets in the products, the same shared
    /// memory as the form it replaces (`qh`: one Q buffer; `qr`: Q plus warpgroup 0's own O buffer), the second half
    /// loaded after the first K; `qr` stages each warpgroup's O in its own half. Shapes it cannot take are refused;
    /// kernels without it keep their text.
    @Test func queryHalvesShapes() throws {
        let qh = try #require(hopperVariants.first { $0.queryHalves == 2 && $0.stageOInOwnBuffer && $0.earlyRescale && $0.elementType == .bfloat16 })
        let qr = try #require(hopperVariants.first { $0.queryHalves == 3 && $0.earlyRescale && $0.elementType == .bfloat16 })
        #expect(qh.invalidReason == nil && qh.name.hasSuffix("tmaws1pdsookvxdervtobqh_sm_90a"), "\(qh.name)")
        #expect(qr.invalidReason == nil && qr.name.hasSuffix("tmaws1pdsooqxdervtqr_sm_90a"), "\(qr.name)")
        var ob = qh
        ob.queryHalves = 0
        #expect(qh.sharedMemoryBytes == ob.sharedMemoryBytes && qr.sharedMemoryBytes == ob.sharedMemoryBytes && qr.sharedMemoryBytes == 230_656)
        for d in [qh, qr] {
            let source = try AttentionKernel(descriptor: d).source
            #expect(source.contains("constexpr int Q_HALVES = \(d.queryHalves);") && source.contains("mbar_init(bar_q_free + 8 * q, 128);"))
            #expect(source.contains("const u32 sK = sQ + Q_HALVES * Q_HALF_BYTES;") && source.contains("sched_slot = bar_q + 16 * Q_HALVES + 32 * STAGES;"))
            #expect(source.contains("qb = (2 * q_iter + wg) % Q_HALVES;") && source.contains("qb = (2 * q_iter) % Q_HALVES;"))
            #expect(source.contains("desc_lo(sQ + qb * Q_HALF_BYTES, 16)") && source.contains("(ks >> 2) * 64 * 128 + (ks & 3) * 32"))
            #expect(source.contains("if (it == 0) { const int qf1 = 2 * q_iter - 1, qb1 = qf1 % Q_HALVES;") && source.contains("q_row + 64, head, t_batch);"))
            #expect(!source.contains("Q_BYTES + db * BLOCK_M * 128") && !source.contains("qb = q_iter % Q_STAGES;"))
        }
        let qrSource = try AttentionKernel(descriptor: qr).source
        #expect(qrSource.contains("const u32 o_stage = sQ + qb * Q_HALF_BYTES;") && !qrSource.contains("O_OWN_BYTES") && !qrSource.contains("BAR_OKV"))
        #expect(qrSource.contains("mbar_arrive(bar_q_free + 8 * qb);\n") && qrSource.contains("(dt >> 3) * (64 * 128)"))
        let obSource = try AttentionKernel(descriptor: ob).source
        #expect(!obSource.contains("Q_HALVES") && obSource.contains("qb = q_iter % Q_STAGES;"), "kernels without it keep their source")
        let changes: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.queryHalves = 1 }, { $0.queryHalves = 4 }, { $0.varlen = true }, { $0.qStages = 2 }, { $0.mainloop = .wgmma },
            { $0.separateValueTurn = false; $0.stageOInOwnBuffer = false; $0.blockN = 64; $0.stages = 2 }]
        for change in changes {
            var bad = qh
            change(&bad)
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
        // Three halves only with O staged in them.
        for change in [{ (d: inout AttentionKernelDescriptor) in d.stageOInQueryBuffer = false }, { $0.stageOInOwnBuffer = true; $0.stageOInLastStage = true; $0.stageOInQueryBuffer = false }] {
            var bad = qr
            change(&bad)
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
        // The Q map's box is one warpgroup's 64 rows.
        #expect(qh.blockM == 128)
    }

    /// Two stages of Q halves at tile D = 128 (``AttentionKernelDescriptor/queryHalves`` 4, suffix `q4`): the two Q
    /// buffers' 64 KB as four 16 KB halves (fill f in half f mod 4), O still in its own staging tile with 128-row blocks,
    /// the same shared memory as the two-Q-buffer kernel it replaces; refused at tile D = 256 and beside O staged in Q or
    /// the K/V stages. Off by default (session 12, hopfwd22: 0.98× causal, 0.99× unmasked); the knob routes it.
    @Test func queryHalvesTwoStages() throws {
        let q4 = try #require(hopperVariants.first { $0.queryHalves == 4 && $0.mask == .causal && $0.halfDiagonalStep && $0.elementType == .bfloat16 })
        let unmasked = try #require(hopperVariants.first { $0.queryHalves == 4 && $0.mask == .none && $0.elementType == .float16 })
        #expect(q4.invalidReason == nil && q4.name.hasSuffix("_causal_lse_tmaws2pdsohdxdq4_sm_90a"), "\(q4.name)")
        #expect(unmasked.invalidReason == nil && unmasked.name.hasSuffix("_lse_tmaws2psoq4_sm_90a"), "\(unmasked.name)")
        var q2 = q4
        (q2.queryHalves, q2.qStages) = (0, 2)
        #expect(q4.sharedMemoryBytes == q2.sharedMemoryBytes && q4.sharedMemoryBytes == 230_656)
        let source = try AttentionKernel(descriptor: q4).source
        #expect(source.contains("constexpr int Q_HALVES = 4;") && source.contains("mbar_init(bar_q_free + 8 * q, 128);"))
        #expect(source.contains("qb = (2 * q_iter + wg) % Q_HALVES;") && source.contains("desc_lo(sQ + qb * Q_HALF_BYTES, 16)"))
        #expect(source.contains("const u32 o_stage = sO + wg * 64 * 128;") && source.contains("(dt >> 3) * (BLOCK_M * 128)")
                && !source.contains("(dt >> 3) * (64 * 128)"), "O keeps the staging tile's 128-row blocks")
        let q2Source = try AttentionKernel(descriptor: q2).source
        #expect(!q2Source.contains("Q_HALVES") && q2Source.contains("qb = q_iter % Q_STAGES;"), "kernels without it keep their source")
        let changes: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.queryHalves = 5 }, { $0.qStages = 2 }, { $0.varlen = true }, { $0.tmaStoreO = false },
            { $0.stageOInQueryBuffer = true }, { $0.headDim = 256; $0.blockN = 80 }]
        for change in changes {
            var bad = q4
            change(&bad)
            #expect(bad.invalidReason != nil, "\(bad.name)")
        }
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_QHALVES128") == nil, getenv("FLASH_ATTENTION_HOPPER_QBUF") == nil,
              getenv("FLASH_ATTENTION_HOPPER_TILES") == nil, getenv("FLASH_ATTENTION_HOPPER_STORE") == nil else { return }
        for n in [0, 512, 1024, 2048, 4096] {
            #expect(!KernelHeuristics.defaultQueryHalves128(causal: true, seqlenK: n) && !KernelHeuristics.defaultQueryHalves128(causal: false, seqlenK: n))
        }
        for (n, mask) in [(512, KernelMask.causal), (2048, .causal), (512, .none)] {
            let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, mask: mask, tensorMapFriendly: true,
                                                                          seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
            #expect(d.queryHalves == 0 && d.qStages == 2, "\(d.name)")
        }
    }

    /// Q in halves is the default where it measured faster (session 12, docs/performance.md): causal tile D = 256
    /// `qr` up to 1k keys and `qh` at 2k, unmasked `qh` up to 1k; off past that and for unknown lengths.
    /// `FLASH_ATTENTION_HOPPER_QHALVES=1` forces `qh`, `=2` `qr`, `=0` off.
    @Test func queryHalvesDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_QHALVES") == nil, getenv("FLASH_ATTENTION_HOPPER_OWNO") == nil,
              getenv("FLASH_ATTENTION_HOPPER_OKV") == nil, getenv("FLASH_ATTENTION_HOPPER_WIDE256") == nil, getenv("FLASH_ATTENTION_HOPPER_DESC") == nil,
              getenv("FLASH_ATTENTION_HOPPER_TILES") == nil, getenv("FLASH_ATTENTION_HOPPER_STORE") == nil, getenv("FLASH_ATTENTION_HOPPER_OQ") == nil else { return }
        let expected: [(Int, causal: Int, unmasked: Int)] = [(0, 0, 0), (512, 3, 2), (1000, 3, 2), (1024, 3, 2), (1025, 2, 0),
                                                               (2048, 2, 0), (2049, 0, 0), (4096, 0, 0)]
        for (n, causal, unmasked) in expected {
            #expect(KernelHeuristics.defaultQueryHalves(tileHeadDim: 256, causal: true, seqlenK: n) == causal)
            #expect(KernelHeuristics.defaultQueryHalves(tileHeadDim: 256, causal: false, seqlenK: n) == unmasked)
            for d in [64, 128] { #expect(KernelHeuristics.defaultQueryHalves(tileHeadDim: d, causal: n % 2 == 0, seqlenK: n) == 0) }
        }
        // The grid's lengths route to the form (or stay on the row's kernel where the form does not apply: below
        // the 128-key rows' 512 queries, the causal 64-key row spills with halves and keeps its kernel).
        for (n, causal, unmasked) in [(512, 3, 2), (1024, 3, 2), (2048, 2, 0), (4096, 0, 0), (8192, 0, 0)] {
            for (mask, want) in [(KernelMask.causal, causal), (.none, unmasked)] {
                let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 256, mask: mask, tensorMapFriendly: true,
                                                                              seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                #expect(d.queryHalves == want, "\(d.name)")
            }
        }
    }

    /// Warpgroup 0's O in its own buffer is the default exactly where it measured faster (session 11,
    /// scripts/device/hopper_fwd17.sh, two calls of four and five interleaved rounds): the 128-key causal
    /// D = 256 rows up to 2k keys (every round ≥ 1.0 at 512, 1k and 2k, both element types); past 2k, unmasked,
    /// for unknown lengths, varlen problems and float32 outputs the rows keep their staging.
    /// `FLASH_ATTENTION_HOPPER_OWNO=1` puts it on every 128-key row, `=0` nowhere; `FLASH_ATTENTION_HOPPER_OKV=0`
    /// (O out of the last stages) keeps the default off.
    @Test func stageOInOwnBufferDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_OWNO") == nil, getenv("FLASH_ATTENTION_HOPPER_OKV") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WIDE256") == nil, getenv("FLASH_ATTENTION_HOPPER_DESC") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_STORE") == nil, getenv("FLASH_ATTENTION_HOPPER_OQ") == nil,
              getenv("FLASH_ATTENTION_HOPPER_EARLYRESCALE") == nil, getenv("FLASH_ATTENTION_HOPPER_QHALVES") == nil else { return }
        let rule = KernelHeuristics.defaultStageOInOwnBuffer
        #expect(rule(256, true, 512) && rule(256, true, 1024) && rule(256, true, 2048) && !rule(256, true, 2049) && !rule(256, true, 4096))
        #expect(!rule(256, false, 512) && !rule(256, true, 0) && !rule(128, true, 512) && !rule(64, true, 512))
        func pick(_ mask: KernelMask, _ q: Int, _ k: Int, _ type: ElementType = .bfloat16, out: ElementType? = nil, varlen: Bool = false) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, outputType: out, headDim: 256, mask: mask, varlen: varlen,
                                                                  tensorMapFriendly: true, seqlenQ: q, seqlenK: k), architecture: .sm90a).descriptor
        }
        for type in [ElementType.bfloat16, .float16] {
            for n in [512, 1024, 2048, 4096, 16384] {
                // Up to 1k keys the three rotating Q halves (session 12) take the own buffer's place and stage O in the halves.
                let c = try pick(.causal, n, n, type), own = n > 1024 && n <= 2048
                #expect(c.separateValueTurn && c.stageOInOwnBuffer == own && c.invalidReason == nil, "\(c.name)")
                #expect(c.stageOInLastStage == own && c.stageOInQueryBuffer == !own, "\(c.name)")
                #expect(c.sharedMemoryBytes == (n <= 2048 ? 230_656 : 197_888), "\(c.name)")
                #expect(!(try pick(.none, n, n, type)).stageOInOwnBuffer)
            }
        }
        let names = [try pick(.causal, 512, 512).name, try pick(.causal, 2048, 2048).name]
        #expect(names == ["fwd_bf16_d256_m128n128w12b1_causal_lse_tmaws1pdsooqxdervtqr_sm_90a", "fwd_bf16_d256_m128n128w12b1_causal_lse_tmaws1pdsookvxdvtobqhlr_sm_90a"])
        // Keyed on keys: 512 queries over 4k keys keep the Q-buffer staging, over 2k keys take it.
        let (overLong, overMid) = (try pick(.causal, 512, 4096), try pick(.causal, 512, 2048))  // (2k keys: `qh`, which keeps `ob`)
        #expect(!overLong.stageOInOwnBuffer && overLong.stageOInQueryBuffer && overMid.stageOInOwnBuffer)
        // Rows the form cannot take keep theirs: varlen, float32 outputs, unknown lengths.
        for d in [try pick(.causal, 1024, 1024, varlen: true), try pick(.causal, 1024, 1024, .float16, out: .float32), try pick(.causal, 0, 0)] {
            #expect(!d.stageOInOwnBuffer && !d.separateValueTurn && d.invalidReason == nil, "\(d.name)")
        }
    }

    /// The 128-key D = 256 form with P·V and S in separate turns is the default exactly where it measured
    /// faster (session 10, scripts/device/hopper_fwd14.sh, three interleaved rounds): causal tile D = 256 at
    /// every length of at least 512 queries and 512 keys (measured at Sq = Sk, 512…16k), dense problems with 16-bit outputs of the input's type (with the precomputed
    /// descriptors and the TMA store of O, staged in the Q buffer or, up to 1k keys, the last K/V stage);
    /// never unmasked, for unknown lengths, varlen problems or float32 outputs.
    /// `FLASH_ATTENTION_HOPPER_WIDE256` overrides (not set here).
    @Test func wideScoreStepsDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_WIDE256") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_DESC") == nil, getenv("FLASH_ATTENTION_HOPPER_STORE") == nil, getenv("FLASH_ATTENTION_HOPPER_OKV") == nil,
              getenv("FLASH_ATTENTION_HOPPER_OQ") == nil, getenv("FLASH_ATTENTION_HOPPER_EARLYRESCALE") == nil, getenv("FLASH_ATTENTION_HOPPER_OVERLAP") == nil,
              getenv("FLASH_ATTENTION_HOPPER_LATE") == nil, getenv("FLASH_ATTENTION_HOPPER_OWNO") == nil,
              getenv("FLASH_ATTENTION_HOPPER_QHALVES") == nil else { return }
        let rule = KernelHeuristics.defaultWideScoreSteps
        for n in [512, 1024, 2048, 4096, 8192, 16384] {
            #expect(rule(256, true, n, n) && !rule(256, false, n, n) && !rule(128, true, n, n) && !rule(64, true, n, n), "N = \(n)")
        }
        #expect(!rule(256, true, 0, 0) && !rule(256, true, 4096, 0) && !rule(256, true, 0, 4096), "unknown lengths keep the 64-key kernels")
        // Only Sq = Sk was measured (512…16k): decode-like and few-key problems keep the 64-key kernels.
        #expect(!rule(256, true, 1, 8192) && !rule(256, true, 4096, 128) && !rule(256, true, 511, 4096) && !rule(256, true, 4096, 511))
        #expect(rule(256, true, 512, 16384) && rule(256, true, 512, 512))
        func pick(_ mask: KernelMask, _ n: Int, _ type: ElementType = .bfloat16, out: ElementType? = nil, varlen: Bool = false) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, outputType: out, headDim: 256, mask: mask, varlen: varlen,
                                                                  tensorMapFriendly: true, seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
        }
        for type in [ElementType.bfloat16, .float16] {
            for n in [512, 1024, 2048, 4096, 8192, 16384] {
                let c = try pick(.causal, n, type)
                #expect(c.separateValueTurn && c.blockN == 128 && c.stages == 1 && c.dynamicScheduler, "\(c.name)")
                // (Up to 1k keys the rotating Q halves stage O in the halves, `qr`; at 2k `qh` keeps the last stages and `ob`.)
                let okv = n > 1024 && n <= 2048
                #expect(c.precomputedDescriptors && c.tmaStoreO && c.stageOInLastStage == okv && c.stageOInQueryBuffer == !okv, "\(c.name)")
                #expect(c.earlyRescale == (n <= 1024) && c.invalidReason == nil
                        && c.name.hasSuffix(n <= 1024 ? "vtqr_sm_90a" : n <= 2048 ? "vtobqhlr_sm_90a" : "vtlr_sm_90a"), "\(c.name)")
                let u = try pick(.none, n, type)
                #expect(!u.separateValueTurn && u.blockN == 80 && u.stages == 2, "\(u.name)")
            }
        }
        // Through the heuristics: few queries over many keys and many over few keep their rows (not measured).
        for (q, k, on) in [(1, 8192, false), (4096, 128, false), (512, 16384, true), (512, 512, true)] {
            let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 256, mask: .causal, tensorMapFriendly: true,
                                                                          seqlenQ: q, seqlenK: k), architecture: .sm90a).descriptor
            #expect(d.separateValueTurn == on && d.invalidReason == nil, "Sq = \(q), Sk = \(k): \(d.name)")
        }
        // The form needs the staged store: varlen problems and float32 outputs keep the 64-key row.
        for d in [try pick(.causal, 4096, varlen: true), try pick(.causal, 4096, .float16, out: .float32), try pick(.causal, 512, varlen: true)] {
            #expect(!d.separateValueTurn && d.blockN == 64 && d.stages == 2, "\(d.name)")
        }
        let unknown = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 256, mask: .causal, tensorMapFriendly: true),
                                                      architecture: .sm90a).descriptor
        #expect(!unknown.separateValueTurn && unknown.blockN == 64)
    }

    /// The table variants (what `flash-attn compile` pre-builds and CI compiles with NVRTC)
    /// include the kernels the short-sequence defaults pick, which problems of unknown length
    /// never reach: the half-width diagonal softmax (`hd`) at causal tile D = 64 / 128 and O
    /// staged in the last K/V stages (`okv`) at tile D = 256, causal and unmasked; once each,
    /// after the other variants.
    /// Empty warpgroups (skipEmptyWarpgroups, suffix `ew`): the skip sits between the tile's Q wait and its first
    /// step, takes one turn and releases K and V once a step, and is refused beside the forms with other barrier
    /// protocols; off by default and under FLASH_ATTENTION_HOPPER_EMPTYWG unset.
    @Test func skipEmptyWarpgroupsShapes() throws {
        let ew = try #require(hopperVariants.first { $0.skipEmptyWarpgroups && $0.consumerWarpgroups == 3 && $0.earlyRescale && $0.qStages == 2 })
        #expect(ew.invalidReason == nil && ew.name.hasSuffix("tmaws2pq2soxderew_sm_90a"))
        let source = try AttentionKernel(descriptor: ew).source
        let skip = "if (__shfl_sync(0xffffffffu, (int)(wg * 64 >= rows_here), 0) != 0) {"
        #expect(source.components(separatedBy: skip).count == 2)
        #expect(source.contains("named_sync(BAR_TURN + wg, TURN_THREADS);\n                    named_arrive(BAR_TURN + (wg == 2 ? 0 : wg + 1), TURN_THREADS);\n                    mbar_arrive(bar_k_free + 8 * stage);"))
        #expect(source.contains("mbar_arrive(bar_q_free + 8 * qb);\n                kv_iter += n_blocks;\n                continue;"))
        // The skip follows the Q wait and precedes the first step.
        let head = try #require(source.range(of: skip)), q = try #require(source.range(of: "mbar_wait(bar_q + 8 * qb, (q_iter / Q_STAGES) & 1);"))
        let first = try #require(source.range(of: "// First step: S = Q·K_lastᵀ, softmax."))
        #expect(q.upperBound < head.lowerBound && head.upperBound < first.lowerBound)
        var plain = ew
        plain.skipEmptyWarpgroups = false
        #expect(!(try AttentionKernel(descriptor: plain).source).contains(skip))
        let two = try #require(hopperVariants.first { $0.skipEmptyWarpgroups && $0.headDim == 128 })
        let twoSource = try AttentionKernel(descriptor: two).source
        #expect(two.invalidReason == nil && twoSource.contains("named_sync(BAR_TURN + wg, CONSUMER_THREADS);\n                    named_arrive(BAR_TURN + (1 - wg), CONSUMER_THREADS);"))
        let refusals: [(inout AttentionKernelDescriptor) -> Void] = [
            { $0.tmaStoreO = false; $0.overlapEpilogue = true }, { $0.stageOInQueryBuffer = true }, { $0.warpgroupStepCount = true },
        ]
        for change in refusals {
            var d = two
            change(&d)
            #expect(d.invalidReason != nil, "\(d.name)")
        }
        var mma = plain
        (mma.mainloop, mma.persistent, mma.qStages, mma.tmaStoreO, mma.precomputedDescriptors, mma.earlyRescale, mma.skipEmptyWarpgroups)
            = (.mmaSync, false, 1, false, false, false, true)
        mma.blockM = 128; mma.warps = 8
        #expect(mma.invalidReason != nil)
        guard getenv("FLASH_ATTENTION_HOPPER_EMPTYWG") == nil else { return }
        // The default (session 13): unmasked tile D = 64's three-warpgroup rows up to 2k (4k since session 14), on the dynamic
        // scheduler, only where the last row block leaves a warpgroup empty (500, 512, 1024, 2048 and 4096 queries do; 576 = 3 · 192
        // does not; 8k is past the rule).
        guard getenv("FLASH_ATTENTION_HOPPER_TILES") == nil, getenv("FLASH_ATTENTION_HOPPER_WG") == nil,
              getenv("FLASH_ATTENTION_HOPPER_TWOBLOCKS") == nil, getenv("FLASH_ATTENTION_HOPPER_EWSTAGES") == nil else { return }
        for d in [64, 128, 256] {
            for mask in [KernelMask.causal, .none] {
                for n in [500, 512, 576, 1024, 2048, 4096, 8192] {
                    let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, tensorMapFriendly: true,
                                                                                       seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                    // Causal D = 64 at 2048 (session 15): the three-warpgroup row's pair (defaultCausalThreeWarpgroupDiagonal).
                    let causalPair = d == 64 && mask == .causal && (n == 2048 || n == 4096)
                    let expected = (d == 64 && mask == .none && n <= 4096 && n != 576) || causalPair
                    #expect(routed.skipEmptyWarpgroups == expected, "D = \(d) \(mask) N = \(n): \(routed.name)")
                    if causalPair {
                        #expect(routed.halfDiagonalStep && routed.name == "fwd_bf16_d64_m192n128w16b1_causal_lse_tmaws2pdq2lthdxderewsx_sm_90a"
                                 && !routed.lazyRescale,
                                "\(routed.name)")
                    }
                    if expected { #expect(routed.consumerWarpgroups == 3 && routed.dynamicScheduler && routed.qStages == 2, "\(routed.name)") }
                    // Three K/V stages up to 512 keys (hopfwd26): the kernel `TILES=64:128x3dq EMPTYWG=1` timed; up to 1k since
                    // session 27.
                    if expected { #expect(routed.stages == (n <= 1024 ? 3 : 2) && routed.invalidReason == nil, "\(routed.name)") }
                    // (Session 26: with the speculative maximum, defaultSpeculativeMax; session 27: 1k runs the same kernel.)
                    if expected && (n == 512 || n == 1024) {
                        #expect(routed.name.hasSuffix("_lse_tmaws3pdq2soltxderewsx_sm_90a"), "\(routed.name)")
                    }
                }
            }
        }
        let rule = KernelHeuristics.defaultSkipEmptyWarpgroups
        #expect(rule(64, false, 3, false, true, 512, 512) && rule(64, false, 3, false, true, 2048, 2048) && rule(64, false, 3, false, true, 1000, 700))
        #expect(!rule(64, true, 3, false, true, 512, 512) && !rule(128, false, 2, false, true, 512, 512) && !rule(64, false, 3, true, true, 512, 512))
        #expect(!rule(64, false, 3, false, false, 512, 512) && rule(64, false, 3, false, true, 4096, 4096) && rule(64, false, 3, false, true, 512, 4096)
                && !rule(64, false, 3, false, true, 4097, 4097) && !rule(64, false, 3, false, true, 8192, 8192) && !rule(64, false, 3, false, true, 512, 4097))
        #expect(!rule(64, false, 3, false, true, 576, 576) && !rule(64, false, 3, false, true, 0, 512) && !rule(64, false, 3, false, true, 767, 512))
        // The causal three-warpgroup pair's rule: Sq ≤ 4096 with an empty warpgroup in the last row block, Sk ≤ 4096.
        let pair = KernelHeuristics.defaultCausalThreeWarpgroupDiagonal
        #expect(pair(64, true, 3, false, true, 2048, 2048) && pair(64, true, 3, false, true, 2048, 1000) && pair(64, true, 3, false, true, 2000, 2048))
        #expect(pair(64, true, 3, false, true, 4096, 4096) && pair(64, true, 3, false, true, 2048, 4096) && pair(64, true, 3, false, true, 3000, 3000))
        #expect(!pair(64, false, 3, false, true, 2048, 2048) && !pair(64, true, 2, false, true, 2048, 2048) && !pair(128, true, 3, false, true, 2048, 2048))
        #expect(!pair(64, true, 3, true, true, 2048, 2048) && !pair(64, true, 3, false, false, 2048, 2048) && !pair(64, true, 3, false, true, 4097, 4096)
                && !pair(64, true, 3, false, true, 2048, 4097) && !pair(64, true, 3, false, true, 3072, 3072) && !pair(64, true, 3, false, true, 1920, 1920)
                && !pair(64, true, 3, false, true, 0, 2048) && !pair(64, true, 3, false, true, 8192, 8192))
        // Queries that fill every warpgroup of the last row block (1920 = 10 · 192, 3072 = 16 · 192), or more keys than timed,
        // keep the row.
        for (sq, sk) in [(1920, 1920), (2048, 8192), (2100, 2100), (3072, 3072)] {
            let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 64, mask: .causal, tensorMapFriendly: true,
                                                                               seqlenQ: sq, seqlenK: sk), architecture: .sm90a).descriptor
            #expect(!routed.skipEmptyWarpgroups && !(routed.consumerWarpgroups == 3 && routed.halfDiagonalStep), "\(sq) × \(sk): \(routed.name)")
        }
        // A float32 output keeps the row.
        let wide = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, outputType: .float32, headDim: 64, mask: .none,
                                                                         tensorMapFriendly: true, seqlenQ: 512, seqlenK: 512), architecture: .sm90a).descriptor
        #expect(!wide.skipEmptyWarpgroups, "\(wide.name)")
    }

    /// The row sum from P's packed pairs (packedRowSum, suffix `pr`): the softmax keeps no float32 sum, the conversion
    /// adds each row's packed words (f16x2 / bf16x2 by the input type) in partials of at most 4 k16 steps; refused beside
    /// the tree reductions and outside the TMA loop; off by default and under FLASH_ATTENTION_HOPPER_PACKSUM unset.
    @Test func packedRowSumShapes() throws {
        let pr = try #require(hopperVariants.first { $0.packedRowSum && $0.blockN == 176 && $0.mask == .none && $0.elementType == .bfloat16 })
        #expect(pr.invalidReason == nil && pr.name.hasSuffix("_lse_tmaws2ppr_sm_90a"))
        let source = try AttentionKernel(descriptor: pr).source
        #expect(source.contains("asm(\"add.rn.bf16x2 %0, %1, %2;\"") && !source.contains("sum += pv;"))
        #expect(source.contains("row_sum[r] *= alpha[r];  // this step's P is added from its packed pairs (convert_p)"))
        #expect(source.contains("if (ks % 4 == 3 || ks == BLOCK_N / 16 - 1) { row_sum[0] += widen_sum2(h0); row_sum[1] += widen_sum2(h1); }"))
        var plain = pr
        plain.packedRowSum = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(plainSource.contains("sum += pv;") && !plainSource.contains("widen_sum2"))
        let half = try #require(hopperVariants.first { $0.packedRowSum && $0.halfDiagonalStep })
        let halfSource = try AttentionKernel(descriptor: half).source
        #expect(halfSource.contains("asm(\"add.rn.f16x2 %0, %1, %2;\"") && halfSource.contains("ks == BLOCK_N / 32 - 1) {"))
        #expect(halfSource.contains("row_sum[r] = 0.0f;  // the tile's first step: l was 0; convert_p adds this step's packed P"))
        #expect(!halfSource.contains("t[nt] += t[nt + w]"))
        var tree = pr
        tree.treeRowReductions = true
        #expect(tree.invalidReason != nil)
        var mma = plain
        (mma.mainloop, mma.persistent, mma.packedRowSum) = (.mmaSync, false, true)
        mma.blockN = 64; mma.warps = 8
        #expect(mma.invalidReason != nil)
        guard getenv("FLASH_ATTENTION_HOPPER_PACKSUM") == nil else { return }
        for d in [64, 128, 256] {
            for mask in [KernelMask.causal, .none] {
                for n in [512, 2048, 8192] {
                    let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, tensorMapFriendly: true,
                                                                                       seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                    #expect(!routed.packedRowSum, "\(routed.name)")
                }
            }
        }
    }

    /// The lazy O rescale (lazyRescale, suffix `lr`): the kept maximum (`lazy_max`), α = 1 for a row that kept it and the
    /// warp's vote around O·α, in the shipped softmax and the split (`xt` / `xl` / `xo`) one; off by default and under
    /// FLASH_ATTENTION_HOPPER_RESCALE unset.
    @Test func lazyRescaleShapes() throws {
        let lr = try #require(hopperVariants.first { $0.lazyRescale && $0.blockN == 176 && $0.mask == .none })
        #expect(lr.invalidReason == nil && lr.name.hasSuffix("_lse_tmaws2plr_sm_90a"))
        let source = try AttentionKernel(descriptor: lr).source
        #expect(source.contains("FA_DEVICE float lazy_max(float m_old, float m_new, float scale_log2) {"))
        #expect(source.contains("mx = lazy_max(row_max[r], mx, scale_log2);"))
        #expect(source.contains("alpha[r] = mx == row_max[r] ? 1.0f : fast_exp2(row_max[r] * scale_log2 - m_scaled);"))
        #expect(source.contains("if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) rescale_o();"))
        var plain = lr
        plain.lazyRescale = false
        let plainSource = try AttentionKernel(descriptor: plain).source
        #expect(!plainSource.contains("lazy_max") && !plainSource.contains("__any_sync") && plainSource.contains("alpha[r] = fast_exp2(row_max[r] * scale_log2 - m_scaled);"))
        let split = try #require(hopperVariants.first { $0.lazyRescale && $0.overlappedExponentialTurn == 1 })
        let splitSource = try AttentionKernel(descriptor: split).source
        #expect(splitSource.contains("const float mx = lazy_max(row_max[r], warp_max4(fmaxf(row_max[r], t[0])), scale_log2);"))
        #expect(splitSource.contains("if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) rescale_o();"))
        var mma = plain
        (mma.mainloop, mma.persistent, mma.lazyRescale) = (.mmaSync, false, true)
        mma.blockN = 64; mma.warps = 8
        #expect(mma.invalidReason != nil)
        guard getenv("FLASH_ATTENTION_HOPPER_RESCALE") == nil else { return }
        for d in [64, 128, 256] {
            for mask in [KernelMask.causal, .none] {
                for n in [512, 2048, 16384] {
                    let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, tensorMapFriendly: true,
                                                                                       seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                    // On by default on the three-warpgroup D = 64 rows from 8k keys, tile D = 256 from 512 keys unmasked, 2k
                    // causal, and causal tile D = 128's overlapped rows (`xoa`, 513…1024 keys: none of these lengths)
                    // (lazyRescaleDefault); the D = 64 rows, causal D = 128 2k and unmasked D = 256 take the speculative
                    // maximum instead (sessions 18 and 19, defaultSpeculativeMax; unmasked D = 256 at 512 since session 27).
                    let expected = switch d {
                    case 64, 128: false
                    default: mask == .causal && n >= 2048
                    }
                    #expect(routed.lazyRescale == (expected && getenv("FLASH_ATTENTION_HOPPER_TILES") == nil),
                            "\(routed.name)")
                }
            }
        }
    }

    /// The programmatic dependent launch (dependentLaunch, suffix `_pdl`): every block lets the next kernel launch before it
    /// initialises its barriers and waits for the previous kernel after them, before the producer and consumers touch
    /// memory; persistent dense kernels only; off by default.
    @Test func dependentLaunchShapes() throws {
        let pdl = try #require(hopperVariants.first { $0.dependentLaunch && $0.dynamicScheduler })
        #expect(pdl.invalidReason == nil && pdl.name.hasSuffix("_pdl_sm_90a"))
        let source = try AttentionKernel(descriptor: pdl).source
        let launch = try #require(source.range(of: "griddepcontrol.launch_dependents;"))
        let barriers = try #require(source.range(of: "mbar_init(bar_q + 8 * q, 1);"))
        let wait = try #require(source.range(of: "griddepcontrol.wait;"))
        let sync = try #require(source.range(of: "__syncthreads();"))
        let producer = try #require(source.range(of: "tma_prefetch_map(&hp.tm_q)"))
        #expect(launch.lowerBound < barriers.lowerBound && sync.lowerBound < wait.lowerBound && wait.lowerBound < producer.lowerBound)
        var plain = pdl
        plain.dependentLaunch = false
        #expect(!(try AttentionKernel(descriptor: plain).source).contains("griddepcontrol"))
        var stride = plain
        (stride.persistent, stride.dynamicScheduler, stride.qStages, stride.dependentLaunch) = (false, false, 1, true)
        #expect(stride.invalidReason != nil)
        var varlen = pdl
        varlen.varlen = true
        #expect(varlen.invalidReason != nil)
        guard getenv("FLASH_ATTENTION_HOPPER_PDL") == nil else { return }
        for d in [64, 128, 256] {
            let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: .causal, tensorMapFriendly: true,
                                                                               seqlenQ: 512, seqlenK: 512), architecture: .sm90a).descriptor
            #expect(routed.dependentLaunch == KernelHeuristics.defaultDependentLaunch, "\(routed.name)")
        }
    }

    /// The stream-K tail (streamKTail, suffix `_sk`): the static persistent loop deals the last round's key steps out, a part
    /// of a tile loads its own key range, and a part that is not a whole tile hands over or merges instead of the epilogue;
    /// dense unmasked two-warpgroup rows of at most 128-key steps; by default at unmasked tile D = 256 past 4k keys.
    @Test func streamKTailShapes() throws {
        let tails = hopperVariants.filter(\.streamKTail)
        #expect(tails.count >= 2 && tails.contains { $0.tmaStoreO } && tails.contains { $0.precomputedDescriptors })
        for tail in tails {
            #expect(tail.invalidReason == nil && tail.name.hasSuffix("_sk_sm_90a"))
            let source = try AttentionKernel(descriptor: tail).source
            #expect(source.contains("unit = sk_next(sk_slot, unit)) {") && source.contains("const SkDeal d = sk_deal(total_tiles, p.seqlen_k);") && source.contains("k_start = sk_k0 * BLOCK_N;")
                    && source.contains("k_row0 = k_start;") && source.contains("const int n_blocks = sk_k1 - sk_k0;"))
            let merge = try #require(source.range(of: "auto sk_part = [&](int t, bool merger, out_t* o_tile, float* lse_tile, int rows_here) {"))
            let guardCall = try #require(source.range(of: "sk_part(t, e == (t + 1) * spt, o_tile, lse_tile, rows_here);\n                continue;"))
            let epilogue = try #require(source.range(of: tail.tmaStoreO ? "store_epilogue(o_tile, lse_tile, rows_here" : "epilogue(o_tile, lse_tile, rows_here);", range: guardCall.upperBound..<source.endIndex))
            #expect(merge.lowerBound < guardCall.lowerBound && guardCall.upperBound <= epilogue.lowerBound)
            // The producer walks the same loop (two copies of the head: producer and consumers).
            #expect(source.components(separatedBy: "unit = sk_next(sk_slot, unit)) {").count == 3)
            var plain = tail
            plain.streamKTail = false
            #expect(!(try AttentionKernel(descriptor: plain).source).contains("sk_"))
            #expect(tail.streamKWorkspaceBytes(grid: 132) == 1280 + 132 * 2 * 2 * (tail.headDim / 8 + 1) * 128 * 16)
        }
        let base = try #require(tails.first)
        for change in [{ (d: inout AttentionKernelDescriptor) in d.mask = .causal }, { $0.varlen = true }, { $0.dynamicScheduler = true },
                       { $0.persistent = false; $0.qStages = 1 }, { $0.blockN = 176; $0.tmaStoreO = false; $0.qStages = 1 }] {
            var d = base
            change(&d)
            #expect(d.invalidReason != nil, "\(d.name)")
        }
        guard getenv("FLASH_ATTENTION_HOPPER_STREAMK") == nil, getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil else { return }
        // The default: unmasked tile D = 256 past 4k keys (its 80-key row), nowhere else.
        for d in [64, 128, 256] {
            for mask in [KernelMask.none, .causal] {
                for n in [2048, 4096, 8192, 16384] {
                    let routed = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, tensorMapFriendly: true,
                                                                                       seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
                    #expect(routed.streamKTail == (d == 256 && mask == .none && n > 4096), "\(routed.name)")
                    #expect(routed.streamKTail == KernelHeuristics.defaultStreamKTail(tileHeadDim: d, causal: mask == .causal, seqlenK: n), "\(routed.name)")
                }
            }
        }
        #expect(KernelHeuristics.tableVariants(for: .sm90a).contains { $0.streamKTail && $0.headDim == 256 }, "CI compiles the default's kernel")
    }

    /// The lazy O rescale's default (session 15, hopfwd28 and the closing calls): the three-warpgroup tile D = 64 rows from
    /// 8k keys, causal and unmasked; tile D = 256 (sessions 16–17) unmasked from 512 keys, causal from 2k; causal tile D = 128's
    /// overlapped rows, `xo` (session 16; not a default since session 19) and `xoa` (session 17). (The rule still names unmasked
    /// tile D = 256 from 512 keys; since session 27 those rows take the speculative maximum instead.)
    @Test func lazyRescaleDefault() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_RESCALE") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WG") == nil, getenv("FLASH_ATTENTION_HOPPER_EXPTURN") == nil,
              getenv("FLASH_ATTENTION_HOPPER_EXPOVERLAP") == nil else { return }
        func rule(_ d: Int, _ causal: Bool, _ warpgroups: Int, _ varlen: Bool, _ n: Int, _ overlapped: Int = 0) -> Bool {
            KernelHeuristics.defaultLazyRescale(tileHeadDim: d, causal: causal, consumerWarpgroups: warpgroups, varlen: varlen, seqlenK: n,
                                                overlappedExponentialTurn: overlapped)
        }
        #expect(rule(64, true, 3, false, 16384) && rule(64, true, 3, false, 32768) && rule(64, true, 3, false, 8192) && rule(64, false, 3, false, 8192))
        #expect(!rule(64, true, 3, false, 8191) && !rule(64, false, 3, false, 4096) && !rule(128, true, 2, false, 16384)
                && !rule(64, true, 2, false, 16384) && !rule(64, true, 3, true, 16384))
        #expect(rule(256, false, 2, false, 1024) && rule(256, false, 2, false, 16384) && rule(256, true, 2, false, 2048)
                && rule(256, true, 2, false, 16384) && rule(256, false, 2, false, 512))
        #expect(!rule(256, false, 2, false, 511) && !rule(256, true, 2, false, 512) && !rule(256, true, 2, false, 2047)
                && !rule(256, true, 2, false, 1024) && !rule(256, false, 2, true, 8192) && !rule(256, true, 2, false, 0)
                && !rule(128, false, 2, false, 8192))
        // Tile D = 128: the causal rows of the overlapped order, `xo` and `xoa` (not unmasked, not the other orders).
        #expect(rule(128, true, 2, false, 2048, 1) && rule(128, true, 2, false, 1025, 1) && rule(128, true, 2, false, 1024, 2))
        #expect(!rule(128, true, 2, false, 512, 0) && !rule(128, true, 2, false, 4096, 0) && !rule(128, false, 2, false, 2048, 0)
                && !rule(128, true, 2, true, 2048, 1))
        func pick(_ D: Int, _ n: Int, _ mask: KernelMask, _ type: ElementType = .bfloat16) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: type, headDim: D, mask: mask, tensorMapFriendly: true,
                                                                  seqlenQ: n, seqlenK: n), architecture: .sm90a).descriptor
        }
        for type in [ElementType.bfloat16, .float16] {
            // The three-warpgroup D = 64 rows from 8k keys: the speculative maximum replaced `lr` there (session 18).
            for (n, mask) in [(16384, KernelMask.causal), (8192, .causal), (8192, .none), (16384, .none)] {
                let long = try pick(64, n, mask, type)
                #expect(!long.lazyRescale && long.speculativeMax && long.consumerWarpgroups == 3 && long.invalidReason == nil, "\(long.name)")
                #expect(long.name.hasSuffix("sx_sm_90a"), "\(long.name)")
            }
            // (Unmasked D = 256 at 512 / 1k keys: `lr` in sessions 17–26, `sx` since session 27, below.)
            for (D, n, mask) in [(256, 2048, KernelMask.causal), (256, 8192, .causal), (256, 16384, .causal),
                                 (128, 1024, .causal), (128, 768, .causal)] {
                let wide = try pick(D, n, mask, type)
                #expect(wide.lazyRescale && wide.invalidReason == nil && wide.name.hasSuffix("lr_sm_90a"), "D = \(D) \(mask) N = \(n): \(wide.name)")
            }
            for (D, n, mask) in [(64, 4096, KernelMask.causal), (64, 2048, .causal), (64, 4096, .none), (128, 16384, .causal), (256, 1024, .causal),
                                 (256, 512, .causal), (128, 8192, .none), (128, 512, .causal), (128, 512, .none), (128, 4096, .causal),
                                 (128, 2048, .none), (64, 512, .causal), (64, 1024, .causal), (128, 2048, .causal), (128, 1500, .causal)] {
                let other = try pick(D, n, mask, type)
                #expect(!other.lazyRescale, "D = \(D) \(mask) N = \(n): \(other.name)")
            }
            // (Unmasked D = 256 past 1k keys: `sx` with xd + er since session 19; at 512 and 1k since session 27.)
            for n in [512, 1024, 1025, 2048, 4096, 8192, 16384] {
                let moved = try pick(256, n, .none, type)
                #expect(moved.speculativeMax && !moved.lazyRescale && moved.precomputedDescriptors && moved.earlyRescale && moved.invalidReason == nil,
                        "N = \(n): \(moved.name)")
            }
            // (Causal D = 128 1025…2048 keys: `xo` + `lr` until session 18, the shipped order with `sx` since session 19.)
            for n in [1500, 2048] {
                let moved = try pick(128, n, .causal, type)
                #expect(moved.speculativeMax && moved.overlappedExponentialTurn == 0 && moved.name.hasSuffix("soxdsx_sm_90a"), "N = \(n): \(moved.name)")
            }
        }
        let variants = KernelHeuristics.tableVariants(for: .sm90a)
        for mask in [KernelMask.causal, .none] {
            #expect(variants.contains { $0.speculativeMax && $0.headDim == 64 && $0.mask == mask && $0.consumerWarpgroups == 3 }, "\(mask)")
            // Tile D = 256: causal `lr` from 2k keys; unmasked `sx` at every length (512, 1k and the long rows) since session 27.
            #expect(variants.filter { (mask == .causal ? $0.lazyRescale : $0.speculativeMax) && $0.headDim == 256 && $0.mask == mask }.count >= 2,
                    "\(mask)")
        }
    }

    @Test func tableVariantsIncludeShortSequenceDefaults() throws {
        guard getenv("FLASH_ATTENTION_HOPPER") == nil, getenv("FLASH_ATTENTION_HOPPER_DIAG") == nil, getenv("FLASH_ATTENTION_HOPPER_TILES") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WG") == nil, getenv("FLASH_ATTENTION_HOPPER_OVERLAP") == nil, getenv("FLASH_ATTENTION_HOPPER_QBUF") == nil,
              getenv("FLASH_ATTENTION_HOPPER_STORE") == nil, getenv("FLASH_ATTENTION_HOPPER_OKV") == nil, getenv("FLASH_ATTENTION_HOPPER_OQ") == nil,
              getenv("FLASH_ATTENTION_HOPPER_LATE") == nil, getenv("FLASH_ATTENTION_HOPPER_TREE") == nil,
              getenv("FLASH_ATTENTION_HOPPER_DESC") == nil, getenv("FLASH_ATTENTION_HOPPER_EARLYRESCALE") == nil,
              getenv("FLASH_ATTENTION_HOPPER_WIDE256") == nil, getenv("FLASH_ATTENTION_HOPPER_OWNO") == nil,
              getenv("FLASH_ATTENTION_HOPPER_QHALVES") == nil, getenv("FLASH_ATTENTION_HOPPER_EXPTURN") == nil,
              getenv("FLASH_ATTENTION_HOPPER_EWSTAGES") == nil else { return }
        let variants = KernelHeuristics.tableVariants(for: .sm90a)
        let names = variants.map(\.name)
        #expect(Set(names).count == names.count, "a variant listed twice")
        #expect(variants.contains { $0.halfDiagonalStep && $0.headDim == 64 && $0.mask == .causal })
        #expect(variants.contains { $0.halfDiagonalStep && $0.headDim == 128 && $0.mask == .causal })
        #expect(variants.contains { $0.stageOInLastStage && $0.headDim == 256 && $0.mask == .causal })
        #expect(variants.contains { $0.stageOInLastStage && $0.headDim == 256 && $0.mask == .none })
        #expect(variants.contains { $0.separateValueTurn && $0.stageOInQueryBuffer && $0.headDim == 256 && $0.mask == .causal })
        // The kernels the H100 grid runs at 512 (bf16, LSE written; causal D = 256 the 128-key form since session 10, its
        // Q in halves since session 12: `qr` up to 1k keys, `qh` at 2k; unmasked D = 256 `qh` up to 1k; session 18: `sx` on the
        // tile D = 64 / 128 kernels of the shipped step order past 512 keys, unmasked D = 128 from the first).
        for name in ["fwd_bf16_d64_m128n128w12b1_causal_lse_tmaws2pdq2sohdxdxtxl_sm_90a", "fwd_bf16_d128_m128n128w12b1_causal_lse_tmaws2pdq2sohdxd_sm_90a",
                     // (Session 17: unmasked D = 256 with `lr` from 512 keys.)
                     // (Session 27: unmasked D = 256 with `sx` at 512 and 1k keys.)
                     "fwd_bf16_d256_m128n128w12b1_causal_lse_tmaws1pdsooqxdervtqr_sm_90a", "fwd_bf16_d256_m128n80w12b1_lse_tmaws2psookvxderqhsx_sm_90a",
                     // (Session 16: `lr` from 2k keys causal, from 1k unmasked.)
                     "fwd_bf16_d256_m128n128w12b1_causal_lse_tmaws1pdsookvxdvtobqhlr_sm_90a", "fwd_bf16_d256_m128n128w12b1_causal_lse_tmaws1pdsooqxdvtlr_sm_90a",
                     // Session 13: unmasked D = 64's empty warpgroups (512, 1k, 2k) and causal D = 128's overlapped lean order (1k).
                     // (Session 19: the 1k kernel with xd + er + `sx`.)
                     // (Session 26: the 512 kernel with `sx` too.)
                     // (Session 27: 1k runs the 512-key three-stage kernel, so the two-stage `…tmaws2pdq2soltxderewsx` left the list.)
                     "fwd_bf16_d64_m192n128w16b1_lse_tmaws3pdq2soltxderewsx_sm_90a",
                     // (Session 17: the 1k `xoa` kernel with `lr`.)
                     "fwd_bf16_d64_m192n128w16b1_lse_tmaws2pdq2ltxderewsx_sm_90a", "fwd_bf16_d128_m128n128w12b1_causal_lse_tmaws2pdq2sohdxdxtxlxoalr_sm_90a",
                     // (Causal D = 128 2k ran the overlapped lean order `xo` in sessions 14–18; since session 19 `…soxdsx`, which
                     // HopperSpeculativeMaxTests compiles.)
                     // Session 15: unmasked D = 256 from 8k keys, the long row with xd + early rescale (hopfwd29); session 16: `lr`
                     // there, on the 1k `qh` kernel and on the 2k–4k kernel.
                     // (Session 19: `sx` with xd + er from 8k, and at 2k–4k as `…psooqxdersx`, which HopperSpeculativeMaxTests
                     // compiles.)
                     // (Session 28: the stream-K tail from 8k.)
                     "fwd_bf16_d256_m128n80w12b1_lse_tmaws2pxdersx_sk_sm_90a", "fwd_bf16_d256_m128n80w12b1_lse_tmaws2psooqxderqhsx_sm_90a"] {
            #expect(names.contains(name), "\(name) missing from \(names)")
        }
        #expect(variants.contains { $0.queryHalves == 2 && $0.headDim == 256 && $0.mask == .none && $0.stageOInQueryBuffer },
                "the unmasked 1k-key `qh` kernel")
        // Each is what the heuristics pick for the plain problem at 512 keys.
        // (Session 26: unmasked D = 64 with `sx`, unmasked D = 128 with xd; both in the list.)
        for (D, mask) in [(64, KernelMask.causal), (128, .causal), (256, .causal), (256, .none), (64, .none), (128, .none)] {
            let d = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: D, mask: mask, tensorMapFriendly: true,
                                                                          seqlenQ: 512, seqlenK: 512), architecture: .sm90a).descriptor
            #expect(names.contains(d.name), "D = \(D) \(mask): \(d.name)")
        }
        // Architectures without the TMA loop gain nothing.
        #expect(!KernelHeuristics.tableVariants(for: .sm80).contains { $0.halfDiagonalStep || $0.stageOInLastStage || $0.separateValueTurn || $0.stageOInOwnBuffer })
    }

    /// Every variant compiles for sm_90a with NVRTC, spills nothing and honours setmaxnreg.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: hopperVariants.map { HopperCase(descriptor: $0) })
    func compilesWithoutSpills(_ testCase: HopperCase) throws {
        try expectCleanHopperCompile(testCase.descriptor)
    }
}

/// Compiles a Hopper forward variant for sm_90a with NVRTC and expects an image, no spill, no stack frame, setmaxnreg
/// honoured and no serialised or ptxas-waited `wgmma` (C7508, C7510, C7511, C7514, C7515, C7517, C7519).
func expectCleanHopperCompile(_ descriptor: AttentionKernelDescriptor) throws {
    let compiled = try KernelCompiler.compile(descriptor, cache: nil)
    #expect(!compiled.image.isEmpty)
    let report = try #require(compiled.report, "no ptxas report in the log:\n\(compiled.log)")
    #expect(!report.spills, "\(descriptor.name) spills: \(report)\n\(compiled.log)")
    #expect(report.stackFrameBytes == 0, "\(descriptor.name) has a stack frame: \(report)")
    #expect(!compiled.log.contains("C7508"), "setmaxnreg ignored:\n\(compiled.log)")
    #expect(!compiled.log.contains("C7510"), "wgmma serialised:\n\(compiled.log)")
    #expect(!compiled.log.contains("C7514"), "wgmma serialised (accumulators read in flight):\n\(compiled.log)")
    #expect(!compiled.log.contains("C7517"), "ptxas injected a wgmma wait:\n\(compiled.log)")
    #expect(!compiled.log.contains("C7519"), "wgmma serialised:\n\(compiled.log)")
    #expect(!compiled.log.contains("C7515"), "wgmma serialised:\n\(compiled.log)")
    #expect(!compiled.log.contains("C7511"), "wgmma serialised:\n\(compiled.log)")
}
