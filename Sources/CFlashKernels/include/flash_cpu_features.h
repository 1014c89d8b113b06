#ifndef FLASH_CPU_FEATURES_H
#define FLASH_CPU_FEATURES_H

#ifdef __cplusplus
extern "C" {
#endif

/// Instruction-set tiers the microkernels are compiled for; each tier includes the ones below.
typedef enum {
  FA_TIER_GENERIC = 0, ///< baseline x86-64 / any architecture: portable C vectors
  FA_TIER_AVX2 = 1,    ///< AVX2 + FMA + F16C
  FA_TIER_AVX512 = 2,  ///< AVX-512 F/BW/VL/DQ
} fa_tier;

typedef struct {
  int avx2_fma;    ///< AVX2 and FMA, with OS support for YMM state
  int avx512;      ///< AVX-512 F/BW/VL/DQ, with OS support for ZMM state
  int avx512_bf16; ///< AVX512-BF16 (vdpbf16ps)
  int avx512_fp16; ///< AVX512-FP16
  int amx_tile;    ///< AMX-TILE (with AMX-BF16 for bf16 work)
  int amx_bf16;
} fa_cpu_features;

/// The features of this CPU, read once with CPUID/XGETBV.
fa_cpu_features fa_detect_cpu_features(void);

/// The tier in use: the best the CPU has, lowered by `FLASH_ATTENTION_CPU_TIER`
/// (`generic`, `avx2`, `avx512`) so the portable paths can be tested on any machine.
fa_tier fa_active_tier(void);

#ifdef __cplusplus
}
#endif
#endif
