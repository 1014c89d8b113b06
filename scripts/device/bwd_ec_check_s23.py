#!/usr/bin/env python3
"""Session 23: a dQ conversion form (BEC_KNOB=1, default FLASH_ATTENTION_HOPPER_BWD_EARLYCVT: the early conversion in the
key/value kernel's idle warps; FLASH_ATTENTION_HOPPER_BWD_DEPCVT: the pass as a programmatic dependent) against the pass alone (=0): dQ, dK
and dV bitwise equal (both add dQ in key-block order and convert with the same arithmetic), over many batches so that the key/value
kernel converts earlier batches' tiles, causal with Sq > Sk (tiles no key block sees: the pass writes their zeros) and Sq < Sk,
GQA, tile D = 64 / 128, head dims 96 / 64 / 128, deterministic and not. Each setting runs in its own process (the knob is read
once per process).  usage: python3 scripts/device/bwd_ec_check_s23.py"""
import os, subprocess, sys, tempfile
SHAPES = [  # B, Sq, Sk, H, Hk, D, causal
    (32, 512, 512, 16, 16, 128, 0), (32, 512, 512, 16, 16, 128, 1), (16, 1024, 1024, 16, 16, 128, 0), (16, 1024, 1024, 16, 16, 128, 1),
    (64, 256, 256, 4, 2, 128, 0), (60, 300, 520, 4, 4, 96, 1), (60, 520, 300, 4, 4, 128, 1), (32, 512, 512, 32, 32, 64, 1),
    (24, 1000, 1000, 8, 8, 64, 0), (8, 2048, 2048, 16, 16, 128, 0),
]
# Session 24: BEC_SHAPES="B,Sq,Sk,H,Hk,D,causal;..." replaces them (the wide kernel's dependent conversion at D = 192 / 256).
if os.environ.get("BEC_SHAPES"):
    SHAPES = [tuple(int(x) for x in s.split(",")) for s in os.environ["BEC_SHAPES"].split(";")]
if len(sys.argv) > 1 and sys.argv[1] == "--worker":
    import torch
    from flash_attn import flash_attn_func
    out = {}
    for i, (B, sq, sk, H, Hk, D, causal) in enumerate(SHAPES):
        for det in (True, False):
            g = torch.Generator(device="cuda").manual_seed(1000 + i)
            dt = torch.bfloat16 if i % 2 == 0 else torch.float16
            q = torch.randn(B, sq, H, D, device="cuda", generator=g).to(dt).requires_grad_()
            k = torch.randn(B, sk, Hk, D, device="cuda", generator=g).to(dt).requires_grad_()
            v = torch.randn(B, sk, Hk, D, device="cuda", generator=g).to(dt).requires_grad_()
            do = torch.randn(B, sq, H, D, device="cuda", generator=g).to(dt)
            o = flash_attn_func(q, k, v, causal=bool(causal), deterministic=det)
            out[(i, det)] = [x.cpu() for x in torch.autograd.grad(o, (q, k, v), do)]
    torch.save(out, sys.argv[2])
    sys.exit(0)
import torch
tmp = tempfile.mkdtemp()
res = {}
for setting in ("0", "1"):
    env = dict(os.environ, **{os.environ.get("BEC_KNOB", "FLASH_ATTENTION_HOPPER_BWD_EARLYCVT"): setting})
    r = subprocess.run([sys.executable, __file__, "--worker", f"{tmp}/g{setting}.pt"], env=env, capture_output=True, text=True)
    print(r.stdout[-2000:], r.stderr[-2000:] if r.returncode else "", end="")
    if r.returncode: sys.exit(f"worker knob={setting} failed: {r.returncode}")
    res[setting] = torch.load(f"{tmp}/g{setting}.pt")
bad = 0
for key in res["0"]:
    a, b = res["0"][key], res["1"][key]
    same = all(torch.equal(x, y) for x, y in zip(a, b)) and all(torch.isfinite(x.float()).all() for x in b)
    bad += not same
    shape = SHAPES[key[0]]
    print(f"{'ok  ' if same else 'DIFF'} B={shape[0]} Sq={shape[1]} Sk={shape[2]} H={shape[3]}/{shape[4]} D={shape[5]} causal={shape[6]} det={int(key[1])}"
          + ("" if same else " max |d| " + " ".join(f"{(x.float() - y.float()).abs().max().item():.3g}" for x, y in zip(a, b))), flush=True)
print(f"ec check: {len(res['0']) - bad} bitwise equal, {bad} differ")
