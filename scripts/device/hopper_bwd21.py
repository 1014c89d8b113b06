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
implementation 20 % faster), to test the orchestration before spending device time.
"""
import argparse
import json
import os
import subprocess
import sys
import time

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
D = 128


def pname(p):
    return f"{'c' if p[1] else 'u'}{p[0] // 1024}k"


def flops(p):
    N, causal = p
    B, H = 16384 // N, 2048 // D
    return 2.5 * 4 * B * H * N * N * D * (0.5 if causal else 1)


# ------------------------------------------------------------------------------------------------------------- worker
def worker(impl, dname, pts, logpath):
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    logf = open(logpath, "w")
    os.dup2(logf.fileno(), 1)
    os.dup2(logf.fileno(), 2)
    sys.stdout = sys.stderr = logf
    if os.environ.get("HB21_MOCK"):  # protocol test without a GPU: CPU sleeps stand in for the calls
        return mock_worker(proto, pts, impl)
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
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        fn = fns[tuple(cmd["point"])]
        with torch.enable_grad():
            if cmd["op"] == "sustain":
                for _ in range(3):
                    fn()
                torch.cuda.synchronize()
                e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                t0 = time.time()
                e0.record()
                calls = 0
                while time.time() - t0 < cmd["seconds"]:
                    for _ in range(10):
                        fn()
                    calls += 10
                    torch.cuda.synchronize()
                e1.record()
                torch.cuda.synchronize()
                t1 = time.time()
                proto.write(json.dumps({"t0": t0, "t1": t1, "calls": calls, "ms": e0.elapsed_time(e1) / calls}) + "\n")
            elif cmd["op"] == "burst":
                time.sleep(cmd.get("idle", 0.08))
                t0 = time.time()
                for _ in range(2):
                    fn()
                ev = [torch.cuda.Event(enable_timing=True) for _ in range(11)]
                ev[0].record()
                for i in range(10):
                    fn()
                    ev[i + 1].record()
                torch.cuda.synchronize()
                t1 = time.time()
                times = sorted(ev[i].elapsed_time(ev[i + 1]) for i in range(10))
                proto.write(json.dumps({"t0": t0, "t1": t1, "ms": times[5], "min": times[0], "max": times[-1]}) + "\n")


def mock_worker(proto, pts, impl):
    import random
    proto.write(json.dumps({"ok": True, "load_s": 0.0, "mem_gb": 0.0}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        if cmd["op"] == "burst":
            time.sleep(cmd.get("idle", 0.08))
        t0 = time.time()
        time.sleep(min(cmd.get("seconds", 0.05), 0.2))
        ms = 5.0 * random.uniform(0.95, 1.05) * (0.8 if os.environ.get("HB21_MOCK_FAST") == impl else 1.0)
        proto.write(json.dumps({"t0": t0, "t1": time.time(), "calls": 10, "ms": ms, "min": ms, "max": ms}) + "\n")


# ------------------------------------------------------------------------------------------------------- orchestrator
class Worker:
    def __init__(self, impl, dname, pts, out):
        env = dict(os.environ)
        env.update(IMPLS[impl])
        env["FLASH_ATTENTION_CACHE_DIR"] = f"/tmp/fa-cache-hb21/{impl}-{dname}"  # per worker: kernel names from .cu
        self.name = f"{impl}/{dname}"
        self.p = subprocess.Popen([sys.executable, __file__, "--worker", impl, dname, json.dumps(pts),
                                   f"{out}/w_{impl}_{dname}.log"], env=env, stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)

    def ask(self, **cmd):
        self.p.stdin.write(json.dumps(cmd) + "\n")
        self.p.stdin.flush()
        return self.read()

    def read(self):
        line = self.p.stdout.readline()
        if not line:
            raise RuntimeError(f"{self.name}: worker died (see its log)")
        return json.loads(line)


def smi_samples(path):
    out = []
    for line in open(path):
        parts = [x.strip() for x in line.split(",")]
        try:
            base, frac = parts[0].split(".")
            ts = time.mktime(time.strptime(base, "%Y/%m/%d %H:%M:%S")) + float("0." + frac)
            out.append((ts, float(parts[1]), float(parts[2])))
        except (ValueError, IndexError):
            continue
    return out


def window_stats(samples, a, b):
    inside = [s for s in samples if a <= s[0] <= b]
    if not inside:
        return float("nan"), float("nan"), 0
    return sum(s[1] for s in inside) / len(inside), sum(s[2] for s in inside) / len(inside), len(inside)


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
    T0 = time.time()
    el = lambda: time.time() - T0  # noqa: E731
    out = args.out
    os.makedirs(out, exist_ok=True)
    rec = open(f"{out}/records.jsonl", "w")
    smi_log = f"{out}/smi.csv"
    smi_cmd = ["nvidia-smi", "--query-gpu=timestamp,clocks.sm,power.draw", "--format=csv,noheader,nounits", "-lms", "50"]
    if os.environ.get("HB21_MOCK"):
        smi_cmd = ["bash", "-c", "while true; do echo \"$(date +'%Y/%m/%d %H:%M:%S.%3N'), 1500, 650\"; sleep 0.05; done"]
    smi = subprocess.Popen(smi_cmd, stdout=open(smi_log, "w"))
    need = {}
    for p, forms in POINTS.items():
        for f in forms + ["cudnn"]:
            need.setdefault(f, []).append(p)
    W = {}
    for dname in ("bf16", "fp16"):
        for impl, pts in need.items():
            W[(impl, dname)] = Worker(impl, dname, pts, out)
    for key, w in W.items():
        try:
            r = w.read()
            print(f"[{el():5.1f}s] loaded {w.name}: {r['load_s']:.1f} s, {r['mem_gb']:.1f} GB", flush=True)
        except (RuntimeError, ValueError) as e:
            print(f"[{el():5.1f}s] {e}", flush=True)

    def note(kind, dname, p, impl, idx, r):
        r.update(kind=kind, dtype=dname, point=pname(p), impl=impl, idx=idx, tflops=flops(p) / (r["ms"] * 1e-3) / 1e12)
        rec.write(json.dumps(r) + "\n")
        rec.flush()
        return r

    def sustained(dname, plan, windows):
        res = []
        first = True
        for p, forms in plan:
            if first:  # heat the card into its capped state before the first window
                W[(forms[0], dname)].ask(op="sustain", point=p, seconds=1.0)
                first = False
            for w in range(windows):
                # cuDNN: one bf16 window at the 16k points (the 8k ones have the lead's clock probe).
                lst = forms + (["cudnn"] if w == min(1, windows - 1) and dname == "bf16" and p[0] == 16384 else [])
                if el() + len(lst) * (args.seconds + 0.1) > args.end:
                    print(f"[{el():5.1f}s] end: stop sustained {dname} at {pname(p)} window {w}", flush=True)
                    return res
                for f in lst:
                    r = note("sustain", dname, p, f, w, W[(f, dname)].ask(op="sustain", point=p, seconds=args.seconds))
                    res.append(r)
                    print(f"[{el():5.1f}s] sustain {dname} {pname(p)} w{w} {f:8} {r['tflops']:6.1f} TFLOP/s ({r['calls']} calls)",
                          flush=True)
        return res

    def phases():
        # 1. bf16 sustained, every form.
        s_bf16 = sustained("bf16", list(POINTS.items()), args.windows)
        # 2. bursts, both dtypes, rounds interleaved (dtype order alternating), implementations rotated per round.
        for r in range(args.rounds):
            if el() > args.budget:
                print(f"[{el():5.1f}s] budget: stop bursts before round {r}", flush=True)
                break
            for dname in (("bf16", "fp16") if r % 2 == 0 else ("fp16", "bf16")):
                for p in [(8192, 0), (8192, 1), (16384, 0), (16384, 1)]:
                    impls = POINTS[p] + ["cudnn"]
                    impls = impls[r % len(impls):] + impls[:r % len(impls)]
                    for f in impls:
                        note("burst", dname, p, f, r, W[(f, dname)].ask(op="burst", point=p, idle=0.08))
            print(f"[{el():5.1f}s] burst round {r} done", flush=True)
        # 3. fp16 sustained where a form beat the shipped kernel in every bf16 window.
        cands = []
        for p, forms in POINTS.items():
            base = {r["idx"]: r["tflops"] for r in s_bf16 if r["point"] == pname(p) and r["impl"] == "O"}
            for f in forms[1:]:
                mine = {r["idx"]: r["tflops"] for r in s_bf16 if r["point"] == pname(p) and r["impl"] == f}
                if mine and len(mine) == len(base) and all(mine[i] > base[i] for i in base):
                    cands.append((p, f))
        print(f"[{el():5.1f}s] bf16 sustained candidates: {[(pname(p), f) for p, f in cands] or 'none'}", flush=True)
        plan = {}
        for p, f in cands:
            plan.setdefault(p, ["O"]).append(f)
        if plan:
            sustained("fp16", list(plan.items()), args.windows)
    try:
        phases()
    except Exception as e:  # a dead worker: keep what was measured
        print(f"[{el():5.1f}s] phases stopped: {e!r}", flush=True)
    for w in W.values():
        try:
            w.p.stdin.write(json.dumps({"op": "quit"}) + "\n")
            w.p.stdin.flush()
        except OSError:
            pass
    for w in W.values():
        try:
            w.p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            w.p.kill()
    time.sleep(0.2)
    smi.terminate()
    smi.wait()
    rec.close()
    report(out)


def report(out):
    samples = smi_samples(f"{out}/smi.csv")
    recs = [json.loads(x) for x in open(f"{out}/records.jsonl")]
    for r in recs:
        a = r["t0"] + (0.3 if r["kind"] == "sustain" else 0.0)
        r["mhz"], r["w"], r["n"] = window_stats(samples, a, r["t1"])
    print(f"\n{len(samples)} nvidia-smi samples. Sustained windows: TFLOP/s | mean SM MHz | mean W | pJ/FLOP (W / TFLOP/s)"
          " | ratio to O in the same window")
    for dname in ("bf16", "fp16"):
        for p in POINTS:
            rows = [r for r in recs if r["kind"] == "sustain" and r["dtype"] == dname and r["point"] == pname(p)]
            if not rows:
                continue
            print(f"== sustained {dname} {pname(p)}")
            base = {r["idx"]: r["tflops"] for r in rows if r["impl"] == "O"}
            for f in POINTS[p] + ["cudnn"]:
                fr = [r for r in rows if r["impl"] == f]
                if not fr:
                    continue
                cells = " ".join(f"w{r['idx']} {r['tflops']:5.1f}|{r['mhz']:4.0f}|{r['w']:3.0f}|{r['w'] / r['tflops']:.3f}"
                                 for r in fr)
                ratio = " ".join(f"{r['tflops'] / base[r['idx']]:.3f}" for r in fr if r["idx"] in base)
                print(f"  {f:8} {cells}  ÷O {ratio}")
    print("\nBursts (2 warm + 10 timed, median): TFLOP/s per round; ratio to O per round; ÷ cuDNN per round; mean MHz in the burst")
    for dname in ("bf16", "fp16"):
        for p in POINTS:
            rows = [r for r in recs if r["kind"] == "burst" and r["dtype"] == dname and r["point"] == pname(p)]
            if not rows:
                continue
            print(f"== burst {dname} {pname(p)}")
            base = {r["idx"]: r["tflops"] for r in rows if r["impl"] == "O"}
            cu = {r["idx"]: r["tflops"] for r in rows if r["impl"] == "cudnn"}
            for f in POINTS[p] + ["cudnn"]:
                fr = sorted((r for r in rows if r["impl"] == f), key=lambda r: r["idx"])
                print(f"  {f:8} " + "/".join(f"{r['tflops']:.0f}" for r in fr)
                      + "  ÷O " + " ".join(f"{r['tflops'] / base[r['idx']]:.3f}" for r in fr if r["idx"] in base)
                      + "  ÷cuDNN " + " ".join(f"{r['tflops'] / cu[r['idx']]:.3f}" for r in fr if r["idx"] in cu)
                      + "  MHz " + "/".join(f"{r['mhz']:.0f}" for r in fr))

    print("\nSummary per point and form: ratio to O, min-max over windows / rounds (sus = sustained), mean MHz, mean pJ/FLOP"
          " of the sustained windows, and the burst ratio to cuDNN; WIN = above O in every window and round, both dtypes")
    for p in POINTS:
        for f in POINTS[p] + ["cudnn"]:
            cells, every = [], f != "O" and f != "cudnn"
            for kind in ("sustain", "burst"):
                for dname in ("bf16", "fp16"):
                    rows = [r for r in recs if r["kind"] == kind and r["dtype"] == dname and r["point"] == pname(p)]
                    base = {r["idx"]: r["tflops"] for r in rows if r["impl"] == "O"}
                    rs = [r["tflops"] / base[r["idx"]] for r in rows if r["impl"] == f and r["idx"] in base]
                    if not rs:
                        cells.append(f"{kind[:3]} {dname} -")
                        if kind == "burst" or dname == "bf16":
                            every = False
                        continue
                    every = every and min(rs) > 1
                    cells.append(f"{kind[:3]} {dname} {min(rs):.3f}-{max(rs):.3f}")
            sus = [r for r in recs if r["kind"] == "sustain" and r["point"] == pname(p) and r["impl"] == f and r["dtype"] == "bf16"]
            mhz = sum(r["mhz"] for r in sus) / len(sus) if sus else float("nan")
            pj = sum(r["w"] / r["tflops"] for r in sus) / len(sus) if sus else float("nan")
            tf = sum(r["tflops"] for r in sus) / len(sus) if sus else float("nan")
            cu = []
            for dname in ("bf16", "fp16"):
                rows = [r for r in recs if r["kind"] == "burst" and r["dtype"] == dname and r["point"] == pname(p)]
                c = {r["idx"]: r["tflops"] for r in rows if r["impl"] == "cudnn"}
                rs = [r["tflops"] / c[r["idx"]] for r in rows if r["impl"] == f and r["idx"] in c]
                cu.append(f"{min(rs):.3f}-{max(rs):.3f}" if rs else "-")
            print(f"  {pname(p)} {f:8} | " + " | ".join(cells) + f" | bf16 sus {tf:5.1f} TFLOP/s {mhz:4.0f} MHz {pj:.3f} pJ"
                  f" | burst ÷cuDNN bf16 {cu[0]} fp16 {cu[1]}" + ("  WIN" if every else ""))


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--report":
        report(sys.argv[2])
    else:
        main()
