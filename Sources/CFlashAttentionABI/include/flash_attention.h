/*
 * flash_attention.h — the C ABI of swift-flash-attention (libflashattention.so).
 *
 * Exact attention with the reference FlashAttention library's semantics, on host memory
 * (a multithreaded CPU backend) or CUDA device memory (in place, on the caller's stream).
 *
 * Conventions
 *  - Tensors are described by fa_tensor: a data pointer, an element type, a device, a rank
 *    (at most FA_MAX_RANK) and shape and strides counted in ELEMENTS (not bytes). Any
 *    non-negative strides work: transposed or sliced views are read and written in place.
 *  - Dense layout: q (B, Sq, H, D); k, v (B, Sk, Hk, D) with H % Hk == 0; out like q;
 *    softmax_lse (B, H, Sq) float32, natural log, +inf for a row that sees no key.
 *  - Varlen layout: q (total_q, H, D); k, v (total_k, Hk, D); softmax_lse (H, total_q);
 *    sequence b occupies tokens cu_seqlens[b] ..< cu_seqlens[b + 1] (host int32/int64 offsets).
 *  - Every entry point returns a status. Arguments are all checked before anything is read
 *    or written, so after FA_ERROR_INVALID_ARGUMENT (or FA_ERROR_UNSUPPORTED,
 *    FA_ERROR_DEVICE_UNAVAILABLE) no output has been touched; fa_last_error() gives a message
 *    naming the argument and what was expected. Nothing in the library aborts on bad caller
 *    data. (It cannot check that the memory a descriptor describes exists.)
 *  - The library never keeps a pointer after a call returns. With CUDA tensors the work is
 *    enqueued on `stream` (a CUstream; NULL is the legacy default stream) and may still be
 *    running when the call returns; the caller keeps the memory alive until it completes.
 *  - Thread safety: calls may be made from several threads at once.
 */
#ifndef FLASH_ATTENTION_H
#define FLASH_ATTENTION_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Version ------------------------------------------------------------------------- */

#define FLASH_ATTENTION_VERSION_MAJOR 0
#define FLASH_ATTENTION_VERSION_MINOR 1
#define FLASH_ATTENTION_VERSION_PATCH 0
/** MAJOR * 10000 + MINOR * 100 + PATCH, comparable with fa_version(). */
#define FLASH_ATTENTION_VERSION \
    (FLASH_ATTENTION_VERSION_MAJOR * 10000 + FLASH_ATTENTION_VERSION_MINOR * 100 + FLASH_ATTENTION_VERSION_PATCH)
#define FLASH_ATTENTION_VERSION_STRING "0.1.0"

/** The version of the loaded library, encoded like FLASH_ATTENTION_VERSION. */
int32_t fa_version(void);
/** The version of the loaded library as "MAJOR.MINOR.PATCH". Static storage. */
const char *fa_version_string(void);

/* ---- Status codes -------------------------------------------------------------------- */

/** A status code: one of enum fa_status_code. Fixed at 32 bits for a stable ABI. */
typedef int32_t fa_status;

enum fa_status_code {
    FA_SUCCESS = 0,
    /** An argument has the wrong shape, type, value, device or layout (or is NULL). */
    FA_ERROR_INVALID_ARGUMENT = 1,
    /** A valid request that the selected backend does not implement. */
    FA_ERROR_UNSUPPORTED = 2,
    /** The device or runtime is not there (no CUDA driver, no GPU, no NVRTC, no CUDA backend). */
    FA_ERROR_DEVICE_UNAVAILABLE = 3,
    /** The backend failed while running (a CUDA error, a kernel compile error). */
    FA_ERROR_BACKEND_FAILURE = 4,
    /** A failure the library did not anticipate; the message says what. */
    FA_ERROR_INTERNAL = 5,
};

/** The message of the last failed call on this thread ("" after a successful call).
 *  Valid until the next call into the library on this thread. Never NULL. */
const char *fa_last_error(void);

/** A short constant name for a status ("FA_ERROR_INVALID_ARGUMENT"). Never NULL. */
const char *fa_status_name(fa_status status);

/* ---- Tensors ------------------------------------------------------------------------- */

#define FA_MAX_RANK 8

/** Element types (fa_tensor.dtype). Attention tensors are float32, float16 or bfloat16;
 *  cu_seqlens and the KV-cache index tensors are int32 or int64. */
enum fa_dtype_code {
    FA_DTYPE_FLOAT32 = 0,
    FA_DTYPE_FLOAT16 = 1,
    FA_DTYPE_BFLOAT16 = 2,
    FA_DTYPE_INT32 = 3,
    FA_DTYPE_INT64 = 4,
};

