#!/usr/bin/env python3
"""Session 23: where a short backward's time goes, per kernel. For each point (bf16, B = 16384 / N, H = 2048 / D), one
non-deterministic backward of ours (flash_attn_func + autograd: preprocess, key/value kernel, dQ conversion, all named
flash_attention_backward_hopper, in that order) and of PyTorch SDPA cuDNN, under torch.profiler; prints each kernel's mean
device time over the profiled calls and its share of the backward's kernel time.
  BS_POINTS="N,causal;..." (default 512,0;512,1;1024,0;1024,1;2048,0;4096,0)  BS_D (default 128)"""
import os
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import profile, ProfilerActivity
from flash_attn import flash_attn_func

D = int(os.environ.get("BS_D", "128"))
points = [tuple(int(x) for x in p.split(",")) for p in os.environ.get("BS_POINTS", "512,0;512,1;1024,0;1024,1;2048,0;4096,0").split(";")]
CALLS = 6
for N, causal in points:
    B, H = 16384 // N, 2048 // D
    q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    do = torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16)
    flops = 2.5 * 4 * B * H * N * N * D * (0.5 if causal else 1)
    runs = {}
    out = flash_attn_func(q, k, v, causal=bool(causal))
    runs["ours"] = lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        out_c = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=bool(causal))
    do_t = do.transpose(1, 2)
    runs["cudnn"] = lambda: torch.autograd.grad(out_c, (q, k, v), do_t, retain_graph=True)
    for name, fn in runs.items():
        for _ in range(3):
            fn()
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            for _ in range(CALLS):
                fn()
            torch.cuda.synchronize()
        kernels = [e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        kernels.sort(key=lambda e: e.time_range.start)
        total = sum(e.time_range.elapsed_us() for e in kernels) / CALLS
        parts = {}
        for i, e in enumerate(kernels):
            key = e.name[:60]
            if name == "ours" and e.name.startswith("flash_attention_backward_hopper"):
                key = ("pre", "kv", "convert")[sum(1 for x in kernels[:i] if x.name.startswith("flash_attention_backward_hopper")) % 3]
            parts[key] = parts.get(key, 0.0) + e.time_range.elapsed_us() / CALLS
        desc = "  ".join(f"{k}: {v:.1f} us ({100 * v / total:.1f} %)" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]))
        print(f"N={N:5} c={causal} {name:5} kernels {total:7.1f} us = {flops / total / 1e6:6.1f} TFLOP/s | {desc}", flush=True)
    del q, k, v, do, out, out_c, runs
    torch.cuda.empty_cache()
