#ifndef FLASH_FORWARD_H
#define FLASH_FORWARD_H

#include <stdint.h>
#include "flash_cpu_features.h"
#include "flash_pack.h"

#ifdef __cplusplus
extern "C" {
#endif

/// Whether this CPU can run the microkernels of `tier`.
int fa_tier_supported(fa_tier tier);

/// fa_gemm pinned to one tier, for tests that check every tier in one process (the
/// FLASH_ATTENTION_CPU_TIER cap is process-wide). Returns 0, doing nothing, when the CPU lacks
/// the tier, else 1.
int fa_gemm_tier(fa_tier tier, int trans_a, int m, int n, int k, const float *A, int lda, const float *B, int ldb,
                 float *C, int ldc, float beta);

/// The query columns of one forward tile.
///
/// The forward works on the transposed score tile Sᵀ: one row per key, one column per
/// (head, query row), so the softmax statistics of 16 queries are one vector and every
/// reduction over keys is a vertical vector operation. Per-column arrays have `ld` entries
/// (columns cols..<ld are padding; give them key_lo = key_hi = 0).
/// Scores are kept in the log2 domain: t = log2(e)·s, so exp becomes exp2.
typedef struct {
  int cols;               ///< columns in use
  int ld;                 ///< leading dimension of the score tile, a multiple of 16
  float score_scale;      ///< multiplies the dot product: scale·log2(e), or scale/softcap with a softcap
  float softcap;          ///< softcap·log2(e), or 0 for none
  const int32_t *key_lo;  ///< per column: first visible key
  const int32_t *key_hi;  ///< per column: one past the last visible key (lo = hi = 0: none)
  const float *diag;      ///< per column: i + Sk − Sq, the query's aligned diagonal (ALiBi only)
  const float *alibi;     ///< per column: ALiBi slope·log2(e), or NULL for no ALiBi
  const uint64_t *drop_base; ///< per column: dropout stream key + (row << 32), or NULL for no dropout
  uint32_t drop_threshold;   ///< keep iff the 24-bit draw ≥ this (DropoutMask.threshold)
  float drop_scale;          ///< 1/(1 − p) for kept elements
} fa_fwd_columns;

/// One key block of the online softmax, in place on S (keys rows × ld, raw dot products):
/// applies the score transform (scale, softcap, ALiBi, and the interval mask when `masked`),
/// updates the running max m and sum l (log2 domain, `ld` entries each), writes
/// alpha = 2^(m_old − m_new) and leaves P = 2^(t − m_new) in S, with dropout applied after
/// the sum (the LSE is of the undropped P). Rows are keys key0 ..< key0 + keys.
void fa_fwd_softmax_block(const fa_fwd_columns *c, float *S, int keys, int key0, int masked, float *m, float *l,
                          float *alpha);

/// O[r][0..<cols] *= alpha[r] for r < rows (O row-major, leading dimension ldo).
void fa_fwd_rescale(float *O, int ldo, int rows, int cols, const float *alpha);

/// Normalises O rows by l and writes the natural-log LSE = ln2·(m + log2 l); a row that saw
/// no key (m = −∞) gets O = 0 and LSE = +∞.
void fa_fwd_finish(float *O, int ldo, int rows, int cols, const float *m, const float *l, float *lse);

/// dst[c·ldd + r] = src[r·lds + c] for r < rows, c < cols (no padding written).
void fa_fwd_transpose(const float *src, int lds, int rows, int cols, float *dst, int ldd);

/// S[j·lds + c] = Σ_e K[j·ldk + e]·Q[c·ldq + e] for j < keys, c < cols, e < d: Sᵀ = K·Qᵀ by
/// dot products along D, for tiles with few query columns (decoding), where the broadcast
/// GEMM would waste most of each vector.
void fa_fwd_scores_dot(const float *K, int ldk, int keys, const float *Q, int ldq, int cols, int d, float *S, int lds);

/// Asks for `rows` rows of `row_bytes` bytes (row starts `row_stride_bytes` apart) to be
/// brought into the L2 cache: the next key block's K and V, while this block computes.
void fa_prefetch_rows(const void *base, ptrdiff_t row_stride_bytes, int rows, int row_bytes);

/// fa_fwd_softmax_block pinned to one tier (tests). Returns 0, doing nothing, when the CPU
/// lacks the tier.
int fa_fwd_softmax_block_tier(fa_tier tier, const fa_fwd_columns *c, float *S, int keys, int key0, int masked,
                              float *m, float *l, float *alpha);

// ---- bfloat16 path (AVX512-BF16, vdpbf16ps) ----------------------------------------------
//
// Tiles hold bfloat16 pairs adjacent along the reduction dimension in one 32-bit word; the
// GEMM accumulates in float32. Every function below requires fa_bf16_dot_supported().

/// Whether the bfloat16 dot-product kernels may run: the CPU has AVX512-BF16 and the active
/// tier (after FLASH_ATTENTION_CPU_TIER) is AVX-512.
int fa_bf16_dot_supported(void);

/// C[m×n] = beta·C + op(A)·B with A and B in bfloat16 pairs: `kp` pairs of the reduction
/// dimension; lda and ldb count 32-bit words. trans_a as in fa_gemm.
void fa_gemm_bf16(int trans_a, int m, int n, int kp, const uint32_t *A, int lda, const uint32_t *B, int ldb,
                  float *C, int ldc, float beta);

/// Rows of any storage type into bfloat16 rows (leading dimension ld, zero-filled from cols).
void fa_bf16_pack_rows(const void *src, fa_dtype type, ptrdiff_t row_stride, ptrdiff_t col_stride, int rows,
                       int cols, uint16_t *dst, int ld);

/// dst[q·ld + c] = src[2q][c] | src[2q+1][c] << 16 (bfloat16 rows with row stride rs, unit
/// column stride); an odd last row pairs with 0; columns cols..<ld are zero-filled.
void fa_bf16_interleave_rows(const uint16_t *src, ptrdiff_t rs, int rows, int cols, uint32_t *dst, int ld);

/// P (keys rows × ld float32) rounded to bfloat16 and interleaved by pairs of rows:
/// out[q·ldp + c] = bf16(S[2q][c]) | bf16(S[2q+1][c]) << 16, for c < cols rounded up to 16.
void fa_fwd_pack_p_bf16(const float *S, int ld, int keys, int cols, uint32_t *P, int ldp);

/// fa_fwd_scores_dot on bfloat16 rows (K and Q rows of d bfloat16 values, ldk/ldq in
/// elements), accumulating in float32 with vdpbf16ps.
void fa_fwd_scores_dot_bf16(const uint16_t *K, int ldk, int keys, const uint16_t *Q, int ldq, int cols, int d,
                            float *S, int lds);

#ifdef __cplusplus
}
#endif
#endif
