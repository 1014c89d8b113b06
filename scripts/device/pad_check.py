#!/usr/bin/env python3
"""Session 33: the float64 oracle for forms `flash-attn verify` seldom draws — causal (bottom-right) and unmasked problems at
2k+ lengths, where the tile-192 TMA rows run (head dims 160 / 176 / 192), GQA, fp16 and bf16, forward and backward.
Each output and gradient's norm-wise relative error against float64 must be finite and at most twice that of naive
attention in the same precision (torch's math path on the 16-bit tensors).
  python3 scripts/device/pad_check.py [--products]   (prints one line per case and 'N passed, M failed'; --products: session
  34's cases, head dims 32–224 whose products stop short of the tile)"""
import math, sys, torch
from flash_attn import flash_attn_func

CASES = [  # sq, sk, h, hk, d, causal, dtype
    (2100, 2100, 4, 2, 192, True, torch.bfloat16), (2048, 2500, 2, 2, 192, True, torch.float16),
    (3001, 2300, 2, 1, 160, True, torch.bfloat16), (2500, 3001, 4, 4, 176, False, torch.float16),
    (2048, 2048, 2, 2, 160, False, torch.bfloat16), (4100, 4100, 2, 1, 192, True, torch.float16),
]
# Session 34: the products over D rounded up to 16 (productHeadDim) at head dims that pad or fall short of their tile.
if "--products" in sys.argv:
    CASES = [
        (2100, 2100, 4, 2, 96, True, torch.bfloat16), (1500, 2048, 2, 1, 80, False, torch.float16),
        (777, 1200, 4, 4, 224, True, torch.bfloat16), (4096, 4096, 2, 2, 32, True, torch.float16),
        (2048, 2048, 2, 1, 208, False, torch.bfloat16), (3000, 3000, 2, 2, 112, True, torch.float16),
        (4500, 4500, 2, 2, 224, False, torch.bfloat16), (513, 4097, 2, 1, 48, True, torch.bfloat16),
        (2500, 2500, 2, 1, 160, True, torch.float16), (1024, 1024, 4, 2, 72, False, torch.bfloat16),
    ]


def attention(q, k, v, causal, scale):
    h, hk = q.shape[2], k.shape[2]
    k, v = (x.repeat_interleave(h // hk, dim=2) for x in (k, v))
    s = torch.einsum("bqhd,bkhd->bhqk", q, k) * scale
    if causal:
        sq, sk = q.shape[1], k.shape[1]
        i = torch.arange(sq, device=q.device)[:, None]; j = torch.arange(sk, device=q.device)[None, :]
        s = s.masked_fill(j > i + sk - sq, float("-inf"))
    p = torch.softmax(s.float() if s.dtype != torch.float64 else s, dim=-1).to(q.dtype)
    p = torch.nan_to_num(p)  # rows that see no key: 0
    return torch.einsum("bhqk,bkhd->bqhd", p, v)


passed = failed = 0
for sq, sk, h, hk, d, causal, dt in CASES:
    g = torch.Generator(device="cuda").manual_seed(sq + sk + d)
    q, k, v, do = (torch.randn(1, n, m, d, device="cuda", generator=g) for n, m in ((sq, h), (sk, hk), (sk, hk), (sq, h)))
    scale = 1 / math.sqrt(d)
    ref = [x.double().requires_grad_() for x in (q, k, v)]
    out_ref = attention(*ref, causal, scale); grads_ref = torch.autograd.grad(out_ref, ref, do.double())
    low = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out_naive = attention(*low, causal, scale); grads_naive = torch.autograd.grad(out_naive, low, do.to(dt))
    ours_in = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out = flash_attn_func(*ours_in, causal=causal); grads = torch.autograd.grad(out, ours_in, do.to(dt))
    ok, parts = True, []
    for name, a, n, r in zip(("out", "dq", "dk", "dv"), (out,) + grads, (out_naive,) + grads_naive, (out_ref,) + grads_ref):
        err = ((a.double() - r).norm() / r.norm()).item(); base = ((n.double() - r).norm() / r.norm()).item()
        good = math.isfinite(err) and err <= 2 * base + 1e-7
        ok &= good; parts.append(f"{name} {err:.2e}/{base:.2e}{'' if good else ' FAIL'}")
    passed += ok; failed += not ok
    print(f"{'ok  ' if ok else 'FAIL'} sq {sq} sk {sk} h {h}/{hk} d {d} {'causal' if causal else 'full'} {str(dt)[6:]}: " + ", ".join(parts), flush=True)
print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
