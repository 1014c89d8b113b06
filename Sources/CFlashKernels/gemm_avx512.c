// fa_gemm for AVX-512: an MR-row × (16·NV)-column register block of zmm accumulators. Each step
// of k broadcasts one element of A per row and runs NV FMAs along a row of B, so B is read once
// per MR rows and A once per 16·NV columns. Column tails use masked loads and stores, so nothing
// outside the m×n / k×n extents is read or written; row and column tails reuse the block
// instantiated with fewer rows / vectors.
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,f16c"))), apply_to = function)

#ifndef FA_GEMM_MR
#define FA_GEMM_MR 8
#endif
#ifndef FA_GEMM_NV
#define FA_GEMM_NV 2
#endif

// MR rows and NV vectors are compile-time constants after inlining; `last` masks the final vector.
static inline __attribute__((always_inline)) void fa_gemm_block_avx512(
    const int MR, const int NV, const int trans_a, int k, const float *A, int lda, const float *B, int ldb,
    float *C, int ldc, float beta, __mmask16 last) {
  __m512 c[FA_GEMM_MR][FA_GEMM_NV];
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++) {
      if (beta != 0.0f) {
        c[r][v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, C + (long)r * ldc + 16 * v);
        if (beta != 1.0f) c[r][v] = _mm512_mul_ps(c[r][v], _mm512_set1_ps(beta));
      } else {
        c[r][v] = _mm512_setzero_ps();
      }
    }
  const float *a[FA_GEMM_MR];
  for (int r = 0; r < MR; r++) a[r] = trans_a ? A + r : A + (long)r * lda;
  const float *b = B;
  for (int p = 0; p < k; p++, b += ldb) {
    __m512 bv[FA_GEMM_NV];
    for (int v = 0; v < NV; v++) bv[v] = _mm512_maskz_loadu_ps(v == NV - 1 ? last : 0xFFFF, b + 16 * v);
    for (int r = 0; r < MR; r++) {
      __m512 x = _mm512_set1_ps(trans_a ? a[0][(long)p * lda + r] : a[r][p]);
      for (int v = 0; v < NV; v++) c[r][v] = _mm512_fmadd_ps(x, bv[v], c[r][v]);
    }
  }
  for (int r = 0; r < MR; r++)
    for (int v = 0; v < NV; v++)
      _mm512_mask_storeu_ps(C + (long)r * ldc + 16 * v, v == NV - 1 ? last : 0xFFFF, c[r][v]);
}

// One column panel (NV vectors) over all rows.
static inline __attribute__((always_inline)) void fa_gemm_panel_avx512(
    const int NV, const int trans_a, int m, int k, const float *A, int lda, const float *B, int ldb,
    float *C, int ldc, float beta, __mmask16 last) {
  int i = 0;
  for (; i + FA_GEMM_MR <= m; i += FA_GEMM_MR) {
    const float *a = trans_a ? A + i : A + (long)i * lda;
    fa_gemm_block_avx512(FA_GEMM_MR, NV, trans_a, k, a, lda, B, ldb, C + (long)i * ldc, ldc, beta, last);
  }
  if (i == m) return;
  const float *a = trans_a ? A + i : A + (long)i * lda;
  float *c = C + (long)i * ldc;
  switch (m - i) {
#define FA_TAIL(R) case R: if (R < FA_GEMM_MR) fa_gemm_block_avx512(R, NV, trans_a, k, a, lda, B, ldb, c, ldc, beta, last); break;
    FA_TAIL(1) FA_TAIL(2) FA_TAIL(3) FA_TAIL(4) FA_TAIL(5) FA_TAIL(6) FA_TAIL(7)
    FA_TAIL(8) FA_TAIL(9) FA_TAIL(10) FA_TAIL(11) FA_TAIL(12) FA_TAIL(13)
#undef FA_TAIL
  }
}

static inline __attribute__((always_inline)) void fa_gemm_avx512_impl(
    const int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C, int ldc,
    float beta) {
  const int W = 16 * FA_GEMM_NV;
  int j = 0;
  for (; j + W <= n; j += W)
    fa_gemm_panel_avx512(FA_GEMM_NV, trans_a, m, k, A, lda, B + j, ldb, C + j, ldc, beta, 0xFFFF);
  int rest = n - j;
  if (rest == 0) return;
  int vectors = (rest + 15) / 16;
  __mmask16 last = (__mmask16)((1u << (rest - 16 * (vectors - 1))) - 1);
  if (rest % 16 == 0) last = 0xFFFF;
  switch (vectors) {
#define FA_NTAIL(V) case V: if (V <= FA_GEMM_NV) fa_gemm_panel_avx512(V, trans_a, m, k, A, lda, B + j, ldb, C + j, ldc, beta, last); break;
    FA_NTAIL(1) FA_NTAIL(2) FA_NTAIL(3)
#undef FA_NTAIL
  }
}

void fa_gemm_avx512(int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb, float *C,
                    int ldc, float beta) {
  if (m <= 0 || n <= 0) return;
  // Two instantiations so the row addressing is fixed inside the hot loop.
  if (trans_a) fa_gemm_avx512_impl(1, m, n, k, A, lda, B, ldb, C, ldc, beta);
  else fa_gemm_avx512_impl(0, m, n, k, A, lda, B, ldb, C, ldc, beta);
}

#pragma clang attribute pop
#endif
