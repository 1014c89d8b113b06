#ifndef FLASH_KVCACHE_H
#define FLASH_KVCACHE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/// Decode scores of one KV head (AVX512-BF16; callers check fa_bf16_dot_supported()):
///
///     S[j·lds + c] = Σ_e K[j·ldk + e] · Q[c·ldq + e]     for j < keys, c < cols ≤ 8, e < d
///
/// with bfloat16 K and Q rows and float32 accumulation: fa_fwd_scores_dot_bf16's result, for
/// the few query columns one KV head has when decoding. Each key row is loaded once for all
/// its columns, and the columns' vector sums are reduced together by one transpose-add tree
/// instead of one horizontal reduction each. K and Q are read only up to d.
void fa_kv_scores_bf16(const uint16_t *K, ptrdiff_t ldk, int keys, const uint16_t *Q, int ldq, int cols, int d,
                       float *S, int lds);

/// fa_kv_scores_bf16 with key j's row at rows[j] + offset (elements): the rows of one key
/// block, wherever their pages are, in one call per KV head. While key j is computed, row j of
/// the next block (next[j] + offset, j < next_keys; next may be NULL) is prefetched into L2,
/// so the next block streams in at the pace this one is consumed.
void fa_kv_scores_rows_bf16(const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint16_t *Q, int ldq,
                            int cols, int d, float *S, int lds, const uint16_t *const *next, int next_keys);

/// Decode P·V of one KV head (AVX512-BF16), cols ≤ 8 query columns, d a multiple of 32:
///
///     O[c] = (accumulate ? O[c] : 0) + Σ_j P_j,c · V_j       (V_j = rows[j] + offset, bfloat16)
///
/// with P as fa_fwd_pack_p_bf16 writes it (pairs of keys in 32-bit words, P[q·ldp + c]). Pairs
/// of V rows are interleaved in registers (no staging copy, rows may sit on different pages),
/// so each 32-feature chunk of O is held in "pair order": features 0–3, 8–11, 16–19, 24–27
/// of the chunk, then 4–7, 12–15, 20–23, 28–31. Element-wise steps (rescale, finish, the
/// split merge) do not care; fa_kv_pair_order_to_natural restores the order before the store.
/// Prefetches the next block's rows like fa_kv_scores_rows_bf16.
void fa_kv_pv_rows_bf16(const uint16_t *const *rows, ptrdiff_t offset, int keys, const uint32_t *P, int ldp,
                        int cols, int d, float *O, int ldo, int accumulate, const uint16_t *const *next, int next_keys);

/// Rewrites `count` rows of O (leading dimension ldo, d a multiple of 32) from the pair order
/// of fa_kv_pv_rows_bf16 to natural feature order, in place.
void fa_kv_pair_order_to_natural(float *O, int ldo, int count, int d);

#ifdef __cplusplus
}
#endif
#endif
