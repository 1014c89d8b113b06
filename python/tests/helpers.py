"""Running one problem three ways (library, float64 oracle, naive in the input precision) and
checking outputs, LSE and gradients with the acceptance rule."""

import torch

from reference import assert_within_budget, attention_reference


def make_qkv(batch, sq, sk, heads, kv_heads, dim, dtype, device, requires_grad=True):
    q = torch.randn(batch, sq, heads, dim, dtype=dtype, device=device)
    k = torch.randn(batch, sk, kv_heads, dim, dtype=dtype, device=device)
    v = torch.randn(batch, sk, kv_heads, dim, dtype=dtype, device=device)
    for t in (q, k, v):
        t.requires_grad_(requires_grad)
    return q, k, v


def reference_pair(q, k, v, dout=None, **options):
    """(oracle, naive): each (out, lse, grads or None), from float64 and from q's dtype."""
    results = []
    for compute_dtype in (torch.float64, q.dtype):
        leaves = [x.detach().to(compute_dtype).requires_grad_(dout is not None) for x in (q, k, v)]
        out, lse = attention_reference(*leaves, compute_dtype=compute_dtype, **options)
        grads = None
        if dout is not None:
            grads = torch.autograd.grad(out, leaves, dout.to(compute_dtype))
        results.append((out.detach(), lse.detach(), grads))
    return results


def check_forward_backward(out, lse, grads, oracle, naive, dtype, backward=True):
    """Checks the library's results against the oracle with the reference library's factors."""
    assert out.dtype == dtype
    assert_within_budget("out", out, oracle[0], naive[0], 2, dtype)
    if lse is not None:
        check_lse(lse, oracle[1])
    if backward:
        magnitude = max(g.abs().max().item() if g.numel() else 0.0 for g in oracle[2])
        for name, grad, ref, low in zip(("dq", "dk", "dv"), grads, oracle[2], naive[2]):
            assert grad.dtype == dtype, name
            assert_within_budget(name, grad, ref, low, 3, dtype, magnitude)


def check_lse(lse, oracle_lse):
    """The LSE is computed in float32 from the stored inputs: close to the float64 oracle on
    the same inputs, and +inf exactly where a row sees no key."""
    assert lse.dtype == torch.float32
    assert lse.shape == oracle_lse.shape
    infinite = torch.isinf(oracle_lse)
    assert torch.equal(torch.isinf(lse) & (lse > 0), infinite), "LSE +inf rows differ"
    finite = ~infinite
    if finite.any():
        diff = (lse.double()[finite] - oracle_lse[finite]).abs()
        tolerance = 1e-5 * oracle_lse[finite].abs().clamp(min=1.0)
        assert bool((diff <= tolerance).all()), f"LSE error {diff.max().item():.3e}"
