"""Describing torch tensors and options as the C ABI's fa_tensor / fa_options, in the calling
thread's scratch buffer, and checking statuses: shared by every wrapper of this package."""

import struct

import torch

from . import _library as _lib
from ._library import FlashAttentionError

_DTYPE_CODES = {torch.float32: _lib.DTYPE_FLOAT32, torch.float16: _lib.DTYPE_FLOAT16, torch.bfloat16: _lib.DTYPE_BFLOAT16}
_OFFSET_CODES = {torch.int32: _lib.DTYPE_INT32, torch.int64: _lib.DTYPE_INT64}

_empty = torch.empty
_float32 = torch.float32
_MAX_RANK = _lib.MAX_RANK
_TENSOR_SIZE = _lib.TENSOR_SIZE
_FORMATS = _lib.TENSOR_FORMATS
_CPU, _CUDA = _lib.DEVICE_CPU, _lib.DEVICE_CUDA

# Descriptor slots in the per-thread scratch buffer.
_DOUT, _Q, _K, _V, _OUT, _LSE, _DQ, _DK, _DV, _CUQ, _CUK, _ALIBI = range(12)


def _fail(name, expected):
    return FlashAttentionError(f"invalid argument '{name}': expected {expected}")


def _pack(buffer, base, slot, tensor, name, codes=_DTYPE_CODES):
    """Describes `tensor` in place (pointer, strides) in descriptor slot `slot`; returns its address.

    This runs for every tensor of every call, so it is written for speed: one dict lookup,
    two attribute reads and one struct.pack_into; the error paths come after.
    """
    if not isinstance(tensor, torch.Tensor):
        raise _fail(name, f"a torch.Tensor, got {type(tensor).__name__}")
    code = codes.get(tensor.dtype)
    if code is None:
        names = "float32, float16 or bfloat16" if codes is _DTYPE_CODES else "int32 or int64"
        raise _fail(name, f"dtype {names}, got {tensor.dtype}")
    shape = tensor.shape
    rank = len(shape)
    if rank > _MAX_RANK:
        raise _fail(name, f"rank ≤ {_MAX_RANK}, got {rank}")
    offset = slot * _TENSOR_SIZE
    if tensor.is_cuda:
        _FORMATS[rank].pack_into(buffer, offset, tensor.data_ptr(), code, _CUDA, tensor.get_device(), rank, *shape,
                                 *tensor.stride())
    elif tensor.is_cpu:
        _FORMATS[rank].pack_into(buffer, offset, tensor.data_ptr(), code, _CPU, 0, rank, *shape, *tensor.stride())
    else:
        raise _fail(name, f"a CPU or CUDA tensor, got one on {tensor.device}")
    return base + offset


# q, k, v, out (rank 4) and lse (rank 3) in adjacent slots _Q ... _LSE, written by one call.
_DENSE_FORMAT = struct.Struct("@" + "Piiii4q32x4q32x" * 4 + "Piiii3q40x3q40x")
assert _DENSE_FORMAT.size == 5 * _lib.TENSOR_SIZE and _LSE == _Q + 4


def _device_of(tensor):
    """(device_type, device_index) for a CPU or CUDA tensor, None for anything else."""
    index = tensor.get_device()
    if index >= 0:
        return (_CUDA, index) if tensor.is_cuda else None
    return (_CPU, 0) if tensor.is_cpu else None


def _pack_dense(buffer, q, k, v, out, lse):
    """The common dense case in one struct.pack_into: about half the cost of five _pack calls,
    which matters for the per-call overhead. Returns False (writing nothing) for anything
    unusual; the per-tensor path then runs and reports what is wrong."""
    if not (isinstance(k, torch.Tensor) and isinstance(v, torch.Tensor)):
        return False
    codes = _DTYPE_CODES
    cq, ck, cv = codes.get(q.dtype), codes.get(k.dtype), codes.get(v.dtype)
    sq, sk, sv = q.shape, k.shape, v.shape
    if cq is None or ck is None or cv is None or len(sk) != 4 or len(sv) != 4:
        return False
    dq, dk, dv = _device_of(q), _device_of(k), _device_of(v)
    if dq is None or dk is None or dv is None:
        return False
    _DENSE_FORMAT.pack_into(
        buffer, _Q * _TENSOR_SIZE,
        q.data_ptr(), cq, dq[0], dq[1], 4, *sq, *q.stride(),
        k.data_ptr(), ck, dk[0], dk[1], 4, *sk, *k.stride(),
        v.data_ptr(), cv, dv[0], dv[1], 4, *sv, *v.stride(),
        out.data_ptr(), cq, dq[0], dq[1], 4, *out.shape, *out.stride(),
        lse.data_ptr(), _lib.DTYPE_FLOAT32, dq[0], dq[1], 3, *lse.shape, *lse.stride(),
    )
    return True


def _pack_options(buffer, base, softmax_scale, causal, window_size, softcap, alibi_slopes, dropout_p, seed, deterministic):
    """Writes fa_options; returns its address. Skips the write when the options equal the
    previous call's on this thread (the common case of a model calling with fixed options)."""
    scratch = _lib.scratch
    key = (softmax_scale, causal, window_size, softcap, dropout_p, seed, deterministic)
    address = base + _lib.TENSOR_SLOTS * _TENSOR_SIZE
    if alibi_slopes is None and scratch.options_key == key:
        return address
    scratch.options_key = None
    try:
        left, right = window_size
        left, right = int(left), int(right)
    except (TypeError, ValueError):
        raise _fail("window_size", f"a pair (left, right) of ints, -1 for unbounded, got {window_size!r}") from None
    alibi = 0 if alibi_slopes is None else _pack(buffer, base, _ALIBI, alibi_slopes, "alibi_slopes")
    _lib.pack_options(
        buffer,
        0 if softmax_scale is None else 1,
        0.0 if softmax_scale is None else float(softmax_scale),
        1 if causal else 0, left, right, float(softcap), alibi, float(dropout_p), seed, 1 if deterministic else 0,
    )
    if alibi_slopes is None:
        try:
            hash(key)
            scratch.options_key = key
        except TypeError:  # e.g. a list window_size: fine, just not cached
            pass
    return address


def _stream(tensor):
    """The caller's current CUDA stream for a CUDA tensor (as an int handle); None for host memory."""
    if tensor.is_cuda:
        return torch.cuda.current_stream(tensor.device).cuda_stream
    return None


def _host_offsets(cu_seqlens):
    # The library reads sequence offsets on the host (it plans the work from them); copying a
    # few integers is the only transfer the varlen path makes.
    if isinstance(cu_seqlens, torch.Tensor) and cu_seqlens.is_cuda:
        return cu_seqlens.to("cpu")
    return cu_seqlens


def _check(status):
    if status != _lib.SUCCESS:
        _lib.raise_for(status)
