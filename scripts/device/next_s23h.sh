#!/usr/bin/env bash
# Session 23, eighth call (H200): ncu --clock-control none tensor-pipe utilisation of ours and cuDNN at the H200 grid's
# shapes (the record beside the charts): forward and backward, D = 128 at 16k (unmasked, causal) and the backward at 512.
# Prints per kernel: time, SM clock, tensor pipe % of peak (sm__pipe_tensor_op_hmma_cycles_active), issue active.
# The backward runs on autograd's device thread, outside the script's NVTX range (the first run's backward rows read "no
# data"), so the backward is picked by kernel name after the three warm-up calls instead: ours' three launches of the fourth
# call (preprocess, key/value, conversion), cuDNN's bprop kernel of the fourth.
#   usage on the device: bash scripts/device/next_s23h.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23h; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ncu
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "no ncu"; exit 0; }
M=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active
for spec in "fwd 16384 0 128" "fwd 16384 1 128" "bwd 16384 0 128" "bwd 16384 1 128" "bwd 512 0 128"; do
  for impl in ours cudnn; do
    tag=$(echo "$impl $spec" | tr ' ' _)
    case "$impl $spec" in
      "ours bwd"*) pick=(--kernel-name flash_attention_backward_hopper --launch-skip 9 --launch-count 3) ;;
      "cudnn bwd"*) pick=(--kernel-name regex:bprop --launch-skip 3 --launch-count 1) ;;
      *) pick=(--nvtx --nvtx-include "run/") ;;
    esac
    timeout 60 "$ncu" --clock-control none "${pick[@]}" --metrics $M --csv --print-units base python3 scripts/device/ncu_s23.py $impl $spec \
      > $L/$tag.csv 2> $L/$tag.err
    python3 scripts/device/ncu_summary.py "$L/$tag.csv" "$impl $spec"
  done
done
(cd $L && tar czf "$RESULT/n23h.tgz" .)
