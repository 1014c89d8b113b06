"""The reference FlashAttention library's Python API, over libflashattention's C ABI.

Same function names, signatures, defaults and return conventions as
``flash_attn.flash_attn_interface`` of the reference library (2.x), so code written for it
runs unchanged. Differences, all documented on the functions:

* float32 inputs are accepted too (the reference takes float16/bfloat16 only); any head dim
  1 ... 256 works without padding.
* CPU tensors run on the library's multithreaded CPU backend; CUDA tensors run in place (zero
  copy) on ``torch.cuda.current_stream()``.
* ``return_attn_probs=True`` returns ``(out, softmax_lse, S_dmask)``: ``S_dmask`` is an empty
  tensor when ``dropout_p == 0`` (as in the reference) and otherwise the exact attention
  probabilities, shape (batch, nheads, seqlen_q, seqlen_k) — not padded to multiples of 128 —
  with dropped entries negated, recomputed for testing by plain torch operations.
* Dropout masks come from a counter-based hash of (seed, batch, head, row, column); the seed
  is drawn from torch's default (CPU) generator, so ``torch.manual_seed`` makes runs
  reproducible, and it is kept for the backward pass.
"""

import torch
from torch.autograd.function import once_differentiable

from . import _library as _lib
from ._library import FlashAttentionError
from ._descriptors import (
    _CUK,
    _CUQ,
    _DK,
    _DOUT,
    _DQ,
    _DV,
    _K,
    _LSE,
    _OFFSET_CODES,
    _OUT,
    _Q,
    _TENSOR_SIZE,
    _V,
    _check,
    _empty,
    _fail,
    _float32,
    _host_offsets,
    _pack,
    _pack_dense,
    _pack_options,
    _stream,
)
from ._kvcache import flash_attn_with_kvcache, paged_varlen_forward

__all__ = [
    "FlashAttentionError",
    "flash_attn_func",
    "flash_attn_kvpacked_func",
    "flash_attn_qkvpacked_func",
    "flash_attn_varlen_func",
    "flash_attn_varlen_kvpacked_func",
    "flash_attn_varlen_qkvpacked_func",
    "flash_attn_with_kvcache",
]


def _draw_seed(dropout_p):
    if dropout_p <= 0:
        return 0
    # From torch's default generator, so torch.manual_seed makes dropout reproducible.
    return int(torch.randint(0, 2**62, (1,), dtype=torch.int64).item())


# ---------------------------------------------------------------------------------------------
# Raw forward / backward over the C ABI


def _forward(q, k, v, dropout_p, softmax_scale, causal, window_size, softcap, alibi_slopes, deterministic,
             seed, varlen=None):
    """Returns (out, softmax_lse). `varlen` is (cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k)."""
    scratch = _lib.scratch
    buffer, base = scratch.buffer, scratch.base
    if not isinstance(q, torch.Tensor):
        raise _fail("q", f"a torch.Tensor, got {type(q).__name__}")
    shape = q.shape
    out = torch.empty_like(q, memory_format=torch.contiguous_format)
    lse = None
    # A q of the wrong rank gets no LSE; the library then reports q's rank.
    if varlen is None and len(shape) == 4:
        lse = _empty((shape[0], shape[2], shape[1]), dtype=_float32, device=out.device)
    elif varlen is not None and len(shape) == 3:
        lse = _empty((shape[1], shape[0]), dtype=_float32, device=out.device)
    options = _pack_options(buffer, base, softmax_scale, causal, window_size, softcap, alibi_slopes, dropout_p, seed,
                            deterministic)
    q_address, k_address, v_address = base + _Q * _TENSOR_SIZE, base + _K * _TENSOR_SIZE, base + _V * _TENSOR_SIZE
    out_address = base + _OUT * _TENSOR_SIZE
    lse_address = None if lse is None else base + _LSE * _TENSOR_SIZE
    if lse is None or varlen is not None or not _pack_dense(buffer, q, k, v, out, lse):
        _pack(buffer, base, _Q, q, "q")
        _pack(buffer, base, _K, k, "k")
        _pack(buffer, base, _V, v, "v")
        _pack(buffer, base, _OUT, out, "out")
        if lse is not None:
            _pack(buffer, base, _LSE, lse, "softmax_lse")
    if varlen is None:
        _check(_lib.library.fa_forward(q_address, k_address, v_address, out_address, lse_address, options, _stream(q)))
    else:
        cu_q, cu_k, max_q, max_k = varlen
        cu_q_address = _pack(buffer, base, _CUQ, cu_q, "cu_seqlens_q", _OFFSET_CODES)
        cu_k_address = _pack(buffer, base, _CUK, cu_k, "cu_seqlens_k", _OFFSET_CODES)
        _check(_lib.library.fa_varlen_forward(
            q_address, k_address, v_address, cu_q_address, cu_k_address, int(max_q), int(max_k),
            out_address, lse_address, options, _stream(q)))
    return out, lse


