#ifndef FLASH_FORWARD_H
#define FLASH_FORWARD_H

#include "flash_cpu_features.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Whether this CPU can run the microkernels of `tier`.
int fa_tier_supported(fa_tier tier);

/// fa_gemm pinned to one tier, for tests that check every tier in one process (the
/// FLASH_ATTENTION_CPU_TIER cap is process-wide). Returns 0, doing nothing, when the CPU lacks
/// the tier, else 1.
int fa_gemm_tier(fa_tier tier, int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc, float beta);

#ifdef __cplusplus
}
#endif
#endif
