// fa_gemm in portable C: 4 rows at a time over the full width of C, so each row of B is loaded
// once per 4 rows and the inner loop (contiguous along n) vectorises with the baseline ISA.
// Used where neither AVX2 nor AVX-512 is available, and as the tested fallback tier.
#include <stddef.h>

void fa_gemm_generic(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C,
                     int ldc, float beta) {
  if (m <= 0 || n <= 0) return;
  for (int i0 = 0; i0 < m; i0 += 4) {
    int rows = m - i0 < 4 ? m - i0 : 4;
    for (int r = 0; r < rows; r++) {
      float *c = C + (ptrdiff_t)(i0 + r) * ldc;
      if (beta == 0.0f) for (int j = 0; j < n; j++) c[j] = 0.0f;
      else if (beta != 1.0f) for (int j = 0; j < n; j++) c[j] *= beta;
    }
    for (int p = 0; p < k; p++) {
      const float *restrict b = B + (ptrdiff_t)p * ldb;
      for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        float a = trans_a ? A[(ptrdiff_t)p * lda + i] : A[(ptrdiff_t)i * lda + p];
        float *restrict c = C + (ptrdiff_t)i * ldc;
        for (int j = 0; j < n; j++) c[j] += a * b[j];
      }
    }
  }
}
