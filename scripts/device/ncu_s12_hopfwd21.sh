#!/usr/bin/env bash
# Session 12, hopfwd21 call 1 (carry .device-hopfwd21/flash-attn.gz; run as bash .device-hopfwd21/ncu21.sh, 55 s on a warm H100): ncu --set full --import-source yes --clock-control none of one launch each of the shipped causal
# D = 64 N = 512 forward (bf16, B = 32, H = 32) and cuDNN's (PyTorch SDPA, cuDNN backend, same shape), SASS source
# pages + details pages as CSV/text, tarred into $OUT; also the vw form (FLASH_ATTENTION_HOPPER_VALUEWAIT=1) and two
# interleaved timing rounds of it (0.91-0.97x the shipped kernels). Findings: docs/performance.md, session 12, hopfwd21.
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/n21; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd21/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
cat > /tmp/sdpa_once.py <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
B, N, H, D = 32, 512, 32, 64
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2) for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("sdpa")
    F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY
( timeout 100 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,1024 --bench-dtypes bf16 > "$W/warm.txt" 2>&1; echo "warm exit $?" ) &
( FLASH_ATTENTION_HOPPER_VALUEWAIT=1 timeout 100 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,1024 --bench-dtypes bf16 > "$W/warm_vw.txt" 2>&1; echo "warm vw exit $?" ) &
timeout 60 "$ncu" --clock-control none --nvtx --nvtx-include "sdpa/" --metrics gpu__time_duration.sum python3 /tmp/sdpa_once.py > $W/cudnn_quick.log 2>&1
KN=$(grep -E '\(([0-9]+), 1, 1\)x\(' $W/cudnn_quick.log | grep -v '==PROF==' | awk '{print $1}' | grep -i -E 'fprop|sdpa|fmha|flash' | head -1)
[ -z "$KN" ] && KN=$(grep -E '\(([0-9]+), 1, 1\)x\(' $W/cudnn_quick.log | awk '{print $1}' | head -1)
stamp "cuDNN kernel: $KN"; grep -E 'Context|duration' $W/cudnn_quick.log | head -6
wait $(jobs -p)
stamp "warm done"
# ours: the bench runs D = 64 unmasked then causal, 23 launches each: causal is launch 30.
timeout 120 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_forward --launch-skip 30 --launch-count 1 \
  -o $W/ours -f /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16 > $W/ours.log 2>&1
stamp "ours exit $?"
FLASH_ATTENTION_HOPPER_VALUEWAIT=1 timeout 120 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_forward --launch-skip 30 --launch-count 1 \
  -o $W/vw -f /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16 > $W/vw.log 2>&1
stamp "vw exit $?"
timeout 120 "$ncu" --clock-control none --set full --import-source yes --nvtx --nvtx-include "sdpa/" -k "regex:${KN:-.}" --launch-count 1 \
  -o $W/cudnn -f python3 /tmp/sdpa_once.py > $W/cudnn.log 2>&1
stamp "cudnn exit $?"
for n in ours vw cudnn; do
  "$ncu" -i $W/$n.ncu-rep --page details > $W/${n}_details.txt 2>&1
  "$ncu" -i $W/$n.ncu-rep --page details --csv > $W/${n}_details.csv 2>&1
  timeout 60 "$ncu" -i $W/$n.ncu-rep --page source --csv --print-source sass > $W/${n}_sass.csv 2>&1
  stamp "$n export: $(wc -l < $W/${n}_sass.csv) sass lines"
  grep -E 'Duration|Issue Slots Busy|Executed Ipc Active|Registers Per|Grid Size|Block Size|Dynamic Shared|Executed Instructions  ' $W/${n}_details.txt | head -10
done
grep -h -m2 -o 'fwd_[a-z0-9_]*' $W/ours.log $W/vw.log
# A first look at time (not the A/B): two interleaved rounds, bf16 + fp16, D = 64, N = 512 / 1k, causal and unmasked.
for r in 1 2; do
  timeout 60 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 --bench-csv $W/base_$r.csv > $W/bench_base_$r.txt 2>&1
  FLASH_ATTENTION_HOPPER_VALUEWAIT=1 timeout 60 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 --bench-csv $W/vw_$r.csv > $W/bench_vw_$r.txt 2>&1
done
stamp "bench done"
python3 - $W <<'PY'
import csv, sys, os
w = sys.argv[1]
def load(n):
    d = {}
    for r in csv.DictReader(open(os.path.join(w, n))): d[(r["dtype"], r["seqlen"], r["causal"])] = (float(r["tflops"]), r.get("variant", "?"))
    return d
for r in (1, 2):
    b, v = load(f"base_{r}.csv"), load(f"vw_{r}.csv")
    for k in sorted(b): print(r, k, f"{b[k][0]:.1f} {v[k][0]:.1f} ratio {v[k][0] / b[k][0]:.3f}", v[k][1])
PY
( cd $W && tar czf "$OUT/ncu21.tgz" *.txt *.csv *.log )
ls -la "$OUT"
