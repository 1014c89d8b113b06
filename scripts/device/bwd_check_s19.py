#!/usr/bin/env python3
"""Session 19: a float64 check of the unmasked tile D = 128 backward with the mask branch and head groups of 4 forced
(FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1 FLASH_ATTENTION_HOPPER_BWD_GROUP=4, set by the caller) at 8k-16k keys, where that form
runs (`…_dqunordered_dqbuf2_edv_ldk_g4_mb_pd`): dQ, dK, dV through flash_attn_func + autograd against float64 attention on the
GPU; pass: each gradient's norm-wise error <= 2 x naive attention's in the same precision (+1e-6), no NaN.
Session 20: BWC_SHAPES="Sq,Sk,H,Hk[,causal];…" and BWC_D (head dim, default 128) for other shapes and the wide kernel.
Session 23: BWC_B (batch, default 1), for the early dQ conversion (it converts tiles of earlier batches)."""
import os, sys, torch
from flash_attn import flash_attn_func
def ref(q, k, v, do, dt=None, causal=False):
    f = torch.float64 if dt is None else torch.float32
    qq, kk, vv, dd = (x.detach().to(f).transpose(1, 2).requires_grad_() for x in (q, k, v, do))
    H, Hk = qq.shape[1], kk.shape[1]
    k2, v2 = kk.repeat_interleave(H // Hk, 1), vv.repeat_interleave(H // Hk, 1)
    s = (qq @ k2.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
    if causal:  # bottom-right: query i sees key j iff j <= i + Sk - Sq (rows that see nothing give zero gradients)
        sq, sk = s.shape[-2], s.shape[-1]
        i = torch.arange(sq, device=s.device)[:, None]; j = torch.arange(sk, device=s.device)[None, :]
        s = s.masked_fill(j > i + sk - sq, float("-inf"))
    p = torch.softmax(s, -1).nan_to_num(0.0)
    if dt is not None: p = p.to(dt).to(f)
    o = p @ v2
    g = torch.autograd.grad(o, (qq, kk, vv), dd.detach())
    return [x.transpose(1, 2).double() for x in g]
passed = failed = 0
# BWC_SHAPES="Sq,Sk,H,Hk;…" picks other shapes (session 20: 4096², 4100 × 4000 GQA, where the form runs from then on).
shapes = [tuple(int(x) for x in s.split(",")) for s in os.environ["BWC_SHAPES"].split(";")] if os.environ.get("BWC_SHAPES") \
    else [(8192, 8192, 4, 4), (8300, 8200, 8, 4), (16384, 16384, 4, 4)]
D = int(os.environ.get("BWC_D", "128"))
# BWC_DET=1 (session 21): deterministic calls (dQ added in key-block order), as the Swift API's default makes them.
DET = os.environ.get("BWC_DET") == "1"
B = int(os.environ.get("BWC_B", "1"))
for shape in shapes:
    sq, sk, H, Hk = shape[:4]; causal = len(shape) > 4 and bool(shape[4])
    for dt in (torch.bfloat16, torch.float16):
        g = torch.Generator(device="cuda").manual_seed(sq + sk + H)
        q = torch.randn(B, sq, H, D, device="cuda", generator=g).to(dt).requires_grad_()
        k = torch.randn(B, sk, Hk, D, device="cuda", generator=g).to(dt).requires_grad_()
        v = torch.randn(B, sk, Hk, D, device="cuda", generator=g).to(dt).requires_grad_()
        do = torch.randn(B, sq, H, D, device="cuda", generator=g).to(dt)
        out = flash_attn_func(q, k, v, causal=causal, deterministic=DET)
        got = [x.double() for x in torch.autograd.grad(out, (q, k, v), do)]
        exact = ref(q, k, v, do, causal=causal); naive = ref(q, k, v, do, dt, causal)
        ok = True; msg = []
        for name, a, e, n in zip("qkv", got, exact, naive):
            err = ((a - e).norm() / e.norm()).item(); nerr = ((n - e).norm() / e.norm()).item()
            good = not torch.isnan(a).any() and err <= 2 * nerr + 1e-6
            ok &= good; msg.append(f"d{name} {err:.2e} (naive {nerr:.2e})")
        passed += ok; failed += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {str(dt)[6:]}{' det' if DET else ''} B={B} D={D} Sq={sq} Sk={sk} H={H}/{Hk} causal={int(causal)}: " + ", ".join(msg), flush=True)
        del exact, naive, got; torch.cuda.empty_cache()
print(f"bwd check s19: {passed} passed, {failed} failed")
