#!/usr/bin/env bash
# Session 34, call 1: the TMA forward's products over D rounded up to 16 (productHeadDim) — the float64 oracle at head dims
# whose products stop short of the tile (forward + backward, short lengths; forward at 2k+; pad_check.py --products), a
# memcheck of two narrowed routes (one with the stream-K tail), then the forwards timed against the tile's products
# (FLASH_ATTENTION_HOPPER_PRODUCTS=0, `off`) in alternating processes, and cuDNN once.
#   usage on the device: bash scripts/device/next_s34a.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s34a
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 200 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 24,32,48,72,80,96,112,136,160,176,200,208,224 \
  --cases 78 --seed 17 --lengths 1,7,23,113,777,1500 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
stamp "verify"
timeout 150 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 80,96,112,160,208,224 --cases 18 --seed 43 \
  --lengths 2048,2100,3001,4500 --max-work 3000000000 --no-backward > "$R/verify_long.txt" 2>&1
echo "verify long rc $?: $(tail -1 $R/verify_long.txt)"
timeout 200 python3 scripts/device/pad_check.py --products > "$R/pad_check.txt" 2>&1
echo "pad_check rc $?: $(tail -1 $R/pad_check.txt)"
stamp "long checks"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for args in "900 1100 2 1 96 causal" "4500 4500 2 2 224"; do
  timeout 120 "$san" --tool memcheck --error-exitcode 9 python3 scripts/device/pad_once.py $args > "$R/memcheck.txt" 2>&1
  echo "memcheck $args: exit $? $(grep -h 'ERROR SUMMARY' $R/memcheck.txt | tail -1) $(grep -h '^pad_once' $R/memcheck.txt)"
done
stamp "memcheck"
for form in ${S34_ROUNDS:-off on on off off on}; do
  if [ $form = off ]; then FLASH_ATTENTION_HOPPER_PRODUCTS=0 timeout 150 python3 scripts/device/pad_tiles_ab.py off --set 4
  else timeout 150 python3 scripts/device/pad_tiles_ab.py on --set 4; fi >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
timeout 100 python3 scripts/device/pad_tiles_ab.py cudnn --set 4 >> "$R/ab.txt" 2>> "$R/ab.err"
head -qn 3 /tmp/cache-s34a/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*n[0-9]*_[a-z0-9_]*' | sort -u > "$R/kernels.txt"; wc -l < "$R/kernels.txt"
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