def _backward(dout, q, k, v, out, lse, dq, dk, dv, dropout_p, softmax_scale, causal, window_size, softcap,
              alibi_slopes, deterministic, seed, varlen=None):
    """Writes dq, dk, dv (caller-allocated, possibly views into one packed gradient)."""
    scratch = _lib.scratch
    buffer, base = scratch.buffer, scratch.base
    addresses = [
        _pack(buffer, base, _DOUT, dout, "dout"),
        _pack(buffer, base, _Q, q, "q"),
        _pack(buffer, base, _K, k, "k"),
        _pack(buffer, base, _V, v, "v"),
        _pack(buffer, base, _OUT, out, "out"),
        _pack(buffer, base, _LSE, lse, "softmax_lse"),
    ]
    grads = [_pack(buffer, base, _DQ, dq, "dq"), _pack(buffer, base, _DK, dk, "dk"), _pack(buffer, base, _DV, dv, "dv")]
    options = _pack_options(buffer, base, softmax_scale, causal, window_size, softcap, alibi_slopes, dropout_p, seed,
                            deterministic)
    if varlen is None:
        _check(_lib.library.fa_backward(*addresses, *grads, options, _stream(q)))
    else:
        cu_q, cu_k, max_q, max_k = varlen
        cu_q_address = _pack(buffer, base, _CUQ, cu_q, "cu_seqlens_q", _OFFSET_CODES)
        cu_k_address = _pack(buffer, base, _CUK, cu_k, "cu_seqlens_k", _OFFSET_CODES)
        _check(_lib.library.fa_varlen_backward(
            *addresses, cu_q_address, cu_k_address, int(max_q), int(max_k), *grads, options, _stream(q)))


# ---------------------------------------------------------------------------------------------
# Attention probabilities for return_attn_probs (testing aid, plain torch)


def dropout_keep_mask(seed, dropout_p, batch, head, rows, cols):
    """The library's dropout keep-mask for stream (batch, head): a (rows, cols) bool CPU tensor."""
    keep = torch.empty((rows, cols), dtype=torch.uint8)
    if rows > 0 and cols > 0:
        _check(_lib.library.fa_dropout_keep_mask(seed, float(dropout_p), batch, head, rows, cols, keep.data_ptr(), cols))
    return keep.bool()


