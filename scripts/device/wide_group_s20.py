#!/usr/bin/env python3
"""Session 20: the wide backward (tile D = 256) by grid order. One process per FLASH_ATTENTION_HOPPER_BWD_GROUP setting (the
knob is read once); per shape the median TFLOP/s of ITERS timed calls (CUDA events around autograd.grad of one retained
forward, non-deterministic flash_attn_func) after 3 warm-up calls. Prints one line a shape: `G shape tflops`."""
import os, sys, torch
from flash_attn import flash_attn_func
ITERS = int(os.environ.get("WG_ITERS", "10"))
G = os.environ.get("FLASH_ATTENTION_HOPPER_BWD_GROUP", "d")  # d: unset, the default
shapes = [(1, 16384, 8, 0), (1, 16384, 8, 1), (1, 16384, 16, 0), (1, 16384, 16, 1), (2, 8192, 16, 0), (4, 4096, 8, 0),
          (4, 4096, 8, 1), (8, 2048, 8, 0), (1, 16384, 32, 0)]
# WG_D (head dim, default 256) and WG_SHAPES="B,N,H,causal;…" (session 21: tile D = 128 at many heads).
D = int(os.environ.get("WG_D", "256"))
if os.environ.get("WG_SHAPES"):
    shapes = [tuple(int(x) for x in t.split(",")) for t in os.environ["WG_SHAPES"].split(";")]
# WG_DET=1 (session 21): deterministic calls (the wide kernel's two-stage form when unmasked from 4k keys).
DET = os.environ.get("WG_DET") == "1"
for B, N, H, causal in shapes:
    dt = torch.bfloat16
    q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dt, requires_grad=True) for _ in range(3))
    do = torch.randn(B, N, H, D, device="cuda", dtype=dt)
    out = flash_attn_func(q, k, v, causal=bool(causal), deterministic=DET)
    fl = 4 * B * H * N * N * D * 2.5 * (0.5 if causal else 1)
    ts = []
    for i in range(3 + ITERS):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); torch.autograd.grad(out, (q, k, v), do, retain_graph=True); e.record(); torch.cuda.synchronize()
        if i >= 3: ts.append(s.elapsed_time(e))
    ts.sort(); ms = ts[len(ts) // 2]
    print(f"G{G}{'det' if DET else ''} D={D} B={B} N={N} H={H} c={causal} {fl / ms / 1e9:.1f} TFLOP/s (min {fl / ts[-1] / 1e9:.0f} max {fl / ts[0] / 1e9:.0f})", flush=True)
    del q, k, v, do, out; torch.cuda.empty_cache()
