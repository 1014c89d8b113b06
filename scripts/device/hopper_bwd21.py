#!/usr/bin/env python3
"""Session 15, hopbwd21: the long tile D = 128 backward rows under the 700 W cap, sustained windows and bursts.

Each (implementation, dtype) is its own worker process (our knobs are read once per process, at plan time), started with
its environment, its problems allocated and its kernels compiled up front (in parallel, untimed). The orchestrator then
drives them one at a time while nvidia-smi samples clocks.sm and power.draw every 50 ms:

  sustained: at one point each form loops >= --seconds (batches of 10 calls, CUDA events around the window, as
             clock_probe.py does), forms alternated A B C D A B C D ... with no idle gap, --windows windows each (cuDNN one
             window at each 16k point, in the middle); the samples inside each window (its first 0.3 s dropped) give mean MHz and W.
  burst:     6 interleaved rounds; in a round, at each point, each implementation (order rotated per round) after 0.08 s
             idle runs 2 warm + 10 timed calls (median, events between calls), as backward-bench --bench does.

bf16 sustained covers every form; fp16 sustained then repeats only the points where a form beat the shipped kernel in
every bf16 window (a candidate needs both dtypes), as time allows (--budget, seconds since the start).

    FLASH_ATTENTION_LIB=.../libflashattention.so PYTHONPATH=python python3 scripts/device/hopper_bwd21.py --out DIR
    python3 scripts/device/hopper_bwd21.py --report DIR      # the tables again from DIR/records.jsonl and DIR/smi.csv

HB21_MOCK=1 runs the protocol without a GPU (CPU sleeps for the calls, fake clock samples; HB21_MOCK_FAST=<impl> makes one
implementation 20 % faster), to test the orchestration before spending device time. The worker protocol, the sampler, the
sustained / burst loops and the shared report pieces are in sustained.py (stage it beside a copy of this script).
"""
import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sustained as sus  # noqa: E402

