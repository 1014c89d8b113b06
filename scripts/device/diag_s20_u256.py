import os, sys, time, torch
sys.path.insert(0, "python")
from flash_attn import flash_attn_func
B, N, H, D = 1, 16384, 16, 256
for dt in (torch.bfloat16,):
    q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dt, requires_grad=True) for _ in range(3))
    do = torch.randn(B, N, H, D, device="cuda", dtype=dt)
    out = flash_attn_func(q, k, v)
    fl = 4 * B * H * N * N * D * 2.5
    for i in range(int(os.environ.get("DIAG_N", "40"))):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record(); torch.autograd.grad(out, (q, k, v), do, retain_graph=True); e.record(); torch.cuda.synchronize()
        ms = s.elapsed_time(e); print(f"{i} {ms:.2f} ms {fl / ms / 1e9:.0f} TFLOP/s", flush=True)
