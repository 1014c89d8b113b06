#!/usr/bin/env bash
# Session 34, call 3: the tile D = 256 (wide) backward key/value kernel with Sᵀ and dPᵀ over D rounded up to 16, beside the
# forward's — the float64 oracle (forward + backward) at head dims short of their tile, pad_check.py --products, memcheck /
# racecheck of a narrowed backward, then the backward timed against the tile's products (FLASH_ATTENTION_HOPPER_BWD_PRODUCTS=0,
# `off`) in alternating processes, and SDPA cuDNN's backward once.
#   usage on the device: bash scripts/device/next_s34c.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s34c
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 200 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 136,144,160,176,192,200,208,224 \
  --cases 48 --seed 23 --lengths 1,7,23,113,777,1500,2100 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
timeout 200 python3 scripts/device/pad_check.py --products > "$R/pad_check.txt" 2>&1
echo "pad_check rc $?: $(tail -1 $R/pad_check.txt)"
stamp "checks"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for tool in memcheck racecheck; do
  timeout 120 "$san" --tool $tool --error-exitcode 9 python3 scripts/device/pad_once.py 700 900 2 1 192 causal > "$R/$tool.txt" 2>&1
  echo "$tool 700 900 2 1 192 causal: exit $? $(grep -h 'ERROR SUMMARY\|RACECHECK SUMMARY' $R/$tool.txt | tail -1) $(grep -h '^pad_once' $R/$tool.txt)"
done
stamp "sanitizers"
for form in ${S34_ROUNDS:-off on on off off on}; do
  if [ $form = off ]; then FLASH_ATTENTION_HOPPER_BWD_PRODUCTS=0 timeout 150 python3 scripts/device/pad_tiles_ab.py off --set 6
  else timeout 150 python3 scripts/device/pad_tiles_ab.py on --set 6; fi >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
timeout 120 python3 scripts/device/pad_tiles_ab.py cudnn --set 6 >> "$R/ab.txt" 2>> "$R/ab.err"
head -qn 3 /tmp/cache-s34c/*.cu 2>/dev/null | grep -o 'hbwd_dkdv_[a-z0-9_]*n[0-9]*_[a-z0-9_]*' | sort -u > "$R/kernels.txt"; wc -l < "$R/kernels.txt"
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
