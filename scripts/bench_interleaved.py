#!/usr/bin/env python3
"""Times our kernels and PyTorch SDPA's cuDNN and flash (FA2) backends point by point in ONE process,
rotating their order every round, so each point's three implementations run at the same thermal and
power state of the card.

Why: `flash-attn compile --bench` and scripts/bench_cuda.py time the whole grid one implementation after
the other, minutes apart. Under the H100's 700 W cap that moved our long-N forward 5-10 % between two
rounds of the same kernel (session 9's closing call: the first round, after an idle gap, read high; cuDNN
read level), which no kernel change of a few percent can be told from. Here every implementation of a
point is timed within a second of the others, R times, and the median of the R rounds is reported.

Ours runs through the Python package (flash_attn.flash_attn_func on CUDA tensors, the C ABI, the
kernels launched on torch's current stream): the same kernels the Swift bench times, plus ~10-25 us of
host wrapper per call, which the GPU does not see while launches queue ahead of it (the smallest grid
point takes > 100 us). The forward runs under torch.no_grad() for all three (no LSE kept by SDPA, ours
writes it). The backward is torch.autograd.grad of one forward's output (graph retained) for all three;
ours is the reference library's default, non-deterministic.

Grid: 16384 tokens per batch (B = 16384 / N), hidden 2048 (H = 2048 / D), D in {64, 128, 256},
N in {512 ... 16384}, causal and not, bf16 and fp16. FLOPs 4*B*H*N^2*D, halved for causal, x2.5 for the
backward. Timing: CUDA events, the median of --iters calls after --warmup, per round.

    FLASH_ATTENTION_LIB=.../libflashattention.so PYTHONPATH=python \\
      python3 scripts/bench_interleaved.py --passes fwd,bwd --rounds 3 --out interleaved.csv
"""
import argparse
import math
import statistics
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from bench_common import time_ms, write_rows

from flash_attn import flash_attn_func

IMPLS = ("ours", "cudnn", "flash")
BACKENDS = {"cudnn": SDPBackend.CUDNN_ATTENTION, "flash": SDPBackend.FLASH_ATTENTION}


def forward_fn(impl, q, k, v, causal):
    if impl == "ours":
        return lambda: flash_attn_func(q, k, v, causal=causal)
    qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
    backend = BACKENDS[impl]

    def run():
        with sdpa_kernel(backend):
            return F.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
    return run


def backward_fn(impl, q, k, v, do, causal):
    """The backward alone: one forward with a retained graph, then autograd.grad of its output."""
    if impl == "ours":
        out = flash_attn_func(q, k, v, causal=causal)
        grad_out = do
    else:
        with sdpa_kernel(BACKENDS[impl]):
            out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=causal)
        grad_out = do.transpose(1, 2)
    return lambda: torch.autograd.grad(out, (q, k, v), grad_out, retain_graph=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--passes", default="fwd,bwd")
    ap.add_argument("--dims", default="64,128,256")
    ap.add_argument("--seqlens", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--iters", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--out", help="CSV: one row per point with each implementation's median and every round")
    args = ap.parse_args()

    tokens, hidden = 16384, 2048
    print(f"device: {torch.cuda.get_device_name(0)}; torch {torch.__version__}; rounds {args.rounds}", flush=True)
    rows = []
    for pname in args.passes.split(","):
        backward = pname == "bwd"
        for dname in args.dtypes.split(","):
            dtype = torch.bfloat16 if dname == "bf16" else torch.float16
            for D in [int(x) for x in args.dims.split(",")]:
                for N in [int(x) for x in args.seqlens.split(",")]:
                    B, H = tokens // N, hidden // D
                    q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dtype, requires_grad=backward) for _ in range(3))
                    do = torch.randn(B, N, H, D, device="cuda", dtype=dtype) if backward else None
                    for causal in (0, 1):
                        flops = 4 * B * H * N * N * D * (0.5 if causal else 1) * (2.5 if backward else 1)
                        fns = {}
                        for impl in IMPLS:
                            try:
                                if backward:
                                    fns[impl] = backward_fn(impl, q, k, v, do, bool(causal))
                                else:
                                    fns[impl] = forward_fn(impl, q, k, v, bool(causal))
                            except Exception as e:  # a backend may refuse a shape
                                print(f"  {impl} unavailable at {pname} {dname} D={D} N={N} causal={causal}: "
                                      f"{str(e).splitlines()[0][:120]}", file=sys.stderr)
                        tflops = {impl: [] for impl in fns}
                        for r in range(args.rounds):
                            order = list(fns)[r % len(fns):] + list(fns)[:r % len(fns)]
                            for impl in order:
                                try:
                                    with torch.no_grad() if not backward else torch.enable_grad():
                                        ms = time_ms(fns[impl], args.warmup, args.iters)
                                    tflops[impl].append(flops / (ms * 1e-3) / 1e12)
                                except Exception as e:
                                    print(f"  {impl} failed at {pname} {dname} D={D} N={N} causal={causal}: "
                                          f"{str(e).splitlines()[0][:120]}", file=sys.stderr)
                        row = {"pass": pname, "dtype": dname, "headdim": D, "seqlen": N, "causal": causal}
                        for impl in IMPLS:
                            xs = tflops.get(impl, [])
                            row[impl] = statistics.median(xs) if xs else float("nan")
                            row[impl + "_rounds"] = " ".join(f"{x:.1f}" for x in xs)
                        rows.append(row)
                        oc = row["ours"] / row["cudnn"]
                        print(f"{pname} {dname} D={D:3} N={N:5} c={causal} ours {row['ours']:6.1f} cudnn {row['cudnn']:6.1f} "
                              f"flash {row['flash']:6.1f} ours/cudnn {oc:.3f} [{row['ours_rounds']} | {row['cudnn_rounds']}]", flush=True)
                        del fns
                    del q, k, v, do
                    torch.cuda.empty_cache()
    write_rows(args.out, rows)
    for pname in args.passes.split(","):
        sel = [r for r in rows if r["pass"] == pname and r["ours"] == r["ours"] and r["cudnn"] == r["cudnn"]]
        if not sel:
            continue
        rc = [r["ours"] / r["cudnn"] for r in sel]
        rf = [r["ours"] / r["flash"] for r in sel if r["flash"] == r["flash"]]
        gm = math.exp(sum(map(math.log, rc)) / len(rc))
        print(f"{pname}: ours/cuDNN {min(rc):.3f}-{max(rc):.3f}, >= 1.0 at {sum(x >= 1.0 for x in rc)}/{len(rc)}, "
              f">= 1.1 at {sum(x >= 1.1 for x in rc)}/{len(rc)}, geomean {gm:.3f}; ours/FA2 {min(rf):.2f}-{max(rf):.2f}")
        for D in sorted({r["headdim"] for r in sel}):
            sub = [r for r in sel if r["headdim"] == D]
            print(f"  D={D}: ours/cuDNN {min(r['ours'] / r['cudnn'] for r in sub):.3f}-{max(r['ours'] / r['cudnn'] for r in sub):.3f}, "
                  f"best ours {max(r['ours'] for r in sub):.0f}")


if __name__ == "__main__":
    main()
