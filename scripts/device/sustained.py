"""The sustained-window machinery shared by hopper_bwd21.py and hopper_fwd29.py (and clock_probe.py's timing loop and
nvidia-smi parsing): one copy of what the scripts did alike, so a fix to the protocol, the sampler or the report lands once.

- worker side: `open_proto` (the JSON-lines channel on the original stdout; the worker's own prints go to its log),
  `serve` (the command loop: `sustain` = warm 3 calls, then batches of 10 calls for >= `seconds` between two CUDA events;
  `burst` = `idle` s asleep, 2 warm + 10 timed calls, the median), `mock_serve` (CPU sleeps instead, without a GPU);
- orchestrator: `Session` (one worker process per (form, dtype) with its knobs, nvidia-smi sampling clocks.sm and
  power.draw every 50 ms into smi.csv, records.jsonl, the sustained-window loop with no idle gap between forms, burst
  rounds with the order rotated, and the shutdown);
- report: `smi_samples`, `window_stats`, `load_records` and the cells / lines both report tables print.

What differs between the scripts (their problems and calls, forms, points, phase plans and tables) stays in each script.
Stdlib only: torch is passed in by the worker that has imported it, so the mock modes run without it.
"""
import json
import os
import random
import subprocess
import sys
import time
from contextlib import nullcontext

DTYPES = ("bf16", "fp16")


# ------------------------------------------------------------------------------------------------------------- worker
def open_proto(logpath):
    """The protocol channel (a dup of stdout, line-buffered); stdout and stderr, the Python ones and the fds (CUDA, NVRTC
    and our library print there), go to the worker's log so they cannot corrupt the channel."""
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    logf = open(logpath, "w")
    os.dup2(logf.fileno(), 1)
    os.dup2(logf.fileno(), 2)
    sys.stdout = sys.stderr = logf
    return proto


def sustain_window(torch, fn, seconds):
    """`fn` looped >= `seconds` in batches of 10 calls (3 warm calls first), CUDA events around the whole window: the
    mean ms per call and the wall-clock span for the nvidia-smi samples."""
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    t0 = time.time()
    e0.record()
    calls = 0
    while time.time() - t0 < seconds:
        for _ in range(10):
            fn()
        calls += 10
        torch.cuda.synchronize()
    e1.record()
    torch.cuda.synchronize()
    t1 = time.time()
    return {"t0": t0, "t1": t1, "calls": calls, "ms": e0.elapsed_time(e1) / calls}


def burst(torch, fn, idle):
    """After `idle` s asleep, 2 warm + 10 timed calls (events between calls): median, min, max ms."""
    time.sleep(idle)
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
    return {"t0": t0, "t1": t1, "ms": times[5], "min": times[0], "max": times[-1]}


def serve(proto, torch, fns, ctx=nullcontext):
    """The worker's command loop over stdin (after its `ok` line): one JSON reply per `sustain` / `burst`; `quit` ends."""
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        fn = fns[tuple(cmd["point"])]
        with ctx():
            if cmd["op"] == "sustain":
                proto.write(json.dumps(sustain_window(torch, fn, cmd["seconds"])) + "\n")
            elif cmd["op"] == "burst":
                proto.write(json.dumps(burst(torch, fn, cmd.get("idle", 0.08))) + "\n")


def mock_serve(proto, impl, ok, fast_env, cap, spread, fast):
    """The protocol without a GPU: CPU sleeps (at most `cap` s) stand in for the calls, 5 ms +- `spread` a call, and the
    form named by the env var `fast_env` takes `fast` times as long."""
    proto.write(json.dumps({"ok": True, "load_s": 0.0, "mem_gb": 0.0, **ok}) + "\n")
    for line in sys.stdin:
        cmd = json.loads(line)
        if cmd["op"] == "quit":
            break
        if cmd["op"] == "burst":
            time.sleep(cmd.get("idle", 0.08))
        t0 = time.time()
        time.sleep(min(cmd.get("seconds", 0.05), cap))
        ms = 5.0 * random.uniform(1 - spread, 1 + spread) * (fast if os.environ.get(fast_env) == impl else 1.0)
        proto.write(json.dumps({"t0": t0, "t1": time.time(), "calls": 10, "ms": ms, "min": ms, "max": ms}) + "\n")


