#!/usr/bin/env python3
"""Session 15, hopfwd29: a sustained (power-cap) knob sweep of the long forward rows (adapted from hopper_bwd21.py).

The long forward points run at the H100's 700 W cap, where 20-call bursts start at different clocks and cannot rank forms
(±3-7 %); sustained windows rank them to about ±0.5 % (hopbwd21). Each (form, dtype) is its own worker process (our knobs
are read once per process), started with its environment, its problems allocated and its kernels compiled up front (in
parallel, untimed; each worker's cache dir gives the kernel names it compiled per point). The orchestrator then drives
them one at a time while nvidia-smi samples clocks.sm and power.draw every 50 ms:

  sustained: at one point each form loops >= --seconds (batches of 10 calls, CUDA events around the window), forms
             alternated A B C ... A B C ... with no idle gap, --windows windows each; cuDNN (PyTorch SDPA) one window per
             point in the middle window; the samples inside each window (its first --skip s dropped) give mean MHz and W.
  fp16:      sustained windows again (O + the forms) where a form beat O in every bf16 window of a point.
  burst:     a few interleaved rounds (bf16), each implementation after 0.08 s idle runs 2 warm + 10 timed calls (median).

    FLASH_ATTENTION_LIB=.../libflashattention.so PYTHONPATH=python python3 scripts/device/hopper_fwd29.py --out DIR
    python3 scripts/device/hopper_fwd29.py --report DIR      # the tables again from DIR/records.jsonl and DIR/smi.csv

HF29_MOCK=1 runs the protocol without a GPU (CPU sleeps, fake clock samples; HF29_MOCK_FAST=<form> makes one form 2 % faster).
The worker protocol, the sampler, the sustained / burst loops and the shared report pieces are in sustained.py.
"""
import argparse
import glob
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sustained as sus  # noqa: E402

