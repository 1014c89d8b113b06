// fa_gemm_bf16: the fa_gemm block structure on bfloat16 pairs with AVX512-BF16 (vdpbf16ps):
// each 32-bit element of A and B holds two bfloat16 values adjacent along the reduction
// dimension, and one instruction does two multiply-adds per float32 lane, accumulating in
// float32 — twice the FMA rate of float32 on the same registers. Compiled for AVX512-BF16
// only; callers check fa_bf16_dot_supported() first.
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include "flash_forward.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c"))), apply_to = function)

#define FA_BGEMM_MR 8

static inline __attribute__((always_inline)) void fa_gemm_bf16_block(
    const int MR, const int NV, const int trans_a, int kp, const uint32_t *A, int lda, const uint32_t *B, int ldb,
    float *C, int ldc, float beta, __mmask16 m0, __mmask16 m1) {
  __m512 c0[FA_BGEMM_MR], c1[FA_BGEMM_MR];
  for (int r = 0; r < MR; r++) {
    if (beta != 0.0f) {
      c0[r] = _mm512_maskz_loadu_ps(m0, C + (long)r * ldc);
      c1[r] = NV > 1 ? _mm512_maskz_loadu_ps(m1, C + (long)r * ldc + 16) : _mm512_setzero_ps();
      if (beta != 1.0f) {
        c0[r] = _mm512_mul_ps(c0[r], _mm512_set1_ps(beta));
        c1[r] = _mm512_mul_ps(c1[r], _mm512_set1_ps(beta));
      }
    } else {
      c0[r] = _mm512_setzero_ps();
      c1[r] = _mm512_setzero_ps();
    }
  }
  const uint32_t *a[FA_BGEMM_MR];
  for (int r = 0; r < MR; r++) a[r] = trans_a ? A + r : A + (long)r * lda;
  const uint32_t *b = B;
  for (int p = 0; p < kp; p++, b += ldb) {
    __m512bh b0 = (__m512bh)_mm512_maskz_loadu_epi32(m0, b);
    __m512bh b1 = NV > 1 ? (__m512bh)_mm512_maskz_loadu_epi32(m1, b + 16) : b0;
    for (int r = 0; r < MR; r++) {
      __m512bh x = (__m512bh)_mm512_set1_epi32((int)(trans_a ? a[0][(long)p * lda + r] : a[r][p]));
      c0[r] = _mm512_dpbf16_ps(c0[r], x, b0);
      if (NV > 1) c1[r] = _mm512_dpbf16_ps(c1[r], x, b1);
    }
  }
  for (int r = 0; r < MR; r++) {
    _mm512_mask_storeu_ps(C + (long)r * ldc, m0, c0[r]);
    if (NV > 1) _mm512_mask_storeu_ps(C + (long)r * ldc + 16, m1, c1[r]);
  }
}

static inline __attribute__((always_inline)) void fa_gemm_bf16_panel(
    const int NV, const int trans_a, int m, int kp, const uint32_t *A, int lda, const uint32_t *B, int ldb,
    float *C, int ldc, float beta, __mmask16 m0, __mmask16 m1) {
  int i = 0;
  for (; i + FA_BGEMM_MR <= m; i += FA_BGEMM_MR) {
    const uint32_t *a = trans_a ? A + i : A + (long)i * lda;
    fa_gemm_bf16_block(FA_BGEMM_MR, NV, trans_a, kp, a, lda, B, ldb, C + (long)i * ldc, ldc, beta, m0, m1);
  }
  if (i == m) return;
  const uint32_t *a = trans_a ? A + i : A + (long)i * lda;
  float *c = C + (long)i * ldc;
  switch (m - i) {
#define FA_TAIL(R) case R: fa_gemm_bf16_block(R, NV, trans_a, kp, a, lda, B, ldb, c, ldc, beta, m0, m1); break;
    FA_TAIL(1) FA_TAIL(2) FA_TAIL(3) FA_TAIL(4) FA_TAIL(5) FA_TAIL(6) FA_TAIL(7)
#undef FA_TAIL
  }
}

static inline __attribute__((always_inline)) void fa_gemm_bf16_impl(
    const int trans_a, int m, int n, int kp, const uint32_t *A, int lda, const uint32_t *B, int ldb, float *C,
    int ldc, float beta) {
  int j = 0;
  for (; j + 32 <= n; j += 32)
    fa_gemm_bf16_panel(2, trans_a, m, kp, A, lda, B + j, ldb, C + j, ldc, beta, 0xFFFF, 0xFFFF);
  int rest = n - j;
  if (rest > 16)
    fa_gemm_bf16_panel(2, trans_a, m, kp, A, lda, B + j, ldb, C + j, ldc, beta, 0xFFFF,
                       (__mmask16)((1u << (rest - 16)) - 1));
  else if (rest > 0)
    fa_gemm_bf16_panel(1, trans_a, m, kp, A, lda, B + j, ldb, C + j, ldc, beta, (__mmask16)((1u << rest) - 1), 0);
}

void fa_gemm_bf16(int trans_a, int m, int n, int kp, const uint32_t *A, int lda, const uint32_t *B, int ldb,
                  float *C, int ldc, float beta) {
  if (m <= 0 || n <= 0) return;
  if (trans_a) fa_gemm_bf16_impl(1, m, n, kp, A, lda, B, ldb, C, ldc, beta);
  else fa_gemm_bf16_impl(0, m, n, kp, A, lda, B, ldb, C, ldc, beta);
}

#pragma clang attribute pop
#endif
