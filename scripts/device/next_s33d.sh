#!/usr/bin/env bash
# Session 33, call 5 (the final build): the causal tile-192 TMA row's 112-key steps (shipped) against 96 (c96), alternating
# processes (c96 on on c96 c96 on), causal D = 160 / 192 at 2k–16k; the float64 forward oracle at 2k+ lengths; memcheck of
# the causal tile-192 forward + backward; the float64 oracle (forward + backward) at head dims that pad.
#   usage on the device: bash scripts/device/next_s33d.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s33d
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
ONLY=fwd_d160_causal_2k,fwd_d160_causal_4k,fwd_d160_causal_16k,fwd_d192_causal_2k,fwd_d192_causal_4k,fwd_d192_causal_16k
for form in ${S33_ROUNDS:-c96 on on c96 c96 on}; do
  if [ $form = c96 ]; then
    FLASH_ATTENTION_HOPPER_TILES=192c:96x2d python3 scripts/device/pad_tiles_ab.py c96 --set 3 --only $ONLY
  else
    python3 scripts/device/pad_tiles_ab.py on --set 3 --only $ONLY
  fi >> "$R/c96.txt" 2>> "$R/c96.err"
done
stamp "timing"
timeout 150 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 160,192 --cases 16 --seed 41 \
  --lengths 2048,2100,2500,3001 --max-work 2000000000 --no-backward > "$R/verify_long.txt" 2>&1
echo "verify long rc $?: $(tail -1 $R/verify_long.txt)"
timeout 200 python3 scripts/device/pad_check.py > "$R/pad_check.txt" 2>&1
echo "pad_check rc $?: $(tail -1 $R/pad_check.txt)"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
timeout 150 "$san" --tool memcheck --error-exitcode 9 python3 scripts/device/pad_once.py 2100 2100 2 2 192 causal > "$R/memcheck.txt" 2>&1
echo "memcheck 2100 2100 2 2 192 causal: exit $? $(grep -h 'ERROR SUMMARY' $R/memcheck.txt | tail -1) $(grep -h '^pad_once' $R/memcheck.txt)"
stamp "long checks"
timeout 200 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 24,32,80,88,96,136,152,160,176,192,200,224 \
  --cases 80 --seed 13 --lengths 1,7,23,113,777,1500 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
stamp "verify"
head -qn 3 /tmp/cache-s33d/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*d192[a-z0-9_]*' | sort -u > "$R/kernels.txt"; cat "$R/kernels.txt"
tail -3 "$R/c96.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/c96.txt"
