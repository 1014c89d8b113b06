#!/usr/bin/env python3
"""Session 15, hopfwd29: a float64 check of one knob form of the Hopper forward on the long rows' kernels, forced on a
2-block grid (FLASH_ATTENTION_HOPPER_GRID=2, so each block walks many tiles), through the Python package.

    FLASH_ATTENTION_LIB=... PYTHONPATH=python python3 scripts/device/hopper_fwd29_check.py FORM D CAUSAL [N ...]

FORM is a label of hopper_fwd29.IMPLS (its knobs are set in this process before the library loads). Shapes: Sq x Sk of
N x N, N+104 x N+4 (Sq > Sk: causal rows that see no key) and N+4 x N+104, B = 1, 2 query heads over 1 K/V head, bf16 and
fp16. Pass: out's norm-wise error against a float64 reference <= 2 x naive attention's in the same precision (+1e-6),
no NaN, rows that see no key exactly 0. The kernels reached are read from this process's cache directory.
"""
import glob
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from hopper_fwd29 import IMPLS  # noqa: E402

form, D, causal = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lengths = [int(x) for x in sys.argv[4:]] or [4096]
os.environ.update(IMPLS[form])
os.environ["FLASH_ATTENTION_HOPPER_GRID"] = "2"
cache = f"/tmp/fa-cache-hf29-check/{form}-{D}-{causal}"
os.makedirs(cache, exist_ok=True)
os.environ["FLASH_ATTENTION_CACHE_DIR"] = cache

import torch  # noqa: E402
from flash_attn import flash_attn_func  # noqa: E402


def ref(q, k, v, causal, dt=None):
    # q: (B, Sq, H, D) float; returns (B, Sq, H, D) float64 (dt: naive attention rounded to dt at P and O)
    sq, sk, H, Hk = q.shape[1], k.shape[1], q.shape[2], k.shape[2]
    f = torch.float64 if dt is None else torch.float32
    qq, kk, vv = (x.to(f).transpose(1, 2) for x in (q, k, v))
    kk, vv = kk.repeat_interleave(H // Hk, 1), vv.repeat_interleave(H // Hk, 1)
    s = (qq @ kk.transpose(-1, -2)) / (q.shape[-1] ** 0.5)
    i = torch.arange(sq, device=q.device)[:, None]
    j = torch.arange(sk, device=q.device)[None, :]
    vis = (j <= i + sk - sq) if causal else torch.ones(sq, sk, dtype=torch.bool, device=q.device)
    s = s.masked_fill(~vis, float("-inf"))
    m = s.amax(-1, keepdim=True)
    none = torch.isinf(m) & (m < 0)
    p = torch.exp(s - torch.where(none, torch.zeros_like(m), m))
    l = p.sum(-1, keepdim=True)
    p = p / torch.where(none, torch.ones_like(l), l)
    if dt is not None:
        o = (p.to(dt).float() @ vv).to(dt)
    else:
        o = p @ vv
    return o.transpose(1, 2).double(), none.squeeze(-1).transpose(1, 2)


passed = failed = 0
for N in lengths:
    for sq, sk in ((N, N), (N + 104, N + 4), (N + 4, N + 104)):
        for dt in (torch.bfloat16, torch.float16):
            g = torch.Generator(device="cuda").manual_seed(sq * 7 + sk + D)
            q = torch.randn(1, sq, 2, D, device="cuda", generator=g).to(dt)
            k = torch.randn(1, sk, 1, D, device="cuda", generator=g).to(dt)
            v = torch.randn(1, sk, 1, D, device="cuda", generator=g).to(dt)
            o = flash_attn_func(q, k, v, causal=bool(causal)).double()
            torch.cuda.synchronize()
            ro, none = ref(q.float(), k.float(), v.float(), bool(causal))
            no, _ = ref(q.float(), k.float(), v.float(), bool(causal), dt)
            err = ((o - ro).norm() / ro.norm()).item()
            nerr = ((no - ro).norm() / ro.norm()).item()
            nan = bool(torch.isnan(o).any())
            zero_ok = bool((o[none.unsqueeze(-1).expand_as(o)] == 0).all()) if none.any() else True
            ok = (not nan) and err <= 2 * nerr + 1e-6 and zero_ok
            passed += ok
            failed += not ok
            print(f"{'ok  ' if ok else 'FAIL'} {form} D={D} causal={causal} {str(dt)[6:]} Sq={sq} Sk={sk}: err {err:.3e} naive {nerr:.3e}"
                  f" ratio {err / nerr:.3f}{' NaN' if nan else ''}{'' if zero_ok else ' no-key rows not 0'}", flush=True)
names = set()
for cu in glob.glob(f"{cache}/*.cu"):
    m = re.search(r": ((?:fwd|hbwd)_\S+)", open(cu, errors="replace").read(600))
    if m:
        names.add(m.group(1))
print(f"check {form} D={D} causal={causal}: {passed} passed, {failed} failed; kernels reached: {' '.join(sorted(names))}")
