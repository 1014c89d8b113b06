#ifndef FLASH_PACK_H
#define FLASH_PACK_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Storage element types, numbered as Swift's ElementType cases.
typedef enum { FA_F32 = 0, FA_F16 = 1, FA_BF16 = 2 } fa_dtype;

/// Copies `rows` rows of `cols` elements from a strided tensor of any storage type into a dense
/// float32 tile with leading dimension `ld`, zero-filling columns cols..<ld.
/// Strides are in elements.
void fa_pack_rows_f32(const void *src, fa_dtype type, ptrdiff_t row_stride, ptrdiff_t col_stride,
                      int rows, int cols, float *dst, int ld);

/// Like fa_pack_rows_f32 but writes the transpose: dst[c * ld + r] = src[r, c], zero-filling
/// rows..<ld of each of the `cols` output rows.
void fa_pack_rows_transposed_f32(const void *src, fa_dtype type, ptrdiff_t row_stride, ptrdiff_t col_stride,
                                 int rows, int cols, float *dst, int ld);

/// Writes `rows` × `cols` of a dense float32 tile (leading dimension `ld`) to a strided tensor,
/// rounding to nearest-even into its storage type.
void fa_store_rows_f32(const float *src, int ld, void *dst, fa_dtype type, ptrdiff_t row_stride,
                       ptrdiff_t col_stride, int rows, int cols);

#ifdef __cplusplus
}
#endif
#endif