# ------------------------------------------------------------------------------------------------------- orchestrator
class Worker:
    """`script --worker impl dname pts log` in its own process, with the form's knobs and its own kernel cache dir (the
    kernel names it compiled come from its files)."""

    def __init__(self, script, knobs, impl, dname, pts, out, cache):
        env = dict(os.environ)
        env.update(knobs)
        env["FLASH_ATTENTION_CACHE_DIR"] = cache
        os.makedirs(cache, exist_ok=True)
        self.name = f"{impl}/{dname}"
        self.p = subprocess.Popen([sys.executable, script, "--worker", impl, dname, json.dumps(pts),
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


def smi_command(temperature, mock):
    """nvidia-smi every 50 ms: timestamp, clocks.sm, power.draw (and temperature.gpu); the mock prints constant samples."""
    if mock:
        return ["bash", "-c", "while true; do echo \"$(date +'%Y/%m/%d %H:%M:%S.%3N'), 1500, 650"
                + (", 60" if temperature else "") + "\"; sleep 0.05; done"]
    return ["nvidia-smi", "--query-gpu=timestamp,clocks.sm,power.draw" + (",temperature.gpu" if temperature else ""),
            "--format=csv,noheader,nounits", "-lms", "50"]


class Session:
    """One sustained run: the sampler, one worker per (form, dtype) for every form of `points` and cuDNN (both dtypes;
    loading is untimed), records.jsonl, and the loops that drive the workers one at a time."""

    def __init__(self, script, out, impls, points, pname, flops, cache_root, seconds, end, *, temperature, mock,
                 heat_s, width):
        self.T0 = time.time()
        self.out, self.pname, self.flops = out, pname, flops
        self.seconds, self.end, self.heat_s, self.width = seconds, end, heat_s, width
        os.makedirs(out, exist_ok=True)
        self.rec = open(f"{out}/records.jsonl", "w")
        self.smi = subprocess.Popen(smi_command(temperature, mock), stdout=open(f"{out}/smi.csv", "w"))
        need = {}
        for p, forms in points.items():
            for f in forms + ["cudnn"]:
                need.setdefault(f, []).append(p)
        self.W = {}
        for dname in DTYPES:
            for impl, pts in need.items():
                self.W[(impl, dname)] = Worker(script, impls[impl], impl, dname, pts, out, f"{cache_root}/{impl}-{dname}")
        self.names = {}
        for key, w in self.W.items():
            try:
                r = w.read()
                self.names[key] = r.get("names", {})
                self.log(f"loaded {w.name}: {r['load_s']:.1f} s, {r['mem_gb']:.1f} GB")
            except (RuntimeError, ValueError) as e:
                self.log(f"{e}")
        self.heated = set()

    def el(self):
        return time.time() - self.T0

    def log(self, msg):
        print(f"[{self.el():5.1f}s] {msg}", flush=True)

    def note(self, kind, dname, p, impl, idx, r):
        r.update(kind=kind, dtype=dname, point=self.pname(p), impl=impl, idx=idx,
                 tflops=self.flops(p) / (r["ms"] * 1e-3) / 1e12)
        self.rec.write(json.dumps(r) + "\n")
        self.rec.flush()
        return r

    def sustained(self, dname, plan, windows, cudnn):
        """Per point of `plan` ([(p, forms)]), `windows` windows, each form one window after the other with no idle gap;
        cuDNN joins the middle window where `cudnn(p)`. The first window of a dtype follows a heating window (the card
        in its capped state). Stops before a window that would end after `end`: (records, False)."""
        res = []
        for p, forms in plan:
            if dname not in self.heated:
                self.W[(forms[0], dname)].ask(op="sustain", point=p, seconds=self.heat_s)
                self.heated.add(dname)
            for w in range(windows):
                lst = forms + (["cudnn"] if cudnn(p) and w == min(1, windows - 1) else [])
                if self.el() + len(lst) * (self.seconds + 0.1) > self.end:
                    self.log(f"end: stop sustained {dname} at {self.pname(p)} window {w}")
                    return res, False
                for f in lst:
                    if (f, dname) not in self.W:
                        continue
                    r = self.note("sustain", dname, p, f, w, self.W[(f, dname)].ask(op="sustain", point=p,
                                                                                     seconds=self.seconds))
                    res.append(r)
                    self.log(f"sustain {dname} {self.pname(p)} w{w} {f:{self.width}} {r['tflops']:6.1f} TFLOP/s"
                             f" ({r['calls']} calls)")
        return res, True

    def burst_point(self, dname, p, impls, r):
        """One burst round at one point: every implementation once, the order rotated by the round."""
        impls = impls[r % len(impls):] + impls[:r % len(impls)]
        for f in impls:
            self.note("burst", dname, p, f, r, self.W[(f, dname)].ask(op="burst", point=p, idle=0.08))

    def run(self, phases):
        """`phases()`, then the shutdown (a dead worker stops the phases: what was measured is kept)."""
        try:
            phases()
        except Exception as e:
            self.log(f"phases stopped: {e!r}")
        for w in self.W.values():
            try:
                w.p.stdin.write(json.dumps({"op": "quit"}) + "\n")
                w.p.stdin.flush()
            except OSError:
                pass
        for w in self.W.values():
            try:
                w.p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                w.p.kill()
        time.sleep(0.2)
        self.smi.terminate()
        self.smi.wait()
        self.rec.close()


# ------------------------------------------------------------------------------------------------------------- report
def smi_samples(path):
    """(unix time, SM MHz, W, degC) per nvidia-smi line (degC nan where the query had no temperature)."""
    out = []
    for line in open(path):
        parts = [x.strip() for x in line.split(",")]
        try:
            base, frac = parts[0].split(".")
            ts = time.mktime(time.strptime(base, "%Y/%m/%d %H:%M:%S")) + float("0." + frac)
            out.append((ts, float(parts[1]), float(parts[2]), float(parts[3]) if len(parts) > 3 else float("nan")))
        except (ValueError, IndexError):
            continue
    return out


def window_stats(samples, a, b):
    """Mean MHz, mean W, the last degC and the sample count inside [a, b]."""
    inside = [s for s in samples if a <= s[0] <= b]
    if not inside:
        return float("nan"), float("nan"), float("nan"), 0
    n = len(inside)
    return sum(s[1] for s in inside) / n, sum(s[2] for s in inside) / n, inside[-1][3], n


def load_records(out, skip):
    """DIR/records.jsonl with each window's smi means (a sustained window's first `skip` s dropped) and the samples."""
    samples = smi_samples(f"{out}/smi.csv")
    recs = [json.loads(x) for x in open(f"{out}/records.jsonl")]
    for r in recs:
        a = r["t0"] + (skip if r["kind"] == "sustain" else 0.0)
        r["mhz"], r["w"], r["degc"], r["n"] = window_stats(samples, a, r["t1"])
    return samples, recs


def select(recs, kind, dname, point):
    """The records of one kind ("sustain" / "burst"), dtype and point name."""
    return [r for r in recs if r["kind"] == kind and r["dtype"] == dname and r["point"] == point]


def ratios(rows, f, base):
    """Each of form f's windows / rounds over `base` ({idx: TFLOP/s}) at the same index."""
    return [r["tflops"] / base[r["idx"]] for r in rows if r["impl"] == f and r["idx"] in base]


def span(rs):
    return f"{min(rs):.3f}-{max(rs):.3f}"


def sustained_tables(recs, points, pname, label):
    """`== sustained <dtype> <point>`, then a line a form (cuDNN last): label(dname, p, f, rows) gives the text before
    and after the window cells and the ratios to O."""
    for dname in DTYPES:
        for p in points:
            rows = select(recs, "sustain", dname, pname(p))
            if not rows:
                continue
            print(f"== sustained {dname} {pname(p)}")
            base = by_idx(rows, "O")
            for f in points[p] + ["cudnn"]:
                fr = [r for r in rows if r["impl"] == f]
                if fr:
                    head, tail = label(dname, p, f, fr)
                    print(f"  {head}{sustain_cells(fr)}  ÷O {ratio_cells(fr, base)}{tail}")


def burst_tables(recs, points, pname, dtypes, width):
    """`== burst <dtype> <point>`, then burst_line per form (cuDNN last)."""
    for dname in dtypes:
        for p in points:
            rows = select(recs, "burst", dname, pname(p))
            if not rows:
                continue
            print(f"== burst {dname} {pname(p)}")
            for f in points[p] + ["cudnn"]:
                print(burst_line(f, width, rows))


def by_idx(rows, impl):
    """{window / round index: TFLOP/s} of one implementation."""
    return {r["idx"]: r["tflops"] for r in rows if r["impl"] == impl}


def beats(mine, base):
    """Above the base ({idx: TFLOP/s}) in every one of its windows / rounds, and timed in as many."""
    return bool(base) and len(mine) == len(base) and all(i in mine and mine[i] > base[i] for i in base)


def sustain_cells(fr):
    """`w<i> TFLOP/s|MHz|W|pJ/FLOP` per window."""
    return " ".join(f"w{r['idx']} {r['tflops']:5.1f}|{r['mhz']:4.0f}|{r['w']:3.0f}|{r['w'] / r['tflops']:.3f}" for r in fr)


def ratio_cells(fr, base):
    """The ratio of each window / round to `base` ({idx: TFLOP/s}) at the same index."""
    return " ".join(f"{r['tflops'] / base[r['idx']]:.3f}" for r in fr if r["idx"] in base)


def burst_line(f, width, rows):
    """One form's burst rounds: TFLOP/s per round, ÷O and ÷cuDNN per round, mean MHz."""
    base, cu = by_idx(rows, "O"), by_idx(rows, "cudnn")
    fr = sorted((r for r in rows if r["impl"] == f), key=lambda r: r["idx"])
    return (f"  {f:{width}} " + "/".join(f"{r['tflops']:.0f}" for r in fr) + "  ÷O " + ratio_cells(fr, base)
            + "  ÷cuDNN " + ratio_cells(fr, cu) + "  MHz " + "/".join(f"{r['mhz']:.0f}" for r in fr))
