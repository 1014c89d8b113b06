"""``flash_attn_with_kvcache``: the reference library's decoding entry point over the C ABI's
``fa_kvcache_forward``."""

import operator

import torch

from . import _library as _lib
from ._descriptors import _ALIBI, _OFFSET_CODES, _check, _fail, _pack, _pack_options, _stream

__all__ = ["flash_attn_with_kvcache"]

# Descriptor slots of this call; slot _ALIBI is where _pack_options describes the slopes.
_Q, _K_CACHE, _V_CACHE, _K, _V, _COS, _SIN, _SEQLENS, _BATCH_IDX, _LEFTPAD, _BLOCK_TABLE = range(11)
_OUT, _LSE = 12, 13
assert _ALIBI == 11 and _LSE < _lib.TENSOR_SLOTS


def _host_indices(indices):
    """Index tensors are read on the host (the library plans the work from them): CUDA ones are
    copied, a few integers per batch row. Anything else goes through as is and is described
    (or rejected, naming the argument) by _pack."""
    if isinstance(indices, torch.Tensor) and indices.is_cuda:
        return indices.to("cpu")
    return indices


def _cache_lengths(cache_seqlens, q, k_cache, block_table):
    """cache_seqlens as a host tensor: an int means every row has that length; None means the
    cache is full (the reference library then attends to all S_cache, or max_blocks · page_size,
    keys)."""
    if cache_seqlens is None:
        if block_table is not None and isinstance(block_table, torch.Tensor) and block_table.dim() == 2:
            cache_seqlens = block_table.shape[1] * k_cache.shape[1]
        else:
            cache_seqlens = k_cache.shape[1]
    if isinstance(cache_seqlens, torch.Tensor):
        return _host_indices(cache_seqlens)
    if isinstance(cache_seqlens, bool):
        raise _fail("cache_seqlens", "an int or an int32 tensor (batch_size,), got a bool")
    try:
        length = operator.index(cache_seqlens)
    except TypeError:
        raise _fail("cache_seqlens", f"an int or an int32 tensor (batch_size,), got {type(cache_seqlens).__name__}") from None
    if not -2**31 <= length < 2**31:
        raise _fail("cache_seqlens", f"a length that fits in int32, got {length}")
    return torch.full((q.shape[0],), length, dtype=torch.int32)


