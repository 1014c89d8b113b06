#!/usr/bin/env bash
# Session 23, seventh call (H200): the dependent conversion on its default route (tile D = 64/128, ordered dQ, up to 2048 keys):
# float64 dQ / dK / dV with no knob set (the log must show the `_dc` kernels), then the backward half of the interleaved grid
# (ours / cuDNN / FA2 per point) into $OUT/r1.tgz.
#   usage on the device: bash scripts/device/next_s23g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23g; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
( FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_B=32 BWC_D=128 BWC_SHAPES="512,512,16,16;512,512,16,16,1" timeout 150 python3 scripts/device/bwd_check_s19.py
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_B=8 BWC_D=64 BWC_DET=1 BWC_SHAPES="2048,2048,8,8,1;1000,1500,8,2" timeout 100 python3 scripts/device/bwd_check_s19.py
) > $LOG/f64.txt 2>&1
echo "f64: $(grep 'bwd check' $LOG/f64.txt | tr '\n' ' ') | $(grep -oE 'hbwd_(dkdv|dqcvt)_[a-z0-9_]*' $LOG/f64.txt | sort | uniq -c | sort -rn | head -6 | tr '\n' ' ')"
grep -h "^FAIL" $LOG/f64.txt | head -4
el "checks"
mkdir -p /tmp/r1; OUT=/tmp/r1 IL_PASSES=bwd IL_TIMEOUT=$(( 330 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -10; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
(cd $L && tar czf "$RESULT/n23g.tgz" logs 2>/dev/null)
el "end"
