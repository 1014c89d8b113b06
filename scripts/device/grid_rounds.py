#!/usr/bin/env python3
"""Merges final_s9b.sh's two grid rounds: per point ours, cuDNN and FA2 in each round, the mean of the
two rounds, and the ratios of the means; then counts; then each A/B file (ab_<name>.csv) as
default/knob-off, where "default" is the mean of the grid rounds of the same point.
    python3 scripts/device/grid_rounds.py <dir with fwd_r1.csv, fwd_torch_r1.csv, ...>"""
import csv, glob, math, os, sys

d = sys.argv[1]


def load(path, key_cols=("dtype", "headdim", "seqlen", "causal")):
    rows = {}
    if os.path.exists(path):
        for r in csv.DictReader(open(path)):
            rows[tuple(int(r[c]) if c != "dtype" else r[c] for c in key_cols)] = r
    return rows


def f(r, col):
    try:
        return float(r[col])
    except (KeyError, TypeError, ValueError):
        return float("nan")


def gmean(xs):
    xs = [x for x in xs if x == x and x > 0]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")


merged = {}
for p in ("fwd", "bwd"):
    ours = [load(os.path.join(d, f"{p}_r{r}.csv")) for r in (1, 2)]
    torch = [load(os.path.join(d, f"{p}_torch_r{r}.csv")) for r in (1, 2)]
    keys = sorted(set(ours[0]) | set(ours[1]))
    if not keys:
        continue
    print(f"=== {p}: ours / cuDNN / FA2 per round (TFLOP/s), the mean of two rounds, and ratios of the means")
    print(f"{'dtype':5} {'D':>4} {'N':>6} {'c':>2} | {'ours r1/r2':>11} | {'cudnn r1/r2':>11} | {'fa2 r1/r2':>11} | "
          f"{'o/cudnn r1 r2':>13} | {'mean o/cudnn':>12} {'o/fa2':>6}")
    ratios = []
    for k in keys:
        o = [f(ours[i].get(k, {}), "tflops") for i in (0, 1)]
        c = [f(torch[i].get(k, {}), "cudnn") for i in (0, 1)]
        a = [f(torch[i].get(k, {}), "flash") for i in (0, 1)]
        om, cm, am = (sum(x) / 2 for x in (o, c, a))
        merged[(p,) + k] = om
        rc, ra = om / cm, om / am
        ratios.append((k, rc, ra, om, cm, am))
        print(f"{k[0]:5} {k[1]:>4} {k[2]:>6} {k[3]:>2} | {o[0]:5.0f}/{o[1]:<5.0f} | {c[0]:5.0f}/{c[1]:<5.0f} | "
              f"{a[0]:5.0f}/{a[1]:<5.0f} | {o[0]/c[0]:6.3f} {o[1]/c[1]:6.3f} | {rc:12.3f} {ra:6.2f}")
    rcs = [x[1] for x in ratios if x[1] == x[1]]
    ras = [x[2] for x in ratios if x[2] == x[2]]
    print(f"{p} mean of rounds vs cuDNN: {min(rcs):.3f}-{max(rcs):.3f}, >= 1.0 at {sum(x >= 1.0 for x in rcs)}/{len(rcs)}, "
          f">= 1.1 at {sum(x >= 1.1 for x in rcs)}/{len(rcs)}, geomean {gmean(rcs):.3f}; vs FA2 {min(ras):.2f}-{max(ras):.2f}")
    for D in (64, 128, 256):
        sel = [x for x in ratios if x[0][1] == D]
        if sel:
            print(f"  D={D}: vs cuDNN {min(x[1] for x in sel):.3f}-{max(x[1] for x in sel):.3f}, best ours {max(x[3] for x in sel):.0f}")
    # The CSV the docs' charts are drawn from: the mean of the two rounds per implementation.
    with open(os.path.join(d, f"{p}_mean.csv"), "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["dtype", "headdim", "seqlen", "causal", "ours", "cudnn", "flash"])
        for k, rc, ra, om, cm, am in ratios:
            w.writerow(list(k) + [f"{om:.1f}", f"{cm:.1f}", f"{am:.1f}"])

for path in sorted(glob.glob(os.path.join(d, "ab_*.csv"))):
    name = os.path.basename(path)[3:-4]
    ab = load(path)
    p = "bwd" if any("hbwd" in r.get("variant", "") or "bwd" in r.get("variant", "")[:4] for r in ab.values()) else "fwd"
    print(f"=== A/B {name} ({p}): default (mean of grid rounds) / knob setting")
    xs = []
    for k in sorted(ab):
        base = merged.get((p,) + k, float("nan"))
        x = base / f(ab[k], "tflops")
        xs.append(x)
        print(f"  {k[0]} D={k[1]} N={k[2]} c={k[3]}: {base:.0f} / {f(ab[k], 'tflops'):.0f} = {x:.3f}  ({ab[k].get('variant', '')[:90]})")
    if xs:
        print(f"  {name}: {min(xs):.3f}-{max(xs):.3f}, geomean {gmean(xs):.3f}")