B_ = "FLASH_ATTENTION_HOPPER_BWD"
SET = {f"{B_}_EARLYDV": "1", f"{B_}_LATEDK": "1", f"{B_}_MASKBRANCH": "1", f"{B_}_DESC": "1"}
OFF = {f"{B_}_EARLYDV": "0", f"{B_}_LATEDK": "0", f"{B_}_MASKBRANCH": "0", f"{B_}_DESC": "0"}
# Forms by absolute knob settings, so the same kernel text carries one label at every point.
IMPLS = {
    "O": {},                                                    # shipped (no knob)
    "plain": {**OFF, f"{B_}_EPI": "0"},                         # causal without the product-order set or ste (shipped at causal 16k)
    "set": {**SET, f"{B_}_EPI": "0"},                           # causalTile128ProductOrder forced, no ste
    "set+ste": {**SET, f"{B_}_EPI": "1"},                       # the set + the staged dK/dV epilogue (shipped at causal 8k)
    "U": {f"{B_}_DQ": "unordered"},                             # shipped + dQ in arrival order
    "E": {f"{B_}_EPI": "1"},                                    # unmasked: shipped + ste
    "G4": {f"{B_}_GROUP": "4"},                                 # unmasked: shipped + head groups of 4
    # (Session 19: the mask branch on the unmasked rows, whose edge steps are the sequence's end only: a non-edge step
    # drops its 32 FSEL, 463 -> 437 SASS instructions a consumer thread.)
    "MB": {f"{B_}_MASKBRANCH": "1"},                            # unmasked: shipped + the mask branch
    "MBG4": {f"{B_}_MASKBRANCH": "1", f"{B_}_GROUP": "4"},      # unmasked: shipped + the mask branch + head groups of 4
    "OLD": {f"{B_}_MASKBRANCH": "0", f"{B_}_GROUP": "0"},       # unmasked from 8k: session 18's kernel (no mb, no g4)
    # (Session 20: the wide kernel's head groups; its default is G = 1 from 2k keys.)
    "G0": {f"{B_}_GROUP": "0"},                                 # the 3-D grid (the wide kernel before session 20)
    "G2": {f"{B_}_GROUP": "2"},
    # (Session 21, H200: the unmasked tile D = 128 knobs that lost on the H100, again on the card with more bandwidth.)
    "P": {f"{B_}_PERSIST": "1", f"{B_}_GROUP": "0"},            # the persistent 132-CTA grid (arrival-order dQ)
    "PP": {f"{B_}_PINGPONG": "1"},                              # out-of-phase consumers
    "NP": {f"{B_}_PERSIST": "0"},                               # unmasked from 4k on an H200: the form before the persistent default
    # (Session 23: the key/value kernel's idle warps convert earlier batches' finished dQ tiles; the conversion pass skips them.)
    # (Session 23. U0: the 3-D grid in arrival order; KP: the same with key blocks paired in two-CTA clusters; EC: the early
    # conversion in the key/value kernel's idle warps. KP and EC need the patches in /work/notes/s23 (docs/performance.md,
    # "Session 23"); their knobs do nothing in the tree. DC: the conversion pass as a programmatic dependent, =0 turns it off.)
    "U0": {f"{B_}_DQ": "unordered", f"{B_}_PERSIST": "0", f"{B_}_GROUP": "0"},
    "KP": {f"{B_}_DQ": "unordered", f"{B_}_PERSIST": "0", f"{B_}_GROUP": "0", f"{B_}_PAIR": "1"},
    "EC": {f"{B_}_EARLYCVT": "1"},
    "DC": {f"{B_}_DEPCVT": "1"},
    "NDC": {f"{B_}_DEPCVT": "0"},
    # (Session 27: three Q/dO stages in tile D = 128's key/value kernel, where one dQ buffer leaves room; B1 alone beside it.)
    "S3": {f"{B_}_STAGES": "3", f"{B_}_DQBUF": "1"},
    "DS": {f"{B_}_DEPSTATS": "1"},                              # key/value kernel dependent on the preprocess (`ds`, session 24)
    "NDS": {f"{B_}_DEPSTATS": "0"},
    # (Session 25, each on a build of its patch (docs/performance.md, "Session 25"; the knobs do nothing in the tree): M80 the
    # 80-query steps, M64P the same route at 64 (shipped order, one dQ buffer, no persistent grid); NOPRE / NOCVT / NOPC the
    # preprocess / conversion / both not launched (wrong gradients: timing only); FC the conversion folded into the key/value
    # kernel's last key block; FS the preprocess folded into the key/value kernel.)
    "M80": {f"{B_}_M80": "1"},
    "M64P": {f"{B_}_EARLYDV": "0", f"{B_}_LATEDK": "0", f"{B_}_DQBUF": "1", f"{B_}_PERSIST": "0"},
    "NOPRE": {f"{B_}_NOPRE": "1"},
    "NOCVT": {f"{B_}_NOCVT": "1"},
    "NOPC": {f"{B_}_NOPRE": "1", f"{B_}_NOCVT": "1"},
    "FC": {f"{B_}_FOLDCVT": "1"},
    "FS": {f"{B_}_FOLDSTATS": "1"},
    # (Session 26: dQ converted in the key/value kernel, no pass (`kc`; scripts/device/patches/s26-kernel-convert.patch, the
    # knob does nothing in the tree); NKC its =0.)
    "KC": {f"{B_}_KCVT": "1"},
    "NKC": {f"{B_}_KCVT": "0"},
    # (Session 27's prepared sweep of the short tile D = 64 / 128 rows on the H200: single knobs against the shipped route.)
    "B1": {f"{B_}_DQBUF": "1"},                                 # one dQ staging buffer (one writer)
    "B2": {f"{B_}_DQBUF": "2", f"{B_}_DQWRITERS": "2"},          # two buffers, a writer each
    "EB2": {f"{B_}_EPI": "1", f"{B_}_DQBUF": "2", f"{B_}_DQWRITERS": "2"},  # session 29: the staged epilogue and two buffers, a writer each
    "TS": {f"{B_}_TAILSPLIT": "1"},                             # session 29: the last round's key blocks split over the idle SMs (`ts`)
    "TS0": {f"{B_}_TAILSPLIT": "1", f"{B_}_TAILPARTS": "1"},    # session 30: the `ts` kernel with no split (the code's own cost)
    "NTS": {f"{B_}_TAILSPLIT": "0"},                            # session 30: no tail split (unmasked tile D = 64 from 8k keys: the kernel before)
    "G128": {"FLASH_ATTENTION_HOPPER_GRID": "128"},            # session 30: the persistent grid on 128 CTAs (2048 tiles: 16 each, no tail)
    "PIPE": {f"{B_}_PIPE": "1"},                                # the pipelined S^T
    "NE": {f"{B_}_EPI": "0"},                                   # no staged dK/dV epilogue
    "ND": {f"{B_}_DESC": "0"},                                  # no precomputed wgmma descriptors
    "NMB": {f"{B_}_MASKBRANCH": "0"},                           # the mask on every step
    "EDV": {f"{B_}_EARLYDV": "1", f"{B_}_LATEDK": "1"},         # the early dV / late dK order forced
    "NEDV": {f"{B_}_EARLYDV": "0", f"{B_}_LATEDK": "0"},        # the plain product order
    "cudnn": {},
}
# Points (N, causal) and the forms timed there; the first is the shipped kernel. At causal 8k the shipped kernel is
# set+ste, so its alternatives are set (ste off) and plain (the 16k kernel); at causal 16k shipped is plain.
POINTS = {
    (16384, 1): ["O", "set", "set+ste", "U"],
    (8192, 1): ["O", "set", "plain", "U"],
    (16384, 0): ["O", "E", "G4", "U"],
    (8192, 0): ["O", "E", "G4", "U"],
}
# HB21_POINTS="N,causal:O,FORM,...;..." replaces them (session 19).
if os.environ.get("HB21_POINTS"):
    POINTS = {}
    for part in os.environ["HB21_POINTS"].split(";"):
        pt, forms = part.split(":")
        POINTS[tuple(int(x) for x in pt.split(","))] = forms.split(",")
