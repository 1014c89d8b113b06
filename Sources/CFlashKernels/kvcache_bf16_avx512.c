// Decode microkernels for the KV-cache path (AVX512-BF16 only; callers check
// fa_bf16_dot_supported()). See flash_kvcache.h.
#if defined(__x86_64__)
#include <immintrin.h>
#include <stdint.h>
#include "flash_kvcache.h"

#pragma clang attribute push(__attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512bf16,avx2,fma,f16c"))), apply_to = function)

// Within each 128-bit lane: [sum of a0's 4 lane elements, a1's, a2's, a3's].
static inline __m512 fa_kv_lane_sums4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  __m512 t0 = _mm512_add_ps(_mm512_unpacklo_ps(a0, a1), _mm512_unpackhi_ps(a0, a1));
  __m512 t1 = _mm512_add_ps(_mm512_unpacklo_ps(a2, a3), _mm512_unpackhi_ps(a2, a3));
  __m512d lo = _mm512_unpacklo_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1));
  __m512d hi = _mm512_unpackhi_pd(_mm512_castps_pd(t0), _mm512_castps_pd(t1));
  return _mm512_add_ps(_mm512_castpd_ps(lo), _mm512_castpd_ps(hi));
}

// Lanes 0..3: the totals of a0..a3 (every 128-bit lane holds them).
static inline __m512 fa_kv_reduce4(__m512 a0, __m512 a1, __m512 a2, __m512 a3) {
  __m512 u = fa_kv_lane_sums4(a0, a1, a2, a3);
  __m512 v = _mm512_add_ps(u, _mm512_shuffle_f32x4(u, u, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm512_add_ps(v, _mm512_shuffle_f32x4(v, v, _MM_SHUFFLE(2, 3, 0, 1)));
}

// Lanes 0..7: the totals of a[0..7].
static inline __m512 fa_kv_reduce8(const __m512 *a) {
  __m512 u0 = fa_kv_lane_sums4(a[0], a[1], a[2], a[3]);
  __m512 u1 = fa_kv_lane_sums4(a[4], a[5], a[6], a[7]);
  __m512 x = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(2, 0, 2, 0));
  __m512 y = _mm512_shuffle_f32x4(u0, u1, _MM_SHUFFLE(3, 1, 3, 1));
  __m512 z = _mm512_add_ps(x, y);  // [u0 L0+L1, u0 L2+L3, u1 L0+L1, u1 L2+L3]
  z = _mm512_add_ps(z, _mm512_shuffle_f32x4(z, z, _MM_SHUFFLE(2, 3, 0, 1)));
  return _mm512_shuffle_f32x4(z, z, _MM_SHUFFLE(0, 0, 2, 0));
}

// Brings one row of d bfloat16 values into L2.
static inline __attribute__((always_inline)) void fa_kv_prefetch_row(const uint16_t *row, int d) {
  const char *p = (const char *)row;
  for (int b = 0; b < 2 * d; b += 64) __builtin_prefetch(p + b, 0, 2);
}

// Key j's row: rows ? rows[j] + offset : K + j·ldk.
static inline __attribute__((always_inline)) const uint16_t *fa_kv_row(const uint16_t *K, ptrdiff_t ldk,
                                                                       const uint16_t *const *rows, ptrdiff_t offset,
                                                                       int j) {
  return rows ? rows[j] + offset : K + (ptrdiff_t)j * ldk;
}

// KP keys at once, NC accumulators per key (NC = COLS rounded up to 1, 2, 4 or 8, KP·NC ≤ 8):
// the KP·NC vector sums reduce together, lane kk·NC + c holding key kk's column c, so one
// reduction tree serves several keys when a KV head has few query columns.
static inline __attribute__((always_inline)) void fa_kv_scores_keys(
    const int KP, const int NC, const int COLS, const uint16_t *K, ptrdiff_t ldk, const uint16_t *const *rows,
    ptrdiff_t offset, int j, const uint16_t *Q, int ldq, int d, float *S, int lds, const uint16_t *const *next,
    int next_keys) {
  for (int kk = 0; kk < KP; kk++)
    if (j + kk < next_keys) fa_kv_prefetch_row(next[j + kk] + offset, d);
  const int full = d / 32 * 32;
  const __mmask32 tail = (__mmask32)((1ull << (d - full)) - 1);
  const uint16_t *k[8];
  for (int kk = 0; kk < KP; kk++) k[kk] = fa_kv_row(K, ldk, rows, offset, j + kk);
  __m512 acc[8];
  for (int i = 0; i < 8; i++) acc[i] = _mm512_setzero_ps();
  for (int e = 0; e < full; e += 32) {
    __m512bh kv[8];
    for (int kk = 0; kk < KP; kk++) kv[kk] = (__m512bh)_mm512_loadu_si512((const void *)(k[kk] + e));
    for (int c = 0; c < COLS; c++) {
      __m512bh qv = (__m512bh)_mm512_loadu_si512((const void *)(Q + (ptrdiff_t)c * ldq + e));
      for (int kk = 0; kk < KP; kk++) acc[kk * NC + c] = _mm512_dpbf16_ps(acc[kk * NC + c], kv[kk], qv);
    }
  }
  if (full < d) {
    __m512bh kv[8];
    for (int kk = 0; kk < KP; kk++) kv[kk] = (__m512bh)_mm512_maskz_loadu_epi16(tail, k[kk] + full);
    for (int c = 0; c < COLS; c++) {
      __m512bh qv = (__m512bh)_mm512_maskz_loadu_epi16(tail, Q + (ptrdiff_t)c * ldq + full);
      for (int kk = 0; kk < KP; kk++) acc[kk * NC + c] = _mm512_dpbf16_ps(acc[kk * NC + c], kv[kk], qv);
    }
  }
  if (KP * NC == 1) {
    S[(ptrdiff_t)j * lds] = _mm512_reduce_add_ps(acc[0]);
    return;
  }
  __m512 r;
  if (KP * NC <= 4) r = fa_kv_reduce4(acc[0], acc[1], acc[2], acc[3]);
  else r = fa_kv_reduce8(acc);
  if (NC == 1) {
    // One column: lane kk is key kk's score; the score tile's rows are lds apart.
    float lanes[16];
    _mm512_storeu_ps(lanes, r);
    for (int kk = 0; kk < KP; kk++) S[(ptrdiff_t)(j + kk) * lds] = lanes[kk];
    return;
  }
  for (int kk = 0; kk < KP; kk++) {
    // Lanes kk·NC ..< kk·NC + COLS to S row j + kk (masked-off lanes are not accessed).
    const __mmask16 m = (__mmask16)(((1u << COLS) - 1) << (kk * NC));
    _mm512_mask_storeu_ps(S + (ptrdiff_t)(j + kk) * lds - kk * NC, m, r);
  }
}

static inline __attribute__((always_inline)) void fa_kv_scores_impl(
    const int NC, const int COLS, const uint16_t *K, ptrdiff_t ldk, const uint16_t *const *rows, ptrdiff_t offset,
    int keys, const uint16_t *Q, int ldq, int d, float *S, int lds, const uint16_t *const *next, int next_keys) {
  const int KP = 8 / NC;
  int j = 0;
  for (; j + KP <= keys; j += KP)
    fa_kv_scores_keys(KP, NC, COLS, K, ldk, rows, offset, j, Q, ldq, d, S, lds, next, next_keys);
  for (; j < keys; j++) fa_kv_scores_keys(1, NC, COLS, K, ldk, rows, offset, j, Q, ldq, d, S, lds, next, next_keys);
  for (; j < next_keys; j++) fa_kv_prefetch_row(next[j] + offset, d);  // a longer next block
}

static void fa_kv_scores_any(const uint16_t *K, ptrdiff_t ldk, const uint16_t *const *rows, ptrdiff_t offset, int keys,
                             const uint16_t *Q, int ldq, int cols, int d, float *S, int lds, const uint16_t *const *next,
                             int next_keys) {
  switch (cols) {
    case 1: fa_kv_scores_impl(1, 1, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    case 2: fa_kv_scores_impl(2, 2, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    case 3: fa_kv_scores_impl(4, 3, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    case 4: fa_kv_scores_impl(4, 4, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    case 5: fa_kv_scores_impl(8, 5, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    case 6: fa_kv_scores_impl(8, 6, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    case 7: fa_kv_scores_impl(8, 7, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
    default: fa_kv_scores_impl(8, 8, K, ldk, rows, offset, keys, Q, ldq, d, S, lds, next, next_keys); break;
  }
}

void fa_kv_scores_bf16(const uint16_t *K, ptrdiff_t ldk, int keys, const uint16_t *Q, int ldq, int cols, int d,
                       float *S, int lds) {
  fa_kv_scores_any(K, ldk, NULL, 0, keys, Q, ldq, cols, d, S, lds, NULL, 0);
}

void fa_kv_scores_rows_bf16(const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint16_t *Q, int ldq,
                            int cols, int d, float *S, int lds, const uint16_t *const *next, int next_keys) {
  fa_kv_scores_any(NULL, 0, rows, offset, keys, Q, ldq, cols, d, S, lds, next, next ? next_keys : 0);
}

// One 32-feature chunk of O for NC columns: pairs of V rows interleaved in registers
// (unpacklo/hi_epi16 within 128-bit lanes give the pair order), P pairs broadcast.
static inline __attribute__((always_inline)) void fa_kv_pv_impl(
    const int NC, const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint32_t *P, int ldp, int cols,
    int d, float *O, int ldo, int accumulate, const uint16_t *const *next, int next_keys) {
  for (int e = 0; e < d; e += 32) {
    // The next block's rows, spread over the first chunk's pass.
    const int prefetching = e == 0;
    __m512 lo[8], hi[8];
    for (int c = 0; c < NC; c++) {
      if (c < cols && accumulate) {
        lo[c] = _mm512_loadu_ps(O + (ptrdiff_t)c * ldo + e);
        hi[c] = _mm512_loadu_ps(O + (ptrdiff_t)c * ldo + e + 16);
      } else {
        lo[c] = _mm512_setzero_ps();
        hi[c] = _mm512_setzero_ps();
      }
    }
    int q = 0;
    for (; 2 * q + 1 < keys; q++) {
      if (prefetching) {
        if (2 * q < next_keys) fa_kv_prefetch_row(next[2 * q] + offset, d);
        if (2 * q + 1 < next_keys) fa_kv_prefetch_row(next[2 * q + 1] + offset, d);
      }
      __m512i a = _mm512_loadu_si512((const void *)(rows[2 * q] + offset + e));
      __m512i b = _mm512_loadu_si512((const void *)(rows[2 * q + 1] + offset + e));
      __m512bh pl = (__m512bh)_mm512_unpacklo_epi16(a, b), ph = (__m512bh)_mm512_unpackhi_epi16(a, b);
      const uint32_t *p = P + (ptrdiff_t)q * ldp;
      for (int c = 0; c < NC; c++) {
        if (c < cols) {
          __m512bh w = (__m512bh)_mm512_set1_epi32((int)p[c]);
          lo[c] = _mm512_dpbf16_ps(lo[c], pl, w);
          hi[c] = _mm512_dpbf16_ps(hi[c], ph, w);
        }
      }
    }
    if (prefetching)
      for (int r = 2 * q; r < next_keys; r++) fa_kv_prefetch_row(next[r] + offset, d);
    if (2 * q < keys) {  // an odd last key pairs with zeros (its P word's high half is 0 too)
      __m512i a = _mm512_loadu_si512((const void *)(rows[2 * q] + offset + e));
      __m512i z = _mm512_setzero_si512();
      __m512bh pl = (__m512bh)_mm512_unpacklo_epi16(a, z), ph = (__m512bh)_mm512_unpackhi_epi16(a, z);
      const uint32_t *p = P + (ptrdiff_t)q * ldp;
      for (int c = 0; c < NC; c++) {
        if (c < cols) {
          __m512bh w = (__m512bh)_mm512_set1_epi32((int)p[c]);
          lo[c] = _mm512_dpbf16_ps(lo[c], pl, w);
          hi[c] = _mm512_dpbf16_ps(hi[c], ph, w);
        }
      }
    }
    for (int c = 0; c < NC; c++) {
      if (c < cols) {
        _mm512_storeu_ps(O + (ptrdiff_t)c * ldo + e, lo[c]);
        _mm512_storeu_ps(O + (ptrdiff_t)c * ldo + e + 16, hi[c]);
      }
    }
  }
}

void fa_kv_pv_rows_bf16(const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint32_t *P, int ldp,
                        int cols, int d, float *O, int ldo, int accumulate, const uint16_t *const *next, int next_keys) {
  if (!next) next_keys = 0;
  switch (cols) {
#define FA_KV_PV(C) case C: fa_kv_pv_impl(C, rows, offset, keys, P, ldp, C, d, O, ldo, accumulate, next, next_keys); break;
    FA_KV_PV(1) FA_KV_PV(2) FA_KV_PV(3) FA_KV_PV(4) FA_KV_PV(5) FA_KV_PV(6) FA_KV_PV(7)
#undef FA_KV_PV
    default: fa_kv_pv_impl(8, rows, offset, keys, P, ldp, 8, d, O, ldo, accumulate, next, next_keys); break;
  }
}

void fa_kv_pair_order_to_natural(float *O, int ldo, int count, int d) {
  // Pair order of a chunk: lo = features {0-3, 8-11, 16-19, 24-27}, hi = {4-7, 12-15, 20-23, 28-31}.
  const __m512i first = _mm512_setr_epi32(0, 1, 2, 3, 16, 17, 18, 19, 4, 5, 6, 7, 20, 21, 22, 23);
  const __m512i second = _mm512_setr_epi32(8, 9, 10, 11, 24, 25, 26, 27, 12, 13, 14, 15, 28, 29, 30, 31);
  for (int r = 0; r < count; r++) {
    float *o = O + (ptrdiff_t)r * ldo;
    for (int e = 0; e < d; e += 32) {
      __m512 lo = _mm512_loadu_ps(o + e), hi = _mm512_loadu_ps(o + e + 16);
      _mm512_storeu_ps(o + e, _mm512_permutex2var_ps(lo, first, hi));
      _mm512_storeu_ps(o + e + 16, _mm512_permutex2var_ps(lo, second, hi));
    }
  }
}

#pragma clang attribute pop
#else
#include "flash_kvcache.h"
// Never called off x86 (fa_bf16_dot_supported() is 0 there); defined so the symbols link.
void fa_kv_scores_bf16(const uint16_t *K, ptrdiff_t ldk, int keys, const uint16_t *Q, int ldq, int cols, int d,
                       float *S, int lds) {
  (void)K; (void)ldk; (void)keys; (void)Q; (void)ldq; (void)cols; (void)d; (void)S; (void)lds;
}
void fa_kv_scores_rows_bf16(const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint16_t *Q, int ldq,
                            int cols, int d, float *S, int lds, const uint16_t *const *next, int next_keys) {
  (void)rows; (void)offset; (void)keys; (void)Q; (void)ldq; (void)cols; (void)d; (void)S; (void)lds; (void)next;
  (void)next_keys;
}
void fa_kv_pv_rows_bf16(const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint32_t *P, int ldp,
                        int cols, int d, float *O, int ldo, int accumulate, const uint16_t *const *next, int next_keys) {
  (void)rows; (void)offset; (void)keys; (void)P; (void)ldp; (void)cols; (void)d; (void)O; (void)ldo; (void)accumulate;
  (void)next; (void)next_keys;
}
void fa_kv_pair_order_to_natural(float *O, int ldo, int count, int d) { (void)O; (void)ldo; (void)count; (void)d; }
#endif
