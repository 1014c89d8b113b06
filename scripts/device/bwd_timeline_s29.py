#!/usr/bin/env python3
"""Session 29: where a short backward's key/value CTAs spend their time, from the kernel's in-kernel timeline
(FLASH_ATTENTION_HOPPER_BWD_TIMELINE=<file>, HopperBackwardDescriptor.timeline). For each point (bf16, B = 16384 / N,
H = 2048 / D, or BT_POINTS="N,causal,D;..."), a few warm-up calls, then the timeline of one call: per CTA the phases
(entry → K/V issued → K/V landed → first step → last step → dK/dV stored / last dQ add done), per SM the gaps between one
CTA's end and the next one's entry, and the grid's span and tail. Medians (p10–p90) over the CTAs."""
import os
import struct
import statistics as st
import torch
from flash_attn import flash_attn_func

points = [tuple(int(x) for x in p.split(",")) for p in os.environ.get("BT_POINTS", "512,0,128;1024,0,128;2048,0,128;512,1,128;512,0,64").split(";")]
PATH = "/tmp/bwd_timeline.bin"
NAMES = ["entry", "kv_issued", "kv_landed", "first_step", "last_step", "epi_wg0", "writer1", "epi_wg1", "writer2", "last_issued"]


def q(xs):
    xs = sorted(xs)
    if not xs:
        return "-"
    return f"{st.median(xs):7.2f} ({xs[len(xs) // 10]:6.2f}-{xs[(9 * len(xs)) // 10]:6.2f})"


def analyse(tag, raw):
    gx, gy, gz, n = struct.unpack_from("<4Q", raw, 0)
    rows = [struct.unpack_from("<16Q", raw, 32 + 128 * i) for i in range(n)]
    t0 = min(r[0] for r in rows if r[0])
    us = lambda a, b: (a - b) / 1000.0  # noqa: E731
    ctas = []
    for r in rows:
        sm, steps = r[15] & 0xffffffff, r[15] >> 32
        end = max(r[5], r[7], r[6], r[8])
        ctas.append(dict(sm=sm, steps=steps, entry=r[0], end=end, r=r))
    span = us(max(c["end"] for c in ctas), t0)
    ph = {k: [] for k in ["kv_issue", "kv_land", "first", "step", "epi", "writer_tail", "cta"]}
    for c in ctas:
        r = c["r"]
        ph["kv_issue"].append(us(r[1], r[0]))
        ph["kv_land"].append(us(r[2], r[0]))
        ph["first"].append(us(r[3], r[2]))
        if c["steps"] > 1:
            ph["step"].append(us(r[4], r[3]) / (c["steps"] - 1))
        ph["epi"].append(us(max(r[5], r[7]), r[4]))
        ph["writer_tail"].append(us(max(r[6], r[8]), r[4]))
        ph["cta"].append(us(c["end"], r[0]))
    by_sm = {}
    for c in ctas:
        by_sm.setdefault(c["sm"], []).append(c)
    gaps, busy, tails = [], 0.0, []
    last_end = max(c["end"] for c in ctas)
    for sm, cs in by_sm.items():
        cs.sort(key=lambda c: c["entry"])
        for a, b in zip(cs, cs[1:]):
            gaps.append(us(b["entry"], a["end"]))
        busy += sum(us(c["end"], c["entry"]) for c in cs)
        tails.append(us(last_end, max(c["end"] for c in cs)))
    steps = ctas[0]["steps"]
    print(f"{tag}: grid {gx}x{gy}x{gz} = {n} CTAs on {len(by_sm)} SMs, {steps} steps a CTA; span {span:.1f} us, SMs busy {100 * busy / (len(by_sm) * span):.1f} %"
          f" (CTA-level), SM idle at the end {q(tails)} us", flush=True)
    print(f"   per CTA (us, median (p10-p90)): whole {q(ph['cta'])} | entry->K/V issued {q(ph['kv_issue'])} | entry->K/V landed {q(ph['kv_land'])}"
          f" | first step {q(ph['first'])} | a later step {q(ph['step'])} | last step->dK/dV stored {q(ph['epi'])} | last step->last dQ add done {q(ph['writer_tail'])}"
          f" | gap to the next CTA on the SM {q(gaps)}", flush=True)
    fixed = st.median(ph["cta"]) - steps * st.median(ph["step"]) if ph["step"] else float("nan")
    print(f"   CTA minus steps x median step: {fixed:.2f} us; + median gap = {fixed + (st.median(gaps) if gaps else 0):.2f} us a CTA not spent on steps", flush=True)


for N, causal, D in points:
    B, H = 16384 // N, 2048 // D
    q_, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16, requires_grad=True) for _ in range(3))
    do = torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16)
    out = flash_attn_func(q_, k, v, causal=bool(causal))
    os.environ.pop("FLASH_ATTENTION_HOPPER_BWD_TIMELINE", None)
    for _ in range(5):
        torch.autograd.grad(out, (q_, k, v), do, retain_graph=True)
    os.environ["FLASH_ATTENTION_HOPPER_BWD_TIMELINE"] = PATH
    for i in range(3):
        torch.autograd.grad(out, (q_, k, v), do, retain_graph=True)
        torch.cuda.synchronize()
        analyse(f"N={N} {'causal' if causal else 'unmasked'} D={D} call {i}", open(PATH, "rb").read())
    os.environ.pop("FLASH_ATTENTION_HOPPER_BWD_TIMELINE", None)
    del q_, k, v, do, out