D = int(os.environ.get("HB21_D", "128"))  # HB21_D=64: the same protocol at tile D = 64 (session 19)


def pname(p):
    return f"{'c' if p[1] else 'u'}{p[0] // 1024}k"


def flops(p):
    N, causal = p
    B, H = 16384 // N, 2048 // D
    return 2.5 * 4 * B * H * N * N * D * (0.5 if causal else 1)


# ------------------------------------------------------------------------------------------------------------- worker
def worker(impl, dname, pts, logpath):
    proto = sus.open_proto(logpath)
    if os.environ.get("HB21_MOCK"):  # protocol test without a GPU: CPU sleeps stand in for the calls
        return sus.mock_serve(proto, impl, {}, "HB21_MOCK_FAST", cap=0.2, spread=0.05, fast=0.8)
    import torch
    import torch.nn.functional as F
    from torch.nn.attention import SDPBackend, sdpa_kernel
    if impl != "cudnn":
        from flash_attn import flash_attn_func
    dtype = torch.bfloat16 if dname == "bf16" else torch.float16
    fns, keep = {}, []
    t = lambda x: x.transpose(1, 2)  # noqa: E731
    t_start = time.time()
    for p in pts:
        N, causal = p
        B, H = 16384 // N, 2048 // D
        g = torch.Generator(device="cuda").manual_seed(N + causal)
        q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dtype, generator=g).requires_grad_() for _ in range(3))
        do = torch.randn(B, N, H, D, device="cuda", dtype=dtype, generator=g)
        with torch.enable_grad():
            if impl == "cudnn":
                with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                    out = F.scaled_dot_product_attention(t(q), t(k), t(v), is_causal=bool(causal))
                fn = (lambda out=out, q=q, k=k, v=v, do=do: torch.autograd.grad(out, (q, k, v), t(do), retain_graph=True))
            else:
                out = flash_attn_func(q, k, v, causal=bool(causal))
                fn = (lambda out=out, q=q, k=k, v=v, do=do: torch.autograd.grad(out, (q, k, v), do, retain_graph=True))
            os.environ[f"{B_}_LOG"] = "1"
            print(f"point {pname(p)} {dname} {impl}", flush=True)
            fn()
            torch.cuda.synchronize()
            sys.stdout.flush()
            os.environ.pop(f"{B_}_LOG", None)
            for _ in range(2):
                fn()
            torch.cuda.synchronize()
        fns[p] = fn
        keep.append((q, k, v, do, out))
    proto.write(json.dumps({"ok": True, "load_s": time.time() - t_start,
                            "mem_gb": torch.cuda.max_memory_allocated() / 2**30}) + "\n")
    sus.serve(proto, torch, fns, torch.enable_grad)



