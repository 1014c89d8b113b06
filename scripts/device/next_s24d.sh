#!/usr/bin/env bash
# Session 24, fourth call (H200): the dependent key/value launch on its default route (unmasked tile D = 64/128 up to 512
# keys): float64 dQ / dK / dV with no knob set (the log must show the `_ds` kernels), then the backward half of the
# interleaved grid into $OUT/r1.tgz, then ncu tensor-pipe rows of the short forward (ours and cuDNN, 512 keys).
#   usage on the device: bash scripts/device/next_s24d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n24d; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
( FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_B=32 BWC_D=128 BWC_SHAPES="512,512,16,16;500,512,16,4" timeout 150 python3 scripts/device/bwd_check_s19.py
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_B=32 BWC_D=64 BWC_SHAPES="512,512,32,32;512,480,32,8" timeout 100 python3 scripts/device/bwd_check_s19.py
) > $LOG/f64.txt 2>&1
echo "f64: $(grep 'bwd check' $LOG/f64.txt | tr '\n' ' ') | $(grep -oE 'hbwd_(dkdv|pre)_[a-z0-9_]*' $LOG/f64.txt | sort | uniq -c | sort -rn | head -6 | tr '\n' ' ')"
grep -h "^FAIL" $LOG/f64.txt | head -4
el "checks"
(cd $L && tar czf "$RESULT/n24d.tgz" logs 2>/dev/null)
mkdir -p /tmp/r1; OUT=/tmp/r1 IL_PASSES=bwd IL_TIMEOUT=$(( 400 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -10; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
el "grid"
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ncu
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
M=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active
for spec in "fwd 512 0 128" "fwd 512 1 64"; do
  for impl in ours cudnn; do
    tag=$(echo "$impl $spec" | tr ' ' _)
    timeout 40 "$ncu" --clock-control none --nvtx --nvtx-include "run/" --metrics $M --csv --print-units base python3 scripts/device/ncu_s23.py $impl $spec \
      > $L/$tag.csv 2> $L/$tag.err
    python3 scripts/device/ncu_summary.py "$L/$tag.csv" "$impl $spec"
  done
done
el "ncu"
(cd $L && tar czf "$RESULT/n24d.tgz" . 2>/dev/null)