/** Device types (fa_tensor.device_type). */
enum fa_device_code {
    FA_DEVICE_CPU = 0,
    FA_DEVICE_CUDA = 1,
};

/** A non-owning, strided view of tensor memory. */
typedef struct fa_tensor {
    /** First element. May be NULL only when the tensor has no elements. */
    void *data;
    /** enum fa_dtype_code. */
    int32_t dtype;
    /** enum fa_device_code. */
    int32_t device_type;
    /** CUDA device ordinal (0 for host memory). */
    int32_t device_index;
    /** Number of dimensions, 0 ... FA_MAX_RANK. */
    int32_t rank;
    /** Sizes; entries at and past `rank` are ignored. */
    int64_t shape[FA_MAX_RANK];
    /** Strides in elements, non-negative; entries at and past `rank` are ignored. */
    int64_t strides[FA_MAX_RANK];
} fa_tensor;

/** Fills `tensor` as a contiguous row-major view (strides computed from the shape).
 *  Returns FA_ERROR_INVALID_ARGUMENT for a NULL tensor, rank outside 0 ... FA_MAX_RANK, or a
 *  NULL shape with rank > 0. */
fa_status fa_tensor_init(fa_tensor *tensor, void *data, int32_t dtype, int32_t device_type,
                         int32_t device_index, int32_t rank, const int64_t *shape);

/* ---- Options ------------------------------------------------------------------------- */

/** Everything that changes the attention function, apart from the tensors.
 *  Always start from fa_options_init(), then set fields. */
typedef struct fa_options {
    /** sizeof(fa_options), set by fa_options_init; lets later versions grow the struct. */
    uint32_t struct_size;
    /** 0: the scale is 1/sqrt(headdim) (the default); 1: use softmax_scale. */
    int32_t has_softmax_scale;
    /** Multiplies Q·K^T before the softmax when has_softmax_scale is 1. Finite. */
    float softmax_scale;
    /** Bottom-right aligned causal mask: query i sees key j iff j <= i + Sk - Sq. */
    int32_t causal;
    /** Sliding window: query i sees keys i + Sk - Sq - left ... i + Sk - Sq + right;
     *  -1 is unbounded on that side. Causal folds in as right = 0. */
    int32_t window_left;
    int32_t window_right;
    /** c > 0 replaces each scaled score s by c·tanh(s/c); 0 disables it. */
    float softcap;
    /** ALiBi slopes, float32, shape (H) or (B, H), on q's device; NULL disables ALiBi.
     *  Adds -slope·|i + Sk - Sq - j| to each score. */
    const fa_tensor *alibi_slopes;
    /** Probability of dropping an attention probability, in [0, 1). Kept ones are scaled
     *  by 1/(1 - p). The mask is a pure function of (seed, batch, head, row, column), so the
     *  backward call with the same seed draws the same mask. */
    float dropout_p;
    uint64_t seed;
    /** Ask for bitwise-reproducible gradients (the CPU backend always is). */
    int32_t deterministic;
    /** CPU worker threads; 0 means every online core (or FLASH_ATTENTION_NUM_THREADS). */
    int32_t num_threads;
} fa_options;

/** Writes the defaults: scale 1/sqrt(D), no mask, no softcap, no ALiBi, no dropout,
 *  deterministic, all cores. */
void fa_options_init(fa_options *options);

/* ---- Attention ----------------------------------------------------------------------- */

/** Forward: writes out (q's shape; any of the three float types) and, when not NULL,
 *  softmax_lse (B, H, Sq) float32. `options` may be NULL for the defaults. */
fa_status fa_forward(const fa_tensor *q, const fa_tensor *k, const fa_tensor *v,
                     const fa_tensor *out, const fa_tensor *softmax_lse,
                     const fa_options *options, void *stream);

/** Backward: from dout (q's shape) and the forward's out and softmax_lse (same options and
 *  seed), writes dq, dk, dv (the shapes of q, k, v). */
fa_status fa_backward(const fa_tensor *dout, const fa_tensor *q, const fa_tensor *k,
                      const fa_tensor *v, const fa_tensor *out, const fa_tensor *softmax_lse,
                      const fa_tensor *dq, const fa_tensor *dk, const fa_tensor *dv,
                      const fa_options *options, void *stream);

