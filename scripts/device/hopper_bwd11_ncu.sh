#!/usr/bin/env bash
# Session 7, hopbwd11 (for a later call, not yet run): where the ping-pong consumers lose.
# hopper_bwd11.sh measured P (FLASH_ATTENTION_HOPPER_BWD_PINGPONG=1) at 0.91-1.00x the shipped kernel (O) at
# D = 128, N = 1k..8k. This profiles the key/value kernel of one fp16 call (16k tokens, hidden 2048, D = 128)
# in both forms, unmasked and causal at 8k, unmasked at 1k: duration, tensor pipe, issue active, and
# warp-state stall reasons, plus per-SASS-line stall samples (source page) for the unmasked 8k pair: is the
# consumer time in the pre-dQ wait (WARPGROUP.DEPBAR before the dQ HGMMA), the dq_half mbarrier wait, the
# turn barrier (BAR.SYNC 2/3) or the ld/add/st of warpgroup 1?  About 100 s.
#   usage on the device: bash scripts/device/hopper_bwd11_ncu.sh   (expects .device-dec5/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-dec5/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(3)
for n in ('q', 'k', 'v', 'do'):
    np.save(f'/tmp/m_{n}.npy', r.standard_normal((16384, 16, 128), dtype=np.float32).astype(np.float16))
"
mk() { python3 -c "
import numpy as np, sys
N = int(sys.argv[1])
for n in ('q', 'k', 'v', 'do'):
    a = np.load(f'/tmp/m_{n}.npy'); np.save(f'/tmp/r_{n}.npy', a.reshape(16384 // N, N, 16, 128))
" $1; }
args="run --q /tmp/r_q.npy --k /tmp/r_k.npy --v /tmp/r_v.npy --grad-out /tmp/r_do.npy --dtype float16 --device cuda --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy"
metrics=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active,l1tex__data_pipe_lsu_wavefronts_mem_shared.sum
for spec in 8192:0 8192:1 1024:0; do
  IFS=: read N C <<< "$spec"; mk $N; flag=""; [ "$C" = 1 ] && flag="--causal"
  for m in O P; do
    pp=0; [ $m = P ] && pp=1
    full=""; [ "$spec" = 8192:0 ] && full="--set full --import-source yes"
    env FLASH_ATTENTION_HOPPER_BWD_PINGPONG=$pp FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 90 "$ncu" --clock-control none $full \
      --section WarpStateStats --metrics $metrics --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
      -o /tmp/kv_${m}_${N}_$C -f /tmp/fa $args $flag > "$OUT/ncu_${m}_${N}_$C.log" 2>&1
    stamp "ncu $m $N $C exit $?"
    "$ncu" -i /tmp/kv_${m}_${N}_$C.ncu-rep --page details > "$OUT/details_${m}_${N}_$C.txt" 2>&1
    [ -n "$full" ] && { timeout 60 "$ncu" -i /tmp/kv_${m}_${N}_$C.ncu-rep --page source --csv --print-source sass > "$OUT/sass_${m}_${N}_$C.csv" 2>&1; gzip -f "$OUT/sass_${m}_${N}_$C.csv"; }
  done
done
for f in "$OUT"/details_*.txt; do
  echo "== $(basename $f .txt)"
  grep -E "Duration|Tensor|Issue Slots Busy|Stall|Warp Cycles Per Issued" "$f" | head -20
done | tee "$OUT/summary.txt"
stamp done
