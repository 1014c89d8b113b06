#!/usr/bin/env bash
# Session 34, call 2: the Hopper backward's products over D rounded up to 16 (key/value kernel productHeadDim) beside the
# forward's — the float64 oracle (forward + backward) at head dims short of their tile, pad_check.py --products, memcheck /
# racecheck of a narrowed backward, then the backward timed against the tile's products (FLASH_ATTENTION_HOPPER_BWD_PRODUCTS=0,
# `off`) in alternating processes, and SDPA cuDNN's backward once.
#   usage on the device: bash scripts/device/next_s34b.sh   (carry .device-me); results in $OUT. next_s34c.sh runs it with
#   S34_SET / S34_HEAD_DIMS / S34_CASES / S34_SEED / S34_SANITIZE_D / S34_CACHE for the wide kernel (call 3).
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
SET=${S34_SET:-5} D=${S34_SANITIZE_D:-80} CACHE=${S34_CACHE:-/tmp/cache-s34b}
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=$CACHE
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 200 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims ${S34_HEAD_DIMS:-24,32,48,72,80,96,104,112} \
  --cases ${S34_CASES:-64} --seed ${S34_SEED:-19} --lengths 1,7,23,113,777,1500,2100 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
timeout 200 python3 scripts/device/pad_check.py --products > "$R/pad_check.txt" 2>&1
echo "pad_check rc $?: $(tail -1 $R/pad_check.txt)"
stamp "checks"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for tool in memcheck racecheck; do
  timeout 120 "$san" --tool $tool --error-exitcode 9 python3 scripts/device/pad_once.py 700 900 2 1 $D causal > "$R/$tool.txt" 2>&1
  echo "$tool 700 900 2 1 $D causal: exit $? $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' $R/$tool.txt | tail -1) $(grep -h '^pad_once' $R/$tool.txt)"
done
stamp "sanitizers"
for form in ${S34_ROUNDS:-off on on off off on}; do
  if [ $form = off ]; then FLASH_ATTENTION_HOPPER_BWD_PRODUCTS=0 timeout 150 python3 scripts/device/pad_tiles_ab.py off --set $SET
  else timeout 150 python3 scripts/device/pad_tiles_ab.py on --set $SET; fi >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
timeout 120 python3 scripts/device/pad_tiles_ab.py cudnn --set $SET >> "$R/ab.txt" 2>> "$R/ab.err"
head -qn 3 $CACHE/*.cu 2>/dev/null | grep -o 'hbwd_dkdv_[a-z0-9_]*n[0-9]*_[a-z0-9_]*' | sort -u > "$R/kernels.txt"; wc -l < "$R/kernels.txt"
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
