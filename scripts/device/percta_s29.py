#!/usr/bin/env python3
"""Session 29: a short call's fixed cost per work unit, ours beside cuDNN. At unmasked tile D = 128 (bf16, B = 32, H = 16, so
2048 forward row tiles and 2048 backward key/value blocks at every length below), the forward runs Sq = 512 against
Sk = 256 … 2048 (2 … 16 key steps a row tile) and the backward Sk = 512 against Sq = 256 … 2048 (4 … 32 query steps a key
block); torch.profiler takes each kernel's mean time over 16 calls after warm-up. A straight line through the main kernel's
time against the steps a unit splits it into the part that grows with the steps and the intercept, the fixed cost of the
units (per unit: intercept × 132 / 2048 µs). PC_D=64 runs tile D = 64 (H = 32)."""
import os
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import profile, ProfilerActivity
from flash_attn import flash_attn_func

D = int(os.environ.get("PC_D", "128"))
B, H = 32, 2048 // D
CALLS = 16


def kernels(fn):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(CALLS):
            fn()
        torch.cuda.synchronize()
    names = {}
    for e in prof.events():
        if e.device_type != torch.autograd.DeviceType.CUDA:
            continue
        c, t = names.get(e.name, (0, 0.0)); names[e.name] = (c + 1, t + e.time_range.elapsed_us())
    return sorted(((t / CALLS, n) for n, (c, t) in names.items()), reverse=True)


def fit(xs, ys):
    n = len(xs); mx = sum(xs) / n; my = sum(ys) / n
    b = sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / sum((x - mx) ** 2 for x in xs)
    return my - b * mx, b


def run(kind, lens):
    rows = {"ours": [], "cudnn": []}
    for L in lens:
        sq, sk = (512, L) if kind == "fwd" else (L, 512)
        q = torch.randn(B, sq, H, D, device="cuda", dtype=torch.bfloat16, requires_grad=True)
        k, v = (torch.randn(B, sk, H, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(2))
        do = torch.randn(B, sq, H, D, device="cuda", dtype=torch.bfloat16)
        qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
        if kind == "fwd":
            with torch.no_grad():
                ours = kernels(lambda: flash_attn_func(q, k, v))
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    cud = kernels(lambda: F.scaled_dot_product_attention(qt, kt, vt))
            steps = sk // 128
        else:
            out = flash_attn_func(q, k, v)
            ours = kernels(lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True))
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                out_c = F.scaled_dot_product_attention(qt, kt, vt)
            cud = kernels(lambda: torch.autograd.grad(out_c, (q, k, v), do.transpose(1, 2), retain_graph=True))
            steps = sq // 64
        for tag, ks in (("ours", ours), ("cudnn", cud)):
            total = sum(t for t, _ in ks)
            rows[tag].append((steps, ks[0][0], total))
            print(f"{kind} D={D} Sq={sq} Sk={sk} steps/unit={steps:3d} {tag:5}: main {ks[0][0]:8.1f} us ({ks[0][1][:70]}), all kernels {total:8.1f} us; "
                  + "; ".join(f"{n[:40]} {t:.1f}" for t, n in ks[1:4]), flush=True)
        del q, k, v, do
    for tag in rows:
        xs = [r[0] for r in rows[tag]]
        a, b = fit(xs, [r[1] for r in rows[tag]])
        a2, b2 = fit(xs, [r[2] for r in rows[tag]])
        print(f"FIT {kind} D={D} {tag:5}: main kernel = {a:7.1f} + {b:6.2f} x steps us (fixed {a * 132 / 2048:5.2f} us a unit on 132 SMs, "
              f"{b * 132 / 2048:5.3f} us a step; at 512: fixed {100 * a / (a + b * (4 if kind == 'fwd' else 8)):4.1f} %); "
              f"all kernels = {a2:7.1f} + {b2:6.2f} x steps", flush=True)


run("fwd", [256, 512, 1024, 2048])
run("bwd", [256, 512, 1024, 2048])
