#!/usr/bin/env python3
"""One backward call inside an NVTX range "bwd", for `ncu --nvtx --nvtx-include bwd/` (ours or cuDNN, D = 128, bf16).

    python3 scripts/device/hopper_bwd21_ncu.py ours|cudnn N causal
"""
import sys

import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

impl, N, causal = sys.argv[1], int(sys.argv[2]), sys.argv[3] == "1"
D = 128
B, H = 16384 // N, 2048 // D
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).requires_grad_() for _ in range(3))
do = torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16)
t = lambda x: x.transpose(1, 2)  # noqa: E731
if impl == "cudnn":
    with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
        out = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=causal)
    do = t(do)
else:
    from flash_attn import flash_attn_func
    out = flash_attn_func(q, k, v, causal=causal)
for _ in range(3):
    torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
torch.cuda.synchronize()
torch.cuda.nvtx.range_push("bwd")
torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
torch.cuda.nvtx.range_pop()
torch.cuda.synchronize()
