#include "flash_gemm.h"
#include "flash_cpu_features.h"
#include "flash_forward.h"

void fa_gemm_generic(int, int, int, int, const float *, int, const float *, int, float *, int, float);
#if defined(__x86_64__)
void fa_gemm_avx2(int, int, int, int, const float *, int, const float *, int, float *, int, float);
void fa_gemm_avx512(int, int, int, int, const float *, int, const float *, int, float *, int, float);
#endif

void fa_gemm(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
             float beta) {
#if defined(__x86_64__)
  switch (fa_active_tier()) {
  case FA_TIER_AVX512: fa_gemm_avx512(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta); return;
  case FA_TIER_AVX2: fa_gemm_avx2(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta); return;
  default: break;
  }
#endif
  fa_gemm_generic(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta);
}

int fa_tier_supported(fa_tier tier) {
  // CPUID traps to the hypervisor in a VM (microseconds), so read the features once.
  static int cached = -1;
  if (cached < 0) {
    fa_cpu_features f = fa_detect_cpu_features();
    cached = f.avx512 ? FA_TIER_AVX512 : (f.avx2_fma ? FA_TIER_AVX2 : FA_TIER_GENERIC);
  }
  return (int)tier >= 0 && (int)tier <= cached;
}

int fa_gemm_tier(fa_tier tier, int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc, float beta) {
  if (!fa_tier_supported(tier)) return 0;
#if defined(__x86_64__)
  if (tier == FA_TIER_AVX512) { fa_gemm_avx512(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta); return 1; }
  if (tier == FA_TIER_AVX2) { fa_gemm_avx2(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta); return 1; }
#endif
  fa_gemm_generic(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta);
  return 1;
}
