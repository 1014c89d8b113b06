#!/usr/bin/env bash
# NEEDS the early-conversion source change with L1 prefetches (not in the tree: docs/performance.md, "Session 23", part 3).
# Session 23, fifth call (H200): the early dQ conversion with L1 prefetches (8 fragments ahead) in the converter warps, after
# next_s23d.sh found the one-load-in-flight converter outliving the consumers (key/value kernel 399 -> 687 us at 512).
# Bitwise check against the pass alone, the per-kernel split, then sustained windows O vs EC at D = 128 512 / 1k.
#   usage on the device: bash scripts/device/next_s23e.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23e; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 200 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bitwise.txt 2>&1; echo "exit $?" >> $LOG/bitwise.txt
tail -2 $LOG/bitwise.txt | tr '\n' ' '; echo
FLASH_ATTENTION_HOPPER_BWD_EARLYCVT=1 FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-split BS_D=128 BS_POINTS="512,0;512,1;1024,0;1024,1" \
  timeout 90 python3 scripts/device/bwd_split_s23.py 2>&1 | grep "ours" | tee $LOG/split_ec.txt
el "split"
HB21_D=128 HB21_POINTS="512,0:O,EC;512,1:O,EC;1024,0:O,EC" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 1 --budget 150 --end 190 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt | grep -v cudnn
el "sustained"
(cd $L && tar czf "$RESULT/n23e.tgz" logs sw sweep.txt 2>/dev/null)