def _probs_one(q, k, lse, scale, causal, window_size, softcap, slopes, dropout_p, seed, batch):
    """Probabilities (H, Sq, Sk) of one sequence: q (Sq, H, D), k (Sk, Hk, D), lse (H, Sq)."""
    sq, heads, _ = q.shape
    sk, kv_heads, _ = k.shape
    kk = k.float().repeat_interleave(heads // kv_heads, dim=1)
    s = torch.einsum("qhd,khd->hqk", q.float(), kk) * scale
    if softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    i = torch.arange(sq, device=q.device).view(-1, 1) + (sk - sq)
    j = torch.arange(sk, device=q.device).view(1, -1)
    if slopes is not None:
        s = s - slopes.float().view(-1, 1, 1) * (i - j).abs()
    left, right = window_size
    if causal:
        right = 0 if right < 0 else min(right, 0)
    visible = torch.ones((sq, sk), dtype=torch.bool, device=q.device)
    if left >= 0:
        visible &= j >= i - left
    if right >= 0:
        visible &= j <= i + right
    p = torch.exp(s - lse.view(heads, sq, 1))
    p = torch.where(visible, p, torch.zeros_like(p))
    if dropout_p > 0:
        keep = torch.stack([dropout_keep_mask(seed, dropout_p, batch, h, sq, sk) for h in range(heads)]).to(q.device)
        p = torch.where(keep, p, -p)
    return p


def _attention_probs(q, k, lse, softmax_scale, causal, window_size, softcap, alibi_slopes, dropout_p, seed,
                     varlen=None):
    scale = q.shape[-1] ** -0.5 if softmax_scale is None else softmax_scale
    window = (int(window_size[0]), int(window_size[1]))

    def slopes_for(b):
        if alibi_slopes is None:
            return None
        return alibi_slopes if alibi_slopes.dim() == 1 else alibi_slopes[b]

    with torch.no_grad():
        if varlen is None:
            probs = [_probs_one(q[b], k[b], lse[b], scale, causal, window, softcap, slopes_for(b), dropout_p, seed, b)
                     for b in range(q.shape[0])]
            return torch.stack(probs).to(q.dtype)
        cu_q, cu_k, max_q, max_k = varlen
        cu_q, cu_k = cu_q.tolist(), cu_k.tolist()
        batch = len(cu_q) - 1
        result = torch.zeros((batch, q.shape[1], int(max_q), int(max_k)), dtype=q.dtype, device=q.device)
        for b in range(batch):
            q0, q1, k0, k1 = cu_q[b], cu_q[b + 1], cu_k[b], cu_k[b + 1]
            p = _probs_one(q[q0:q1], k[k0:k1], lse[:, q0:q1], scale, causal, window, softcap, slopes_for(b), dropout_p,
                           seed, b)
            result[b, :, : q1 - q0, : k1 - k0] = p.to(q.dtype)
        return result


# ---------------------------------------------------------------------------------------------
# Autograd functions


def _needs_grad(tensors):
    if not _grad_enabled():
        return False
    for t in tensors:
        if isinstance(t, torch.Tensor) and t.requires_grad:
            return True
    return False


_grad_enabled = torch.is_grad_enabled

# How a public function's tensors hold q, k and v: None for separate q, k, v; otherwise
# (name, axis, count): one packed qkv (count 3) or q plus a packed kv (count 2), stacked along
# `axis` (2 for dense (batch, seqlen, n, heads, dim), 1 for varlen (total, n, heads, dim)).


def _unpack(packed, axis, name, count):
    """Strided views of a packed tensor's parts along `axis` (no copies)."""
    if not isinstance(packed, torch.Tensor):
        raise _fail(name, f"a torch.Tensor, got {type(packed).__name__}")
    expected_rank = axis + 3
    if packed.dim() != expected_rank or packed.shape[axis] != count:
        form = "(batch, seqlen, " if axis == 2 else "(total, "
        raise _fail(name, f"shape {form}{count}, nheads, headdim), got {tuple(packed.shape)}")
    return packed.unbind(axis)


def _split(packing, tensors):
    """(q, k, v) from the public function's tensors."""
    if packing is None:
        return tensors
    name, axis, count = packing
    if count == 3:
        return _unpack(tensors[0], axis, name, 3)
    k, v = _unpack(tensors[1], axis, name, 2)
    return tensors[0], k, v


def _gradient_buffers(packing, tensors, q, k, v):
    """(gradients for autograd, one per input tensor; dq, dk, dv views the backward writes).
    A packed input gets one packed gradient, written through strided views: no concatenation."""
    if packing is None:
        grads = (q.new_empty(q.shape), k.new_empty(k.shape), v.new_empty(v.shape))
        return grads, grads
    _, axis, count = packing
    packed = tensors[-1]
    d_packed = packed.new_empty(packed.shape)
    if count == 3:
        return (d_packed,), d_packed.unbind(axis)
    dq = q.new_empty(q.shape)
    dk, dv = d_packed.unbind(axis)
    return (dq, d_packed), (dq, dk, dv)


def _attention_forward(packing, varlen, options, tensors):
    """(q, k, out, lse, seed) of one forward call; options are (dropout_p, softmax_scale, causal,
    window_size, softcap, alibi_slopes, deterministic)."""
    q, k, v = _split(packing, tensors)
    seed = _draw_seed(options[0])
    out, lse = _forward(q, k, v, *options, seed, varlen)
    return q, k, out, lse, seed


def _attention_probs_for(q, k, lse, options, seed, varlen):
    """S_dmask of return_attn_probs: empty without dropout (as in the reference library)."""
    dropout_p, softmax_scale, causal, window_size, softcap, alibi_slopes, _ = options
    if dropout_p > 0:
        return _attention_probs(q, k, lse, softmax_scale, causal, window_size, softcap, alibi_slopes, dropout_p, seed,
                                varlen)
    return q.new_empty((0,))


class FlashAttnFunction(torch.autograd.Function):
    """The autograd function behind every public function of this module: packing and varlen
    say how the input tensors hold q, k, v; the backward returns one gradient per tensor."""

    @staticmethod
    def forward(ctx, packing, varlen, options, return_softmax, *tensors):
        q, k, out, lse, seed = _attention_forward(packing, varlen, options, tensors)
        ctx.save_for_backward(*tensors, out, lse)
        ctx.packing, ctx.varlen = packing, varlen
        ctx.options = options + (seed,)  # _backward's option arguments, in order
        if not return_softmax:
            return out
        s_dmask = _attention_probs_for(q, k, lse, options, seed, varlen)
        ctx.mark_non_differentiable(lse, s_dmask)
        return out, lse, s_dmask

    @staticmethod
    @once_differentiable
    def backward(ctx, dout, *_):
        *tensors, out, lse = ctx.saved_tensors
        q, k, v = _split(ctx.packing, tensors)
        grads, (dq, dk, dv) = _gradient_buffers(ctx.packing, tensors, q, k, v)
        _backward(dout, q, k, v, out, lse, dq, dk, dv, *ctx.options, varlen=ctx.varlen)
        return (None, None, None, None) + tuple(grads)


def _attention(packing, varlen, tensors, dropout_p, softmax_scale, causal, window_size, softcap, alibi_slopes,
               deterministic, return_softmax):
    """Every public function: autograd only when a gradient can flow; plain inference skips the
    Function machinery."""
    options = (dropout_p, softmax_scale, causal, window_size, softcap, alibi_slopes, deterministic)
    if _needs_grad(tensors):
        return FlashAttnFunction.apply(packing, varlen, options, return_softmax, *tensors)
    q, k, out, lse, seed = _attention_forward(packing, varlen, options, tensors)
    if not return_softmax:
        return out
    return out, lse, _attention_probs_for(q, k, lse, options, seed, varlen)


def _paged_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, block_table, dropout_p, softmax_scale, causal, window_size,
                  softcap, alibi_slopes, return_attn_probs):
    """flash_attn_varlen_func over a paged KV cache (inference only, like the reference's)."""
    if dropout_p != 0:
        raise _fail("dropout_p", f"0 with block_table (paged attention is inference only), got {dropout_p}")
    if _needs_grad((q, k, v)):
        raise FlashAttentionError("unsupported: gradients through a paged KV cache (block_table); call it under "
                                  "torch.no_grad() or pass tensors that do not require grad", "FA_ERROR_UNSUPPORTED")
    out, lse = paged_varlen_forward(q, k, v, cu_seqlens_q, cu_seqlens_k, block_table, softmax_scale, causal,
                                    window_size, softcap, alibi_slopes)
    return (out, lse, q.new_empty((0,))) if return_attn_probs else out


