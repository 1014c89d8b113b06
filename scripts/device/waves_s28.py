#!/usr/bin/env python3
"""Session 28: does the forward lose time to wave quantization on the persistent grid?

The reference grid (16k tokens, hidden 2048) gives the unmasked forward 2048 row tiles at D = 128 (and 1024 at D = 256,
3072 / 2816 at D = 64's 192-row tiles), 15.5 (7.8, 23.3 / 21.3) tiles per multiprocessor on 132: the last round leaves
part of the card idle, up to 3 % of the call if every tile costs the same. This probe times ours and cuDNN (PyTorch SDPA)
at one length while the head count (B = 1) walks across the tile-count multiples of the SM count; a staircase in the time
per head (flat TFLOP/s between steps, a jump right after each multiple) is that loss, and its size is what a balanced
schedule could win at the grid points.

    FLASH_ATTENTION_LIB=.../libflashattention.so PYTHONPATH=python:scripts python3 scripts/device/waves_s28.py [CASES]

CASES: "D,N,rows_per_tile,h1:h2:...;..." (default below). Prints one line per (case, heads): tiles, tiles / SMs,
ours and cuDNN TFLOP/s (median of rounds, each the median of --iters calls).
"""
import math
import os
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from bench_common import time_ms
from flash_attn import flash_attn_func

SMS = torch.cuda.get_device_properties(0).multi_processor_count


def default_cases():
    # D = 128, N = 1k: 8 tiles a head, boundaries at 247.5 / 264 heads; the grid point is 256 heads.
    # D = 256, N = 1k: boundaries at 123.75 / 132 (grid: 128 heads). D = 128, N = 4k: 32 tiles a head, grid 64 heads
    # (2048 tiles), boundaries at 61.9 / 66.
    return [
        (128, 1024, 128, [240, 246, 247, 248, 250, 256, 262, 264, 265, 270]),
        (256, 1024, 128, [120, 123, 124, 126, 128, 131, 132, 133]),
        (128, 4096, 128, [60, 61, 62, 63, 64, 65, 66, 67]),
        (64, 1024, 192, [480, 484, 485, 490, 500, 512, 520, 528, 529]),
    ]


def parse(text):
    out = []
    for part in text.split(";"):
        d, n, rows, hs = part.split(",")
        out.append((int(d), int(n), int(rows), [int(h) for h in hs.split(":")]))
    return out


def main():
    cases = parse(sys.argv[1]) if len(sys.argv) > 1 else default_cases()
    rounds = int(os.environ.get("W28_ROUNDS", "3"))
    dtype = torch.bfloat16 if os.environ.get("W28_DTYPE", "bf16") == "bf16" else torch.float16
    print(f"device {torch.cuda.get_device_name(0)}, {SMS} SMs, dtype {dtype}, rounds {rounds}", flush=True)
    print("D,N,heads,tiles,tiles_per_sm,ours_tflops,cudnn_tflops,ours_over_cudnn")
    for D, N, rows, heads in cases:
        for h in heads:
            q, k, v = (torch.randn(1, N, h, D, device="cuda", dtype=dtype) for _ in range(3))
            qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))

            def ours():
                return flash_attn_func(q, k, v, causal=False)

            def cudnn():
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    return F.scaled_dot_product_attention(qt, kt, vt)
            flops = 4 * h * N * N * D
            res = {"ours": [], "cudnn": []}
            with torch.no_grad():
                for r in range(rounds):
                    for name, fn in ((("ours", ours), ("cudnn", cudnn)) if r % 2 == 0 else (("cudnn", cudnn), ("ours", ours))):
                        res[name].append(flops / (time_ms(fn, 3, 20) * 1e-3) / 1e12)
            o, c = statistics.median(res["ours"]), statistics.median(res["cudnn"])
            tiles = h * math.ceil(N / rows)
            print(f"{D},{N},{h},{tiles},{tiles / SMS:.2f},{o:.1f},{c:.1f},{o / c:.3f}", flush=True)
            del q, k, v, qt, kt, vt
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main()
