"""flash_attn.bert_padding: unpad_input / pad_input / index_first_axis round trips, gradients,
and a padded batch through flash_attn_varlen_func against per-sequence attention."""

import pytest
import torch

from flash_attn import FlashAttentionError, flash_attn_varlen_func
from flash_attn.bert_padding import index_first_axis, index_put_first_axis, pad_input, unpad_input
from reference import assert_within_budget, attention_reference


def padded_batch(device, lengths, seqlen, dtype=torch.float32, tail=(3, 5)):
    x = torch.randn(len(lengths), seqlen, *tail, dtype=dtype, device=device)
    mask = torch.arange(seqlen, device=device).view(1, -1) < torch.tensor(lengths, device=device).view(-1, 1)
    return x, mask


def test_unpad_pad_round_trip(device):
    lengths, seqlen = [5, 0, 7, 2], 7
    x, mask = padded_batch(device, lengths, seqlen)
    packed, indices, cu_seqlens, max_seqlen, seqused = unpad_input(x, mask.int())
    assert packed.shape == (sum(lengths), 3, 5)
    assert cu_seqlens.dtype == torch.int32 and cu_seqlens.tolist() == [0, 5, 5, 12, 14]
    assert max_seqlen == 7 and seqused.tolist() == lengths
    assert indices.dtype == torch.int64
    torch.testing.assert_close(packed, x[mask], rtol=0, atol=0)
    restored = pad_input(packed, indices, len(lengths), seqlen)
    torch.testing.assert_close(restored, x * mask.view(4, seqlen, 1, 1), rtol=0, atol=0)


def test_unused_mask_is_kept_but_not_used(device):
    x, mask = padded_batch(device, [2, 3], 5)
    unused = torch.zeros_like(mask)
    unused[0, 2:4] = True
    packed, indices, cu_seqlens, max_seqlen, seqused = unpad_input(x, mask, unused)
    assert cu_seqlens.tolist() == [0, 4, 7] and max_seqlen == 4 and seqused.tolist() == [2, 3]
    assert indices.tolist() == [0, 1, 2, 3, 5, 6, 7]


def test_gradients_flow(device):
    x = torch.randn(4, 6, 3, dtype=torch.float64, device=device, requires_grad=True)
    mask = torch.rand(4, 6, device=device) > 0.4
    packed, indices, _, _, _ = unpad_input(x, mask)
    weights = torch.randn_like(packed)
    (grad,) = torch.autograd.grad((pad_input(packed * weights, indices, 4, 6) ** 2).sum(), x)
    expected = 2 * x.detach() * (weights.new_zeros(4 * 6, 3).index_copy(0, indices, weights) ** 2).view(4, 6, 3)
    torch.testing.assert_close(grad, expected)
    (grad,) = torch.autograd.grad(index_first_axis(x.view(24, 3), indices).sum(), x)
    torch.testing.assert_close(grad, mask.double().view(4, 6, 1).expand(4, 6, 3))


def test_index_put_first_axis(device):
    values = torch.arange(6.0, device=device).view(3, 2)
    out = index_put_first_axis(values, torch.tensor([4, 0, 2], device=device), 5)
    assert out.tolist() == [[2, 3], [0, 0], [4, 5], [0, 0], [0, 1]]


def test_varlen_attention_on_a_padded_batch(device):
    dtype, lengths, seqlen, heads, dim = torch.float16, [9, 3, 14], 14, 2, 32
    q, mask = padded_batch(device, lengths, seqlen, dtype, (heads, dim))
    k, _ = padded_batch(device, lengths, seqlen, dtype, (heads, dim))
    v, _ = padded_batch(device, lengths, seqlen, dtype, (heads, dim))
    qp, indices, cu, max_seqlen, _ = unpad_input(q, mask)
    kp, vp = unpad_input(k, mask)[0], unpad_input(v, mask)[0]
    out = pad_input(flash_attn_varlen_func(qp, kp, vp, cu, cu, max_seqlen, max_seqlen, causal=True), indices, 3, seqlen)
    for b, n in enumerate(lengths):
        args = [t[b : b + 1, :n] for t in (q, k, v)]
        oracle, _ = attention_reference(*args, causal=True)
        naive, _ = attention_reference(*args, causal=True, compute_dtype=dtype)
        assert_within_budget("out", out[b : b + 1, :n], oracle, naive, 2, dtype)
        assert torch.all(out[b, n:] == 0)


def test_errors_name_the_argument():
    x, mask = padded_batch("cpu", [2, 3], 5)
    for argument, call in [
        ("attention_mask", lambda: unpad_input(x, mask[:, :4])),
        ("hidden_states", lambda: unpad_input(x[0, 0, 0], mask)),
        ("unused_mask", lambda: unpad_input(x, mask, mask[0])),
        ("indices", lambda: index_first_axis(x, torch.zeros(2, 2, dtype=torch.int64))),
        ("indices", lambda: index_put_first_axis(x[:2], torch.tensor([0, 1, 2]), 5)),
    ]:
        with pytest.raises(FlashAttentionError) as info:
            call()
        assert f"'{argument}'" in str(info.value)
