"""Non-contiguous inputs are read in place: transposed views, sliced heads, strided head dims,
broadcast (stride 0) output gradients."""

import pytest
import torch

from flash_attn import flash_attn_func
from helpers import check_forward_backward, reference_pair


def _layouts(device, dtype):
    batch, sq, sk, heads, dim = 2, 19, 31, 4, 48
    # (B, H, S, D) storage seen as (B, S, H, D): the usual transposed view.
    transposed = [torch.randn(batch, heads, s, dim, dtype=dtype, device=device).transpose(1, 2) for s in (sq, sk, sk)]
    # Every other head of a wider tensor, and a head-dim slice of a wider one.
    sliced = [torch.randn(batch, s, 2 * heads, dim + 16, dtype=dtype, device=device)[:, :, ::2, 8 : 8 + dim]
              for s in (sq, sk, sk)]
    # Head dim with stride 2 (the reference library would copy; we read it in place).
    strided_dim = [torch.randn(batch, s, heads, 2 * dim, dtype=dtype, device=device)[..., ::2] for s in (sq, sk, sk)]
    # q, k, v as views into one packed (B, S, 3, H, D) tensor.
    packed = torch.randn(batch, sq, 3, heads, dim, dtype=dtype, device=device).unbind(2)
    return {"transposed": transposed, "sliced_heads": sliced, "strided_dim": strided_dim, "packed": list(packed)}


@pytest.mark.parametrize("layout", ["transposed", "sliced_heads", "strided_dim", "packed"])
def test_noncontiguous_matches_contiguous(device, layout):
    dtype = torch.float16
    views = _layouts(device, dtype)[layout]
    for view in views:
        assert not view.is_contiguous()
        view.requires_grad_(True)
    q, k, v = views
    dout = torch.randn(q.shape, dtype=dtype, device=device)
    out = flash_attn_func(q, k, v, causal=True)
    grads = torch.autograd.grad(out, (q, k, v), dout)
    oracle, naive = reference_pair(q, k, v, dout, causal=True)
    check_forward_backward(out, None, grads, oracle, naive, dtype)
    if device == "cpu":
        # The CPU backend packs tiles from any strides: bitwise the contiguous result.
        contiguous = [x.detach().contiguous().requires_grad_(True) for x in (q, k, v)]
        out_c = flash_attn_func(*contiguous, causal=True)
        grads_c = torch.autograd.grad(out_c, contiguous, dout.contiguous())
        assert torch.equal(out, out_c)
        for g, gc in zip(grads, grads_c):
            assert torch.equal(g, gc)


def test_broadcast_output_gradient(device):
    # out.sum().backward() hands the backward an expanded (stride 0) dout.
    q = torch.randn(1, 12, 2, 16, dtype=torch.bfloat16, device=device, requires_grad=True)
    k = torch.randn(1, 12, 2, 16, dtype=torch.bfloat16, device=device, requires_grad=True)
    v = torch.randn(1, 12, 2, 16, dtype=torch.bfloat16, device=device, requires_grad=True)
    flash_attn_func(q, k, v).sum().backward()
    dout = torch.ones(1, 12, 2, 16, dtype=torch.bfloat16, device=device)
    oracle, naive = reference_pair(q, k, v, dout)
    check_forward_backward(flash_attn_func(q, k, v).detach(), None, (q.grad, k.grad, v.grad),
                           oracle, naive, torch.bfloat16)
