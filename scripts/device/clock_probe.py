#!/usr/bin/env python3
"""SM clock and board power while ours and PyTorch SDPA cuDNN run one grid point back to back (issue 9's bar question:
how far is each implementation from the card's power-capped peak?).

Each (point, implementation) runs in a loop for --seconds with nvidia-smi sampling clocks.sm and power.draw every 50 ms
in the background; the report averages the samples inside each window (its first 0.5 s dropped) and times the window
with CUDA events, so TFLOP/s and the clock come from the same seconds. Dense bf16 peak at clock f (MHz): 989.4 * f / 1830.

    FLASH_ATTENTION_LIB=.../libflashattention.so PYTHONPATH=python python3 scripts/device/clock_probe.py [--seconds 3]

The window loop and the nvidia-smi sampler / parsing are sustained.py's (shared with hopper_bwd21.py / hopper_fwd29.py).
"""
import argparse
import os
import subprocess
import sys
import time

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from flash_attn import flash_attn_func

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sustained as sus  # noqa: E402

POINTS = [  # (pass, D, N, causal)
    ("fwd", 128, 8192, 0), ("fwd", 256, 8192, 0), ("fwd", 64, 8192, 0), ("fwd", 128, 16384, 1),
    ("fwd", 64, 512, 1), ("bwd", 128, 8192, 0), ("bwd", 64, 4096, 1),
    # the 16k rows where both implementations fall below their 8k rates (ours: backward causal D = 128 552 -> 494)
    ("fwd", 128, 16384, 0), ("bwd", 128, 8192, 1), ("bwd", 128, 16384, 1),
]


def make(impl, pname, q, k, v, do, causal):
    if impl == "ours":
        if pname == "fwd":
            return lambda: flash_attn_func(q, k, v, causal=causal)
        out = flash_attn_func(q, k, v, causal=causal)
        return lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    t = lambda x: x.transpose(1, 2)  # noqa: E731
    if pname == "fwd":
        def run():
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                return F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=causal)
        return run
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        out = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=causal)
    return lambda: torch.autograd.grad(out, (q, k, v), t(do), retain_graph=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--dtype", default="bf16")
    args = ap.parse_args()
    dtype = torch.bfloat16 if args.dtype == "bf16" else torch.float16
    log = "/tmp/clock_probe_smi.csv"
    smi = subprocess.Popen(sus.smi_command(temperature=True, mock=False), stdout=open(log, "w"))
    time.sleep(1.0)
    windows = []
    for pname, D, N, causal in POINTS:
        B, H = 16384 // N, 2048 // D
        bwd = pname == "bwd"
        q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dtype, requires_grad=bwd) for _ in range(3))
        do = torch.randn(B, N, H, D, device="cuda", dtype=dtype) if bwd else None
        flops = 4 * B * H * N * N * D * (0.5 if causal else 1) * (2.5 if bwd else 1)
        for rep in range(2):
            for impl in (("ours", "cudnn") if rep == 0 else ("cudnn", "ours")):
                fn = make(impl, pname, q, k, v, do, bool(causal))
                ctx = torch.enable_grad() if bwd else torch.no_grad()
                with ctx:
                    r = sus.sustain_window(torch, fn, args.seconds)
                windows.append((pname, D, N, causal, impl, rep, r["t0"] + 0.5, r["t1"], flops / (r["ms"] * 1e-3) / 1e12))
                time.sleep(1.0)
        del q, k, v, do
        torch.cuda.empty_cache()
    smi.terminate()
    smi.wait()
    samples = sus.smi_samples(log)
    print(f"device: {torch.cuda.get_device_name(0)}; {args.dtype}; {len(samples)} nvidia-smi samples")
    print("pass D N causal impl rep | TFLOP/s | SM MHz (mean, min) | W (mean) | degC | dense peak at that clock | % of it")
    for pname, D, N, causal, impl, rep, a, b, tf in windows:
        inside = [s for s in samples if a <= s[0] <= b]
        if not inside:
            print(f"{pname} {D} {N} {causal} {impl} {rep} | {tf:.0f} | no samples")
            continue
        mhz = sum(s[1] for s in inside) / len(inside)
        w = sum(s[2] for s in inside) / len(inside)
        peak = 989.4 * mhz / 1830
        print(f"{pname} D={D} N={N} c={causal} {impl:5} r{rep} | {tf:6.1f} | {mhz:6.0f} {min(s[1] for s in inside):5.0f} | "
              f"{w:5.0f} | {inside[-1][3]:.0f} | {peak:5.0f} | {100 * tf / peak:4.1f} %")


if __name__ == "__main__":
    main()