def flash_attn_with_kvcache(
    q,
    k_cache,
    v_cache,
    k=None,
    v=None,
    rotary_cos=None,
    rotary_sin=None,
    cache_seqlens=None,
    cache_batch_idx=None,
    cache_leftpad=None,
    block_table=None,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    rotary_interleaved=True,
    alibi_slopes=None,
    num_splits=0,
    return_softmax_lse=False,
):
    """Attention over a KV cache, updating the cache in place (decoding, chunked prefill).

    If k and v are given, they are written into k_cache and v_cache IN PLACE, starting at
    position cache_seqlens[b] of each batch row (k rotated first when rotary_cos/rotary_sin are
    given); then q (rotated likewise) attends to the cache including the new keys. Rotary
    positions are absolute: new key i is at cache_seqlens[b] + i; query i is at
    cache_seqlens[b] + i when causal or windowed, else every query is at cache_seqlens[b].
    Masks are aligned bottom-right: the queries are the last seqlen_q of the row's keys.

    Differences from the reference library, all relaxations: any page size (1, 3, 16, ...) for
    paged caches, not only multiples of 256; float32 inputs; any strides (the cache is read
    and written in place through them). Index tensors are read on the host: CUDA ones are
    copied there (a device-to-host copy, which waits for the stream). Duplicate
    cache_batch_idx entries are refused when k and v are appended (the reference leaves the
    result undefined).

    Arguments:
        q: (batch_size, seqlen_q, nheads, headdim); float16, bfloat16 or float32; CPU or CUDA.
        k_cache: (batch_size_cache, seqlen_cache, nheads_k, headdim) without block_table, or
            (num_blocks, page_block_size, nheads_k, headdim) with one.
        v_cache: like k_cache.
        k, v [optional]: (batch_size, seqlen_new, nheads_k, headdim), appended in place.
        rotary_cos, rotary_sin [optional]: (seqlen_ro, rotary_dim / 2); the first rotary_dim
            features of each head of q and k are rotated. Only with k and v.
        cache_seqlens: int, or (batch_size,) int32 (int64 accepted): keys already in the cache
            per row. None means full.
        cache_batch_idx [optional]: (batch_size,) int32: the cache row of each batch row
            (contiguous caches only); default row b.
        cache_leftpad [optional]: (batch_size,) int32: the first visible cache position per row.
        block_table [optional]: (batch_size, max_num_blocks_per_seq) int32: pages of each row.
        softmax_scale: float; default 1 / sqrt(headdim).
        causal: bool. Causal mask (bottom-right aligned).
        window_size: (left, right). Sliding window local attention; (-1, -1) is unbounded.
        softcap: float. > 0 replaces each score s by softcap·tanh(s / softcap).
        rotary_interleaved: bool. True: rotate pairs (x[2i], x[2i+1]) (GPT-J); False: pairs
            (x[i], x[i + rotary_dim/2]) (GPT-NeoX).
        alibi_slopes: (nheads,) or (batch_size, nheads), float32.
        num_splits: int. Key splits (flash-decoding): 0 picks them from the sizes, 1 never splits.
        return_softmax_lse: bool. Also return the LSE.
    Return:
        out: (batch_size, seqlen_q, nheads, headdim), q's dtype.
        softmax_lse [if return_softmax_lse]: (batch_size, nheads, seqlen_q), float32, natural
            log; +inf for a row that sees no key.
    Raises:
        FlashAttentionError (a RuntimeError) naming the argument; then nothing, the cache
        included, has been written.
    """
    if not isinstance(q, torch.Tensor):
        raise _fail("q", f"a torch.Tensor, got {type(q).__name__}")
    if q.dim() != 4:
        raise _fail("q", f"rank 4 (batch_size, seqlen_q, nheads, headdim), got shape {tuple(q.shape)}")
    if not isinstance(k_cache, torch.Tensor):
        raise _fail("k_cache", f"a torch.Tensor, got {type(k_cache).__name__}")
    out = torch.empty_like(q, memory_format=torch.contiguous_format)
    lse = None
    if return_softmax_lse:
        lse = torch.empty((q.shape[0], q.shape[2], q.shape[1]), dtype=torch.float32, device=q.device)
    lengths = _cache_lengths(cache_seqlens, q, k_cache, block_table)
    _kvcache_forward(q, k_cache, v_cache, k, v, rotary_cos, rotary_sin, lengths, cache_batch_idx, cache_leftpad,
                     block_table, softmax_scale, causal, window_size, softcap, rotary_interleaved, alibi_slopes,
                     num_splits, out, lse)
    return (out, lse) if return_softmax_lse else out


def _kvcache_forward(q, k_cache, v_cache, k, v, rotary_cos, rotary_sin, cache_seqlens, cache_batch_idx, cache_leftpad,
                     block_table, softmax_scale, causal, window_size, softcap, rotary_interleaved, alibi_slopes,
                     num_splits, out, lse):
    """One fa_kvcache_forward call writing the caller's out (and lse, or None)."""
    scratch = _lib.scratch
    buffer, base = scratch.buffer, scratch.base
    try:
        num_splits = operator.index(num_splits)
    except TypeError:
        raise _fail("num_splits", f"an int, got {num_splits!r}") from None
    if not 0 <= num_splits < 2**31:
        raise _fail("num_splits", f"an int ≥ 0 (0 picks the splits from the sizes), got {num_splits!r}")
    # The options (and slot _ALIBI) first: _pack_options may skip rewriting unchanged options.
    options = _pack_options(buffer, base, softmax_scale, causal, window_size, softcap, alibi_slopes, 0.0, 0, False)

    def optional(slot, tensor, name, codes=None):
        if tensor is None:
            return None
        return _pack(buffer, base, slot, tensor, name) if codes is None else _pack(buffer, base, slot, tensor, name, codes)

    # Host copies of the index tensors live in these locals until the call returns.
    lengths = _host_indices(cache_seqlens)
    batch_idx = _host_indices(cache_batch_idx)
    leftpad = _host_indices(cache_leftpad)
    table = _host_indices(block_table)
    addresses = (
        _pack(buffer, base, _Q, q, "q"),
        _pack(buffer, base, _K_CACHE, k_cache, "k_cache"),
        _pack(buffer, base, _V_CACHE, v_cache, "v_cache"),
        optional(_K, k, "k"),
        optional(_V, v, "v"),
        optional(_COS, rotary_cos, "rotary_cos"),
        optional(_SIN, rotary_sin, "rotary_sin"),
        1 if rotary_interleaved else 0,
        _pack(buffer, base, _SEQLENS, lengths, "cache_seqlens", _OFFSET_CODES),
        optional(_BATCH_IDX, batch_idx, "cache_batch_idx", _OFFSET_CODES),
        optional(_LEFTPAD, leftpad, "cache_leftpad", _OFFSET_CODES),
        optional(_BLOCK_TABLE, table, "block_table", _OFFSET_CODES),
        num_splits,
        _pack(buffer, base, _OUT, out, "out"),
        None if lse is None else _pack(buffer, base, _LSE, lse, "softmax_lse"),
    )
    _check(_lib.library.fa_kvcache_forward(*addresses, options, _stream(q)))


