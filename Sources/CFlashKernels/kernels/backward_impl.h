// The backward's elementwise tile math, compiled once per tier (backward_avx512.c,
// backward_avx2.c, backward_generic.c). FA_SUFFIX names the tier; the including file has pushed
// that tier's target attributes, so the same 16-wide vector code becomes AVX-512, AVX2 or
// baseline SSE code.
#include "vec_math.h"

#define FA_BCAT_(a, b) a##_##b
#define FA_BCAT(a, b) FA_BCAT_(a, b)
#define FA_BFN(name) FA_BCAT(name, FA_SUFFIX)

typedef uint64_t FA_BFN(fa_v8u64) __attribute__((ext_vector_type(8)));
typedef int64_t FA_BFN(fa_v8i64) __attribute__((ext_vector_type(8)));

// DropoutMask.mix: two rounds of the SplitMix64 finaliser, eight lanes at a time.
static inline FA_BFN(fa_v8u64) FA_BFN(fa_bwd_mix8)(FA_BFN(fa_v8u64) x) {
  FA_BFN(fa_v8u64) z = x + 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

// Keep mask (all ones = keep) of keys col..col+15 in row `row` of a dropout stream.
static inline fa_v16i FA_BFN(fa_bwd_keep16)(uint64_t stream, int row, int col, uint32_t threshold) {
  const FA_BFN(fa_v8u64) lane = {0, 1, 2, 3, 4, 5, 6, 7};
  uint64_t base = stream + (((uint64_t)(uint32_t)row << 32) | (uint64_t)(uint32_t)col);
  // stream + (row << 32 | (col + lane)) == base + lane while col + lane < 2^32.
  FA_BFN(fa_v8u64) lo = FA_BFN(fa_bwd_mix8)((FA_BFN(fa_v8u64))base + lane);
  FA_BFN(fa_v8u64) hi = FA_BFN(fa_bwd_mix8)((FA_BFN(fa_v8u64))(base + 8) + lane);
  FA_BFN(fa_v8i64) klo = (FA_BFN(fa_v8i64))((lo >> 40) >= (uint64_t)threshold);
  FA_BFN(fa_v8i64) khi = (FA_BFN(fa_v8i64))((hi >> 40) >= (uint64_t)threshold);
  typedef int32_t v8i32 __attribute__((ext_vector_type(8)));
  v8i32 a = __builtin_convertvector(klo, v8i32), b = __builtin_convertvector(khi, v8i32);
  return __builtin_shufflevector(a, b, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
}

static inline fa_v16 FA_BFN(fa_bwd_select)(fa_v16i mask, fa_v16 a) {
  fa_v16i bits;
  memcpy(&bits, &a, sizeof bits);
  bits &= mask;
  fa_v16 r;
  memcpy(&r, &bits, sizeof r);
  return r;
}

void FA_BFN(fa_bwd_tile)(const fa_bwd_params *prm, int rows, int cols, int row0, int col0,
                         const int32_t *key_lo, const int32_t *key_hi, const float *lse, const float *delta,
                         float *s, int lds, float *dp, int lddp) {
  const float log2e = 1.4426950408889634f;
  const fa_v16 iota = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const fa_v16i iotai = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
  const float scale = prm->scale, cap = prm->softcap, slope = prm->alibi_slope;
  const float inv_cap = cap > 0 ? 1.0f / cap : 0.0f;
  const int padded = (cols + 15) & ~15;
  for (int r = 0; r < rows; r++) {
    float *srow = s + (long)r * lds, *drow = dp + (long)r * lddp;
    const int i = row0 + r;
    // Visible columns of this row, relative to the tile, clamped to it.
    int lo = key_lo[r] - col0, hi = key_hi[r] - col0;
    if (lo < 0) lo = 0;
    if (hi > cols) hi = cols;
    const float l = lse[r];
    if (lo >= hi || !(l < __builtin_inff())) {
      // Nothing visible, or a row that saw no key in the forward (lse = +∞): no gradient.
      memset(srow, 0, (size_t)padded * sizeof(float));
      memset(drow, 0, (size_t)padded * sizeof(float));
      continue;
    }
    const fa_v16 lv = fa_splat16(l), dv = fa_splat16(delta[r]);
    const float aligned = (float)(i + prm->diagonal);
    for (int c = 0; c < padded; c += 16) {
      fa_v16i col = iotai + c;  // columns within the tile
      fa_v16i visible = (col >= lo) & (col < hi);
      if (c + 16 <= lo || c >= hi) {
        fa_store16(srow + c, fa_splat16(0));
        fa_store16(drow + c, fa_splat16(0));
        continue;
      }
      fa_v16 x = fa_load16(srow + c) * scale;
      // Softcap: x = c·tanh(u), u = x/c, and d/du tanh = 1 − tanh² = sech² u = 4e/(1 + e)² with
      // e = e^(−2|u|). Forming 1 − t·t from a rounded t cancels once |t| nears 1 (relative
      // error ~1e-7/(1 − |t|)); from e it stays at float32 precision. (The same e as inside
      // fa_tanh16, so the compiler shares it.)
      fa_v16 sech2 = fa_splat16(1);
      if (cap > 0) {
        fa_v16 u = x * inv_cap;
        fa_v16 e = fa_exp2_16(__builtin_elementwise_abs(u) * fa_splat16(-2.8853900817779268f));
        fa_v16 e1 = 1.0f + e;
        sech2 = 4.0f * e / (e1 * e1);
        x = fa_tanh16(u) * cap;
      }
      if (slope != 0) {
        fa_v16 j = iota + (float)(col0 + c);
        x = x - slope * __builtin_elementwise_abs(aligned - j);
      }
      fa_v16 p = fa_exp2_16((x - lv) * log2e);
      p = FA_BFN(fa_bwd_select)(visible, p);
      fa_v16 g = fa_load16(drow + c);
      fa_v16 pd = p;
      if (prm->dropout) {
        fa_v16i keep = FA_BFN(fa_bwd_keep16)(prm->dropout_stream, i, col0 + c, prm->dropout_threshold);
        pd = FA_BFN(fa_bwd_select)(keep, p * prm->dropout_keep_scale);
        g = FA_BFN(fa_bwd_select)(keep, g * prm->dropout_keep_scale);
      }
      fa_v16 ds = p * (g - dv);
      if (cap > 0) ds = ds * sech2;
      ds = FA_BFN(fa_bwd_select)(visible, ds * scale);
      fa_store16(srow + c, pd);
      fa_store16(drow + c, ds);
    }
  }
}

void FA_BFN(fa_bwd_transpose)(const float *src, int lds, int rows, int cols, float *dst, int ldd) {
  for (int r0 = 0; r0 < rows; r0 += 16) {
    const int rn = rows - r0 < 16 ? rows - r0 : 16;
    for (int c0 = 0; c0 < cols; c0 += 16) {
      const int cn = cols - c0 < 16 ? cols - c0 : 16;
      for (int c = 0; c < cn; c++) {
        float *out = dst + (long)(c0 + c) * ldd + r0;
        const float *in = src + (long)r0 * lds + c0 + c;
        for (int r = 0; r < rn; r++) out[r] = in[(long)r * lds];
      }
    }
  }
}

void FA_BFN(fa_bwd_row_dot)(const float *a, int lda, const float *b, int ldb, int rows, int cols, float *out) {
  for (int r = 0; r < rows; r++) {
    const float *x = a + (long)r * lda, *y = b + (long)r * ldb;
    fa_v16 acc = fa_splat16(0);
    int c = 0;
    for (; c + 16 <= cols; c += 16) acc = fa_fma16(fa_load16(x + c), fa_load16(y + c), acc);
    float tail = 0;
    for (; c < cols; c++) tail += x[c] * y[c];
    out[r] = fa_hsum16(acc) + tail;
  }
}

void FA_BFN(fa_bwd_sum_parts)(const float *src, long part_stride, int parts, int rows, int cols, int ld, float *dst,
                              int ldd, int accumulate) {
  for (int r = 0; r < rows; r++) {
    float *out = dst + (long)r * ldd;
    const float *in = src + (long)r * ld;
    int first = 0;
    if (!accumulate) {
      memcpy(out, in, (size_t)cols * sizeof(float));
      first = 1;
    }
    for (int p = first; p < parts; p++) {
      const float *q = in + p * part_stride;
      int c = 0;
      for (; c + 16 <= cols; c += 16) fa_store16(out + c, fa_load16(out + c) + fa_load16(q + c));
      for (; c < cols; c++) out[c] += q[c];
    }
  }
}
