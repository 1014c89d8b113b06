#!/usr/bin/env bash
# Session 13, hopbwd17 call 1: ncu of the shipped tile D = 128 key/value kernel and cuDNN's bprop (bf16, unmasked 1k
# B=16 H=16, causal 16k B=1 H=16), then a 2-round A/B of existing off knobs at D = 128 (non-deterministic bench) with cuDNN.
#   staging: .device-hopbwd17/flash-attn.gz (static build of d8df692); run: HW_BUDGET=150 bash .device-hopbwd17/c1.sh
#   (this copy; carry .device-hopbwd17). As run on 2026-11-27 the profiles of OUR kernel failed (exit 127): the line
#   `${B}_LOG=1 timeout ...` is not an assignment to bash (the name is an expansion), so it ran a command of that name;
#   fixed below with `env`. The second round was cut by the budget guard (O and MB missing). Results: docs/performance.md,
#   "Session 13: the Hopper backward at tile D = 128".
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb17; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopbwd17/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
B=FLASH_ATTENTION_HOPPER_BWD
menv() { case $1 in O) echo "X=1";; MB) echo "${B}_MASKBRANCH=1";; MP) echo "${B}_MASKBRANCH=1 ${B}_DESC=1";;
  ME) echo "${B}_MASKBRANCH=1 ${B}_EARLYDV=1 ${B}_LATEDK=1 ${B}_DESC=1";; G4) echo "${B}_GROUP=4";; U) echo "${B}_DQ=unordered";;
  ST) echo "${B}_STATS=1";; B2) echo "${B}_DQBUF=2 ${B}_DQWRITERS=2";; esac; }
