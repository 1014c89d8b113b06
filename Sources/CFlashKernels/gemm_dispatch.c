#include "flash_gemm.h"
#include "flash_cpu_features.h"

// Portable reference implementation; the tiered, register-blocked versions replace it.
static void fa_gemm_portable(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                             float *C, int ldc, float beta) {
  for (int i = 0; i < m; i++) {
    float *c = C + (long)i * ldc;
    if (beta == 0.0f) for (int j = 0; j < n; j++) c[j] = 0.0f;
    for (int p = 0; p < k; p++) {
      float a = trans_a ? A[(long)p * lda + i] : A[(long)i * lda + p];
      const float *b = B + (long)p * ldb;
      for (int j = 0; j < n; j++) c[j] += a * b[j];
    }
  }
}

void fa_gemm(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
             float *C, int ldc, float beta) {
  fa_gemm_portable(trans_a, m, n, k, A, lda, B, ldb, C, ldc, beta);
}
