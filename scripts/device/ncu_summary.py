#!/usr/bin/env python3
"""One line per kernel from an `ncu --csv --print-units base` report of the four metrics the tensor-pipe calls collect
(gpu__time_duration.sum, sm__cycles_elapsed.avg.per_second, sm__pipe_tensor_op_hmma_cycles_active...pct_of_peak_sustained_active,
sm__inst_issued.avg.pct_of_peak_sustained_active): time, SM clock, tensor pipe %, issue %.
    python3 scripts/device/ncu_summary.py REPORT.csv "label"      (sessions 23-24: next_s23h.sh, next_s24b.sh, next_s24d.sh)"""
import csv
import sys

rows = [r for r in csv.reader(line for line in open(sys.argv[1]) if line.startswith('"'))]
if not rows:
    print(sys.argv[2], "no data")
    sys.exit()
k = {n: i for i, n in enumerate(rows[0])}
by = {}
for r in rows[1:]:
    by.setdefault((r[k["ID"]], r[k["Kernel Name"]][:40]), {})[r[k["Metric Name"]]] = r[k["Metric Value"]]
for (_, name), m in by.items():
    def f(x):
        return float(m.get(x, "nan").replace(",", ""))
    print(f"{sys.argv[2]:22} {name:40} {f('gpu__time_duration.sum') / 1e3:9.1f} us {f('sm__cycles_elapsed.avg.per_second') / 1e6:6.0f} MHz"
          f" tensor {f('sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active'):5.1f} %"
          f" issue {f('sm__inst_issued.avg.pct_of_peak_sustained_active'):5.1f} %")
