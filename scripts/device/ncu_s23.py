#!/usr/bin/env python3
"""Session 23: one forward or backward call inside an NVTX range "run", for `ncu --nvtx --nvtx-include run/` (ours or
PyTorch SDPA cuDNN; bf16, B = 16384 / N, H = 2048 / D, the reference grid's shapes).
    python3 scripts/device/ncu_s23.py ours|cudnn fwd|bwd N causal D"""
import sys
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel

impl, pas, N, causal, D = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4] == "1", int(sys.argv[5])
B, H = 16384 // N, 2048 // D
bwd = pas == "bwd"
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16, requires_grad=bwd) for _ in range(3))
do = torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16)
t = lambda x: x.transpose(1, 2)  # noqa: E731
if impl == "cudnn":
    def fwd():
        with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
            return F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=causal)
    grad = t(do)
else:
    from flash_attn import flash_attn_func
    fwd = lambda: flash_attn_func(q, k, v, causal=causal)  # noqa: E731
    grad = do
if bwd:
    out = fwd()
    run = lambda: torch.autograd.grad(out, (q, k, v), grad, retain_graph=True)  # noqa: E731
else:
    run = fwd
with torch.no_grad() if not bwd else torch.enable_grad():
    for _ in range(3):
        run()
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("run")
    run()
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
