"""A naive attention reference in plain torch, written independently of the package, and the
reference library's acceptance rule.

`attention_reference` computes in `compute_dtype`: float64 gives the oracle, the inputs' own
dtype gives "the same naive computation in the input precision" that sets the error budget.
"""

import torch

UNIT_ROUNDOFF = {torch.float32: 2.0**-24, torch.float16: 2.0**-11, torch.bfloat16: 2.0**-8}


def visible_mask(sq, sk, causal, window, device):
    """(sq, sk) bool: query i sees key j (bottom-right aligned)."""
    left, right = window
    if causal:
        right = 0 if right < 0 else min(right, 0)
    i = torch.arange(sq, device=device).view(-1, 1) + (sk - sq)
    j = torch.arange(sk, device=device).view(1, -1)
    mask = torch.ones((sq, sk), dtype=torch.bool, device=device)
    if left >= 0:
        mask &= j >= i - left
    if right >= 0:
        mask &= j <= i + right
    return mask


def attention_reference(q, k, v, *, scale=None, causal=False, window=(-1, -1), softcap=0.0, alibi=None,
                        keep=None, dropout_p=0.0, compute_dtype=torch.float64):
    """q (B, Sq, H, D), k/v (B, Sk, Hk, D) -> out (B, Sq, H, D), lse (B, H, Sq) in compute_dtype.

    keep: (B, H, Sq, Sk) bool dropout keep-mask or None. Rows that see no key give out 0 and
    lse +inf. Differentiable with respect to q, k, v.
    """
    batch, sq, heads, dim = q.shape
    sk, kv_heads = k.shape[1], k.shape[2]
    scale = dim**-0.5 if scale is None else scale
    qc, kc, vc = (x.to(compute_dtype) for x in (q, k, v))
    group = heads // kv_heads
    kc = kc.repeat_interleave(group, dim=2)
    vc = vc.repeat_interleave(group, dim=2)
    s = torch.einsum("bqhd,bkhd->bhqk", qc, kc) * scale
    if softcap > 0:
        s = softcap * torch.tanh(s / softcap)
    if alibi is not None:
        i = torch.arange(sq, device=q.device).view(-1, 1) + (sk - sq)
        j = torch.arange(sk, device=q.device).view(1, -1)
        slopes = alibi.to(compute_dtype)
        slopes = slopes.view(1, heads, 1, 1) if slopes.dim() == 1 else slopes.view(batch, heads, 1, 1)
        s = s - slopes * (i - j).abs().to(compute_dtype)
    mask = visible_mask(sq, sk, causal, window, q.device)
    row_visible = mask.any(dim=-1)  # (Sq,)
    # Rows that see nothing get finite scores (then zeroed) so softmax and its gradient stay finite.
    s = s.masked_fill(~mask, float("-inf")).masked_fill(~row_visible.view(-1, 1), 0.0)
    p = torch.softmax(s, dim=-1)
    p = p * row_visible.view(-1, 1).to(compute_dtype)
    lse = torch.logsumexp(s, dim=-1).masked_fill(~row_visible, float("inf"))
    if keep is not None:
        p = p * keep.to(compute_dtype) / (1.0 - dropout_p)
    out = torch.einsum("bhqk,bkhd->bqhd", p, vc)
    return out, lse


def max_error(x, ref):
    return (x.double() - ref.double()).abs().max().item() if x.numel() else 0.0


def assert_within_budget(name, actual, oracle, naive, factor, dtype, magnitude=None):
    """The reference library's rule: max|actual - oracle| ≤ factor · max|naive - oracle| + floor.

    The floor is two roundings of the largest value to the storage precision (float16,
    bfloat16), or the project's float32 bar of 1e-5 relative, of `magnitude` (default: the
    largest oracle value; gradients pass the largest of dq, dk, dv, since a gradient that is
    exactly 0 in exact arithmetic, e.g. dq with one key, still carries rounding noise of the
    problem's scale). NaN never passes."""
    assert not torch.isnan(actual).any(), f"{name}: NaN in the result"
    error = max_error(actual, oracle)
    budget = max_error(naive, oracle)
    if magnitude is None:
        magnitude = oracle.double().abs().max().item() if oracle.numel() else 0.0
    scale = max(magnitude, 1e-3)
    floor = (1e-5 if dtype == torch.float32 else 2 * UNIT_ROUNDOFF[dtype]) * scale
    assert error <= factor * budget + floor, (
        f"{name}: max error {error:.3e} > {factor} × naive {budget:.3e} + floor {floor:.3e}"
    )
