#!/usr/bin/env python3
"""Scratch benchmark: our CPU backward against PyTorch's CPU flash-attention backward.

Both run in this one process, interleaved repetition by repetition, with the same thread
count, so background load (other builds on a shared box) hits both alike; the ratio is the
number to read. Ours is called through the C ABI (libflashattention.so) on (B, S, H, D)
tensors; PyTorch's backward kernel (aten::_scaled_dot_product_flash_attention_for_cpu_backward)
is called directly on its (B, H, S, D) layout, without autograd. O and LSE come from
PyTorch's forward. FLOPs are counted as 2.5 × 4·B·H·Sq·Sk·D (halved for causal).

    swift build -c release --scratch-path .build-bwd --product flashattention
    python3 scripts/cpu_backward_probe.py --lib .build-bwd/release/libflashattention.so
"""

import argparse
import ctypes
import glob
import os
import statistics
import time

import torch

MAX_RANK = 8
DTYPES = {torch.float32: 0, torch.float16: 1, torch.bfloat16: 2}


class FATensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("dtype", ctypes.c_int32), ("device_type", ctypes.c_int32),
                ("device_index", ctypes.c_int32), ("rank", ctypes.c_int32),
                ("shape", ctypes.c_int64 * MAX_RANK), ("strides", ctypes.c_int64 * MAX_RANK)]


class FAOptions(ctypes.Structure):
    _fields_ = [("struct_size", ctypes.c_uint32), ("has_softmax_scale", ctypes.c_int32),
                ("softmax_scale", ctypes.c_float), ("causal", ctypes.c_int32),
                ("window_left", ctypes.c_int32), ("window_right", ctypes.c_int32),
                ("softcap", ctypes.c_float), ("alibi_slopes", ctypes.c_void_p),
                ("dropout_p", ctypes.c_float), ("seed", ctypes.c_uint64),
                ("deterministic", ctypes.c_int32), ("num_threads", ctypes.c_int32)]


def describe(t):
    d = FATensor()
    d.data = t.data_ptr()
    d.dtype = DTYPES[t.dtype]
    d.rank = t.dim()
    for i, (n, s) in enumerate(zip(t.shape, t.stride())):
        d.shape[i] = n
        d.strides[i] = s
    return d


def find_library(path):
    if path:
        return path
    hits = sorted(glob.glob(".build*/**/release/libflashattention.so", recursive=True), key=os.path.getmtime)
    if not hits:
        raise SystemExit("libflashattention.so not found: build it or pass --lib")
    return hits[-1]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--lib")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--heads", type=int, default=8)
    ap.add_argument("--dims", default="64,128")
    ap.add_argument("--lengths", default="2048,4096")
    ap.add_argument("--dtypes", default="float32,bfloat16")
    ap.add_argument("--causal", default="0,1")
    args = ap.parse_args()

    lib = ctypes.CDLL(find_library(args.lib))
    lib.fa_backward.restype = ctypes.c_int32
    lib.fa_last_error.restype = ctypes.c_char_p
    torch.set_num_threads(args.threads)
    options = FAOptions()
    lib.fa_options_init(ctypes.byref(options))
    options.num_threads = args.threads

    print(f"torch {torch.__version__}, threads {args.threads}, H={args.heads}, B=1, best of {args.reps} interleaved, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{'dtype':8} {'D':>4} {'N':>5} {'causal':>6} | {'ours ms':>8} {'GF/s':>6} | {'torch ms':>8} {'GF/s':>6} | {'ratio':>5} | {'err dq/dk/dv vs torch':>22}")
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        for D in map(int, args.dims.split(",")):
            for N in map(int, args.lengths.split(",")):
                for causal in map(int, args.causal.split(",")):
                    run_one(lib, options, dtype, args.heads, N, D, bool(causal), args.reps)


def run_one(lib, options, dtype, H, N, D, causal, reps):
    torch.manual_seed(0)
    B = 1
    q, k, v, g = (torch.randn(B, H, N, D).to(dtype) for _ in range(4))
    out, lse = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v, 0.0, causal)
    lse = lse.float().contiguous()
    # Ours reads the flash-attn layout (B, S, H, D).
    bshd = [t.transpose(1, 2).contiguous() for t in (g, q, k, v, out)]
    grads = [torch.empty_like(bshd[1]), torch.empty_like(bshd[2]), torch.empty_like(bshd[3])]
    descs = [describe(t) for t in bshd + [lse] + grads]
    options.causal = int(causal)

    def ours():
        status = lib.fa_backward(*[ctypes.byref(d) for d in descs], ctypes.byref(options), None)
        if status != 0:
            raise SystemExit(lib.fa_last_error().decode())

    def theirs():
        return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu_backward(g, q, k, v, out, lse, 0.0, causal)

    ours()
    ref = theirs()
    errs = []
    for mine, r in zip(grads, ref):
        r = r.transpose(1, 2).float()
        errs.append(((mine.float() - r).norm() / r.norm()).item())
    t_ours, t_torch = [], []
    for _ in range(reps):
        t0 = time.perf_counter(); ours(); t_ours.append(time.perf_counter() - t0)
        t0 = time.perf_counter(); theirs(); t_torch.append(time.perf_counter() - t0)
    flops = 2.5 * 4 * B * H * N * N * D * (0.5 if causal else 1)
    a, b = min(t_ours), min(t_torch)
    print(f"{str(dtype).split('.')[-1]:8} {D:4} {N:5} {str(causal):>6} | {a*1e3:8.1f} {flops/a/1e9:6.1f} | "
          f"{b*1e3:8.1f} {flops/b/1e9:6.1f} | {b/a:5.2f} | {'/'.join(f'{e:.1e}' for e in errs):>22}", flush=True)


if __name__ == "__main__":
    main()
    print(f"load average {os.getloadavg()[0]:.1f}")
