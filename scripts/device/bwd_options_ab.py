#!/usr/bin/env python3
"""Times the CUDA backward of option problems (softcap, ALiBi, dropout, windows, varlen, strided tensors) through the
Python package's raw backward (`_backward`, after one forward), for A/B runs of two builds of libflashattention.so:
run it once per build (FLASH_ATTENTION_LIB, its own FLASH_ATTENTION_CACHE_DIR), alternating, and compare the lines.
  usage: python3 scripts/device/bwd_options_ab.py LABEL [--iters N] [--only a,b]
         python3 scripts/device/bwd_options_ab.py --summarize FILE...   (old / new medians of such lines, per file)
Prints one line per problem: label, problem, median ms, TFLOP/s (2.5 · 4·B·H·Sq·Sk·D, halved for causal; a window
counts its visible keys), and the gradients' norms (the A/B runs must agree on them)."""
import collections, math, statistics, sys


def summarize(path):
    times = collections.defaultdict(lambda: collections.defaultdict(list)); norms = collections.defaultdict(dict)
    for line in open(path):
        f = line.split()
        times[f[1]][f[0]].append(float(f[2])); norms[f[1]][f[0]] = f[-3:]
    print(f"--- {path}: problem, old ms, new ms, new/old time, norms agree")
    for name, d in times.items():
        o, n = statistics.median(d.get("old", [0])), statistics.median(d.get("new", [0]))
        a, b = norms[name].get("old", ["nan"] * 3), norms[name].get("new", ["nan"] * 3)
        agree = max(abs(float(x) - float(y)) / max(abs(float(y)), 1e-30) for x, y in zip(a, b)) < 2e-3
        print(f"{name:30s} {o:8.3f} {n:8.3f} {n / o if o else 0:6.3f} {agree}")


if sys.argv[1] == "--summarize":
    for path in sys.argv[2:]:
        summarize(path)
    sys.exit(0)

import torch
from flash_attn import flash_attn_interface as fa

label = sys.argv[1]
iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 20
only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None

# name: (B, H, N, D, causal, window, softcap, alibi, dropout, layout)   layout: dense | strided (dim stride 2) | varlen
PROBLEMS = {
    "d64_causal_softcap_4k":        (2, 16, 4096, 64, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "d64_softcap_alibi_2k":         (4, 16, 2048, 64, False, (-1, -1), 30.0, True, 0.0, "dense"),
    "d64_window_softcap_4k":        (2, 16, 4096, 64, False, (512, 0), 30.0, False, 0.0, "dense"),
    "d128_causal_softcap_4k":       (2, 16, 4096, 128, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "d128_alibi_8k":                (1, 16, 8192, 128, False, (-1, -1), 0.0, True, 0.0, "dense"),
    "d128_causal_softcap_alibi_2k": (4, 16, 2048, 128, True, (-1, -1), 30.0, True, 0.0, "dense"),
    "d128_causal_dropout_2k":       (4, 16, 2048, 128, True, (-1, -1), 0.0, False, 0.1, "dense"),
    "d128_causal_varlen_4k":        (2, 16, 4096, 128, True, (-1, -1), 0.0, False, 0.0, "varlen"),
    "d128_causal_all_options_2k":   (4, 16, 2048, 128, True, (-1, -1), 30.0, True, 0.1, "varlen"),
    "d96_causal_softcap_2k":        (4, 16, 2048, 96, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "d160_causal_dropout_2k":       (4, 16, 2048, 160, True, (-1, -1), 0.0, False, 0.1, "dense"),
    "d128_causal_strided_2k":       (4, 16, 2048, 128, True, (-1, -1), 0.0, False, 0.0, "strided"),
    "d256_causal_strided_2k":       (4, 16, 2048, 256, True, (-1, -1), 0.0, False, 0.0, "strided"),
    "d64_causal_2k":                (4, 16, 2048, 64, True, (-1, -1), 0.0, False, 0.0, "dense"),
    "d128_causal_2k":               (4, 16, 2048, 128, True, (-1, -1), 0.0, False, 0.0, "dense"),
    "d128_window_4k":               (2, 16, 4096, 128, False, (512, 0), 0.0, False, 0.0, "dense"),
}


def make(shape, dt, layout):
    b, n, h, d = shape
    if layout == "strided":
        # Last dim stride 2: the element-wise (scalar) loaders, mma.sync on sm_90a.
        return torch.randn(b, n, h, d, 2, device="cuda").to(dt)[..., 0]
    return torch.randn(b, n, h, d, device="cuda").to(dt)


torch.manual_seed(0)
for name, (b, h, n, d, causal, window, softcap, alibi, p, layout) in PROBLEMS.items():
    if only and name not in only:
        continue
    dt = torch.bfloat16
    q, k, v, do = (make((b, n, h, d), dt, layout) for _ in range(4))
    slopes = (torch.rand(h, device="cuda") * 0.1 + 0.01).float() if alibi else None
    scale = 1.0 / math.sqrt(d)
    seed = 1234 if p > 0 else 0
    varlen = None
    if layout == "varlen":
        # b sequences of uneven lengths summing to b·n tokens, packed.
        lengths = [n + (n // 4 if i % 2 == 0 else -(n // 4)) for i in range(b)]
        cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32)  # host offsets (raw API)
        q, k, v, do = (x.reshape(b * n, h, d) for x in (q, k, v, do))
        varlen = (cu, cu, max(lengths), max(lengths))
    try:
        out, lse = fa._forward(q, k, v, p, scale, causal, window, softcap, slopes, True, seed, varlen)
        dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

        def run():
            fa._backward(do, q, k, v, out, lse, dq, dk, dv, p, scale, causal, window, softcap, slopes, True, seed, varlen)

        run(); torch.cuda.synchronize()
        times = []
        for _ in range(iters):
            s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            s.record(); run(); e.record(); torch.cuda.synchronize()
            times.append(s.elapsed_time(e))
        ms = sorted(times)[len(times) // 2]
        if window[0] >= 0:
            pairs = sum(min(window[0], i) + 1 for i in range(n))  # causal window (left w, right 0)
        else:
            pairs = n * n / 2 if causal else n * n
        flops = 2.5 * 4 * b * h * pairs * d
        norms = " ".join(f"{x.float().norm().item():.6g}" for x in (dq, dk, dv))
        print(f"{label} {name} {ms:.3f} ms {flops / ms / 1e9:.1f} TFLOP/s norms {norms}", flush=True)
    except Exception as error:  # one failing problem must not hide the others
        print(f"{label} {name} FAILED {type(error).__name__}: {error}", file=sys.stderr, flush=True)