def _varlen(cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k):
    return (_host_offsets(cu_seqlens_q), _host_offsets(cu_seqlens_k), max_seqlen_q, max_seqlen_k)


# ---------------------------------------------------------------------------------------------
# Public API (reference names, signatures and defaults)


def flash_attn_qkvpacked_func(
    qkv,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
):
    """Attention on Q, K, V stacked in one tensor; the backward writes one packed gradient.

    Arguments:
        qkv: (batch_size, seqlen, 3, nheads, headdim); float16, bfloat16 or float32; CPU or CUDA.
        dropout_p: float. Dropout probability (set 0.0 for evaluation).
        softmax_scale: float. Scaling of QK^T before the softmax; default 1 / sqrt(headdim).
        causal: bool. Causal mask (bottom-right aligned).
        window_size: (left, right). Sliding window local attention; (-1, -1) is unbounded.
        softcap: float. > 0 replaces each score s by softcap·tanh(s / softcap).
        alibi_slopes: (nheads,) or (batch_size, nheads), float32. Adds -slope·|i + seqlen_k - seqlen_q - j|.
        deterministic: bool. Reproducible backward (the CPU backend always is).
        return_attn_probs: bool. Also return the LSE and the probabilities (testing only).
    Return:
        out: (batch_size, seqlen, nheads, headdim).
        softmax_lse [if return_attn_probs]: (batch_size, nheads, seqlen), float32, natural log.
        S_dmask [if return_attn_probs]: an empty tensor when dropout_p == 0; otherwise the
            probabilities (batch_size, nheads, seqlen, seqlen) in q's dtype, dropped entries negated.
    """
    return _attention(("qkv", 2, 3), None, (qkv,), dropout_p, softmax_scale, causal, window_size, softcap,
                      alibi_slopes, deterministic, return_attn_probs)