# ------------------------------------------------------------------------------------------------------- orchestrator
def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--worker", nargs=4)
    ap.add_argument("--out", default="/tmp/hb21")
    ap.add_argument("--seconds", type=float, default=2.5)
    ap.add_argument("--windows", type=int, default=3)
    ap.add_argument("--rounds", type=int, default=6)
    ap.add_argument("--budget", type=float, default=185.0, help="start no burst round after this many seconds")
    ap.add_argument("--end", type=float, default=200.0, help="start no sustained window that would end after this")
    args = ap.parse_args()
    if args.worker:
        impl, dname, pts, logpath = args.worker
        worker(impl, dname, [tuple(p) for p in json.loads(pts)], logpath)
        return
    s = sus.Session(__file__, args.out, IMPLS, POINTS, pname, flops, "/tmp/fa-cache-hb21", args.seconds, args.end,
                    temperature=False, mock=bool(os.environ.get("HB21_MOCK")), heat_s=1.0, width=8)

    def sustained(dname, plan):
        # cuDNN: one bf16 window at the 16k points (the 8k ones have the lead's clock probe).
        return s.sustained(dname, plan, args.windows, lambda p: dname == "bf16" and p[0] == 16384)[0]

    def phases():
        # 1. bf16 sustained, every form.
        s_bf16 = sustained("bf16", list(POINTS.items()))
        # 2. bursts, both dtypes, rounds interleaved (dtype order alternating), implementations rotated per round.
        for r in range(args.rounds):
            if s.el() > args.budget:
                s.log(f"budget: stop bursts before round {r}")
                break
            for dname in (("bf16", "fp16") if r % 2 == 0 else ("fp16", "bf16")):
                for p in POINTS:
                    s.burst_point(dname, p, POINTS[p] + ["cudnn"], r)
            s.log(f"burst round {r} done")
        # 3. fp16 sustained where a form beat the shipped kernel in every bf16 window.
        cands = []
        for p, forms in POINTS.items():
            at = [r for r in s_bf16 if r["point"] == pname(p)]
            cands += [(p, f) for f in forms[1:] if sus.beats(sus.by_idx(at, f), sus.by_idx(at, "O"))]
        s.log(f"bf16 sustained candidates: {[(pname(p), f) for p, f in cands] or 'none'}")
        plan = {}
        for p, f in cands:
            plan.setdefault(p, ["O"]).append(f)
        if plan:
            sustained("fp16", list(plan.items()))
    s.run(phases)
    report(args.out)


def report(out):
    samples, recs = sus.load_records(out, 0.3)
    print(f"\n{len(samples)} nvidia-smi samples. Sustained windows: TFLOP/s | mean SM MHz | mean W | pJ/FLOP (W / TFLOP/s)"
          " | ratio to O in the same window")
    sus.sustained_tables(recs, POINTS, pname, lambda dname, p, f, fr: (f"{f:8} ", ""))
    print("\nBursts (2 warm + 10 timed, median): TFLOP/s per round; ratio to O per round; ÷ cuDNN per round; mean MHz in the burst")
    sus.burst_tables(recs, POINTS, pname, sus.DTYPES, 8)
    print("\nSummary per point and form: ratio to O, min-max over windows / rounds (sus = sustained), mean MHz, mean pJ/FLOP"
          " of the sustained windows, and the burst ratio to cuDNN; WIN = above O in every window and round, both dtypes")
    for p in POINTS:
        for f in POINTS[p] + ["cudnn"]:
            cells, every = [], f != "O" and f != "cudnn"
            for kind in ("sustain", "burst"):
                for dname in sus.DTYPES:
                    rows = sus.select(recs, kind, dname, pname(p))
                    rs = sus.ratios(rows, f, sus.by_idx(rows, "O"))
                    if not rs:
                        cells.append(f"{kind[:3]} {dname} -")
                        if kind == "burst" or dname == "bf16":
                            every = False
                        continue
                    every = every and min(rs) > 1
                    cells.append(f"{kind[:3]} {dname} {sus.span(rs)}")
            sw = [r for r in sus.select(recs, "sustain", "bf16", pname(p)) if r["impl"] == f]
            mhz = sum(r["mhz"] for r in sw) / len(sw) if sw else float("nan")
            pj = sum(r["w"] / r["tflops"] for r in sw) / len(sw) if sw else float("nan")
            tf = sum(r["tflops"] for r in sw) / len(sw) if sw else float("nan")
            cu = []
            for dname in sus.DTYPES:
                rows = sus.select(recs, "burst", dname, pname(p))
                rs = sus.ratios(rows, f, sus.by_idx(rows, "cudnn"))
                cu.append(sus.span(rs) if rs else "-")
            print(f"  {pname(p)} {f:8} | " + " | ".join(cells) + f" | bf16 sus {tf:5.1f} TFLOP/s {mhz:4.0f} MHz {pj:.3f} pJ"
                  f" | burst ÷cuDNN bf16 {cu[0]} fp16 {cu[1]}" + ("  WIN" if every else ""))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--report":
        report(sys.argv[2])
    else:
        main()
