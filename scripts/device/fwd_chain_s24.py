#!/usr/bin/env python3
"""Session 24: the Hopper forward's programmatic dependent launch (FLASH_ATTENTION_HOPPER_PDL=1) against the plain launch
(=0), bitwise. Each call's query is the previous call's output (so a call that read Q before the previous kernel completed
would read stale or partial rows), over 12 back-to-back calls per shape: unmasked and causal (the dynamic scheduler's
counter, which every launch leaves zero for the next), D = 64 / 128 / 256, Sq != Sk, GQA, the short rows (512-1k keys,
where the launches overlap most). Between the chains a backward call (its preprocess follows a memset, then the key/value
kernel and the conversion) so the next forward follows another kernel family. Each setting runs in its own process (the
knob is read once per process).   usage: python3 scripts/device/fwd_chain_s24.py  (prints one line per shape, then a summary)"""
import os, subprocess, sys, tempfile

SHAPES = [  # B, Sq, Sk, H, Hk, D, causal  (Sq = D rows chain: q_{i+1} = o_i, so Hq and D stay)
    (32, 512, 512, 16, 16, 128, 0), (32, 512, 512, 16, 16, 128, 1), (32, 512, 512, 32, 32, 64, 1), (32, 512, 512, 32, 32, 64, 0),
    (16, 1024, 1024, 8, 8, 256, 0), (16, 1024, 1024, 8, 8, 256, 1), (24, 700, 900, 8, 2, 128, 1), (24, 900, 700, 8, 4, 64, 1),
    (8, 2048, 2048, 16, 16, 128, 1),
]
CALLS = 12
if len(sys.argv) > 1 and sys.argv[1] == "--worker":
    import torch
    from flash_attn import flash_attn_func
    out = {}
    for i, (B, sq, sk, H, Hk, D, causal) in enumerate(SHAPES):
        g = torch.Generator(device="cuda").manual_seed(2400 + i)
        dt = torch.bfloat16 if i % 2 == 0 else torch.float16
        q = torch.randn(B, sq, H, D, device="cuda", generator=g).to(dt)
        k = torch.randn(B, sk, Hk, D, device="cuda", generator=g).to(dt)
        v = torch.randn(B, sk, Hk, D, device="cuda", generator=g).to(dt)
        x = q
        with torch.no_grad():
            for _ in range(CALLS):
                # Scale 1 (not 1/sqrt(D)): peaked rows, so each output depends strongly on its query; nothing between calls.
                x = flash_attn_func(x, k, v, softmax_scale=1.0, causal=bool(causal))
        out[i] = x.cpu()
        # A backward between the shapes (another kernel family ahead of the next chain's first call).
        qq, kk, vv = (t.clone().requires_grad_() for t in (q, k, v))
        torch.autograd.grad(flash_attn_func(qq, kk, vv, causal=bool(causal)), (qq, kk, vv), torch.ones_like(q))
    torch.cuda.synchronize()
    torch.save(out, sys.argv[2])
    sys.exit(0)
import torch
knob = os.environ.get("FC_KNOB", "FLASH_ATTENTION_HOPPER_PDL")
res = {}
with tempfile.TemporaryDirectory() as tmp:
    for val in ("0", "1"):
        path = os.path.join(tmp, f"o{val}.pt")
        env = dict(os.environ, **{knob: val})
        subprocess.run([sys.executable, __file__, "--worker", path], env=env, check=True)
        res[val] = torch.load(path)
bad = 0
for i, s in enumerate(SHAPES):
    a, b = res["0"][i], res["1"][i]
    same = torch.equal(a, b)
    finite = bool(torch.isfinite(b.float()).all())
    bad += (not same) or (not finite)
    print(f"chain {s}: {'EQUAL' if same else 'DIFF max ' + str((a.float() - b.float()).abs().max().item())} finite={finite} "
          f"|o|max={b.float().abs().max().item():.3f}")
print(f"chain check: {len(SHAPES) - bad}/{len(SHAPES)} equal and finite ({knob} 0 vs 1, {CALLS} chained calls each)")
sys.exit(1 if bad else 0)
