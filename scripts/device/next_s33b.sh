#!/usr/bin/env bash
# Session 33, call 3: (1) the TMA forward at tile D = 192 (h192) against the padding to 256 (labelled `on`: the rule
# before the tile-192 rows) at D = 160 / 192, alternating processes, and its float64 oracle (forward). The call ran an
# experimental build (rows from any length, 96-key causal steps, behind FLASH_ATTENTION_HOPPER=1 and a knob since removed);
# on the shipped code h192 is the default rule (rows from 2k queries) and `on` sets FLASH_ATTENTION_PAD_TILES without h items; (2) the float64 oracle on the shipped rules at head dims that pad (forward + backward);
# (3) compute-sanitizer memcheck of padded routes (TMA forward at 128, generic wgmma backward at 128 / 256).
#   usage on the device: bash scripts/device/next_s33b.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s33b
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
ONLY=${S33_ONLY:-fwd_d160,fwd_d192}
if [ "${S33_SKIP_H192:-0}" != 1 ]; then
  for form in ${S33_ROUNDS:-on h192 on h192}; do
    if [ $form = h192 ]; then
      python3 scripts/device/pad_tiles_ab.py h192 --only $ONLY
    else
      FLASH_ATTENTION_PAD_TILES=t32,t96,t160,t192,t224,f96,f160,f224,b96,b224 python3 scripts/device/pad_tiles_ab.py on --only $ONLY
    fi >> "$R/h192.txt" 2>> "$R/h192.err"
  done
  stamp "h192 timing"
  timeout 150 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 \
    --head-dims 136,152,160,176,192 --cases 40 --seed 21 --lengths 1,7,23,113,777,1500 --no-backward > "$R/verify_h192.txt" 2>&1
  echo "verify h192 rc $?: $(tail -1 $R/verify_h192.txt)"
  head -qn 2 /tmp/cache-s33b/*.cu 2>/dev/null | grep -o 'flash_[a-z0-9_]*d192[a-z0-9_]*' | sort -u > "$R/kernels_h192.txt"
fi
timeout ${S33_VERIFY_S:-240} /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 24,32,80,88,96,136,152,160,176,192,200,224 \
  --cases ${S33_CASES:-100} --seed ${S33_SEED:-11} --lengths 1,7,23,113,777,1500 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
stamp "verify"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for args in "300 513 4 2 96 causal" "257 300 4 4 96 softcap" "200 333 4 2 224 causal varlen fp16" "190 220 2 2 80 causal softcap varlen"; do
  tag=$(echo $args | tr ' ' '_')
  timeout 120 "$san" --tool memcheck --error-exitcode 9 python3 scripts/device/pad_once.py $args > "$R/memcheck_$tag.txt" 2>&1
  echo "memcheck $args: exit $? $(grep -h 'ERROR SUMMARY' $R/memcheck_$tag.txt | tail -1) $(grep -h '^pad_once' $R/memcheck_$tag.txt)"
done
stamp "memcheck"
tail -3 "$R/h192.err" 2>/dev/null
[ -f "$R/h192.txt" ] && python3 scripts/device/pad_tiles_ab.py --summarize "$R/h192.txt"
