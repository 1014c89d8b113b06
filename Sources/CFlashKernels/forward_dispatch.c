#include "flash_forward.h"

#define FA_DECLARE(sfx) \
  void fa_fwd_softmax_block_##sfx(const fa_fwd_columns *, float *, int, int, int, float *, float *, float *); \
  void fa_fwd_rescale_##sfx(float *, int, int, int, const float *); \
  void fa_fwd_finish_##sfx(float *, int, int, int, const float *, const float *, float *); \
  void fa_fwd_transpose_##sfx(const float *, int, int, int, float *, int); \
  void fa_fwd_scores_dot_##sfx(const float *, int, int, const float *, int, int, int, float *, int);
FA_DECLARE(generic)
#if defined(__x86_64__)
FA_DECLARE(avx2)
FA_DECLARE(avx512)
#define FA_PICK_TIER(tier, name, ...) \
  ((tier) == FA_TIER_AVX512 ? name##_avx512(__VA_ARGS__) \
   : (tier) == FA_TIER_AVX2 ? name##_avx2(__VA_ARGS__) : name##_generic(__VA_ARGS__))
#else
#define FA_PICK_TIER(tier, name, ...) name##_generic(__VA_ARGS__)
#endif
#define FA_PICK(name, ...) FA_PICK_TIER(fa_active_tier(), name, __VA_ARGS__)

void fa_fwd_softmax_block(const fa_fwd_columns *c, float *S, int keys, int key0, int masked, float *m, float *l,
                          float *alpha) {
  FA_PICK(fa_fwd_softmax_block, c, S, keys, key0, masked, m, l, alpha);
}

int fa_fwd_softmax_block_tier(fa_tier tier, const fa_fwd_columns *c, float *S, int keys, int key0, int masked,
                              float *m, float *l, float *alpha) {
  if (!fa_tier_supported(tier)) return 0;
  FA_PICK_TIER(tier, fa_fwd_softmax_block, c, S, keys, key0, masked, m, l, alpha);
  return 1;
}

void fa_fwd_rescale(float *O, int ldo, int rows, int cols, const float *alpha) {
  FA_PICK(fa_fwd_rescale, O, ldo, rows, cols, alpha);
}

void fa_fwd_finish(float *O, int ldo, int rows, int cols, const float *m, const float *l, float *lse) {
  FA_PICK(fa_fwd_finish, O, ldo, rows, cols, m, l, lse);
}

void fa_fwd_transpose(const float *src, int lds, int rows, int cols, float *dst, int ldd) {
  FA_PICK(fa_fwd_transpose, src, lds, rows, cols, dst, ldd);
}

void fa_prefetch_rows(const void *base, ptrdiff_t row_stride_bytes, int rows, int row_bytes) {
  const char *p = (const char *)base;
  for (int r = 0; r < rows; r++, p += row_stride_bytes)
    for (int b = 0; b < row_bytes; b += 64) __builtin_prefetch(p + b, 0, 2);
}

void fa_fwd_scores_dot(const float *K, int ldk, int keys, const float *Q, int ldq, int cols, int d, float *S, int lds) {
  FA_PICK(fa_fwd_scores_dot, K, ldk, keys, Q, ldq, cols, d, S, lds);
}
