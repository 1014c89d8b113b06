// Forward elementwise kernels (score transform, online softmax, rescale, finish), compiled once
// per tier (forward_avx512.c, forward_avx2.c, forward_generic.c). FA_SUFFIX names the tier.
// Vectors run along the columns of the transposed score tile, i.e. across 16 queries, so the
// reductions over keys are vertical and no horizontal shuffles are needed.
#include "flash_forward.h"
#include "vec_math.h"
#include <math.h>

#define FA_CAT_(a, b) a##_##b
#define FA_CAT(a, b) FA_CAT_(a, b)
#define FA_FN(name) FA_CAT(name, FA_SUFFIX)

typedef uint64_t FA_FN(fa_v16u64) __attribute__((ext_vector_type(16)));
typedef uint32_t FA_FN(fa_v16u) __attribute__((ext_vector_type(16)));

static inline fa_v16i FA_FN(fa_load16i)(const int32_t *p) { fa_v16i v; memcpy(&v, p, sizeof v); return v; }

// SplitMix64 finaliser, as DropoutMask.mix.
static inline FA_FN(fa_v16u64) FA_FN(fa_mix16)(FA_FN(fa_v16u64) x) {
  FA_FN(fa_v16u64) z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Every option is a compile-time constant after inlining, so each combination gets its own
// branch-free loop.
static inline __attribute__((always_inline)) void FA_FN(fa_fwd_softmax_impl)(
    const int SOFTCAP, const int ALIBI, const int MASKED, const int DROPOUT, const fa_fwd_columns *c, float *S,
    int keys, int key0, float *m, float *l, float *alpha) {
  const int ld = c->ld;
  const fa_v16 scale = fa_splat16(c->score_scale), cap = fa_splat16(c->softcap);
  const fa_v16 neg_inf = fa_splat16(-INFINITY);
  for (int cb = 0; cb < c->cols; cb += 16) {
    fa_v16i lo = MASKED ? FA_FN(fa_load16i)(c->key_lo + cb) : (fa_v16i)0;
    fa_v16i hi = MASKED ? FA_FN(fa_load16i)(c->key_hi + cb) : (fa_v16i)0;
    fa_v16 diag = ALIBI ? fa_load16(c->diag + cb) : fa_splat16(0);
    fa_v16 slope = ALIBI ? fa_load16(c->alibi + cb) : fa_splat16(0);
    fa_v16 m_old = fa_load16(m + cb);
    // Pass 1: transform and running max (two chains to hide the max latency).
    fa_v16 mx0 = m_old, mx1 = neg_inf;
    float *s = S + cb;
    for (int j = 0; j < keys; j++, s += ld) {
      fa_v16 t = fa_load16(s);
      if (SOFTCAP) t = cap * fa_tanh16(t * scale);
      else t = t * scale;
      if (ALIBI) {
        fa_v16 dist = __builtin_elementwise_abs(diag - fa_splat16((float)(key0 + j)));
        t = t - slope * dist;
      }
      if (MASKED) {
        fa_v16i jj = (fa_v16i)(key0 + j);
        fa_v16i out = (jj < lo) | (jj >= hi);
        t = out ? neg_inf : t;
      }
      fa_store16(s, t);
      if (j & 1) mx1 = fa_max16(mx1, t); else mx0 = fa_max16(mx0, t);
    }
    fa_v16 m_new = fa_max16(mx0, mx1);
    // A column that has seen no key keeps m = −∞; subtract 0 instead so 2^(−∞ − −∞) is not NaN.
    fa_v16i empty = m_new == neg_inf;
    fa_v16 m_sub = empty ? fa_splat16(0) : m_new;
    fa_v16 a = fa_exp2_16(m_old - m_sub);
    // Pass 2: P = 2^(t − m), its sum, then dropout.
    fa_v16 sum0 = fa_splat16(0), sum1 = fa_splat16(0);
    FA_FN(fa_v16u64) base;
    if (DROPOUT) memcpy(&base, c->drop_base + cb, sizeof base);
    const FA_FN(fa_v16u) threshold = (FA_FN(fa_v16u))c->drop_threshold;
    const fa_v16 keep_scale = fa_splat16(c->drop_scale);
    s = S + cb;
    for (int j = 0; j < keys; j++, s += ld) {
      fa_v16 p = fa_exp2_16(fa_load16(s) - m_sub);
      if (j & 1) sum1 += p; else sum0 += p;
      if (DROPOUT) {
        FA_FN(fa_v16u64) r = FA_FN(fa_mix16)(base + (uint64_t)(uint32_t)(key0 + j));
        FA_FN(fa_v16u) draw = __builtin_convertvector(r >> 40, FA_FN(fa_v16u));
        fa_v16i keep = draw >= threshold;
        p = keep ? p * keep_scale : fa_splat16(0);
      }
      fa_store16(s, p);
    }
    fa_store16(alpha + cb, a);
    fa_store16(l + cb, a * fa_load16(l + cb) + (sum0 + sum1));
    fa_store16(m + cb, m_new);
  }
}

void FA_FN(fa_fwd_softmax_block)(const fa_fwd_columns *c, float *S, int keys, int key0, int masked, float *m,
                                 float *l, float *alpha) {
  const int softcap = c->softcap != 0.0f, alibi = c->alibi != NULL, dropout = c->drop_base != NULL;
  const int sel = softcap | alibi << 1 | (masked != 0) << 2 | dropout << 3;
  switch (sel) {
#define FA_CASE(N) case N: FA_FN(fa_fwd_softmax_impl)(N & 1, (N >> 1) & 1, (N >> 2) & 1, (N >> 3) & 1, c, S, keys, key0, m, l, alpha); break;
    FA_CASE(0) FA_CASE(1) FA_CASE(2) FA_CASE(3) FA_CASE(4) FA_CASE(5) FA_CASE(6) FA_CASE(7)
    FA_CASE(8) FA_CASE(9) FA_CASE(10) FA_CASE(11) FA_CASE(12) FA_CASE(13) FA_CASE(14) FA_CASE(15)
#undef FA_CASE
  }
}

void FA_FN(fa_fwd_rescale)(float *O, int ldo, int rows, int cols, const float *alpha) {
  for (int r = 0; r < rows; r++) {
    float a = alpha[r];
    if (a == 1.0f) continue;
    float *o = O + (long)r * ldo;
    int d = 0;
    for (; d + 16 <= cols; d += 16) fa_store16(o + d, fa_load16(o + d) * fa_splat16(a));
    for (; d < cols; d++) o[d] *= a;
  }
}

void FA_FN(fa_fwd_finish)(float *O, int ldo, int rows, int cols, const float *m, const float *l, float *lse) {
  for (int r = 0; r < rows; r++) {
    float *o = O + (long)r * ldo;
    if (m[r] == -INFINITY || !(l[r] > 0.0f)) {
      for (int d = 0; d < cols; d++) o[d] = 0.0f;
      lse[r] = INFINITY;
      continue;
    }
    float inv = 1.0f / l[r];
    int d = 0;
    for (; d + 16 <= cols; d += 16) fa_store16(o + d, fa_load16(o + d) * fa_splat16(inv));
    for (; d < cols; d++) o[d] *= inv;
    lse[r] = (float)(0.69314718055994531 * ((double)m[r] + log2((double)l[r])));
  }
}

void FA_FN(fa_fwd_transpose)(const float *src, int lds, int rows, int cols, float *dst, int ldd) {
  // Blocks of 16×16 keep both sides within a few cache lines.
  for (int r0 = 0; r0 < rows; r0 += 16)
    for (int c0 = 0; c0 < cols; c0 += 16) {
      int r1 = r0 + 16 < rows ? r0 + 16 : rows, c1 = c0 + 16 < cols ? c0 + 16 : cols;
      for (int c = c0; c < c1; c++)
        for (int r = r0; r < r1; r++) dst[(long)c * ldd + r] = src[(long)r * lds + c];
    }
}

void FA_FN(fa_fwd_scores_dot)(const float *K, int ldk, int keys, const float *Q, int ldq, int cols, int d, float *S,
                              int lds) {
  // Few query columns: one dot product per (key, column), vectorised along D. The broadcast
  // GEMM would spend D instructions per key whatever the column count.
  const int full = d / 16 * 16;
  for (int j = 0; j < keys; j++) {
    const float *k = K + (long)j * ldk;
    for (int c = 0; c < cols; c++) {
      const float *q = Q + (long)c * ldq;
      fa_v16 acc0 = fa_splat16(0), acc1 = fa_splat16(0);
      int e = 0;
      for (; e + 32 <= full; e += 32) {
        acc0 = fa_fma16(fa_load16(k + e), fa_load16(q + e), acc0);
        acc1 = fa_fma16(fa_load16(k + e + 16), fa_load16(q + e + 16), acc1);
      }
      if (e < full) acc0 = fa_fma16(fa_load16(k + e), fa_load16(q + e), acc0);
      float sum = fa_hsum16(acc0 + acc1);
      for (e = full; e < d; e++) sum += k[e] * q[e];
      S[(long)j * lds + c] = sum;
    }
  }
}
