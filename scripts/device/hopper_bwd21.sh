#!/usr/bin/env bash
# Session 15, hopbwd21: the long tile D = 128 backward rows (unmasked 8k/16k, causal 8k/16k) under the 700 W cap.
# scripts/device/hopper_bwd21.py: 16 worker processes (8 implementations x bf16/fp16: shipped O; causal: plain / set /
# set+ste by absolute knob settings, U = DQ=unordered; unmasked: E = EPI=1, G4 = GROUP=4, U; PyTorch SDPA cuDNN), then
# (1) bf16 sustained windows (each form 2.5 s at one point, forms alternated, 3 windows each, cuDNN one window at each 16k point;
# nvidia-smi clocks.sm + power.draw every 50 ms), (2) 6 interleaved burst rounds, both dtypes, cuDNN in each, (3) fp16
# sustained windows where a form beat O in every bf16 window, (4) if time is left, ncu (--clock-control none) of ours and
# cuDNN at causal 16k and ours at causal 8k.
#   staging: .device-hopbwd21/libflashattention.so (branch hopbwd21 = main 683aead kernels; `swift build -c release
#   --product flashattention -Xswiftc -static-stdlib`), copies of hopper_bwd21.py / hopper_bwd21_ncu.py / this script;
#   run on one H100 (carry .device-hopbwd21): HB21_END=198 bash .device-hopbwd21/hopper_bwd21.sh (this copy; 199 s wall on
#   2026-11-27, 236 s counted with the start; ncu skipped for time). Results: docs/performance.md, "Session 15: the long tile
#   D = 128 backward rows under the power cap".
set -uo pipefail
OUT=${OUT:-/tmp/out}; L=/tmp/hb21; mkdir -p "$OUT" "$L"
exec > >(tee $OUT/summary.txt) 2>&1
S=.device-hopbwd21
cp scripts/device/sustained.py $S/ 2>/dev/null || true  # the staged scripts import it (session 15: one copy of the sustained-window code)
export FLASH_ATTENTION_LIB=$PWD/$S/libflashattention.so PYTHONPATH=$PWD/python FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }
END=${HB21_END:-200}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
timeout $(( END + 12 )) python3 $S/hopper_bwd21.py --out $L --budget $(( END - 12 )) --end $END
echo "kernels reached (worker: Sq key/value kernel, from FLASH_ATTENTION_HOPPER_BWD_LOG on the first call of each point):"
for f in $L/w_*.log; do
  echo " $(basename $f .log): $(grep '^hopper-bwd' $f | awk '{print $5 ":" $2}' | sort -u | tr '\n' ' ')"
done
grep -h -iE 'error|traceback' $L/w_*.log | head -5
if [ "$(el)" -lt $(( END - 40 )) ] && command -v ncu > /dev/null; then
  m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active,sm__cycles_elapsed.avg.per_second,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,smsp__average_warp_latency_issue_stalled_barrier,smsp__average_warp_latency_issue_stalled_long_scoreboard,smsp__average_warp_latency_issue_stalled_wait,smsp__average_warp_latency_issue_stalled_math_pipe_throttle
  for c in "ours 16384 1" "cudnn 16384 1" "ours 8192 1"; do
    [ "$(el)" -lt $(( END - 12 )) ] || { echo "skip ncu $c (time)"; continue; }
    set -- $c
    FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-hb21/O-bf16 timeout 25 ncu --clock-control none --nvtx --nvtx-include "bwd/" \
      --section WarpStateStats --metrics $m python3 $S/hopper_bwd21_ncu.py $1 $2 $3 > $L/ncu_$1_$2_$3.txt 2>&1
    echo "== ncu $c"; grep -E '^  [a-zA-Z_].*\(|duration|hmma|inst_issued|per_second|dram__|lts__|stalled|Stall' $L/ncu_$1_$2_$3.txt | tr -s ' ' | head -40
  done
else
  echo "ncu skipped (t=$(el)s)"
fi
echo "[t=$(el)s] done"
( cd $L && tar czf "$OUT/hb21.tgz" *.log *.jsonl *.csv $(ls ncu_*.txt 2>/dev/null) )
