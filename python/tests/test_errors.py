"""Bad arguments raise FlashAttentionError (a RuntimeError) whose message names the argument;
nothing crashes."""

import pytest
import torch

from flash_attn import (
    FlashAttentionError,
    flash_attn_func,
    flash_attn_qkvpacked_func,
    flash_attn_varlen_func,
)


def qkv(device="cpu", dtype=torch.float16, shape=(1, 8, 2, 16)):
    return [torch.randn(shape, dtype=dtype, device=device) for _ in range(3)]


def expect(argument, call):
    with pytest.raises(FlashAttentionError) as info:
        call()
    assert f"'{argument}'" in str(info.value), str(info.value)
    return info.value


def test_wrong_rank():
    q, k, v = qkv()
    error = expect("q", lambda: flash_attn_func(q[0], k, v))
    assert error.status == "FA_ERROR_INVALID_ARGUMENT"
    assert "rank 4" in str(error)


def test_wrong_dtypes():
    q, k, v = qkv()
    expect("q", lambda: flash_attn_func(q.double(), k, v))
    expect("k", lambda: flash_attn_func(q, k.float(), v))
    expect("v", lambda: flash_attn_func(q, k, v.int()))


def test_shape_mismatches():
    q, k, v = qkv()
    expect("v", lambda: flash_attn_func(q, k, v[:, :5]))
    expect("k", lambda: flash_attn_func(q, k[..., :8], v[..., :8]))
    q3 = torch.randn(1, 8, 3, 16, dtype=torch.float16)
    expect("k", lambda: flash_attn_func(q3, k, v))  # 3 heads over 2 KV heads
    big = torch.randn(1, 4, 1, 300, dtype=torch.float16)
    expect("q", lambda: flash_attn_func(big, big, big))  # head dim above 256


def test_bad_options():
    q, k, v = qkv()
    expect("dropout_p", lambda: flash_attn_func(q, k, v, dropout_p=1.0))
    expect("softcap", lambda: flash_attn_func(q, k, v, softcap=-1.0))
    expect("window_left", lambda: flash_attn_func(q, k, v, window_size=(-3, 0)))
    expect("window_size", lambda: flash_attn_func(q, k, v, window_size=5))
    expect("softmax_scale", lambda: flash_attn_func(q, k, v, softmax_scale=float("inf")))
    expect("alibi_slopes", lambda: flash_attn_func(q, k, v, alibi_slopes=torch.ones(3)))
    expect("alibi_slopes", lambda: flash_attn_func(q, k, v, alibi_slopes=torch.ones(2, dtype=torch.float16)))


def test_not_a_tensor():
    q, k, v = qkv()
    expect("k", lambda: flash_attn_func(q, k.numpy(), v))


def test_packed_shapes():
    expect("qkv", lambda: flash_attn_qkvpacked_func(torch.randn(1, 8, 2, 2, 16, dtype=torch.float16)))


def test_varlen_offsets():
    q = torch.randn(10, 2, 16, dtype=torch.float16)
    good = torch.tensor([0, 4, 10], dtype=torch.int32)
    expect("cu_seqlens_q", lambda: flash_attn_varlen_func(q, q, q, good.float(), good, 6, 6))
    expect("cu_seqlens_q", lambda: flash_attn_varlen_func(q, q, q, torch.tensor([1, 4, 10], dtype=torch.int32), good, 6, 6))
    expect("cu_seqlens_k", lambda: flash_attn_varlen_func(q, q, q, good, torch.tensor([0, 4, 12], dtype=torch.int32), 6, 8))
    expect("max_seqlen_q", lambda: flash_attn_varlen_func(q, q, q, good, good, 3, 6))
    expect("cu_seqlens_k", lambda: flash_attn_varlen_func(q, q, q, good, torch.tensor([0, 10], dtype=torch.int32), 6, 10))
    with pytest.raises(FlashAttentionError, match="block_table"):
        flash_attn_varlen_func(q, q, q, good, good, 6, 6, block_table=good)


def test_unsupported_device():
    q = torch.empty(1, 8, 2, 16, dtype=torch.float16, device="meta")
    expect("q", lambda: flash_attn_func(q, q, q))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_mixed_devices():
    q, k, v = qkv()
    expect("k", lambda: flash_attn_func(q.cuda(), k, v.cuda()))


def test_error_is_runtime_error():
    q, k, v = qkv()
    with pytest.raises(RuntimeError):
        flash_attn_func(q[0], k, v)