def flash_attn_kvpacked_func(
    q,
    kv,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
):
    """Attention with K, V stacked in one tensor; supports MQA/GQA (nheads % nheads_k == 0).

    Arguments:
        q: (batch_size, seqlen_q, nheads, headdim).
        kv: (batch_size, seqlen_k, 2, nheads_k, headdim).
        Other arguments as flash_attn_func.
    Return:
        out: (batch_size, seqlen_q, nheads, headdim); with return_attn_probs also softmax_lse
        (batch_size, nheads, seqlen_q) and S_dmask (see flash_attn_func).
    """
    return _attention(("kv", 2, 2), None, (q, kv), dropout_p, softmax_scale, causal, window_size, softcap,
                      alibi_slopes, deterministic, return_attn_probs)


def flash_attn_func(
    q,
    k,
    v,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
):
    """Exact attention softmax(Q·K^T·scale)·V with FlashAttention's semantics.

    Supports MQA/GQA: query head h reads K/V head h // (nheads // nheads_k). With causal=True
    the mask is aligned to the bottom-right corner (query i sees key j iff
    j <= i + seqlen_k - seqlen_q); a query row that sees no key gives 0 output (LSE +inf).
    With window_size=(left, right), query i sees keys
    [i + seqlen_k - seqlen_q - left, i + seqlen_k - seqlen_q + right].

    Inputs may be any strided views (transposed, sliced heads): they are read in place. CPU
    tensors run on the CPU backend, CUDA tensors on the GPU on torch.cuda.current_stream().

    Arguments:
        q: (batch_size, seqlen_q, nheads, headdim); float16, bfloat16 or float32; headdim ≤ 256.
        k: (batch_size, seqlen_k, nheads_k, headdim).
        v: (batch_size, seqlen_k, nheads_k, headdim).
        dropout_p: float. Dropout probability (set 0.0 for evaluation).
        softmax_scale: float. Scaling of QK^T before the softmax; default 1 / sqrt(headdim).
        causal: bool. Causal mask (bottom-right aligned).
        window_size: (left, right). Sliding window local attention; (-1, -1) is unbounded.
        softcap: float. > 0 replaces each score s by softcap·tanh(s / softcap).
        alibi_slopes: (nheads,) or (batch_size, nheads), float32. Adds -slope·|i + seqlen_k - seqlen_q - j|.
        deterministic: bool. Reproducible backward (the CPU backend always is).
        return_attn_probs: bool. Also return the LSE and the probabilities (testing only).
    Return:
        out: (batch_size, seqlen_q, nheads, headdim), q's dtype.
        softmax_lse [if return_attn_probs]: (batch_size, nheads, seqlen_q), float32, natural log
            of each row's softmax normaliser of QK^T·scale.
        S_dmask [if return_attn_probs]: an empty tensor when dropout_p == 0 (as in the reference
            library); otherwise the exact probabilities (batch_size, nheads, seqlen_q, seqlen_k)
            in q's dtype — not padded to multiples of 128 — with dropped entries negated
            (negative means dropped, non-negative kept). Recomputed by plain torch code.
    Raises:
        FlashAttentionError (a RuntimeError) with the library's message on a wrong shape,
        dtype, device or option value.
    """
    return _attention(None, None, (q, k, v), dropout_p, softmax_scale, causal, window_size, softcap, alibi_slopes,
                      deterministic, return_attn_probs)


