#!/usr/bin/env python3
"""Times PyTorch's attention backward (SDPA with the flash and cuDNN backends) on the reference
grid and prints it beside ours (the CSV of `flash-attn backward-bench --bench --csv`).

Grid: 16384 tokens per batch (B = 16384 / N), hidden 2048 (H = 2048 / D), D in {64, 128, 256},
N in {512 ... 16384}, causal and not, bf16 and fp16. FLOPs 2.5 * 4*B*H*N^2*D, halved for causal.
Timing: the backward alone (torch.autograd.grad of one forward's output, graph retained), CUDA
events, median of `--iters` calls after warm-up, fresh random inputs per point.

    python3 scripts/bench_cuda_backward.py --ours ours.csv [--out torch.csv] [--dims 64,128,256] ...
"""
import argparse
import csv
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel


def time_ms(fn, warmup, iters):
    for _ in range(warmup):
        fn()
    torch.cuda.synchronize()
    events = [torch.cuda.Event(enable_timing=True) for _ in range(iters + 1)]
    events[0].record()
    for i in range(iters):
        fn()
        events[i + 1].record()
    torch.cuda.synchronize()
    times = sorted(events[i].elapsed_time(events[i + 1]) for i in range(iters))
    return times[len(times) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", help="CSV from flash-attn backward-bench --bench --csv")
    ap.add_argument("--out", help="write the combined rows as CSV here")
    ap.add_argument("--dims", default="64,128,256")
    ap.add_argument("--seqlens", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--iters", type=int, default=10)
    ap.add_argument("--warmup", type=int, default=2)
    args = ap.parse_args()

    ours = {}
    if args.ours:
        with open(args.ours) as f:
            for row in csv.DictReader(f):
                ours[(row["dtype"], int(row["headdim"]), int(row["seqlen"]), int(row["causal"]))] = float(row["tflops"])

    tokens, hidden = 16384, 2048
    rows = []
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    for dname in args.dtypes.split(","):
        dtype = torch.bfloat16 if dname == "bf16" else torch.float16
        for D in [int(x) for x in args.dims.split(",")]:
            for N in [int(x) for x in args.seqlens.split(",")]:
                B, H = tokens // N, hidden // D
                for causal in (0, 1):
                    flops = 2.5 * 4 * B * H * N * N * D * (0.5 if causal else 1)
                    result = {"dtype": dname, "headdim": D, "seqlen": N, "causal": causal}
                    for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                        try:
                            q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dtype).transpose(1, 2).requires_grad_()
                                       for _ in range(3))
                            do = torch.randn(B, H, N, D, device="cuda", dtype=dtype)
                            with sdpa_kernel(backend):
                                out = F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
                                ms = time_ms(lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True),
                                             args.warmup, args.iters)
                            result[name] = flops / (ms * 1e-3) / 1e12
                            del q, k, v, do, out
                        except Exception as e:  # a backend may not support a shape
                            result[name] = float("nan")
                            print(f"  {name} failed at {dname} D={D} N={N} causal={causal}: {str(e).splitlines()[0][:120]}",
                                  file=sys.stderr)
                        torch.cuda.empty_cache()
                    result["ours"] = ours.get((dname, D, N, causal), float("nan"))
                    rows.append(result)

    if args.out:
        with open(args.out, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)

    print(f"{'dtype':5} {'D':>4} {'N':>6} {'causal':>6} {'ours':>7} {'flash':>7} {'cudnn':>7} {'ours/flash':>10} {'ours/cudnn':>10}")
    for r in rows:
        of = r["ours"] / r["flash"] if r["flash"] == r["flash"] and r["flash"] > 0 else float("nan")
        oc = r["ours"] / r["cudnn"] if r["cudnn"] == r["cudnn"] and r["cudnn"] > 0 else float("nan")
        print(f"{r['dtype']:5} {r['headdim']:>4} {r['seqlen']:>6} {r['causal']:>6} {r['ours']:7.1f} {r['flash']:7.1f} "
              f"{r['cudnn']:7.1f} {of:10.2f} {oc:10.2f}")
    ratios = [r["ours"] / r["flash"] for r in rows if r["flash"] == r["flash"] and r["ours"] == r["ours"]]
    if ratios:
        print(f"backward ours/flash: min {min(ratios):.2f}, max {max(ratios):.2f}, points at >= 1.0: "
              f"{sum(x >= 1.0 for x in ratios)}/{len(ratios)}")


if __name__ == "__main__":
    main()
