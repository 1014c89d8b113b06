#!/usr/bin/env python3
"""Session 33: the padded tile head dims on sm_90a (PaddedTileHeadDim) against the routes before them. Times, through the
Python package's raw calls, the forward of dense problems at head dims whose own tile (next multiple of 32) has no wgmma
kernel, a few forwards with options, and the generic backward's option / varlen problems at those head dims. Run once per
form, each in its own process (the knob is read once per process), alternating:
  FLASH_ATTENTION_PAD_TILES=0 python3 pad_tiles_ab.py off      # the routes before (mma.sync at tile 96 / 160 / 224)
  python3 pad_tiles_ab.py on                                   # the default map
  python3 pad_tiles_ab.py torch                                # PyTorch SDPA's cuDNN and flash backends, dense forwards
  python3 pad_tiles_ab.py --summarize FILE                     # medians per (problem, label), ratios to off and cuDNN
Lines: label problem ms TFLOP/s (FLOPs from the problem's own D: 4·B·H·Sq·Sk·D, halved for causal, backward 2.5×) and an
output norm (forms must agree)."""
import collections, math, statistics, sys


def summarize(path):
    ms = collections.defaultdict(lambda: collections.defaultdict(list))
    tf = collections.defaultdict(lambda: collections.defaultdict(list))
    for line in open(path):
        f = line.split()
        if len(f) >= 5 and f[3] == "ms":
            ms[f[1]][f[0]].append(float(f[2])); tf[f[1]][f[0]].append(float(f[4]))
    order = ["off", "on", "nocap", "plain", "g", "wide", "narrow", "cudnn", "flash", "flex"]
    labels = sorted({l for d in ms.values() for l in d}, key=lambda l: (order.index(l) if l in order else 9, l))
    others = [l for l in labels if l != "on"]
    print(f"--- {path}: median TFLOP/s per form; then on against each other form as a speed ratio (> 1: on is faster)")
    print("problem".ljust(30) + "".join(f"{l:>8s}" for l in labels) + "".join(f"{'on/' + l:>10s}" for l in others))
    for name in ms:
        med = {l: statistics.median(v) for l, v in ms[name].items()}
        cells = "".join(f"{statistics.median(tf[name][l]):8.1f}" if l in med else "       -" for l in labels)
        ratios = "".join(f"{med[l] / med['on']:10.3f}" if l in med and "on" in med else "         -" for l in others)
        print(f"{name:30s}{cells}{ratios}")


if len(sys.argv) > 1 and sys.argv[1] == "--summarize":
    for p in sys.argv[2:]:
        summarize(p)
    sys.exit(0)

import torch
from flash_attn import flash_attn_interface as fa

label = sys.argv[1]
iters = int(sys.argv[sys.argv.index("--iters") + 1]) if "--iters" in sys.argv else 20
only = set(sys.argv[sys.argv.index("--only") + 1].split(",")) if "--only" in sys.argv else None

