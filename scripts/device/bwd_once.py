#!/usr/bin/env python3
"""One forward + backward through flash_attn_func (non-deterministic, the reference library's default), for compute-sanitizer:
  python3 scripts/device/bwd_once.py SQ SK H HK D [causal] [bf16|fp16]
Prints the gradients' norms (finite or not), so a run that launched nothing or wrote NaN is visible."""
import sys, torch
from flash_attn import flash_attn_func
sq, sk, h, hk, d = (int(x) for x in sys.argv[1:6])
causal = "causal" in sys.argv[6:]
dt = torch.float16 if "fp16" in sys.argv[6:] else torch.bfloat16
g = torch.Generator(device="cuda").manual_seed(sq * 7 + sk)
q = torch.randn(1, sq, h, d, device="cuda", generator=g).to(dt).requires_grad_()
k = torch.randn(1, sk, hk, d, device="cuda", generator=g).to(dt).requires_grad_()
v = torch.randn(1, sk, hk, d, device="cuda", generator=g).to(dt).requires_grad_()
do = torch.randn(1, sq, h, d, device="cuda", generator=g).to(dt)
out = flash_attn_func(q, k, v, causal=causal)
grads = torch.autograd.grad(out, (q, k, v), do)
torch.cuda.synchronize()
print("bwd_once " + " ".join(f"d{n} {x.float().norm().item():.4g}" for n, x in zip("qkv", grads))
      + f" finite {all(torch.isfinite(x).all().item() for x in grads)}")