/** Variable-length forward. cu_seqlens_q / cu_seqlens_k: rank 1, (batch + 1) int32 or int64
 *  offsets in host memory, starting at 0 and non-decreasing. max_seqlen_q / max_seqlen_k:
 *  bounds on every sequence's length, or -1 to compute them. softmax_lse (H, total_q). */
fa_status fa_varlen_forward(const fa_tensor *q, const fa_tensor *k, const fa_tensor *v,
                            const fa_tensor *cu_seqlens_q, const fa_tensor *cu_seqlens_k,
                            int64_t max_seqlen_q, int64_t max_seqlen_k,
                            const fa_tensor *out, const fa_tensor *softmax_lse,
                            const fa_options *options, void *stream);

/** Variable-length backward; arguments as fa_backward and fa_varlen_forward. */
fa_status fa_varlen_backward(const fa_tensor *dout, const fa_tensor *q, const fa_tensor *k,
                             const fa_tensor *v, const fa_tensor *out,
                             const fa_tensor *softmax_lse,
                             const fa_tensor *cu_seqlens_q, const fa_tensor *cu_seqlens_k,
                             int64_t max_seqlen_q, int64_t max_seqlen_k,
                             const fa_tensor *dq, const fa_tensor *dk, const fa_tensor *dv,
                             const fa_options *options, void *stream);

/* ---- KV cache (inference) ----------------------------------------------------------- */

/** Attention over a KV cache, the reference library's flash_attn_with_kvcache (decoding,
 *  chunked prefill). Per batch row b, with L = cache_seqlens[b] + seqlen_new:
 *   1. when k and v are given, their seqlen_new rows are written into the cache IN PLACE at
 *      positions cache_seqlens[b] ..< L (k rotated first when rotary tables are given);
 *   2. the queries (rotated when rotary tables are given) attend to cache positions
 *      cache_leftpad[b] ..< L, masks aligned bottom-right as in fa_forward.
 *  Rotary positions are absolute cache positions: new key i at cache_seqlens[b] + i; query i
 *  at cache_seqlens[b] + i when the call is causal or windowed, else at cache_seqlens[b].
 *
 *  q (B, Sq, H, D). k_cache, v_cache: (B_cache, S_cache, Hk, D) contiguous rows, or, with a
 *  block_table, (num_blocks, page_size, Hk, D) pages of any page_size >= 1. k, v: NULL (no
 *  append) or (B, seqlen_new, Hk, D), q's dtype. rotary_cos, rotary_sin: NULL or
 *  (seqlen_ro, rotary_dim / 2) on q's device, rotating the first rotary_dim features of each
 *  head: pairs (x[2i], x[2i+1]) when rotary_interleaved is nonzero, (x[i], x[i + rotary_dim/2])
 *  otherwise. Index tensors, int32 or int64, in HOST memory: cache_seqlens (B), required;
 *  cache_batch_idx (B) or NULL (cache row of each batch row; contiguous caches only);
 *  cache_leftpad (B) or NULL; block_table (B, max_blocks) or NULL. num_splits: key splits
 *  (flash-decoding), 0 picks them, 1 never splits. out like q; softmax_lse (B, H, Sq) float32
 *  or NULL. options: scale, causal, window, softcap, ALiBi (dropout_p must be 0).
 *  Argument errors leave everything untouched, the cache included. */
fa_status fa_kvcache_forward(const fa_tensor *q, const fa_tensor *k_cache, const fa_tensor *v_cache,
                             const fa_tensor *k, const fa_tensor *v,
                             const fa_tensor *rotary_cos, const fa_tensor *rotary_sin,
                             int32_t rotary_interleaved,
                             const fa_tensor *cache_seqlens, const fa_tensor *cache_batch_idx,
                             const fa_tensor *cache_leftpad, const fa_tensor *block_table,
                             int32_t num_splits,
                             const fa_tensor *out, const fa_tensor *softmax_lse,
                             const fa_options *options, void *stream);

/* ---- Utilities ----------------------------------------------------------------------- */

/** The dropout keep-mask every backend uses, for tests and for reconstructing the
 *  probabilities: keep[r * row_stride + c] = 1 if element (r, c) of stream (batch, head)
 *  survives dropout with probability p and `seed`, else 0, for r < rows, c < cols. Rows and
 *  columns are positions within the sequence (local to the sequence for varlen). */
fa_status fa_dropout_keep_mask(uint64_t seed, float dropout_p, int64_t batch, int64_t head,
                               int64_t rows, int64_t cols, uint8_t *keep, int64_t row_stride);

#ifdef __cplusplus
}
#endif

#endif /* FLASH_ATTENTION_H */