H = "FLASH_ATTENTION_HOPPER"
# Forms by absolute knob settings (one kernel text, one label, at every point where the knob applies).
IMPLS = {
    "O": {},                                                        # shipped
    "PS": {f"{H}_PRODUCERSLEEP": "1"},                              # producer waits sleep on the barrier (`ps`)
    "RS": {f"{H}_RESCALE": "skip"},                                 # O rescale skipped where the warp's maxima stayed (`rs`)
    "XD": {f"{H}_DESC": "1"},                                       # precomputed wgmma descriptors (`xd`; fewer instructions a step)
    "XE": {f"{H}_DESC": "1", f"{H}_EARLYRESCALE": "1"},             # xd + the O rescale at the end of the step that computed alpha (`xder`)
    "XO": {f"{H}_EXPTURN": "lean", f"{H}_EXPOVERLAP": "1"},         # the lean cuDNN order, S and P.V back to back (`xt xl xo`)
    "T128": {f"{H}_TILES": "128:128x2pq", f"{H}_STORE": "1"},       # D = 128: the <= 4k row's kernel (128 keys, two Q buffers, so)
    "SO": {f"{H}_STORE": "1"},                                      # the TMA store of O where the staging tile fits (`so`)
    "ST0": {f"{H}_STORE": "0"},                                     # no TMA-store rows: unmasked D = 128 1k-4k on the 176-key row (session 19)
    "W2": {f"{H}_WIDE256": "2"},                                    # D = 256: 128-key steps in one K/V stage (`vt`, O staged in Q)
    "OQ": {f"{H}_OQ": "1"},                                         # D = 256: TMA store of O staged in the Q buffer (`so oq`)
    "HD": {f"{H}_DIAG": "1"},                                       # causal: the half-width diagonal softmax (`hd`)
    "EW": {f"{H}_EMPTYWG": "1"},                                    # empty warpgroups skip their products (`ew`)
    "HDEW": {f"{H}_DIAG": "1", f"{H}_EMPTYWG": "1"},                # both (`hd` + `ew`)
    "LR": {f"{H}_RESCALE": "lazy"},                                 # the lazy O rescale (`lr`, hopfwd28)
    "XELR": {f"{H}_DESC": "1", f"{H}_EARLYRESCALE": "1", f"{H}_RESCALE": "lazy"},  # lr with the rescale off the turn (`xder` + `lr`)
    "HDLR": {f"{H}_DIAG": "1", f"{H}_RESCALE": "lazy"},              # causal: `hd` beside the lazy rescale
    "W3": {f"{H}_WG": "3"},                                         # D = 64: three consumer warpgroups (192-row tiles)
    "W3HE": {f"{H}_WG": "3", f"{H}_DIAG": "1", f"{H}_EMPTYWG": "1"},  # three warpgroups with `hd` + `ew` (the causal 2k-4k pair)
    "SX": {f"{H}_RESCALE": "spec"},                                 # the speculative maximum (`sx`, session 18)
    "NS": {f"{H}_RESCALE": "nospec"},                               # the defaults without `sx` (the session-17 kernels)
    "X0SX": {f"{H}_EXPTURN": "0", f"{H}_RESCALE": "spec"},          # the shipped step order with `sx` where the lean orders run
    "XESX": {f"{H}_DESC": "1", f"{H}_EARLYRESCALE": "1", f"{H}_RESCALE": "spec"},  # `sx` with xd + er (unmasked D = 64 1k: `…soltxderewsx`)
    "NSX0": {f"{H}_RESCALE": "nospec", f"{H}_EARLYRESCALE": "0", f"{H}_DESC": "0"},  # session 18's unmasked D = 256 2k-4k kernel (`…psooqlr`)
    "XOLR": {f"{H}_EXPTURN": "lean", f"{H}_EXPOVERLAP": "1"},        # session 18's causal D = 128 2k kernel (`…soxdxtxlxolr`)
    # (Session 19, an experimental build only: FA_SX256=1 lifts the generator's tile D = 256 refusal of `sx`.)
    "S2": {"FA_SX256": "1", f"{H}_RESCALE": "spec"},                # `sx` at tile D = 256 (unmasked 80-key rows)
    "S2XE": {"FA_SX256": "1", f"{H}_DESC": "1", f"{H}_EARLYRESCALE": "1", f"{H}_RESCALE": "spec"},  # the same with xd + er
    "XDSX": {f"{H}_DESC": "1", f"{H}_RESCALE": "spec"},             # `sx` with precomputed descriptors (`xd`)
    "PDL": {f"{H}_PDL": "1"},                                       # programmatic dependent launch (`_pdl`, session 24)
    "NPDL": {f"{H}_PDL": "0"},                                      # the same, forced off
    # Session 27: the eager O rescale (any RESCALE value but lazy / skip / spec / nospec keeps neither `lr` nor `sx`).
    "EG": {f"{H}_RESCALE": "eager"},
    "K2": {f"{H}_STAGES": "2"},                                     # K/V stages on any row (FLASH_ATTENTION_HOPPER_STAGES; refused where
    "K3": {f"{H}_STAGES": "3"},                                     # shared memory cannot hold them: the kernel's name tells)
    "K4": {f"{H}_STAGES": "4"},
    "PK": {f"{H}_PACKSUM": "1"},                                    # the row sums from P's packed pairs (`pr`, session 15: never timed)
    "TR": {f"{H}_TREE": "1"},                                       # the row maximum and sum in four partial chains (`tr`)
    "T3": {f"{H}_TILES": "128:128x3p", f"{H}_STORE": "0", f"{H}_RESCALE": "spec"},  # D = 128: 128-key steps in three stages, one Q buffer, no O store
    "S3": {f"{H}_EWSTAGES": "3"},                                   # unmasked tile D = 64 empty-warpgroup rows: three K/V stages past 512 keys
    "SK": {f"{H}_STREAMK": "1"},                                    # the stream-K tail (`_sk`, session 28): the last round's key steps dealt out evenly
    "UO": {f"{H}_UNITORDER": "1"},                                  # whole (batch, head) units per block (`_uo`, session 29; needs scripts/device/patches/s29-unit-order.patch)
    "SP1": {f"{H}_SECTIONPAIRS": "1"},                              # the dynamic scheduler in sections of 1 pair (`_sp1`, session 29; needs scripts/device/patches/s29-section-pairs.patch)
    "SP8": {f"{H}_SECTIONPAIRS": "8"},
    "SP33": {f"{H}_SECTIONPAIRS": "33"},                            # 33 pairs: at 4 row blocks a pair, one section a round of 132 blocks
    "cudnn": {},
}
# Points (D, N, causal) and the forms that may be timed there (the first is the shipped kernel). The 8k / 4k points get
# every form; a point with a sister (the same kernels at twice the length) times O and the forms that read above O on average
# at the sister (at least the best two, at most four), so the call's seconds go where a form has a chance.
POINTS = {
    (128, 8192, 0): ["O", "PS", "RS", "XD", "XE", "XO", "T128", "SO"],
    (64, 4096, 1): ["O", "PS", "RS", "HD", "EW", "SO", "XD"],
    (256, 8192, 0): ["O", "PS", "RS", "XD", "XE", "W2", "OQ"],
    (64, 8192, 1): ["O", "PS", "RS", "HD", "EW", "SO", "XD"],
    (128, 16384, 0): ["O", "PS", "RS", "XD", "XE", "XO", "T128", "SO"],
    (256, 16384, 0): ["O", "PS", "RS", "XD", "XE", "W2", "OQ"],
    (256, 2048, 0): ["O", "PS", "RS", "XD", "W2"],
}
# Same-kernel controls (the knob leaves the point's kernel as shipped: the noise floor of one form against itself).
CONTROLS = {((128, 8192, 0), "SO"), ((128, 16384, 0), "SO"), ((64, 4096, 1), "XD"), ((64, 8192, 1), "XD")}
SISTER = {(64, 8192, 1): (64, 4096, 1), (128, 16384, 0): (128, 8192, 0), (256, 16384, 0): (256, 8192, 0)}
LAST = [(256, 2048, 0)]  # timed after the fp16 windows, if the call has time left
if os.environ.get("HF29_FORMS"):  # e.g. "64,4096,1:O,HD,EW;64,8192,1:O,HD" (points and their forms; no sister picking)
    POINTS = {tuple(int(x) for x in s.split(":")[0].split(",")): s.split(":")[1].split(",") for s in os.environ["HF29_FORMS"].split(";")}
    SISTER, LAST = {}, []