def paged_varlen_forward(q, k_cache, v_cache, cu_seqlens_q, cu_seqlens_k, block_table, softmax_scale, causal,
                         window_size, softcap, alibi_slopes):
    """flash_attn_varlen_func with a block_table: sequence b's queries q[cu_seqlens_q[b]:
    cu_seqlens_q[b + 1]] attend to the first cu_seqlens_k[b + 1] - cu_seqlens_k[b] keys of
    its pages. One KV-cache call per sequence (no append). Returns (out, lse (nheads, total_q))."""
    if not isinstance(q, torch.Tensor) or q.dim() != 3:
        shape = tuple(q.shape) if isinstance(q, torch.Tensor) else type(q).__name__
        raise _fail("q", f"rank 3 (total_q, nheads, headdim), got {shape}")
    offsets = []
    for name, cu in (("cu_seqlens_q", cu_seqlens_q), ("cu_seqlens_k", cu_seqlens_k)):
        if not isinstance(cu, torch.Tensor) or cu.dim() != 1 or cu.dtype not in (torch.int32, torch.int64):
            raise _fail(name, "a rank-1 int32 (or int64) tensor of batch_size + 1 offsets")
        offsets.append(cu.tolist())
    cu_q, cu_k = offsets
    if not isinstance(block_table, torch.Tensor) or block_table.dim() != 2:
        raise _fail("block_table", "a (batch_size, max_num_blocks_per_seq) int32 tensor")
    batch = block_table.shape[0]
    if len(cu_q) != batch + 1 or len(cu_k) != batch + 1:
        raise _fail("cu_seqlens_k", f"{batch + 1} offsets (block_table's batch + 1) for q and k, got {len(cu_q)} and {len(cu_k)}")
    if cu_q[0] != 0 or cu_q[-1] != q.shape[0] or any(a > b for a, b in zip(cu_q, cu_q[1:])):
        raise _fail("cu_seqlens_q", f"non-decreasing offsets from 0 to total_q ({q.shape[0]}), got {cu_q}")
    if cu_k[0] != 0 or any(a > b for a, b in zip(cu_k, cu_k[1:])):
        raise _fail("cu_seqlens_k", f"non-decreasing offsets from 0, got {cu_k}")
    if alibi_slopes is not None and (not isinstance(alibi_slopes, torch.Tensor) or alibi_slopes.dim() not in (1, 2)):
        raise _fail("alibi_slopes", "a (nheads,) or (batch_size, nheads) float32 tensor")
    out = torch.empty_like(q, memory_format=torch.contiguous_format)
    lse = torch.empty((q.shape[1], q.shape[0]), dtype=torch.float32, device=q.device)
    table = _host_indices(block_table)
    for b in range(batch):
        q0, q1 = cu_q[b], cu_q[b + 1]
        if q1 == q0:
            continue
        slopes = alibi_slopes[b] if alibi_slopes is not None and alibi_slopes.dim() == 2 else alibi_slopes
        lengths = torch.tensor([cu_k[b + 1] - cu_k[b]], dtype=torch.int32)
        _kvcache_forward(q[q0:q1].unsqueeze(0), k_cache, v_cache, None, None, None, None, lengths, None, None,
                         table[b : b + 1], softmax_scale, causal, window_size, softcap, True, slopes, 0,
                         out[q0:q1].unsqueeze(0), lse[:, q0:q1].unsqueeze(0))
    return out, lse
