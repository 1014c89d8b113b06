// fa_gemm for AVX2 + FMA: a 6-row × 16-column register block (12 ymm accumulators, two for the
// row of B and one broadcast fill the 16 registers). Column tails use maskload/maskstore, so
// nothing outside the m×n / k×n extents is touched; row tails reuse the block with fewer rows.
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#pragma clang attribute push(__attribute__((target("avx2,fma,f16c"))), apply_to = function)

#define FA_GEMM_MR 6

static inline __attribute__((always_inline)) __m256i fa_gemm_mask8(int count) {
  // Lanes < count are all-ones (count clamped to 0...8).
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(count), lanes);
}

static inline __attribute__((always_inline)) void fa_gemm_block_avx2(
    const int MR, const int NV, const int full, const int trans_a, int k, const float *A, int lda, const float *B,
    int ldb, float *C, int ldc, float beta, __m256i m0, __m256i m1) {
  __m256 c0[FA_GEMM_MR], c1[FA_GEMM_MR];
  for (int r = 0; r < MR; r++) {
    if (beta != 0.0f) {
      float *c = C + (long)r * ldc;
      c0[r] = full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, m0);
      c1[r] = NV > 1 ? (full ? _mm256_loadu_ps(c + 8) : _mm256_maskload_ps(c + 8, m1)) : _mm256_setzero_ps();
      if (beta != 1.0f) {
        c0[r] = _mm256_mul_ps(c0[r], _mm256_set1_ps(beta));
        c1[r] = _mm256_mul_ps(c1[r], _mm256_set1_ps(beta));
      }
    } else {
      c0[r] = _mm256_setzero_ps();
      c1[r] = _mm256_setzero_ps();
    }
  }
  const float *b = B;
  const float *a[FA_GEMM_MR];
  for (int r = 0; r < MR; r++) a[r] = trans_a ? A + r : A + (long)r * lda;
  for (int p = 0; p < k; p++, b += ldb) {
    __m256 b0 = full ? _mm256_loadu_ps(b) : _mm256_maskload_ps(b, m0);
    __m256 b1 = NV > 1 ? (full ? _mm256_loadu_ps(b + 8) : _mm256_maskload_ps(b + 8, m1)) : b0;
    for (int r = 0; r < MR; r++) {
      __m256 x = _mm256_broadcast_ss(trans_a ? a[0] + (long)p * lda + r : a[r] + p);
      c0[r] = _mm256_fmadd_ps(x, b0, c0[r]);
      if (NV > 1) c1[r] = _mm256_fmadd_ps(x, b1, c1[r]);
    }
  }
  for (int r = 0; r < MR; r++) {
    float *c = C + (long)r * ldc;
    if (full) _mm256_storeu_ps(c, c0[r]); else _mm256_maskstore_ps(c, m0, c0[r]);
    if (NV > 1) { if (full) _mm256_storeu_ps(c + 8, c1[r]); else _mm256_maskstore_ps(c + 8, m1, c1[r]); }
  }
}

static inline __attribute__((always_inline)) void fa_gemm_panel_avx2(
    const int NV, const int full, const int trans_a, int m, int k, const float *A, int lda, const float *B, int ldb,
    float *C, int ldc, float beta, __m256i m0, __m256i m1) {
  int i = 0;
  for (; i + FA_GEMM_MR <= m; i += FA_GEMM_MR) {
    const float *a = trans_a ? A + i : A + (long)i * lda;
    fa_gemm_block_avx2(FA_GEMM_MR, NV, full, trans_a, k, a, lda, B, ldb, C + (long)i * ldc, ldc, beta, m0, m1);
  }
  if (i == m) return;
  const float *a = trans_a ? A + i : A + (long)i * lda;
  float *c = C + (long)i * ldc;
  switch (m - i) {
#define FA_TAIL(R) case R: fa_gemm_block_avx2(R, NV, full, trans_a, k, a, lda, B, ldb, c, ldc, beta, m0, m1); break;
    FA_TAIL(1) FA_TAIL(2) FA_TAIL(3) FA_TAIL(4) FA_TAIL(5)
#undef FA_TAIL
  }
}

static inline __attribute__((always_inline)) void fa_gemm_avx2_impl(
    const int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
    float beta) {
  const __m256i all = _mm256_set1_epi32(-1);
  int j = 0;
  for (; j + 16 <= n; j += 16)
    fa_gemm_panel_avx2(2, 1, trans_a, m, k, A, lda, B + j, ldb, C + j, ldc, beta, all, all);
  int rest = n - j;
  if (rest > 8)
    fa_gemm_panel_avx2(2, 0, trans_a, m, k, A, lda, B + j, ldb, C + j, ldc, beta, all, fa_gemm_mask8(rest - 8));
  else if (rest > 0)
    fa_gemm_panel_avx2(1, 0, trans_a, m, k, A, lda, B + j, ldb, C + j, ldc, beta, fa_gemm_mask8(rest), all);
}

void fa_gemm_avx2(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C,
                  int ldc, float beta) {
  if (m <= 0 || n <= 0) return;
  if (trans_a) fa_gemm_avx2_impl(1, m, n, k, A, lda, B, ldb, C, ldc, beta);
  else fa_gemm_avx2_impl(0, m, n, k, A, lda, B, ldb, C, ldc, beta);
}

#pragma clang attribute pop
#endif
