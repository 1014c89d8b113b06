#!/usr/bin/env python3
"""Session 26: where a short call's wall time goes between kernels. For each point (bf16, B = 16384 / N, H = 2048 / D), 24
back-to-back calls of ours (flash_attn_func; backward: autograd.grad) and of PyTorch SDPA cuDNN under torch.profiler, after
warm-up; prints per call the span (first kernel start to last kernel end, over the calls), the busy time (union of the
kernels' intervals), the idle gaps, and each kernel name's count and mean time.
  GS_POINTS="N,causal,D;..." (default 512,0,128;512,1,128;1024,0,128;512,1,64)"""
import os
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.profiler import profile, ProfilerActivity
from flash_attn import flash_attn_func

points = [tuple(int(x) for x in p.split(",")) for p in os.environ.get("GS_POINTS", "512,0,128;512,1,128;1024,0,128;512,1,64").split(";")]
CALLS = 24


def report(tag, fn):
    for _ in range(4):
        fn()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(CALLS):
            fn()
        torch.cuda.synchronize()
    ks = sorted((e for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA), key=lambda e: e.time_range.start)
    span = (max(e.time_range.end for e in ks) - ks[0].time_range.start) / CALLS
    busy, cur_s, cur_e = 0.0, None, None
    for e in ks:
        s, t = e.time_range.start, e.time_range.end
        if cur_e is None or s > cur_e:
            if cur_e is not None: busy += cur_e - cur_s
            cur_s, cur_e = s, t
        else:
            cur_e = max(cur_e, t)
    busy = (busy + cur_e - cur_s) / CALLS
    names = {}
    for e in ks:
        n = e.name[:48]
        c, t = names.get(n, (0, 0.0)); names[n] = (c + 1, t + e.time_range.elapsed_us())
    parts = "; ".join(f"{n} x{c / CALLS:g} {t / c:.1f}us" for n, (c, t) in sorted(names.items(), key=lambda kv: -kv[1][1]))
    print(f"{tag:34} span {span:7.1f} us  busy {busy:7.1f}  idle {span - busy:6.1f} ({100 * (span - busy) / span:4.1f} %) | {parts}", flush=True)


for N, causal, D in points:
    B, H = 16384 // N, 2048 // D
    q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    do = torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16)
    tag = f"N={N} c={causal} D={D}"
    out = flash_attn_func(q, k, v, causal=bool(causal))
    qt, kt, vt = (x.detach().transpose(1, 2) for x in (q, k, v))
    with torch.no_grad():
        report(tag + " fwd ours", lambda: flash_attn_func(q, k, v, causal=bool(causal)))
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            report(tag + " fwd cudnn", lambda: F.scaled_dot_product_attention(qt, kt, vt, is_causal=bool(causal)))
    report(tag + " bwd ours", lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True))
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        out_c = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), is_causal=bool(causal))
    do_t = do.transpose(1, 2)
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        report(tag + " bwd cudnn", lambda: torch.autograd.grad(out_c, (q, k, v), do_t, retain_graph=True))
    del q, k, v, do, out, out_c
    torch.cuda.empty_cache()