MODES="O MB MP ME G4 U ST B2"
SEQ=${HW_SEQ:-1024,4096,16384}
for m in $MODES; do env $(menv $m) timeout 100 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes bf16 --seqlens 1024 --iterations 1 > $W/warm_$m.txt 2>&1 & done
python3 -c "
import numpy as np
r = np.random.default_rng(13)
for n in ('q', 'k', 'v', 'do'):
    a = r.standard_normal((16384, 16, 128), dtype=np.float32).astype(np.float16)
    for N in (1024, 16384): np.save(f'/tmp/m{N}_{n}.npy', a.reshape(16384 // N, N, 16, 128))
"
cat > /tmp/sdpa_bwd.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
N = int(sys.argv[1]); c = sys.argv[2] == "1"; B, H, D = 16384 // N, 16, 128
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_() for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    o = F.scaled_dot_product_attention(q, k, v, is_causal=c); g = torch.randn_like(o)
    torch.cuda.synchronize(); o.backward(g); torch.cuda.synchronize()
PY
wait $(jobs -p); stamp "warm + data"
args() { echo "run --q /tmp/m$1_q.npy --k /tmp/m$1_k.npy --v /tmp/m$1_v.npy --grad-out /tmp/m$1_do.npy --dtype bfloat16 --device cuda --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy"; }
for p in "1024 0" "16384 1"; do set -- $p; N=$1; C=$2; cf=""; [ $C = 1 ] && cf=--causal
  env ${B}_LOG=1 timeout 100 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
    -o $W/ours_${N}_$C -f /tmp/fa $(args $N) $cf > $W/ours_${N}_$C.log 2>&1; stamp "ours $N $C exit $?"
  timeout 100 "$ncu" --clock-control none --set full --import-source yes -k regex:bprop --launch-count 1 \
    -o $W/cudnn_${N}_$C -f python3 /tmp/sdpa_bwd.py $N $C > $W/cudnn_${N}_$C.log 2>&1; stamp "cudnn $N $C exit $?"
done
for f in $W/*.ncu-rep; do n=$(basename $f .ncu-rep)
  "$ncu" -i $f --page details > $W/${n}_details.txt 2>&1
  "$ncu" -i $f --page raw --csv > $W/${n}_raw.csv 2>&1
  timeout 60 "$ncu" -i $f --page source --csv --print-source sass > $W/${n}_sass.csv 2>&1 &
done; wait $(jobs -p); stamp "exports"
bench() { [ "$(el)" -lt "${HW_BUDGET:-200}" ] || { stamp "skip $1 $2"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2.csv --head-dims 128 --seqlens $SEQ --dtypes bf16 > $W/b_$1_$2.txt 2>&1; }
for m in $MODES; do bench $m r1; done; stamp r1
( cd scripts && PYTHONUNBUFFERED=1 timeout 60 python3 bench_cuda_backward.py --out $W/torch.csv --dims 128 --seqlens $SEQ --dtypes bf16 > $W/torch.txt 2>&1 ); stamp torch
for m in $(echo $MODES | tr ' ' '\n' | tac); do bench $m r2; done; stamp r2
python3 - $W <<'PY'
import csv, glob, os, re, sys
W = sys.argv[1]
num = lambda x: float(x.replace(",", "") or 0) if re.match(r"^[0-9.,]*$", x) else 0.0
for n in ("ours_1024_0", "cudnn_1024_0", "ours_16384_1", "cudnn_16384_1"):
    d = os.path.join(W, n + "_details.txt")
    if not os.path.exists(d): print("missing", n); continue
    print("==", n)
    for line in open(d):
        if re.match(r"\s+(Duration|Issue Slots Busy|Executed Ipc Active|L2 Hit Rate|DRAM Throughput|Registers Per|Grid Size|Block Size|Dynamic Shared|Executed Instructions)\s", line):
            print("  " + " ".join(line.split()))
    rows = list(csv.reader(open(os.path.join(W, n + "_raw.csv"))))
    if len(rows) > 2:
        h, v = rows[0], rows[2]
        for k in ("sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active", "sm__inst_executed_pipe_tensor_op_hmma.avg.pct_of_peak_sustained_active", "smsp__inst_executed.sum", "launch__func_cache_config", "Function Name"):
            if k in h: print("   ", k, v[h.index(k)])
        st = [(k, num(v[i])) for i, k in enumerate(h) if k.startswith("smsp__pcsamp_warps_issue_stalled") and not k.endswith("not_issued")]
        tot = sum(x for _, x in st) or 1
        print("    stalls: " + ", ".join(f"{k.replace('smsp__pcsamp_warps_issue_stalled_','')} {x / tot * 100:.1f}%" for k, x in sorted(st, key=lambda t: -t[1])[:9]))
    try:
        rr = list(csv.reader(open(os.path.join(W, n + "_sass.csv"))))
        hi = next(i for i, r in enumerate(rr) if "Source" in r); h = rr[hi]; body = rr[hi + 1:]
        ci = h.index("Source"); si = next(i for i, k in enumerate(h) if k.startswith("Warp Stall Sampling (All"))
        ei = next((i for i, k in enumerate(h) if k.startswith("Instructions Executed")), None)
        tot = sum(num(r[si]) for r in body if len(r) > si)
        print(f"  SASS lines {len(body)}, samples {tot:g}, inst {sum(num(r[ei]) for r in body if ei is not None and len(r) > ei):g}")
        for r in sorted(body, key=lambda r: -num(r[si]) if len(r) > si else 0)[:16]:
            print(f"   {num(r[si]) / max(tot, 1) * 100:5.1f}% {r[0]:>6} {r[ci][:80]}")
    except Exception as e: print("  sass parse:", e)
def load(p):
    return {(r["dtype"], int(r["seqlen"]), int(r["causal"])): r for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
tr = load(os.path.join(W, "torch.csv"))
modes = "O MB MP ME G4 U ST B2".split()
R = {(m, t): load(os.path.join(W, f"b_{m}_{t}.csv")) for m in modes for t in ("r1", "r2")}
keys = sorted(R[("O", "r1")])
print("N causal | O r1/r2 | cuDNN | O/cuDNN | mode ratio r1/r2 ...")
for k in keys:
    f = lambda m, t: float(R[(m, t)].get(k, {}).get("tflops") or "nan")
    o1, o2 = f("O", "r1"), f("O", "r2"); cu = float(tr.get(k, {}).get("cudnn") or "nan")
    s = f"{k[1]} {k[2]} | {o1:.0f}/{o2:.0f} | {cu:.0f} | {(o1+o2)/2/cu:.3f} |"
    for m in modes[1:]: s += f" {m} {f(m,'r1')/o1:.3f}/{f(m,'r2')/o2:.3f}"
    print(s)
for m in modes: print(m, {R[(m,'r1')].get(k, {}).get("variant", "?") for k in keys})
PY
stamp done
( cd $W && tar czf "$OUT/hb17c1.tgz" *.txt *.csv *.log )
