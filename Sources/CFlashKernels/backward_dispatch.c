#include "flash_backward.h"
#include "flash_cpu_features.h"

#define FA_BWD_DECLARE(sfx) \
  void fa_bwd_tile_##sfx(const fa_bwd_params *, int, int, int, int, const int32_t *, const int32_t *, \
                         const float *, const float *, float *, int, float *, int); \
  void fa_bwd_row_dot_##sfx(const float *, int, const float *, int, int, int, float *); \
  void fa_bwd_transpose_##sfx(const float *, int, int, int, float *, int); \
  void fa_bwd_sum_parts_##sfx(const float *, long, int, int, int, int, float *, int, int);
FA_BWD_DECLARE(generic)
#if defined(__x86_64__)
FA_BWD_DECLARE(avx2)
FA_BWD_DECLARE(avx512)
#define FA_BWD_PICK(name, ...)                                              \
  switch (fa_active_tier()) {                                               \
  case FA_TIER_AVX512: name##_avx512(__VA_ARGS__); break;                   \
  case FA_TIER_AVX2: name##_avx2(__VA_ARGS__); break;                       \
  default: name##_generic(__VA_ARGS__); break;                              \
  }
#else
#define FA_BWD_PICK(name, ...) name##_generic(__VA_ARGS__);
#endif

void fa_bwd_tile(const fa_bwd_params *params, int rows, int cols, int row0, int col0, const int32_t *key_lo,
                 const int32_t *key_hi, const float *lse, const float *delta, float *s, int lds, float *dp, int lddp) {
  FA_BWD_PICK(fa_bwd_tile, params, rows, cols, row0, col0, key_lo, key_hi, lse, delta, s, lds, dp, lddp)
}

void fa_bwd_transpose(const float *src, int lds, int rows, int cols, float *dst, int ldd) {
  FA_BWD_PICK(fa_bwd_transpose, src, lds, rows, cols, dst, ldd)
}

void fa_bwd_row_dot(const float *a, int lda, const float *b, int ldb, int rows, int cols, float *out) {
  FA_BWD_PICK(fa_bwd_row_dot, a, lda, b, ldb, rows, cols, out)
}

void fa_bwd_sum_parts(const float *src, long part_stride, int parts, int rows, int cols, int ld, float *dst, int ldd,
                      int accumulate) {
  FA_BWD_PICK(fa_bwd_sum_parts, src, part_stride, parts, rows, cols, ld, dst, ldd, accumulate)
}
