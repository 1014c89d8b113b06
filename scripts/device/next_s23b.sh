#!/usr/bin/env bash
# NEEDS the paired-key-block change plus the FA_DIAG_PAIR diagnostic (not in the tree: docs/performance.md, "Session 23", part 2).
# Session 23, second call (H200), a DIAGNOSTIC build (FA_DIAG_PAIR read by the generator; not in the tree): where paired key
# blocks (KP, 0.73-0.80x the shipped kernel in next_s23.sh, at ~1900 MHz: latency, not power) lose their time.
#   KPC: the two-CTA cluster launch and its two cluster barriers only (every CTA stages and adds its own dQ_partial);
#   KPW: the pairing with one cluster-scope acquire / release per warp instead of per thread (barrier count 8).
# Float64 checks of KPW first (odd block counts, GQA), then sustained windows at unmasked D = 128 2k / 16k.
#   usage on the device: bash scripts/device/next_s23b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
KP="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_DQ=unordered FLASH_ATTENTION_HOPPER_BWD_PERSIST=0 FLASH_ATTENTION_HOPPER_BWD_GROUP=0 FLASH_ATTENTION_HOPPER_BWD_PAIR=1"
for m in warp cluster; do
  env $KP FA_DIAG_PAIR=$m BWC_D=128 BWC_SHAPES="2100,2000,8,4;1000,8300,4,2;64,100,2,1;4096,4096,4,4" timeout 120 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_$m.txt 2>&1; echo "exit $?" >> $LOG/f64_$m.txt
  echo "$m: $(grep 'bwd check' $LOG/f64_$m.txt | tail -1) $(tail -1 $LOG/f64_$m.txt) $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $LOG/f64_$m.txt | sort -u | head -2 | tr '\n' ' ')"
done
el "checks"
HB21_D=128 HB21_POINTS="2048,0:O,U0,KP,KPC,KPW;16384,0:O,U0,KP,KPC,KPW" timeout 330 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 1 --budget 260 --end 320 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
(cd $L && tar czf "$RESULT/n23b.tgz" logs sw sweep.txt 2>/dev/null)
