"""Dropout: reproducible from torch's generator, the same mask in forward and backward, and
correct against the oracle given the mask that S_dmask reports."""

import pytest
import torch

from flash_attn import flash_attn_func, flash_attn_varlen_func
from flash_attn.flash_attn_interface import dropout_keep_mask
from helpers import check_forward_backward, make_qkv, reference_pair


def test_reproducible_with_manual_seed(device):
    q, k, v = make_qkv(2, 29, 29, 2, 2, 32, torch.float16, device, requires_grad=False)
    torch.manual_seed(7)
    first = flash_attn_func(q, k, v, dropout_p=0.3)
    torch.manual_seed(7)
    second = flash_attn_func(q, k, v, dropout_p=0.3)
    third = flash_attn_func(q, k, v, dropout_p=0.3)
    assert torch.equal(first, second)
    assert not torch.equal(first, third)


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_dropout_against_oracle(device, causal, dtype):
    p = 0.17
    q, k, v = make_qkv(2, 33, 47, 4, 2, 40, dtype, device)
    dout = torch.randn_like(q)
    out, lse, s_dmask = flash_attn_func(q, k, v, dropout_p=p, causal=causal, return_attn_probs=True)
    assert s_dmask.shape == (2, 4, 33, 47)
    keep = s_dmask >= 0
    grads = torch.autograd.grad(out, (q, k, v), dout)
    oracle, naive = reference_pair(q, k, v, dout, causal=causal, keep=keep, dropout_p=p)
    check_forward_backward(out, lse, grads, oracle, naive, dtype)
    # S_dmask holds the undropped probabilities (sign aside): rows sum to 1.
    sums = s_dmask.abs().double().sum(-1)
    torch.testing.assert_close(sums, torch.ones_like(sums), atol=2e-2, rtol=0)


def test_keep_rate_and_mask_function():
    keep = dropout_keep_mask(seed=1234, dropout_p=0.25, batch=1, head=3, rows=200, cols=300)
    assert keep.shape == (200, 300)
    assert abs(keep.float().mean().item() - 0.75) < 0.01
    again = dropout_keep_mask(seed=1234, dropout_p=0.25, batch=1, head=3, rows=200, cols=300)
    other_head = dropout_keep_mask(seed=1234, dropout_p=0.25, batch=1, head=4, rows=200, cols=300)
    assert torch.equal(keep, again)
    assert not torch.equal(keep, other_head)


def test_varlen_dropout_mask_is_per_sequence(device):
    p = 0.4
    lengths = [6, 19]
    cu = torch.tensor([0, 6, 25], dtype=torch.int32, device=device)
    q = torch.randn(25, 2, 16, dtype=torch.float16, device=device)
    out, lse, s_dmask = flash_attn_varlen_func(q, q, q, cu, cu, 19, 19, dropout_p=p, return_attn_probs=True)
    assert s_dmask.shape == (2, 2, 19, 19)
    assert torch.all(s_dmask[0, :, 6:, :] == 0) and torch.all(s_dmask[0, :, :, 6:] == 0)
    for b, n in enumerate(lengths):
        dense_probs = s_dmask[b, :, :n, :n]
        assert torch.allclose(dense_probs.abs().double().sum(-1), torch.ones(2, n, dtype=torch.float64, device=device),
                              atol=2e-2)
