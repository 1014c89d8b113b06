#!/usr/bin/env python3
"""Session 35: the float64 oracle for sliding windows and ALiBi on the TMA forward — causal with a left window (Mistral /
Gemma style), two-sided and one-sided windows, windows that empty whole rows (Sq > Sk, a right edge below the diagonal),
GQA, fp16 / bf16, D = 64 / 96 / 128 / 192 / 256, softcap at D = 128, varlen batches, 1–6000 tokens (the short and long
rows' forms); ALiBi (per-head and per-batch slopes) unmasked, causal, windowed and capped. Output, LSE and the gradients (the backward is the generic one) against float64: each norm-wise relative error
finite and at most twice that of naive attention in the same precision; the LSE of a row that sees no key is +inf.
  python3 scripts/device/window_check.py [--alibi-only]    (one line per case, then 'N passed, M failed')"""
import math, sys, torch
from flash_attn import flash_attn_func, flash_attn_varlen_func

CASES = [  # sq, sk, h, hk, d, causal, (left, right), cap, dtype
    (4096, 4096, 4, 1, 128, True, (1024, -1), 0.0, torch.bfloat16),    # Mistral-style: causal, 1k window
    (2048, 2048, 2, 2, 64, True, (127, -1), 0.0, torch.float16),       # gpt-oss-style 128-key window
    (3000, 3000, 2, 1, 256, True, (511, -1), 0.0, torch.bfloat16),     # Gemma-3-style, odd length
    (1500, 1500, 4, 2, 128, True, (300, -1), 50.0, torch.bfloat16),    # Gemma-2 27B-style: window + softcap
    (2048, 2048, 2, 2, 128, False, (256, 256), 0.0, torch.float16),    # two-sided local attention
    (1000, 2500, 2, 1, 64, False, (-1, 100), 0.0, torch.bfloat16),     # right-bounded only, Sq < Sk
    (2500, 1000, 2, 2, 128, True, (200, -1), 0.0, torch.bfloat16),     # Sq > Sk: the first rows see no key
    (777, 1300, 4, 1, 96, False, (50, 0), 0.0, torch.float16),         # padded tile D = 128, narrow window
    (4500, 4500, 2, 1, 192, True, (2000, -1), 0.0, torch.bfloat16),    # tile D = 192 rows (≥ 2k queries)
    (6000, 6000, 1, 1, 256, False, (700, 700), 0.0, torch.float16),    # long unmasked-row forms
    (513, 513, 2, 2, 64, False, (0, 0), 0.0, torch.bfloat16),          # each row sees one key
    (2049, 2049, 2, 2, 256, True, (4, -1), 0.0, torch.bfloat16),       # five keys a row
    (300, 900, 2, 2, 128, False, (700, 0), 0.0, torch.bfloat16),       # Sq < Sk, a 701-key causal window
    (900, 300, 2, 2, 64, False, (20, 10), 0.0, torch.float16),         # Sq > Sk: rows above and below see no key
]
ALIBI = [  # sq, sk, h, hk, d, causal, window, cap, dtype, per-batch slopes (batch 2)
    (2048, 2048, 4, 2, 128, False, (-1, -1), 0.0, torch.bfloat16, False),
    (1500, 1500, 4, 1, 128, True, (-1, -1), 0.0, torch.float16, True),
    (777, 1300, 2, 2, 64, True, (-1, -1), 0.0, torch.bfloat16, False),
    (4500, 4500, 2, 1, 256, False, (-1, -1), 0.0, torch.bfloat16, False),
    (2049, 2049, 2, 2, 256, True, (-1, -1), 0.0, torch.float16, False),
    (3000, 3000, 2, 2, 96, True, (511, -1), 0.0, torch.bfloat16, False),
    (1024, 1024, 4, 2, 128, True, (-1, -1), 30.0, torch.bfloat16, True),
    (4096, 4096, 2, 2, 64, False, (-1, -1), 0.0, torch.bfloat16, False),
    (2500, 1000, 2, 2, 192, True, (-1, -1), 0.0, torch.bfloat16, False),
]
VARLEN = [  # sequence lengths (q = k), h, hk, d, causal, window, dtype
    ([1, 700, 64, 3000, 257], 4, 2, 128, True, (511, -1), torch.bfloat16),
    ([2049, 5, 1100], 2, 1, 64, False, (100, 100), torch.float16),
    ([1500, 900], 2, 2, 256, True, (255, -1), torch.bfloat16),
]


