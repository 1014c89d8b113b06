#!/usr/bin/env python3
"""Session 34: the float64 oracle for softcap on the TMA forward (the tanh in its softmax) — unmasked and causal (bottom-right),
GQA, fp16 / bf16, D = 64 / 96 / 128 / 256, 300–4500 tokens (the short rows' forms, the speculative maximum, the stream-K tail
at unmasked D = 256 past 4k keys), caps 5 / 30 / 50. Output, LSE and the gradients (the backward is the generic one) against
float64: each norm-wise relative error finite and at most twice that of naive attention in the same precision.
  python3 scripts/device/softcap_check.py     (one line per case, then 'N passed, M failed')"""
import math, sys, torch
from flash_attn import flash_attn_func

CASES = [  # sq, sk, h, hk, d, causal, cap, dtype
    (1024, 1024, 4, 2, 64, True, 30.0, torch.bfloat16), (2048, 2048, 2, 2, 64, False, 5.0, torch.float16),
    (777, 1300, 4, 1, 128, True, 50.0, torch.bfloat16), (4096, 4096, 2, 2, 128, False, 30.0, torch.float16),
    (513, 2049, 2, 2, 256, True, 50.0, torch.bfloat16), (4500, 4500, 2, 1, 256, False, 50.0, torch.bfloat16),
    (2048, 2048, 2, 2, 256, True, 30.0, torch.float16), (1500, 1500, 4, 2, 96, True, 30.0, torch.bfloat16),
    (300, 300, 2, 2, 128, False, 5.0, torch.bfloat16), (8192, 8192, 1, 1, 128, True, 50.0, torch.bfloat16),
]


def attention(q, k, v, causal, scale, cap):
    h, hk = q.shape[2], k.shape[2]
    k, v = (x.repeat_interleave(h // hk, dim=2) for x in (k, v))
    s = torch.einsum("bqhd,bkhd->bhqk", q, k).float() if q.dtype != torch.float64 else torch.einsum("bqhd,bkhd->bhqk", q, k)
    s = cap * torch.tanh(s * scale / cap)
    if causal:
        sq, sk = q.shape[1], k.shape[1]
        i = torch.arange(sq, device=q.device)[:, None]; j = torch.arange(sk, device=q.device)[None, :]
        s = s.masked_fill(j > i + sk - sq, float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.nan_to_num(torch.softmax(s, dim=-1)).to(q.dtype)
    return torch.einsum("bhqk,bkhd->bqhd", p, v), lse


passed = failed = 0
for sq, sk, h, hk, d, causal, cap, dt in CASES:
    g = torch.Generator(device="cuda").manual_seed(sq + 3 * sk + d)
    q, k, v, do = (torch.randn(1, n, m, d, device="cuda", generator=g) * 2 for n, m in ((sq, h), (sk, hk), (sk, hk), (sq, h)))
    scale = 1 / math.sqrt(d)
    ref = [x.double().requires_grad_() for x in (q, k, v)]
    out_ref, lse_ref = attention(*ref, causal, scale, cap); grads_ref = torch.autograd.grad(out_ref, ref, do.double())
    low = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out_naive, lse_naive = attention(*low, causal, scale, cap); grads_naive = torch.autograd.grad(out_naive, low, do.to(dt))
    ours_in = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out, lse, _ = flash_attn_func(*ours_in, causal=causal, softcap=cap, return_attn_probs=True)
    grads = torch.autograd.grad(out, ours_in, do.to(dt))
    ok, parts = True, []
    finite = torch.isfinite(lse_ref)
    lse_err = ((lse.double()[finite] - lse_ref.detach()[finite]).norm() / lse_ref.detach()[finite].norm()).item()
    lse_base = ((lse_naive.double()[finite] - lse_ref.detach()[finite]).norm() / lse_ref.detach()[finite].norm()).item()
    for name, a, n, r in zip(("out", "dq", "dk", "dv"), (out,) + grads, (out_naive,) + grads_naive, (out_ref,) + grads_ref):
        err = ((a.double() - r).norm() / r.norm()).item(); base = ((n.double() - r).norm() / r.norm()).item()
        good = math.isfinite(err) and err <= 2 * base + 1e-7
        ok &= good; parts.append(f"{name} {err:.2e}/{base:.2e}{'' if good else ' FAIL'}")
    good = math.isfinite(lse_err) and lse_err <= 2 * lse_base + 1e-6
    ok &= good; parts.append(f"lse {lse_err:.2e}/{lse_base:.2e}{'' if good else ' FAIL'}")
    passed += ok; failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} sq {sq} sk {sk} h {h}/{hk} d {d} {'causal' if causal else 'full'} cap {cap} {str(dt)[6:]}: "
          + ", ".join(parts), flush=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