def flash_attn_varlen_qkvpacked_func(
    qkv,
    cu_seqlens,
    max_seqlen,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
):
    """Variable-length attention on Q, K, V stacked in one packed tensor.

    Arguments:
        qkv: (total, 3, nheads, headdim), total = number of tokens in the batch.
        cu_seqlens: (batch_size + 1,), int32 (int64 accepted). Cumulative sequence lengths.
            CUDA offsets are copied to the host (a few integers) before the call.
        max_seqlen: int. Maximum sequence length in the batch.
        Other arguments as flash_attn_func.
    Return:
        out: (total, nheads, headdim); with return_attn_probs also softmax_lse (nheads, total)
        and S_dmask (empty when dropout_p == 0, else (batch_size, nheads, max_seqlen,
        max_seqlen), zero-padded).
    """
    return _attention(("qkv", 1, 3), _varlen(cu_seqlens, cu_seqlens, max_seqlen, max_seqlen), (qkv,), dropout_p,
                      softmax_scale, causal, window_size, softcap, alibi_slopes, deterministic, return_attn_probs)


def flash_attn_varlen_kvpacked_func(
    q,
    kv,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
):
    """Variable-length attention with K, V stacked in one packed tensor; supports MQA/GQA.

    Arguments:
        q: (total_q, nheads, headdim).
        kv: (total_k, 2, nheads_k, headdim).
        cu_seqlens_q, cu_seqlens_k: (batch_size + 1,), int32. Cumulative sequence lengths.
        max_seqlen_q, max_seqlen_k: int. Maximum query / key sequence lengths.
        Other arguments as flash_attn_func.
    Return:
        out: (total_q, nheads, headdim); with return_attn_probs also softmax_lse
        (nheads, total_q) and S_dmask (see flash_attn_varlen_func).
    """
    return _attention(("kv", 1, 2), _varlen(cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k), (q, kv),
                      dropout_p, softmax_scale, causal, window_size, softcap, alibi_slopes, deterministic,
                      return_attn_probs)


def flash_attn_varlen_func(
    q,
    k,
    v,
    cu_seqlens_q,
    cu_seqlens_k,
    max_seqlen_q,
    max_seqlen_k,
    dropout_p=0.0,
    softmax_scale=None,
    causal=False,
    window_size=(-1, -1),  # -1 means infinite context window
    softcap=0.0,  # 0.0 means deactivated
    alibi_slopes=None,
    deterministic=False,
    return_attn_probs=False,
    block_table=None,
):
    """Variable-length attention: sequences packed back to back; supports MQA/GQA.

    Sequence b holds tokens cu_seqlens_q[b] ..< cu_seqlens_q[b + 1] of q (likewise for k, v);
    masks are aligned per sequence (bottom-right, as in flash_attn_func).

    Arguments:
        q: (total_q, nheads, headdim).
        k, v: (total_k, nheads_k, headdim).
        cu_seqlens_q, cu_seqlens_k: (batch_size + 1,), int32 (int64 accepted). CUDA offsets
            are copied to the host (a few integers) before the call.
        max_seqlen_q, max_seqlen_k: int. Maximum query / key sequence lengths.
        block_table [optional]: (batch_size, max_num_blocks_per_seq) int32: paged K/V. Then k and
            v are caches (num_blocks, page_block_size, nheads_k, headdim), pages of any size;
            sequence b reads the first cu_seqlens_k[b + 1] - cu_seqlens_k[b] keys of its pages.
            Inference only: no dropout, no gradients. Runs one call per sequence.
        Other arguments as flash_attn_func.
    Return:
        out: (total_q, nheads, headdim).
        softmax_lse [if return_attn_probs]: (nheads, total_q), float32.
        S_dmask [if return_attn_probs]: empty when dropout_p == 0; otherwise
            (batch_size, nheads, max_seqlen_q, max_seqlen_k) probabilities, zero-padded, dropped
            entries negated.
    """
    if block_table is not None:
        return _paged_varlen(q, k, v, cu_seqlens_q, cu_seqlens_k, block_table, dropout_p, softmax_scale, causal,
                             window_size, softcap, alibi_slopes, return_attn_probs)
    return _attention(None, _varlen(cu_seqlens_q, cu_seqlens_k, max_seqlen_q, max_seqlen_k), (q, k, v), dropout_p,
                      softmax_scale, causal, window_size, softcap, alibi_slopes, deterministic, return_attn_probs)