if os.environ.get("HF29_POINTS"):  # e.g. "128,8192,0;64,4096,1" (a subset, for a quick run)
    keep = [tuple(int(x) for x in s.split(",")) for s in os.environ["HF29_POINTS"].split(";")]
    POINTS = {p: f for p, f in POINTS.items() if p in keep}


def pname(p):
    return f"{'c' if p[2] else 'u'}D{p[0]}-" + (f"{p[1] // 1024}k" if p[1] >= 1024 else str(p[1]))


def flops(p):
    D, N, causal = p
    B, Hh = 16384 // N, 2048 // D
    return 4 * B * Hh * N * N * D * (0.5 if causal else 1)


# ------------------------------------------------------------------------------------------------------------- worker
def kernel_name(cu):
    """The kernel's name from a cache entry's header, with ptxas's registers and spill line from its .log."""
    head = open(cu, errors="replace").read(600)
    m = re.search(r": ((?:fwd|hbwd)_\S+)", head)
    log = open(cu[:-3] + ".log", errors="replace").read() if os.path.exists(cu[:-3] + ".log") else ""
    regs = re.findall(r"Used (\d+) registers", log)
    spill = re.findall(r"(\d+) bytes spill stores, (\d+) bytes spill loads", log)
    return (m.group(1) if m else os.path.basename(cu)) + (f" [{max(map(int, regs))} regs" if regs else " [") + \
        (f", spill {max(int(a) + int(b) for a, b in spill)} B]" if spill else "]")


def worker(impl, dname, pts, logpath):
    proto = sus.open_proto(logpath)
    if os.environ.get("HF29_MOCK"):
        return sus.mock_serve(proto, impl, {"names": {pname(p): [f"mock_{impl}"] for p in pts}}, "HF29_MOCK_FAST",
                              cap=0.1, spread=0.005, fast=0.98)
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if impl != "cudnn":
        from flash_attn import flash_attn_func
    dtype = torch.bfloat16 if dname == "bf16" else torch.float16
    cache = os.environ.get("FLASH_ATTENTION_CACHE_DIR", "")
    fns, keep, names = {}, [], {}
    t = lambda x: x.transpose(1, 2)  # noqa: E731
    t_start = time.time()
    torch.set_grad_enabled(False)
    for p in pts:
        D, N, causal = p
        B, Hh = 16384 // N, 2048 // D
        g = torch.Generator(device="cuda").manual_seed(N + causal + D)
        q, k, v = (torch.randn(B, N, Hh, D, device="cuda", dtype=dtype, generator=g) for _ in range(3))
        if impl == "cudnn":
            def fn(q=q, k=k, v=v, causal=bool(causal)):
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    return F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=causal)
        else:
            fn = (lambda q=q, k=k, v=v, causal=bool(causal): flash_attn_func(q, k, v, causal=causal))
        before = set(glob.glob(f"{cache}/*.cu")) if cache else set()
        fn()
        torch.cuda.synchronize()
        new = sorted(set(glob.glob(f"{cache}/*.cu")) - before) if cache else []
        names[pname(p)] = [kernel_name(x) for x in new]
        print(f"point {pname(p)} {dname} {impl} kernels: {' '.join(names[pname(p)]) or '(none new)'}", flush=True)
        for _ in range(2):
            fn()
        torch.cuda.synchronize()
        fns[p] = fn
        keep.append((q, k, v))
    proto.write(json.dumps({"ok": True, "load_s": time.time() - t_start, "names": names,
                            "mem_gb": torch.cuda.max_memory_allocated() / 2**30}) + "\n")
    sus.serve(proto, torch, fns)


