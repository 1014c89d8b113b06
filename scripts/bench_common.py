"""What the PyTorch peer scripts (bench_cuda.py, bench_cuda_backward.py) share: the reference
grid's command-line options, CUDA-event timing, reading our CSV, and the comparison table."""
import csv

import torch


def time_ms(fn, warmup, iters):
    """Median of `iters` timed calls (CUDA events, one between each pair) after `warmup` calls."""
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


def add_grid_arguments(ap, iters, warmup):
    """The reference grid's options (head dims, sequence lengths, element types, timing)."""
    ap.add_argument("--dims", default="64,128,256")
    ap.add_argument("--seqlens", default="512,1024,2048,4096,8192,16384")
    ap.add_argument("--dtypes", default="bf16,fp16")
    ap.add_argument("--iters", type=int, default=iters)
    ap.add_argument("--warmup", type=int, default=warmup)


def read_ours(path):
    """Our TFLOPS per (dtype, head dim, seqlen, causal) from a bench CSV; empty without one."""
    ours = {}
    if path:
        with open(path) as f:
            for row in csv.DictReader(f):
                ours[(row["dtype"], int(row["headdim"]), int(row["seqlen"]), int(row["causal"]))] = float(row["tflops"])
    return ours


def write_rows(path, rows):
    """The rows as CSV (columns in the first row's order), when a path is given."""
    if path:
        with open(path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(rows[0].keys()))
            w.writeheader()
            w.writerows(rows)


def print_table(rows, summary_label):
    """One line per point with ours/flash and ours/cudnn, then the range of ours/flash."""
    print(f"{'dtype':5} {'D':>4} {'N':>6} {'causal':>6} {'ours':>7} {'flash':>7} {'cudnn':>7} {'ours/flash':>10} {'ours/cudnn':>10}")
    for r in rows:
        of = r["ours"] / r["flash"] if r["flash"] == r["flash"] and r["flash"] > 0 else float("nan")
        oc = r["ours"] / r["cudnn"] if r["cudnn"] == r["cudnn"] and r["cudnn"] > 0 else float("nan")
        print(f"{r['dtype']:5} {r['headdim']:>4} {r['seqlen']:>6} {r['causal']:>6} {r['ours']:7.1f} {r['flash']:7.1f} "
              f"{r['cudnn']:7.1f} {of:10.2f} {oc:10.2f}")
    ratios = [r["ours"] / r["flash"] for r in rows if r["flash"] == r["flash"] and r["ours"] == r["ours"]]
    if ratios:
        print(f"{summary_label}: min {min(ratios):.2f}, max {max(ratios):.2f}, points at >= 1.0: "
              f"{sum(x >= 1.0 for x in ratios)}/{len(ratios)}")
