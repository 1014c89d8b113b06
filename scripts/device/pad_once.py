#!/usr/bin/env python3
"""One forward + backward at a padded head dim (session 33), for compute-sanitizer:
  python3 scripts/device/pad_once.py SQ SK H HK D [causal] [softcap] [varlen] [fp16]
varlen packs two sequences of SQ / SK and SQ // 2 + 3 / SK // 2 + 5 tokens. Prints the gradients' norms and whether
every output and gradient is finite (a run that launched nothing or left NaN shows)."""
import sys, torch
from flash_attn import flash_attn_func, flash_attn_varlen_func
sq, sk, h, hk, d = (int(x) for x in sys.argv[1:6])
flags = sys.argv[6:]
causal, softcap = "causal" in flags, (20.0 if "softcap" in flags else 0.0)
dt = torch.float16 if "fp16" in flags else torch.bfloat16
g = torch.Generator(device="cuda").manual_seed(sq * 7 + sk + d)
if "varlen" in flags:
    lq, lk = [sq, sq // 2 + 3], [sk, sk // 2 + 5]
    tq, tk = sum(lq), sum(lk)
    cu = lambda ls: torch.tensor([0, ls[0], ls[0] + ls[1]], dtype=torch.int32, device="cuda")
    shape_q, shape_k = (tq, h, d), (tk, hk, d)
else:
    shape_q, shape_k = (1, sq, h, d), (1, sk, hk, d)
q = torch.randn(*shape_q, device="cuda", generator=g).to(dt).requires_grad_()
k = torch.randn(*shape_k, device="cuda", generator=g).to(dt).requires_grad_()
v = torch.randn(*shape_k, device="cuda", generator=g).to(dt).requires_grad_()
do = torch.randn(*shape_q, device="cuda", generator=g).to(dt)
if "varlen" in flags:
    out = flash_attn_varlen_func(q, k, v, cu(lq), cu(lk), max(lq), max(lk), causal=causal, softcap=softcap)
else:
    out = flash_attn_func(q, k, v, causal=causal, softcap=softcap)
grads = torch.autograd.grad(out, (q, k, v), do)
torch.cuda.synchronize()
print("pad_once " + " ".join(f"d{n} {x.float().norm().item():.4g}" for n, x in zip("qkv", grads))
      + f" finite {all(torch.isfinite(x).all().item() for x in (out,) + grads)}")
