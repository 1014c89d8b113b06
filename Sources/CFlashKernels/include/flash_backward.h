#ifndef FLASH_BACKWARD_H
#define FLASH_BACKWARD_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// The score transform and dropout of one (batch, query head) stream, as the forward applies
/// them: s = scale·q·k; softcap c > 0: s = c·tanh(s/c); ALiBi: s −= slope·|i + diagonal − j|.
typedef struct {
  float scale;
  /// 0 disables the softcap.
  float softcap;
  /// 0 disables ALiBi.
  float alibi_slope;
  /// Sk − Sq: query row i's aligned key (bottom-right alignment).
  int32_t diagonal;
  /// Nonzero applies the dropout keep-mask (see DropoutMask.swift; same hash).
  int32_t dropout;
  /// Keep iff the 24-bit draw is ≥ this.
  uint32_t dropout_threshold;
  /// 1 / (1 − p).
  float dropout_keep_scale;
  /// DropoutMask.streamKey(batch:head:).
  uint64_t dropout_stream;
} fa_bwd_params;

/// The elementwise heart of the backward on one tile of `rows` query rows × `cols` keys.
///
/// On entry `s` holds the raw dot products q·k and `dp` holds dO·vᵀ. On return `s` holds the
/// dropped probabilities Pᵈ (P·keep/(1−p), or P without dropout) for dV += Pᵈᵀ·dO, and `dp`
/// holds dS = scale·P∘(dP∘keep/(1−p) − Δ)∘(1 − tanh²) for dQ and dK.
/// P = exp(s' − lse) with s' the transformed score. Row r is query `row0 + r`, column c is key
/// `col0 + c` (positions within the sequence); element (r, c) is visible iff
/// key_lo[r] ≤ col0 + c < key_hi[r], and invisible elements get 0 in both tiles.
/// `lse` and `delta` (rowsum(dO∘O)) are per row; a row with lse = +∞ gets zeros.
/// The tiles must have room for `cols` rounded up to 16 in each row (lds, lddp ≥ that).
void fa_bwd_tile(const fa_bwd_params *params, int rows, int cols, int row0, int col0,
                 const int32_t *key_lo, const int32_t *key_hi, const float *lse, const float *delta,
                 float *s, int lds, float *dp, int lddp);

/// dst[c, r] = src[r, c] for r < rows, c < cols (dense float32 tiles, leading dimensions lds
/// and ldd): Kᵀ and Vᵀ from packed K and V rows, in cache-friendly 16 × 16 blocks.
void fa_bwd_transpose(const float *src, int lds, int rows, int cols, float *dst, int ldd);

/// out[r] = Σ_c a[r, c]·b[r, c] (float32) for dense tiles: Δ = rowsum(dO∘O).
void fa_bwd_row_dot(const float *a, int lda, const float *b, int ldb, int rows, int cols, float *out);

/// The fixed-order sum of partial dQ tiles src_p = src + p·part_stride (rows × cols, leading
/// dimension ld): dst = ((src_0 + src_1) + …) + src_{parts−1}, or with `accumulate`,
/// dst = ((dst + src_0) + …) + src_{parts−1}.
void fa_bwd_sum_parts(const float *src, long part_stride, int parts, int rows, int cols, int ld, float *dst, int ldd,
                      int accumulate);

#ifdef __cplusplus
}
#endif
#endif
