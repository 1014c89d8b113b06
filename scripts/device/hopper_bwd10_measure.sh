#!/usr/bin/env bash
# Session 7, hopbwd10: where the wide Hopper backward's time goes (tile D = 256; issue 9's backward
# bar at its widest gap). bf16, D = 256, 16k tokens, hidden 2048 (H = 8): N = 2k (B = 8) and 8k (B = 2),
# causal and unmasked, the shipped forms (one Q stage except unmasked from 4k keys).
# (1) ncu --clock-control none --set full --import-source yes on the key/value kernel (second launch named
#     flash_attention_backward_hopper): tensor pipe, issue active, stall reasons, per-SASS-line stall samples
#     (source page as CSV), SM active cycles min/avg/max (work balance over the 132 SMs).
# (2) cuDNN's SDPA backward at D = 256 8k causal: launch shape and tensor pipe (for its tile choice).
#   usage on the device: bash scripts/device/hopper_bwd10_measure.sh   (expects .device-dec4/hb10.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-dec4/hb10.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(5)
for n in ('q', 'k', 'v', 'do'):
    a = r.standard_normal((16384, 8, 256), dtype=np.float32).astype(np.float16)
    for N in (2048, 8192): np.save(f'/tmp/w{N}_{n}.npy', a.reshape(16384 // N, N, 8, 256))
"
stamp data
mets=sm__cycles_active.min,sm__cycles_active.max,sm__cycles_active.avg,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum
for spec in ${HB_SPECS:-2048:1 8192:1 2048:0 8192:0}; do
  IFS=: read N C <<< "$spec"
  cz=""; [ "$C" = 1 ] && cz="--causal"
  args="run --q /tmp/w${N}_q.npy --k /tmp/w${N}_k.npy --v /tmp/w${N}_v.npy --grad-out /tmp/w${N}_do.npy --dtype bfloat16 --device cuda $cz --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy"
  tag=${N}_c$C
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 "$ncu" --clock-control none --set full --import-source yes --metrics $mets \
    --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 -o /tmp/kv_$tag -f /tmp/fa $args > "$OUT/full_$tag.log" 2>&1
  stamp "full $tag exit $?"
  "$ncu" -i /tmp/kv_$tag.ncu-rep --page details > "$OUT/full_${tag}_details.txt" 2>&1
  "$ncu" -i /tmp/kv_$tag.ncu-rep --page raw --csv > "$OUT/full_${tag}_raw.csv" 2>&1
  timeout 60 "$ncu" -i /tmp/kv_$tag.ncu-rep --page source --csv --print-source sass > "$OUT/full_${tag}_sass.csv" 2>&1
  gzip -f "$OUT/full_${tag}_sass.csv" "$OUT/full_${tag}_raw.csv"
  stamp "export $tag"
done
cat > /tmp/sdpa_bwd.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
causal = sys.argv[1] == "1"
B, N, H, D = 2, 8192, 8, 256
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_() for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(2):
        o = F.scaled_dot_product_attention(q, k, v, is_causal=causal); g = torch.randn_like(o)
        o.backward(g)
    torch.cuda.synchronize()
    o = F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.cuda.nvtx.range_push("bwd")
    o.backward(g)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__cycles_active.max,sm__cycles_active.avg,smsp__issue_active.avg.pct_of_peak_sustained_active
for c in 1 0; do
  timeout 90 "$ncu" --clock-control none --nvtx --nvtx-include "bwd/" --section LaunchStats --metrics $m python3 /tmp/sdpa_bwd.py $c > "$OUT/ncu_cudnn_8k_c$c.txt" 2>&1
  stamp "cudnn c$c exit $?"
done
for spec in ${HB_SPECS:-2048:1 8192:1 2048:0 8192:0}; do
  IFS=: read N C <<< "$spec"; tag=${N}_c$C
  echo "== kv D=256 N=$N causal=$C: $(grep -c 'hbwd_dkdv.*d256' "$OUT/full_$tag.log") wide launches"
  grep -E "^ +(Duration|Compute \(SM\) Throughput|Issue Slots Busy|No Eligible|L2 Hit Rate|DRAM Throughput|Warp Cycles Per Issued|Registers Per|Dynamic Shared)" "$OUT/full_${tag}_details.txt" | tr -s ' ' | head -12
  zcat "$OUT/full_${tag}_raw.csv.gz" | python3 -c "
import csv, sys
rows = list(csv.reader(sys.stdin))
h, u, v = rows[0], rows[1], rows[2]
for k in ('sm__cycles_active.min', 'sm__cycles_active.avg', 'sm__cycles_active.max', 'sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active'):
    if k in h: print('  ', k, v[h.index(k)], u[h.index(k)])
"
done
for c in 1 0; do
  echo "== cuDNN D=256 8k causal=$c"; grep -E 'Context|duration|hmma|issue_active|cycles_active|Grid Size|Block Size|Cluster Size|Registers|Shared Memory Config|Dynamic Shared|Static Shared|Waves' "$OUT/ncu_cudnn_8k_c$c.txt" | tr -s ' ' | head -24
done
stamp done
