// Tile packing for the bfloat16 forward (AVX512-BF16 only): rows of bfloat16, pairs of rows
// interleaved into the 32-bit (row 2q, row 2q+1) words vdpbf16ps reduces over, and the
// probabilities P rounded into that layout.
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include <string.h>
#include "flash_forward.h"
#include "flash_pack.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c"))), apply_to = function)

// Round-to-nearest-even float32 → bfloat16 bits, in the low 16 bits of each lane
// (finite inputs; NaN never reaches these tiles).
static inline __m512i fa_bf16_round(__m512 x) {
  __m512i u = _mm512_castps_si512(x);
  __m512i lsb = _mm512_and_si512(_mm512_srli_epi32(u, 16), _mm512_set1_epi32(1));
  return _mm512_srli_epi32(_mm512_add_epi32(u, _mm512_add_epi32(lsb, _mm512_set1_epi32(0x7FFF))), 16);
}

static inline uint16_t fa_bf16_scalar(float f) {
  uint32_t u; memcpy(&u, &f, 4);
  if ((u & 0x7FFFFFFFu) > 0x7F800000u) return (uint16_t)((u >> 16) | 0x40);
  return (uint16_t)((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
}

void fa_bf16_pack_rows(const void *src, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols, uint16_t *dst,
                       int ld) {
  for (int r = 0; r < rows; r++) {
    uint16_t *out = dst + (ptrdiff_t)r * ld;
    if (type == FA_BF16) {
      const uint16_t *in = (const uint16_t *)src + r * rs;
      if (cs == 1) memcpy(out, in, (size_t)cols * 2);
      else for (int c = 0; c < cols; c++) out[c] = in[c * cs];
    } else if (type == FA_F32) {
      const float *in = (const float *)src + r * rs;
      for (int c = 0; c < cols; c++) out[c] = fa_bf16_scalar(in[c * cs]);
    } else {
      const _Float16 *in = (const _Float16 *)src + r * rs;
      for (int c = 0; c < cols; c++) out[c] = fa_bf16_scalar((float)in[c * cs]);
    }
    for (int c = cols; c < ld; c++) out[c] = 0;
  }
}

void fa_bf16_interleave_rows(const uint16_t *src, ptrdiff_t rs, int rows, int cols, uint32_t *dst, int ld) {
  int q = 0;
  for (; 2 * q + 1 < rows; q++) {
    const uint16_t *r0 = src + (ptrdiff_t)(2 * q) * rs, *r1 = r0 + rs;
    uint32_t *out = dst + (ptrdiff_t)q * ld;
    int c = 0;
    for (; c + 16 <= cols; c += 16) {
      __m512i lo = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r0 + c)));
      __m512i hi = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)(r1 + c)));
      _mm512_storeu_si512(out + c, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
    for (; c < cols; c++) out[c] = (uint32_t)r0[c] | (uint32_t)r1[c] << 16;
    for (; c < ld; c++) out[c] = 0;
  }
  if (2 * q < rows) {  // odd row count: pair the last row with zeros
    const uint16_t *r0 = src + (ptrdiff_t)(2 * q) * rs;
    uint32_t *out = dst + (ptrdiff_t)q * ld;
    int c = 0;
    for (; c < cols; c++) out[c] = r0[c];
    for (; c < ld; c++) out[c] = 0;
  }
}

void fa_fwd_pack_p_bf16(const float *S, int ld, int keys, int cols, uint32_t *P, int ldp) {
  for (int q = 0; 2 * q < keys; q++) {
    const float *s0 = S + (ptrdiff_t)(2 * q) * ld;
    const float *s1 = 2 * q + 1 < keys ? s0 + ld : NULL;
    uint32_t *out = P + (ptrdiff_t)q * ldp;
    for (int c = 0; c < cols; c += 16) {
      __m512i lo = fa_bf16_round(_mm512_loadu_ps(s0 + c));
      __m512i hi = s1 ? fa_bf16_round(_mm512_loadu_ps(s1 + c)) : _mm512_setzero_si512();
      _mm512_storeu_si512(out + c, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
    }
  }
}

void fa_fwd_scores_dot_bf16(const uint16_t *K, int ldk, int keys, const uint16_t *Q, int ldq, int cols, int d,
                            float *S, int lds) {
  for (int j = 0; j < keys; j++) {
    const uint16_t *k = K + (long)j * ldk;
    for (int c = 0; c < cols; c++) {
      const uint16_t *q = Q + (long)c * ldq;
      __m512 acc = _mm512_setzero_ps();
      for (int e = 0; e < d; e += 32) {
        __mmask32 m = d - e >= 32 ? 0xFFFFFFFFu : (__mmask32)((1u << (d - e)) - 1);
        __m512bh kv = (__m512bh)_mm512_maskz_loadu_epi16(m, k + e);
        __m512bh qv = (__m512bh)_mm512_maskz_loadu_epi16(m, q + e);
        acc = _mm512_dpbf16_ps(acc, kv, qv);
      }
      S[(long)j * lds + c] = _mm512_reduce_add_ps(acc);
    }
  }
}

#pragma clang attribute pop
#endif

int fa_bf16_dot_supported(void) {
#if defined(__x86_64__)
  static int cached = -1;
  if (cached < 0) cached = fa_active_tier() == FA_TIER_AVX512 && fa_detect_cpu_features().avx512_bf16;
  return cached;
#else
  return 0;
#endif
}