def visible(sq, sk, causal, window, device):
    left, right = window
    if causal:
        right = 0 if right < 0 else min(right, 0)
    i = torch.arange(sq, device=device)[:, None] + sk - sq
    j = torch.arange(sk, device=device)[None, :]
    ok = torch.ones(sq, sk, dtype=torch.bool, device=device)
    if left >= 0:
        ok &= j >= i - left
    if right >= 0:
        ok &= j <= i + right
    return ok


def attention(q, k, v, causal, window, scale, cap, slopes=None):
    h, hk = q.shape[2], k.shape[2]
    k, v = (x.repeat_interleave(h // hk, dim=2) for x in (k, v))
    s = torch.einsum("bqhd,bkhd->bhqk", q, k)
    s = s.float() if q.dtype != torch.float64 else s
    s = s * scale if cap == 0 else cap * torch.tanh(s * scale / cap)
    if slopes is not None:  # −slope · |i + Sk − Sq − j|, after the cap
        sq, sk = q.shape[1], k.shape[1]
        dist = (torch.arange(sq, device=q.device)[:, None] + sk - sq - torch.arange(sk, device=q.device)[None, :]).abs()
        slope = slopes.view(-1, h, 1, 1) if slopes.dim() == 2 else slopes.view(1, h, 1, 1)
        s = s - slope.to(s.dtype) * dist.to(s.dtype)
    s = s.masked_fill(~visible(q.shape[1], k.shape[1], causal, window, q.device), float("-inf"))
    lse = torch.logsumexp(s, dim=-1)
    p = torch.nan_to_num(torch.softmax(s, dim=-1)).to(q.dtype)
    return torch.einsum("bhqk,bkhd->bqhd", p, v), lse


def compare(label, outs, naive, ref, lse, lse_naive, lse_ref):
    ok, parts = True, []
    finite = torch.isfinite(lse_ref)
    if (~finite).any():  # rows that see no key: LSE +inf, O zero
        empty_ok = bool(torch.isinf(lse[~finite]).all() and (lse[~finite] > 0).all())
        ok &= empty_ok; parts.append(f"empty rows {int((~finite).sum())}{'' if empty_ok else ' FAIL'}")
    if finite.any():
        lse_err = ((lse.double()[finite] - lse_ref[finite]).norm() / lse_ref[finite].norm()).item()
        lse_base = ((lse_naive.double()[finite] - lse_ref[finite]).norm() / lse_ref[finite].norm()).item()
        good = math.isfinite(lse_err) and lse_err <= 2 * lse_base + 1e-6
        ok &= good; parts.append(f"lse {lse_err:.2e}/{lse_base:.2e}{'' if good else ' FAIL'}")
    for name, a, n, r in zip(("out", "dq", "dk", "dv"), outs, naive, ref):
        if r.norm() == 0:  # e.g. dQ, dK where each row sees one key (P = 1): absolute, against dV's scale
            err = (a.double().norm() / ref[3].norm()).item(); base = (n.double().norm() / ref[3].norm()).item()
            good = math.isfinite(err) and err <= 2 * base + 1e-2
            ok &= good; parts.append(f"{name} |{err:.2e}| (zero){'' if good else ' FAIL'}")
            continue
        err = ((a.double() - r).norm() / r.norm()).item(); base = ((n.double() - r).norm() / r.norm()).item()
        good = math.isfinite(err) and err <= 2 * base + 1e-7
        ok &= good; parts.append(f"{name} {err:.2e}/{base:.2e}{'' if good else ' FAIL'}")
    print(f"{'ok  ' if ok else 'FAIL'} {label}: " + ", ".join(parts), flush=True)
    return ok


def draw(shapes, seed):
    g = torch.Generator(device="cuda").manual_seed(seed)
    return [torch.randn(*s, device="cuda", generator=g) * 2 for s in shapes]


def reference(q, k, v, do, causal, window, scale, cap, dt, slopes=None):
    ref = [x.double().requires_grad_() for x in (q, k, v)]
    out_ref, lse_ref = attention(*ref, causal, window, scale, cap, None if slopes is None else slopes.double())
    grads_ref = torch.autograd.grad(out_ref, ref, do.double(), allow_unused=True)
    low = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out_naive, lse_naive = attention(*low, causal, window, scale, cap, slopes)
    grads_naive = torch.autograd.grad(out_naive, low, do.to(dt), allow_unused=True)
    fix = lambda gs, xs: tuple(torch.zeros_like(x) if g is None else g for g, x in zip(gs, xs))
    return ((out_ref.detach(),) + fix(grads_ref, ref), lse_ref.detach(), (out_naive.detach(),) + fix(grads_naive, low), lse_naive.detach())


passed = failed = 0
for sq, sk, h, hk, d, causal, window, cap, dt, per_batch in ALIBI:
    b = 2 if per_batch else 1
    q, k, v, do = draw(((b, sq, h, d), (b, sk, hk, d), (b, sk, hk, d), (b, sq, h, d)), sq + 5 * sk + d)
    g = torch.Generator(device="cuda").manual_seed(d)
    slopes = torch.rand((b, h) if per_batch else (h,), device="cuda", generator=g) * 0.3 + 0.01
    scale = 1 / math.sqrt(d)
    ref, lse_ref, naive, lse_naive = reference(q, k, v, do, causal, window, scale, cap, dt, slopes)
    ours_in = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out, lse, _ = flash_attn_func(*ours_in, causal=causal, window_size=window, softcap=cap, alibi_slopes=slopes,
                                  return_attn_probs=True)
    grads = torch.autograd.grad(out, ours_in, do.to(dt))
    ok = compare(f"alibi{' (B, H)' if per_batch else ''} sq {sq} sk {sk} h {h}/{hk} d {d} {'causal' if causal else 'full'} window {window} "
                 f"cap {cap} {str(dt)[6:]}", (out,) + grads, naive, ref, lse, lse_naive, lse_ref)
    passed += ok; failed += not ok

for sq, sk, h, hk, d, causal, window, cap, dt in ([] if "--alibi-only" in sys.argv else CASES):
    q, k, v, do = draw(((1, sq, h, d), (1, sk, hk, d), (1, sk, hk, d), (1, sq, h, d)), sq + 3 * sk + d)
    scale = 1 / math.sqrt(d)
    ref, lse_ref, naive, lse_naive = reference(q, k, v, do, causal, window, scale, cap, dt)
    ours_in = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out, lse, _ = flash_attn_func(*ours_in, causal=causal, window_size=window, softcap=cap, return_attn_probs=True)
    grads = torch.autograd.grad(out, ours_in, do.to(dt))
    ok = compare(f"sq {sq} sk {sk} h {h}/{hk} d {d} {'causal' if causal else 'full'} window {window} cap {cap} {str(dt)[6:]}",
                 (out,) + grads, naive, ref, lse, lse_naive, lse_ref)
    passed += ok; failed += not ok

for lens, h, hk, d, causal, window, dt in ([] if "--alibi-only" in sys.argv else VARLEN):
    total = sum(lens)
    cu = torch.tensor([0] + list(torch.tensor(lens).cumsum(0)), dtype=torch.int32, device="cuda")
    q, k, v, do = draw(((total, h, d), (total, hk, d), (total, hk, d), (total, h, d)), total + d)
    scale = 1 / math.sqrt(d)
    ours_in = [x.to(dt).requires_grad_() for x in (q, k, v)]
    out, lse, _ = flash_attn_varlen_func(*ours_in, cu, cu, max(lens), max(lens), causal=causal, window_size=window,
                                         return_attn_probs=True)
    grads = torch.autograd.grad(out, ours_in, do.to(dt))
    refs, naives, lse_refs, lse_naives = [], [], [], []
    for b in range(len(lens)):
        a, z = int(cu[b]), int(cu[b + 1])
        r, lr, n, ln = reference(*(x[a:z].unsqueeze(0) for x in (q, k, v, do)), causal, window, scale, 0.0, dt)
        refs.append(r); naives.append(n); lse_refs.append(lr[0]); lse_naives.append(ln[0])
    cat = lambda parts: tuple(torch.cat([p[i][0] for p in parts]) for i in range(4))
    ok = compare(f"varlen {lens} h {h}/{hk} d {d} {'causal' if causal else 'full'} window {window} {str(dt)[6:]}",
                 (out,) + grads, cat(naives), cat(refs), lse, torch.cat(lse_naives, dim=1), torch.cat(lse_refs, dim=1))
    passed += ok; failed += not ok

print(f"{passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
