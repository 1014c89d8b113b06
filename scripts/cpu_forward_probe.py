"""Scratch benchmark: our CPU forward (libflashattention.so via python/flash_attn) against
torch.nn.functional.scaled_dot_product_attention on the CPU, same shapes, timed interleaved in
one process so both see the same machine load.

    FLASH_ATTENTION_LIB=.build-fwd/ws/.build/release/libflashattention.so \
    PYTHONPATH=python python3 scripts/cpu_forward_probe.py [--n 512,2048] [--d 64,128] [--dtype float32,bfloat16]

FLOPs = 4·B·H·Sq·Sk·D, halved for causal. Reports best-of-reps GFLOP/s and ours/torch.
"""

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "python"))
import flash_attn  # noqa: E402


def best_time(fn, reps, budget_s):
    fn()  # warm up (page faults, caches, thread pools)
    times = []
    start = time.perf_counter()
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
        if time.perf_counter() - start > budget_s:
            break
    return min(times)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", default="512,2048,4096,8192")
    parser.add_argument("--d", default="64,128")
    parser.add_argument("--dtype", default="float32,bfloat16")
    parser.add_argument("--causal", default="0,1")
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--budget", type=float, default=6.0, help="seconds per measurement at most")
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    H, B = args.heads, 1
    print(f"torch {torch.__version__}, threads {args.threads}, H={H} B={B}")
    print(f"{'dtype':9} {'N':>5} {'D':>4} {'causal':>6} | {'ours GF/s':>9} {'torch GF/s':>10} | {'ratio':>5}")
    for dtype_name in args.dtype.split(","):
        dtype = getattr(torch, dtype_name)
        for d in map(int, args.d.split(",")):
            for n in map(int, args.n.split(",")):
                for causal in map(int, args.causal.split(",")):
                    g = torch.Generator().manual_seed(0)
                    q = torch.randn(B, n, H, d, generator=g).to(dtype)
                    k = torch.randn(B, n, H, d, generator=g).to(dtype)
                    v = torch.randn(B, n, H, d, generator=g).to(dtype)
                    # Each library in its native contiguous layout.
                    qt, kt, vt = (x.transpose(1, 2).contiguous() for x in (q, k, v))
                    flops = 4 * B * H * n * n * d * (0.5 if causal else 1)

                    def ours():
                        flash_attn.flash_attn_func(q, k, v, causal=bool(causal))

                    def theirs():
                        F.scaled_dot_product_attention(qt, kt, vt, is_causal=bool(causal))

                    # Interleave: ours, torch, ours, torch; keep each one's best.
                    t_ours = t_torch = float("inf")
                    for _ in range(2):
                        t_ours = min(t_ours, best_time(ours, args.reps, args.budget / 2))
                        t_torch = min(t_torch, best_time(theirs, args.reps, args.budget / 2))
                    go, gt = flops / t_ours * 1e-9, flops / t_torch * 1e-9
                    print(f"{dtype_name:9} {n:5d} {d:4d} {causal:6d} | {go:9.1f} {gt:10.1f} | {go / gt:5.2f}", flush=True)


if __name__ == "__main__":
    main()
