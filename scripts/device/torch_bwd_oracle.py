"""A float64 reference for the backward through `flash-attn run --grad-out`, on odd shapes (causal Sq != Sk, rows that
see no key, GQA) at D = 128 / 96 (ORACLE_DIMS=64,40 for tile D = 64), bf16 / fp16, causal and not. Usage: python3 torch_bwd_oracle.py full|quick|long [prefix...]
(prefix: e.g. `env FLASH_ATTENTION_HOPPER_BWD=1`); expects the binary at $FA_BIN (default /tmp/fa). Pass = dQ, dK, dV
norm-wise error <= 2 x naive attention's in the same precision (+1e-6), and dQ = 0 exactly on rows that see no key.
(From scripts/device/hopper_bwd17.sh, session 13; shapes from 1k keys reach tile D = 128's session-13 defaults.)"""
import os, subprocess, sys, numpy as np, torch
os.makedirs("/tmp/npy", exist_ok=True)
FA = os.environ.get("FA_BIN", "/tmp/fa")
prefix = sys.argv[2:] if len(sys.argv) > 2 else []
mode = sys.argv[1]
dev = "cuda"
def grads(q, k, v, do, causal, f):
    B, sq, H, D = q.shape; sk, Hk = k.shape[1], k.shape[2]
    qq, kk, vv, dd = (x.to(dev, f).detach().requires_grad_() for x in (q, k, v, do))
    Q, K, V = qq.transpose(1, 2), kk.transpose(1, 2).repeat_interleave(H // Hk, 1), vv.transpose(1, 2).repeat_interleave(H // Hk, 1)
    s = (Q @ K.transpose(-1, -2)) * (D ** -0.5)
    i = torch.arange(sq, device=dev)[:, None]; j = torch.arange(sk, device=dev)[None, :]
    vis = (j <= i + sk - sq) if causal else torch.ones(sq, sk, dtype=torch.bool, device=dev)
    none = ~vis.any(-1)
    s = s.masked_fill(~vis, float("-inf")).masked_fill(none[:, None], 0.0)
    p = torch.softmax(s.float() if f != torch.float64 else s, -1).to(f)
    p = p.masked_fill(none[:, None], 0.0)
    o = (p @ V).transpose(1, 2)
    o.backward(dd)
    return [x.grad.double().cpu() for x in (qq, kk, vv)]
shapes = [(1000, 1024, 4, 2), (777, 777, 2, 2), (300, 700, 2, 1), (700, 300, 2, 1), (129, 1000, 2, 2), (640, 512, 4, 1), (130, 130, 2, 2), (64, 200, 2, 1), (200, 64, 2, 1), (1100, 1500, 2, 2), (2100, 2048, 2, 1)]
# long (session 14): 3k-4k keys, where tile D = 64 takes two dQ buffers beside the staged epilogue (unmasked 2k-4k with head
# groups from 4k, causal 4k-8k) and tile D = 128 drops the staged epilogue past 4k unmasked.
if mode == "long": shapes = [(4096, 4096, 2, 1), (4000, 4100, 2, 2), (3000, 3000, 2, 2), (4100, 4000, 2, 1)]
passed = failed = 0
for D in [int(x) for x in os.environ.get("ORACLE_DIMS", "128,96").split(",")]:  # ORACLE_DIMS=64,40: tile D = 64 (session 14)
    for dtn in ("bfloat16", "float16"):
        dt = torch.bfloat16 if dtn == "bfloat16" else torch.float16
        for causal in (True, False):
            for n, (sq, sk, H, Hk) in enumerate(shapes):
                if mode == "quick" and n % 3: continue
                g = torch.Generator(device="cpu").manual_seed(1000 * n + D + causal)
                q, k, v, do = (torch.randn(1, a, h, D, generator=g).to(dt).float() for a, h in ((sq, H), (sk, Hk), (sk, Hk), (sq, H)))
                tag = f"{os.getpid()}_{n}"
                for nm, x in (("q", q), ("k", k), ("v", v), ("do", do)): np.save(f"/tmp/npy/{tag}_{nm}.npy", x.numpy())
                cmd = prefix + [FA, "run", "--device", "cuda", "--dtype", dtn] + (["--causal"] if causal else []) + \
                    ["--q", f"/tmp/npy/{tag}_q.npy", "--k", f"/tmp/npy/{tag}_k.npy", "--v", f"/tmp/npy/{tag}_v.npy",
                     "--grad-out", f"/tmp/npy/{tag}_do.npy", "--out", f"/tmp/npy/{tag}_o.npy", "--dq", f"/tmp/npy/{tag}_dq.npy",
                     "--dk", f"/tmp/npy/{tag}_dk.npy", "--dv", f"/tmp/npy/{tag}_dv.npy"]
                r = subprocess.run(cmd, capture_output=True, text=True)
                for line in (r.stdout + r.stderr).splitlines():
                    if line.startswith("hopper-bwd"): print(line)
                if r.returncode != 0:
                    failed += 1; print("FAIL run", D, dtn, causal, sq, sk, r.stderr[-300:]); continue
                ref = grads(q, k, v, do, causal, torch.float64)
                naive = grads(q, k, v, do, causal, dt)
                ours = [torch.from_numpy(np.load(f"/tmp/npy/{tag}_{nm}.npy")).double() for nm in ("dq", "dk", "dv")]
                ok = True; msg = []
                for nm, a, b, c in zip(("dq", "dk", "dv"), ours, naive, ref):
                    ea = (a - c).norm().item() / max(c.norm().item(), 1e-12); eb = (b - c).norm().item() / max(c.norm().item(), 1e-12)
                    good = np.isfinite(ea) and ea <= 2 * eb + 1e-6
                    ok &= good; msg.append(f"{nm} {ea:.2e}/{eb:.2e}")
                if causal and sq > sk:
                    z = ours[0][0, : sq - sk].abs().max().item(); ok &= z == 0.0; msg.append(f"no-key rows dq max {z}")
                passed += ok; failed += not ok
                if not ok or n == 0: print("PASS" if ok else "FAIL", D, dtn, "causal" if causal else "dense", sq, sk, H, Hk, " ".join(msg))
print(f"oracle: {passed} passed, {failed} failed")
