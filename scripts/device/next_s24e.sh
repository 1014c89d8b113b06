#!/usr/bin/env bash
# Session 24, fifth call (H200), a diagnostic: does the persistent key/value grid (132 CTAs walking the tiles, a tile's dK/dV
# stores under the next tile's K/V loads; today arrival-order dQ with the accumulator's memset, the default from 4k keys) pay
# at the short unmasked D = 128 points, where cuDNN's persistent kernel is 7 % faster than our 2048 short CTAs?
#   1. per-kernel split (bwd_split_s23.py) of the default route and of FLASH_ATTENTION_HOPPER_BWD_PERSIST=1 at 512 / 1k / 2k;
#   2. sustained O / U (3-D grid, arrival order: the memset's and arrival order's cost alone) / P at 512 and 1k.
#   usage on the device: bash scripts/device/next_s24e.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n24e; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
BS_D=128 BS_POINTS="512,0;1024,0;2048,0" FLASH_ATTENTION_CACHE_DIR=/tmp/c-s1 timeout 90 python3 scripts/device/bwd_split_s23.py > $L/split_O.txt 2>&1
FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_PERSIST=1 FLASH_ATTENTION_HOPPER_BWD_GROUP=0 BS_D=128 BS_POINTS="512,0;1024,0;2048,0" FLASH_ATTENTION_CACHE_DIR=/tmp/c-s2 timeout 90 python3 scripts/device/bwd_split_s23.py > $L/split_P.txt 2>&1
FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_DQ=unordered FLASH_ATTENTION_HOPPER_BWD_PERSIST=0 BS_D=128 BS_POINTS="512,0;1024,0" FLASH_ATTENTION_CACHE_DIR=/tmp/c-s3 timeout 90 python3 scripts/device/bwd_split_s23.py > $L/split_U.txt 2>&1
for f in O P U; do echo "== $f"; grep -v "^hopper-bwd" $L/split_$f.txt | grep -iv "warn" | head -24; grep -o "hopper-bwd hbwd_dkdv[a-z0-9_]*" $L/split_$f.txt | sort | uniq -c | head -3; done
el "split"
(cd $L && tar czf "$RESULT/n24e.tgz" . 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,U,P;1024,0:O,U,P" timeout 150 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 110 --end 140 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained"
(cd $L && tar czf "$RESULT/n24e.tgz" . 2>/dev/null)
