#!/usr/bin/env bash
# Session 8, hopbwd13: where the tile D = 128 Hopper backward's key/value kernel spends its time (issue 9's
# backward bar at D <= 128). bf16, D = 128, 16k tokens, hidden 2048 (H = 16): N = 1k (B = 16) and 8k (B = 2),
# unmasked, shipped defaults (1k: one dQ buffer; 8k: two buffers, two writers; both early dV + late dK).
# D = 128 adds dQ in key-block order in every call, so `run` (a deterministic call) profiles the kernel that
# non-deterministic calls run.
# (1) ncu --clock-control none --set full --import-source yes on the key/value kernel (second launch named
#     flash_attention_backward_hopper): tensor pipe, issue active, stall reasons, per-SASS-line stall samples
#     and instructions executed (source page as CSV).
# (2) the three launches' durations (preprocess, key/value, convert), light metrics.
# (3) cuDNN's SDPA backward at the same shapes: every kernel's launch shape (grid, block, shared memory,
#     registers), duration and tensor pipe (one call, no warm-up; the backward runs on autograd's thread, so no
#     NVTX filter).
#   usage on the device (carry .device-bwd2/flash-attn.gz): bash scripts/device/hopper_bwd13_measure.sh  (~70 s)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hb13m; mkdir -p $W
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader | tee $W/gpu.txt
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(13)
for n in ('q', 'k', 'v', 'do'):
    a = r.standard_normal((16384, 16, 128), dtype=np.float32).astype(np.float16)
    for N in (1024, 8192): np.save(f'/tmp/m{N}_{n}.npy', a.reshape(16384 // N, N, 16, 128))
"
stamp data
args() { echo "run --q /tmp/m$1_q.npy --k /tmp/m$1_k.npy --v /tmp/m$1_v.npy --grad-out /tmp/m$1_do.npy --dtype bfloat16 --device cuda --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy"; }
mets=sm__cycles_active.avg,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum,smsp__inst_executed.sum
for N in ${HB_NS:-1024 8192}; do
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 100 "$ncu" --clock-control none --set full --import-source yes --metrics $mets \
    --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 -o $W/kv_$N -f /tmp/fa $(args $N) > $W/full_$N.log 2>&1
  stamp "full $N exit $?"
  "$ncu" -i $W/kv_$N.ncu-rep --page details > $W/full_${N}_details.txt 2>&1
  "$ncu" -i $W/kv_$N.ncu-rep --page raw --csv > $W/full_${N}_raw.csv 2>&1
  timeout 60 "$ncu" -i $W/kv_$N.ncu-rep --page source --csv --print-source sass > $W/full_${N}_sass.csv 2>&1
  timeout 60 "$ncu" --clock-control none --metrics gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,dram__bytes.sum \
    --kernel-name flash_attention_backward_hopper /tmp/fa $(args $N) > $W/light_$N.txt 2>&1
  stamp "light $N exit $?"
done
cat > /tmp/sdpa_bwd.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
N = int(sys.argv[1]); B, H, D = 16384 // N, 16, 128
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_() for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    o = F.scaled_dot_product_attention(q, k, v); g = torch.randn_like(o)
    torch.cuda.synchronize(); print("BACKWARD START", flush=True)
    o.backward(g); torch.cuda.synchronize()
PY
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active
for N in ${HB_NS:-1024 8192}; do
  timeout 60 "$ncu" --clock-control none --section LaunchStats --section Occupancy --metrics $m python3 /tmp/sdpa_bwd.py $N > $W/cudnn_$N.txt 2>&1
  stamp "cudnn $N exit $?"
done
python3 - $W <<'PY' | tee $W/summary.txt
import csv, glob, os, re, sys
W = sys.argv[1]
for N in (1024, 8192):
    d = os.path.join(W, f"full_{N}_details.txt")
    if not os.path.exists(d): continue
    print(f"== kv kernel D=128 bf16 N={N}")
    for line in open(d):
        if re.match(r"\s+(Duration|Compute \(SM\) Throughput|Issue Slots Busy|No Eligible|L2 Hit Rate|DRAM Throughput|Warp Cycles Per Issued|Registers Per|Dynamic Shared|Executed Instructions)\s", line):
            print("  " + " ".join(line.split()))
    rows = list(csv.reader(open(os.path.join(W, f"full_{N}_raw.csv"))))
    if len(rows) > 2:
        h, v = rows[0], rows[2]
        for k in ("sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active", "smsp__inst_executed.sum", "sm__cycles_active.avg"):
            if k in h: print("  ", k, v[h.index(k)])
        st = [(k, v[i]) for i, k in enumerate(h) if k.startswith("smsp__average_warp_latency_issue_stalled") or k.startswith("smsp__pcsamp_warps_issue_stalled")]
        st = [(k, float(x.replace(",", ""))) for k, x in st if re.match(r"^[0-9.,]+$", x)]
        for k, x in sorted(st, key=lambda t: -t[1])[:14]: print(f"   stall {k} {x:g}")
    s = os.path.join(W, f"full_{N}_sass.csv")
    try:
        rr = list(csv.reader(open(s)))
        hi = next(i for i, r in enumerate(rr) if "Source" in r)
        h = rr[hi]; body = rr[hi + 1:]
        ci = h.index("Source"); si = next((i for i, k in enumerate(h) if k.startswith("Warp Stall Sampling (All")), None)
        ei = next((i for i, k in enumerate(h) if k.startswith("Instructions Executed")), None)
        num = lambda x: float(x.replace(",", "") or 0) if re.match(r"^[0-9.,]*$", x) else 0.0
        tot = sum(num(r[si]) for r in body if si is not None and len(r) > si)
        print(f"  SASS lines {len(body)}, stall samples {tot:g}, inst executed {sum(num(r[ei]) for r in body if ei is not None and len(r) > ei):g}")
        for r in sorted(body, key=lambda r: -num(r[si]) if si is not None and len(r) > si else 0)[:24]:
            print(f"   {num(r[si]) / max(tot, 1) * 100:5.1f}% {r[0]:>6} {r[ci][:90]}")
    except Exception as e:
        print("  sass parse:", e)
    l = os.path.join(W, f"light_{N}.txt")
    if os.path.exists(l):
        for line in open(l):
            if re.search(r"gpu__time_duration|hmma|dram__bytes|flash_attention_backward_hopper", line): print("  light " + " ".join(line.split())[:120])
for N in (1024, 8192):
    c = os.path.join(W, f"cudnn_{N}.txt")
    if not os.path.exists(c): continue
    print(f"== cuDNN SDPA backward D=128 bf16 N={N} (kernels after BACKWARD START)")
    txt = open(c).read(); txt = txt.split("BACKWARD START", 1)[-1]
    for blk in re.split(r"\n(?=  \S.*\(\d+, \d+, \d+\)x\(\d+, \d+, \d+\))", txt):
        head = blk.strip().splitlines()[0] if blk.strip() else ""
        if not re.search(r"\(\d+, \d+, \d+\)x", head): continue
        vals = []
        for key in ("gpu__time_duration.sum", "sm__pipe_tensor_op_hmma", "smsp__issue_active", "Registers Per Thread", "Dynamic Shared Memory Per Block", "Static Shared Memory Per Block", "Waves Per SM", "Achieved Occupancy"):
            mm = re.search(re.escape(key) + r"\S*\s+(\S+)\s+(\S+)", blk)
            if mm: vals.append(f"{key.split('.')[0].split()[0]}={mm.group(2)}{mm.group(1) if not mm.group(1).replace('.','').isdigit() else ''}")
        print("  " + head[:150]); print("     " + " ".join(vals))
PY
stamp done
( cd $W && tar czf "$OUT/hb13m.tgz" --exclude='*.npy' --exclude='*.ncu-rep' *.txt *.log *.csv 2>/dev/null ); cp $W/summary.txt "$OUT/"
ls -la $W/*.ncu-rep 2>/dev/null | head; du -sh $W