# ------------------------------------------------------------------------------------------------------- orchestrator
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4)
    ap.add_argument("--out", default="/tmp/hf29")
    ap.add_argument("--seconds", type=float, default=0.8)
    ap.add_argument("--skip", type=float, default=0.2, help="drop this much of each sustained window's clock samples")
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--end", type=float, default=150.0, help="start nothing that would end after this many seconds")
    args = ap.parse_args()
    if args.worker:
        impl, dname, pts, logpath = args.worker
        worker(impl, dname, [tuple(p) for p in json.loads(pts)], logpath)
        return
    # bf16 workers for every form; fp16 workers for every form too (a candidate needs both dtypes; loading is untimed).
    s = sus.Session(__file__, args.out, IMPLS, POINTS, pname, flops, "/tmp/fa-cache-hf29", args.seconds, args.end,
                    temperature=True, mock=bool(os.environ.get("HF29_MOCK")), heat_s=1.5, width=5)
    out = args.out
    json.dump({f"{k[0]}/{k[1]}": v for k, v in s.names.items()}, open(f"{out}/names.json", "w"), indent=1)

    def sustained(dname, plan, windows, with_cudnn):
        return s.sustained(dname, plan, windows, lambda p: with_cudnn)

    def candidates(rows):
        cands = []
        for p, forms in POINTS.items():
            at = [r for r in rows if r["point"] == pname(p)]
            for f in forms[1:]:
                if (p, f) not in CONTROLS and sus.beats(sus.by_idx(at, f), sus.by_idx(at, "O")):
                    cands.append((p, f))
        return cands

    def ratios(rows, p, f):
        at = [r for r in rows if r["point"] == pname(p)]
        return sus.ratios(at, f, sus.by_idx(at, "O"))

    def phases():
        # 1. bf16 sustained: every form at the full points, the promising ones at the sister points.
        s_bf16 = []
        for p, forms in POINTS.items():
            if p in LAST:
                continue
            if p in SISTER:
                q = SISTER[p]
                mean = {f: sum(rs) / len(rs) for f in POINTS[q][1:] if (q, f) not in CONTROLS and (rs := ratios(s_bf16, q, f))}
                ranked = sorted(mean, key=lambda f: -mean[f])
                pick = [f for f in ranked if mean[f] > 1.0][:4]
                pick += [f for f in ranked if f not in pick][:max(0, 2 - len(pick))]
                forms = ["O"] + [f for f in forms[1:] if f in pick]
                s.log(f"{pname(p)}: forms {forms} (means at {pname(q)}: " + " ".join(f"{f} {m:.3f}" for f, m in mean.items())
                      + ")")
            res, ok = sustained("bf16", [(p, forms)], args.windows, True)
            s_bf16 += res
            if not ok:
                break
        cands = candidates(s_bf16)
        s.log(f"bf16 sustained candidates: {[(pname(p), f) for p, f in cands] or 'none'}")
        # 2. fp16 sustained where a form beat O in every bf16 window (points with the largest margin first).
        plan = {}
        for p, f in sorted(cands, key=lambda c: -min(ratios(s_bf16, *c))):
            plan.setdefault(p, ["O"]).append(f)
        s_fp16 = []
        if plan:
            s_fp16, _ = sustained("fp16", list(plan.items()), args.windows, False)
        both = [(p, f) for p, f in candidates(s_fp16) if (p, f) in cands]
        json.dump([[pname(p), f, list(p)] for p, f in both], open(f"{out}/candidates.json", "w"))
        s.log(f"both-dtype sustained candidates: {[(pname(p), f) for p, f in both] or 'none'}")
        # 3. the short extra point(s), bf16, every form.
        for p in LAST:
            if p in POINTS:
                sustained("bf16", [(p, POINTS[p])], args.windows, True)
        # 4. bf16 burst rounds for comparison (the forms timed sustained at each point; order rotated per round).
        timed = {}
        for r in s_bf16:
            timed.setdefault(r["point"], [])
            if r["impl"] not in timed[r["point"]]:
                timed[r["point"]].append(r["impl"])
        for r in range(args.rounds):
            cost = sum(len(v) for v in timed.values()) * 0.2
            if s.el() + cost > args.end:
                s.log(f"end: stop bursts before round {r}")
                break
            for p in POINTS:
                if timed.get(pname(p)):
                    s.burst_point("bf16", p, timed[pname(p)], r)
            s.log(f"burst round {r} done")
    s.run(phases)
    report(out, args.skip)


