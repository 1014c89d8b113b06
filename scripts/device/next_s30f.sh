#!/usr/bin/env bash
# Session 30, call 10 (H200): where the persistent key/value kernel with the tail split's code (TS0: no split) loses its
#   3-4 % against the plain one. ncu (no clock control) on the key/value kernel of one backward call at unmasked tile D = 128
#   4k and 16k (bf16, the reference grid's shapes; the 11th launch of that name: the fourth call's key/value kernel): time, tensor pipe, issue, instructions, and the warps' stall reasons per
#   issue (no_instruction = instruction fetch). Needs the build of scripts/device/patches/s30-persistent-tail-split.patch.
#   usage: bash scripts/device/next_s30f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n30f; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ncu
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "no ncu"; exit 0; }
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,sm__cycles_elapsed.avg.per_second,lts__t_sector_hit_rate.pct
st="regex:smsp__average_warps_issue_stalled_.*_per_issue_active"
for n in 4096 16384; do
  for form in O TS0; do
    envs="FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=0"; [ $form = TS0 ] && envs="FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1 FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=1"
    env $envs timeout 90 "$ncu" --clock-control none -k regex:flash_attention_backward_hopper --launch-skip 10 --launch-count 1 \
      --metrics $m,$st python3 scripts/device/ncu_s23.py ours bwd $n 0 128 > $L/ncu_${form}_$n.txt 2>&1
    f=$L/ncu_${form}_$n.txt
    echo "$form $n: $(grep -E 'gpu__time_duration|hmma|issue_active|inst_executed.sum|per_second|hit_rate' $f | awk '{print $1"="$NF}' | sed 's/\.avg\.pct_of_peak_sustained_active//;s/sm__pipe_tensor_op_hmma_cycles_active/tensor/' | tr '\n' ' ')"
    echo "   stalls: $(grep -E 'issue_stalled_.*per_issue_active' $f | awk '{print $1, $NF}' | sed 's/smsp__average_warps_issue_stalled_//;s/_per_issue_active.ratio//' | sort -k2 -g -r | head -10 | tr '\n' ';')"
  done
done
(cd $L && tar czf "$RESULT/n30f.tgz" . 2>/dev/null)
