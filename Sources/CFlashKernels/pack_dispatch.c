#include "flash_pack.h"
#include "flash_cpu_features.h"

#define FA_DECLARE(sfx) \
  void fa_pack_rows_f32_##sfx(const void *, fa_dtype, ptrdiff_t, ptrdiff_t, int, int, float *, int); \
  void fa_pack_rows_transposed_f32_##sfx(const void *, fa_dtype, ptrdiff_t, ptrdiff_t, int, int, float *, int); \
  void fa_store_rows_f32_##sfx(const float *, int, void *, fa_dtype, ptrdiff_t, ptrdiff_t, int, int);
FA_DECLARE(generic)
#if defined(__x86_64__)
FA_DECLARE(avx512)
#define FA_PICK(name, ...) (fa_active_tier() == FA_TIER_AVX512 ? name##_avx512(__VA_ARGS__) : name##_generic(__VA_ARGS__))
#else
#define FA_PICK(name, ...) name##_generic(__VA_ARGS__)
#endif

void fa_pack_rows_f32(const void *src, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols, float *dst, int ld) {
  FA_PICK(fa_pack_rows_f32, src, type, rs, cs, rows, cols, dst, ld);
}
void fa_pack_rows_transposed_f32(const void *src, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols, float *dst, int ld) {
  FA_PICK(fa_pack_rows_transposed_f32, src, type, rs, cs, rows, cols, dst, ld);
}
void fa_store_rows_f32(const float *src, int ld, void *dst, fa_dtype type, ptrdiff_t rs, ptrdiff_t cs, int rows, int cols) {
  FA_PICK(fa_store_rows_f32, src, ld, dst, type, rs, cs, rows, cols);
}
