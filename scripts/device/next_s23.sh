#!/usr/bin/env bash
# NEEDS the paired-key-block source change (not in the tree: docs/performance.md, "Session 23", part 2).
# Session 23, first call (H200): paired key blocks (`HopperBackwardDescriptor.pairedKeyBlocks`, FLASH_ATTENTION_HOPPER_BWD_PAIR=1):
# key blocks 2j, 2j + 1 of a head as one two-CTA cluster, the odd CTA's dQ_partial stored into the even CTA's staging through
# distributed shared memory, one bulk add per pair and step (unmasked tile D = 128, arrival-order dQ, the 3-D grid).
#   1. forced checks: float64 dQ / dK / dV (odd key-block counts leave a partner with no keys, GQA, Sq != Sk, one block),
#      check-dense D = 128 / 96 non-deterministic, memcheck + racecheck through python (odd and even block counts);
#   2. sustained windows at unmasked D = 128 2k / 4k / 16k: O (shipped) against U0 (the 3-D grid in arrival order) and KP
#      (the same, paired).
#   usage on the device: bash scripts/device/next_s23.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
KP="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_DQ=unordered FLASH_ATTENTION_HOPPER_BWD_PERSIST=0 FLASH_ATTENTION_HOPPER_BWD_GROUP=0 FLASH_ATTENTION_HOPPER_BWD_PAIR=1"
( env $KP BWC_D=128 BWC_SHAPES="2048,2048,8,8;2100,2000,8,4;1000,8300,4,2;4096,4096,4,4;64,100,2,1;200,256,4,1;8192,8192,4,4" \
    timeout 240 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt
  env $KP BWC_D=96 BWC_SHAPES="1500,1700,4,2;300,129,2,2" timeout 120 python3 scripts/device/bwd_check_s19.py > $LOG/f64_96.txt 2>&1
  echo "exit $?" >> $LOG/f64_96.txt ) &
( env $KP FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense timeout 240 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 128,96 \
    --check-cases 16 --check-dense --nondeterministic --seed 23 > $LOG/dense.txt 2>&1; echo "exit $?" >> $LOG/dense.txt ) &
for tool in memcheck racecheck; do
  ( for shape in "300 8300 4 2 128" "200 1024 2 2 128 0 fp16"; do
      env $KP FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
        --error-exitcode 9 python3 scripts/device/bwd_once.py $shape; echo "exit $?"
    done > $LOG/py_$tool.txt 2>&1 ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed|cases' $f | tail -2 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ') | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
done
grep -h "^FAIL\|mismatch\|NaN" $LOG/*.txt | head -8
el "checks"
HB21_D=128 HB21_POINTS="2048,0:O,U0,KP;4096,0:O,U0,KP;16384,0:O,U0,KP" timeout 330 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 2 --budget 270 --end 320 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
(cd $L && tar czf "$RESULT/n23.tgz" logs sw sweep.txt 2>/dev/null)