# name: (kind, B, H, N, D, causal, window, softcap, alibi, dropout, layout)
def grid(kind, dims, lengths=(1024, 4096, 16384), heads=lambda d: 16, softcap=0.0, tag=""):
    """Dense problems of 16k tokens a batch, unmasked and causal: `<kind>_d<D>_[causal_]<tag><N>k`."""
    return {f"{kind}_d{d}_{'causal_' if c else ''}{tag}{n // 1024}k":
            (kind, 16384 // n, heads(d), n, d, c, (-1, -1), softcap, False, 0.0, "dense")
            for d in dims for c in (False, True) for n in lengths}


PROBLEMS = grid("fwd", (32, 80, 96, 160, 192, 224))
PROBLEMS.update({
    "fwd_d96_causal_softcap_4k":  ("fwd", 4, 16, 4096, 96, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "fwd_d160_softcap_4k":        ("fwd", 4, 16, 4096, 160, False, (-1, -1), 30.0, False, 0.0, "dense"),
    "fwd_d224_window_4k":         ("fwd", 4, 16, 4096, 224, False, (1024, 0), 0.0, False, 0.0, "dense"),
    "bwd_d96_causal_softcap_2k":  ("bwd", 4, 16, 2048, 96, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "bwd_d96_causal_varlen_4k":   ("bwd", 2, 16, 4096, 96, True, (-1, -1), 0.0, False, 0.0, "varlen"),
    "bwd_d80_alibi_2k":           ("bwd", 4, 16, 2048, 80, False, (-1, -1), 0.0, True, 0.0, "dense"),
    "bwd_d160_causal_softcap_2k": ("bwd", 4, 16, 2048, 160, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "bwd_d160_causal_dropout_2k": ("bwd", 4, 16, 2048, 160, True, (-1, -1), 0.0, False, 0.1, "dense"),
    "bwd_d224_causal_varlen_4k":  ("bwd", 2, 16, 4096, 224, True, (-1, -1), 0.0, False, 0.0, "varlen"),
    "bwd_d32_causal_softcap_4k":  ("bwd", 4, 16, 4096, 32, True, (-1, -1), 30.0, False, 0.0, "dense"),
})
# The second call's problems (--set 2): the rules' edges the first call left open.
SECOND = {
    "fwd_d32_2k":                 ("fwd", 8, 16, 2048, 32, False, (-1, -1), 0.0, False, 0.0, "dense"),
    "fwd_d32_causal_2k":          ("fwd", 8, 16, 2048, 32, True, (-1, -1), 0.0, False, 0.0, "dense"),
    "fwd_d32_causal_8k":          ("fwd", 2, 16, 8192, 32, True, (-1, -1), 0.0, False, 0.0, "dense"),
    "fwd_d160_4k":                ("fwd", 4, 16, 4096, 160, False, (-1, -1), 0.0, False, 0.0, "dense"),
    "fwd_d160_causal_4k":         ("fwd", 4, 16, 4096, 160, True, (-1, -1), 0.0, False, 0.0, "dense"),
    "fwd_d96_softcap_4k":         ("fwd", 4, 16, 4096, 96, False, (-1, -1), 30.0, False, 0.0, "dense"),
    "fwd_d96_causal_softcap_16k": ("fwd", 1, 16, 16384, 96, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "fwd_d80_causal_alibi_4k":    ("fwd", 4, 16, 4096, 80, True, (-1, -1), 0.0, True, 0.0, "dense"),
    "fwd_d96_window_4k":          ("fwd", 4, 16, 4096, 96, False, (1024, 0), 0.0, False, 0.0, "dense"),
    "fwd_d32_softcap_4k":         ("fwd", 4, 16, 4096, 32, False, (-1, -1), 30.0, False, 0.0, "dense"),
    "fwd_d224_causal_softcap_4k": ("fwd", 4, 16, 4096, 224, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "bwd_d160_causal_varlen_4k":  ("bwd", 2, 16, 4096, 160, True, (-1, -1), 0.0, False, 0.0, "varlen"),
    "bwd_d160_alibi_2k":          ("bwd", 4, 16, 2048, 160, False, (-1, -1), 0.0, True, 0.0, "dense"),
    "bwd_d32_causal_varlen_4k":   ("bwd", 2, 16, 4096, 32, True, (-1, -1), 0.0, False, 0.0, "varlen"),
    "bwd_d96_causal_dropout_2k":  ("bwd", 4, 16, 2048, 96, True, (-1, -1), 0.0, False, 0.1, "dense"),
    "bwd_d96_window_alibi_4k":    ("bwd", 2, 16, 4096, 96, False, (1024, 0), 0.0, True, 0.0, "dense"),
    "bwd_d224_causal_softcap_2k": ("bwd", 4, 16, 2048, 224, True, (-1, -1), 30.0, False, 0.0, "dense"),
    "bwd_d224_causal_dropout_2k": ("bwd", 4, 16, 2048, 224, True, (-1, -1), 0.0, False, 0.1, "dense"),
    "bwd_d80_varlen_8k":          ("bwd", 2, 16, 8192, 80, False, (-1, -1), 0.0, False, 0.0, "varlen"),
}
# The third (--set 3): the tile-192 TMA rows' lengths.
THIRD = grid("fwd", (160, 192), (1024, 2048, 4096, 16384))
# The fourth (--set 4, session 34): the products over D rounded up to 16 (FLASH_ATTENTION_HOPPER_PRODUCTS=0 as `off`).
FOURTH = grid("fwd", (32, 80, 96, 112, 160, 224)) | grid("fwd", (192,), (1024,)) | grid("fwd", (208,), (4096,))
# The fifth (--set 5, session 34): the Hopper backward's products over D rounded up to 16 (FLASH_ATTENTION_HOPPER_BWD_PRODUCTS=0
# as `off`); `cudnn` times SDPA's backward (autograd on one recorded forward) for these.
FIFTH = grid("bwd", (32, 80, 96, 112))
# The sixth (--set 6): the same at tile D = 256 (the wide kernel: Sᵀ and dPᵀ narrowed), D = 160 / 192 / 224.
SIXTH = grid("bwd", (160, 192, 224))
# The seventh (--set 7): softcap 30 on the TMA forward (FLASH_ATTENTION_HOPPER_SOFTCAP=0 as `off`: the generic wgmma loop);
# `--nocap` runs the same problems without it (the TMA kernel's plain speed, as label `nocap`).
SEVENTH = grid("fwd", (64, 128, 256), heads=lambda d: 2048 // d, softcap=30.0, tag="softcap_")
# The eighth (--set 8, session 35): sliding windows on the TMA forward (FLASH_ATTENTION_HOPPER_WINDOW=0 as `off`: the generic
# wgmma loop); `flex` times PyTorch's FlexAttention with the same window as a block mask (compiled once a problem).
# Mistral-style causal 4k windows at D = 128, gpt-oss-style 128-key windows at D = 64, Gemma-3-style 1k at D = 256,
# Gemma-2-style 4k with softcap 50, two-sided 256-key local attention; 16k tokens a batch, 2048 / D heads.
def windows(d, window, lengths, softcap=0.0, tag="w", kind="fwd"):
    return {f"{kind}_d{d}_{tag}_{n // 1024}k": (kind, max(1, 16384 // n), 2048 // d, n, d, window[1] == 0, window, softcap, False,
                                                0.0, "dense") for n in lengths}


EIGHTH = (windows(128, (4095, 0), (8192, 16384, 32768), tag="causal_w4k") | windows(64, (127, 0), (4096, 16384), tag="causal_w128")
          | windows(256, (1023, 0), (4096, 16384, 32768), tag="causal_w1k")
          | windows(128, (4095, 0), (16384,), softcap=50.0, tag="causal_w4k_softcap")
          | windows(128, (256, 256), (16384,), tag="local_w256") | windows(64, (1023, 0), (16384,), tag="causal_w1k")
          | windows(128, (511, 0), (16384,), tag="causal_w512") | windows(64, (511, 0), (16384,), tag="causal_w512")
          | windows(128, (127, 0), (16384,), tag="causal_w128") | windows(128, (1023, 0), (16384,), tag="causal_w1k")
          | windows(128, (2047, 0), (16384,), tag="causal_w2k") | windows(64, (255, 0), (16384,), tag="causal_w256"))
# The ninth (--set 9, session 35): ALiBi on the TMA forward (FLASH_ATTENTION_HOPPER_ALIBI=0 as `off`); `--noalibi` runs the
# same problems without it (label `plain`: the kernel's speed without the bias).
NINTH = {f"fwd_d{d}_{'causal_' if c else ''}alibi_{n // 1024}k": ("fwd", 16384 // n, 2048 // d, n, d, c, (-1, -1), 0.0, True, 0.0,
                                                                  "dense")
         for d in (64, 128, 256) for c in (False, True) for n in (1024, 4096, 16384)}
# The tenth (--set 10, session 35): the backward of windowed problems (the generic backward) beside the same shapes' causal
# backward (the warp-specialised one): what windowed training leaves on the table.
TENTH = {}
for d, w in ((128, 4095), (128, 1023), (256, 1023), (64, 1023), (64, 127)):
    TENTH |= windows(d, (w, 0), (16384,), tag=f"causal_w{w + 1}", kind="bwd")
for d in (64, 128, 256):
    TENTH |= windows(d, (-1, 0), (16384,), tag="causal", kind="bwd")
if "--set" in sys.argv:
    PROBLEMS = {"1": PROBLEMS, "2": SECOND, "3": THIRD, "4": FOURTH, "5": FIFTH, "6": SIXTH, "7": SEVENTH,
                "8": EIGHTH, "9": NINTH, "10": TENTH}[sys.argv[sys.argv.index("--set") + 1]]


def timed(run):
    run(); torch.cuda.synchronize()
    times = []
    for _ in range(iters):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); run(); e.record(); torch.cuda.synchronize()
        times.append(s.elapsed_time(e))
    return sorted(times)[len(times) // 2]


torch.manual_seed(0)
for name, (kind, b, h, n, d, causal, window, softcap, alibi, p, layout) in PROBLEMS.items():
    if only and not any(name.startswith(o) for o in only):
        continue
    if "--nocap" in sys.argv:
        softcap = 0.0
    if "--noalibi" in sys.argv:
        alibi = False
    if label in ("cudnn", "flash") and (softcap or window[0] >= 0 or alibi or p > 0 or layout != "dense"):
        continue
    q, k, v, do = (torch.randn(b, n, h, d, device="cuda", dtype=torch.bfloat16) for _ in range(4))
    slopes = (torch.rand(h, device="cuda") * 0.1 + 0.01).float() if alibi else None
    scale = 1.0 / math.sqrt(d)
    seed = 1234 if p > 0 else 0
    varlen = None
    if layout == "varlen":
        lengths = [n + (n // 4 if i % 2 == 0 else -(n // 4)) for i in range(b)]
        cu = torch.tensor([0] + list(torch.tensor(lengths).cumsum(0)), dtype=torch.int32)
        q, k, v, do = (x.reshape(b * n, h, d) for x in (q, k, v, do))
        varlen = (cu, cu, max(lengths), max(lengths))
    if window[0] >= 0 or window[1] >= 0:  # visible (query, key) pairs of the window, exactly (square problems)
        left, right = window[0] if window[0] >= 0 else n, (0 if causal else window[1] if window[1] >= 0 else n)
        pairs = sum(min(i + right, n - 1) - max(i - left, 0) + 1 for i in range(n))
    else:
        pairs = n * n / 2 if causal else n * n
    flops = (2.5 if kind == "bwd" else 1.0) * 4 * b * h * pairs * d
    try:
        if label == "flex":
            from torch.nn.attention.flex_attention import flex_attention, create_block_mask
            left, right = window
            right = 0 if causal else right

            def visible(b_, h_, qi, ki):
                return ((ki >= qi - left) if left >= 0 else (ki >= 0)) & ((ki <= qi + right) if right >= 0 else (ki >= 0))
            mask = create_block_mask(visible, None, None, n, n, device="cuda")
            flex = torch.compile(flex_attention)
            qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
            cap = softcap

            def score(s_, b_, h_, qi, ki):
                return cap * torch.tanh(s_ / cap)

            def run():
                return flex(qt, kt, vt, block_mask=mask, scale=scale, score_mod=score if cap else None)
            ms = timed(run)
            norm = run().float().norm().item()
        elif label in ("cudnn", "flash"):
            from torch.nn.attention import SDPBackend, sdpa_kernel
            qt, kt, vt = (x.transpose(1, 2) for x in (q, k, v))
            backend = SDPBackend.CUDNN_ATTENTION if label == "cudnn" else SDPBackend.FLASH_ATTENTION
            with sdpa_kernel([backend]):
                if kind == "fwd":
                    def run():
                        return torch.nn.functional.scaled_dot_product_attention(qt, kt, vt, is_causal=causal)
                    ms = timed(run)
                    norm = run().float().norm().item()
                else:
                    qg, kg, vg = (x.detach().requires_grad_() for x in (qt, kt, vt))
                    out = torch.nn.functional.scaled_dot_product_attention(qg, kg, vg, is_causal=causal)
                    dot = do.transpose(1, 2)

                    def run():
                        return torch.autograd.grad(out, (qg, kg, vg), dot, retain_graph=True)
                    ms = timed(run)
                    norm = sum(x.float().norm().item() for x in run())
        elif kind == "fwd":
            def run():
                return fa._forward(q, k, v, 0.0, scale, causal, window, softcap, slopes, True, 0, varlen)
            ms = timed(run)
            norm = run()[0].float().norm().item()
        else:
            out, lse = fa._forward(q, k, v, p, scale, causal, window, softcap, slopes, True, seed, varlen)
            dq, dk, dv = torch.empty_like(q), torch.empty_like(k), torch.empty_like(v)

            def run():
                fa._backward(do, q, k, v, out, lse, dq, dk, dv, p, scale, causal, window, softcap, slopes, True, seed, varlen)
            ms = timed(run)
            norm = sum(x.float().norm().item() for x in (dq, dk, dv))
        print(f"{label} {name} {ms:.4f} ms {flops / ms / 1e9:.1f} TFLOP/s norm {norm:.6g}", flush=True)
    except Exception as error:  # one failing problem must not hide the others
        print(f"{label} {name} FAILED {type(error).__name__}: {error}", file=sys.stderr, flush=True)