def report(out, skip=0.2):
    # (Until session 15's end the report dropped 0.2 s whatever --skip said; the clock/power means of final_s15b.sh's windows
    # were taken that way.)
    samples, recs = sus.load_records(out, skip)
    names = json.load(open(f"{out}/names.json")) if os.path.exists(f"{out}/names.json") else {}
    temps = [s[3] for s in samples if s[3] == s[3]]
    print(f"\n{len(samples)} nvidia-smi samples (GPU temperature {min(temps, default=0):.0f}-{max(temps, default=0):.0f} C)."
          " Sustained windows: TFLOP/s|mean SM MHz|mean W|pJ/FLOP (W / TFLOP/s); ÷O and ÷cuDNN in the same window index")

    def label(dname, p, f, fr):
        cu = [r["tflops"] for r in sus.select(recs, "sustain", dname, pname(p)) if r["impl"] == "cudnn"]
        vs = f"  ÷cuDNN {sum(r['tflops'] for r in fr) / len(fr) / cu[0]:.3f}" if cu else ""
        kn = " ".join(n for n in names.get(f"{f}/{dname}", {}).get(pname(p), []))
        return f"{f:5}{'*' if (p, f) in CONTROLS else ' '}", f"{vs}  {kn}"
    sus.sustained_tables(recs, POINTS, pname, label)
    print("\nBursts (2 warm + 10 timed, median; bf16): TFLOP/s per round; ÷O per round; ÷cuDNN per round; mean MHz in the burst")
    sus.burst_tables(recs, POINTS, pname, ("bf16",), 5)
    print("\nSummary: ÷O min-max over the sustained windows (bf16 | fp16), bf16 means (TFLOP/s, MHz, W, pJ/FLOP), bf16 ÷cuDNN;"
          " WIN = above O in every sustained window of both dtypes")
    for p in POINTS:
        cu = [r["tflops"] for r in sus.select(recs, "sustain", "bf16", pname(p)) if r["impl"] == "cudnn"]
        for f in POINTS[p] + ["cudnn"]:
            cells, every = [], f not in ("O", "cudnn")
            for dname in sus.DTYPES:
                rows = sus.select(recs, "sustain", dname, pname(p))
                rs = sus.ratios(rows, f, sus.by_idx(rows, "O"))
                if not rs:
                    cells.append(f"{dname} -")
                    every = False
                    continue
                every = every and min(rs) > 1
                cells.append(f"{dname} {sus.span(rs)}")
            sw = [r for r in sus.select(recs, "sustain", "bf16", pname(p)) if r["impl"] == f]
            if not sw:
                continue
            n = len(sw)
            tf, mhz, w = (sum(r[k] for r in sw) / n for k in ("tflops", "mhz", "w"))
            print(f"  {pname(p)} {f:5} | " + " | ".join(cells) + f" | {tf:5.1f} TFLOP/s {mhz:4.0f} MHz {w:3.0f} W {w / tf:.3f} pJ"
                  + (f" | ÷cuDNN {tf / cu[0]:.3f}" if cu else "") + ("  WIN" if every else ""))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--report":
        report(sys.argv[2], float(sys.argv[3]) if len(sys.argv) > 3 else 0.2)
    else:
        main()
