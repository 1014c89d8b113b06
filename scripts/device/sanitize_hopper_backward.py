"""One multi-step Hopper backward call per mask for compute-sanitizer: 1024 keys × 1000 queries,
so each key block walks 16 query blocks and the ordered dQ turn chain is 8 blocks long (the
pinned oracle cases only reached single-step launches).
    compute-sanitizer --tool racecheck --kernel-name kns=flash_attention_backward_hopper python3 scripts/device/sanitize_hopper_backward.py
(every Hopper backward kernel has that entry name; the descriptor names such as hbwd_... are not
kernel symbols, so kns=hbwd matches nothing)
"""
import torch

from flash_attn import flash_attn_func

for causal in (False, True):
    q = torch.randn(1, 1000, 4, 128, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    k = torch.randn(1, 1024, 2, 128, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    v = torch.randn(1, 1024, 2, 128, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    out = flash_attn_func(q, k, v, causal=causal)
    out.backward(torch.randn_like(out))
    torch.cuda.synchronize()
    print("causal" if causal else "dense", "grad norms", q.grad.float().norm().item(), k.grad.float().norm().item())
