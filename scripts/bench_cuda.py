#!/usr/bin/env python3
"""Times PyTorch's scaled_dot_product_attention (flash and cuDNN backends) on the reference grid
and prints it beside our kernels' numbers (the CSV of `flash-attn compile --bench --bench-csv`).

Grid: 16384 tokens per batch (B = 16384 / N), hidden 2048 (H = 2048 / D), D in {64, 128, 256},
N in {512 ... 16384}, causal and not, bf16 and fp16. FLOPs 4*B*H*N^2*D, halved for causal.
Timing: CUDA events, median of `--iters` calls after warm-up, fresh random inputs per point.

    python3 scripts/bench_cuda.py --ours ours.csv [--out torch.csv] [--dims 64,128,256] ...
"""
import argparse
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

from bench_common import add_grid_arguments, print_table, read_ours, time_ms, write_rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ours", help="CSV from flash-attn compile --bench --bench-csv")
    ap.add_argument("--out", help="write torch timings as CSV here")
    add_grid_arguments(ap, iters=20, warmup=3)
    args = ap.parse_args()

    ours = read_ours(args.ours)

    tokens, hidden = 16384, 2048
    rows = []
    dev = torch.cuda.get_device_name(0)
    print(f"device: {dev}; torch {torch.__version__}")
    for dname in args.dtypes.split(","):
        dtype = torch.bfloat16 if dname == "bf16" else torch.float16
        for D in [int(x) for x in args.dims.split(",")]:
            for N in [int(x) for x in args.seqlens.split(",")]:
                B, H = tokens // N, hidden // D
                # SDPA takes (B, H, N, D); transposing (B, N, H, D) matches our layout in memory.
                q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dtype).transpose(1, 2) for _ in range(3))
                for causal in (0, 1):
                    flops = 4 * B * H * N * N * D * (0.5 if causal else 1)
                    result = {"dtype": dname, "headdim": D, "seqlen": N, "causal": causal}
                    for name, backend in (("flash", SDPBackend.FLASH_ATTENTION), ("cudnn", SDPBackend.CUDNN_ATTENTION)):
                        try:
                            with sdpa_kernel(backend):
                                ms = time_ms(lambda: F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal)),
                                             args.warmup, args.iters)
                            result[name] = flops / (ms * 1e-3) / 1e12
                        except Exception as e:  # a backend may not support a shape (cuDNN and D=256)
                            result[name] = float("nan")
                            print(f"  {name} failed at {dname} D={D} N={N} causal={causal}: {str(e).splitlines()[0][:120]}",
                                  file=sys.stderr)
                    result["ours"] = ours.get((dname, D, N, causal), float("nan"))
                    rows.append(result)
                del q, k, v
                torch.cuda.empty_cache()

    write_rows(args.out, rows)
    print_table(rows, "ours/flash")


if __name__ == "__main__":
    main()
