#!/usr/bin/env bash
# Session 33, call 4: the tile-192 TMA rows as shipped (from 2k queries) against the D = 256 padding (p256) and other key
# steps (s96: 96 unmasked / 112 causal), beside cuDNN, at 1k–16k (pad_tiles_ab.py --set 3, alternating processes); the
# float64 forward oracle at 2k+ lengths where those rows run; memcheck of a tile-192 forward + backward.
#   usage on the device: bash scripts/device/next_s33c.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s33c
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
for form in ${S33_ROUNDS:-on p256 s96 torch on p256 s96}; do
  case $form in
    on) python3 scripts/device/pad_tiles_ab.py on --set 3 ;;
    p256) FLASH_ATTENTION_PAD_TILES=t32,t96,t160,t192,t224,f96,f160,f224,b96,b224 python3 scripts/device/pad_tiles_ab.py p256 --set 3 ;;
    s96) FLASH_ATTENTION_HOPPER_TILES=192:96x2p,192c:112x2d python3 scripts/device/pad_tiles_ab.py s96 --set 3 ;;
    torch) python3 scripts/device/pad_tiles_ab.py cudnn --set 3 ;;
  esac >> "$R/t192.txt" 2>> "$R/t192.err"
done
stamp "timing"
timeout 200 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 136,160,176,192 --cases ${S33_CASES:-16} --seed 31 \
  --lengths 2048,2100,2500,3001 --max-work 2000000000 --no-backward --verbose > "$R/verify_long.txt" 2>&1
echo "verify long rc $?: $(tail -1 $R/verify_long.txt)"
stamp "verify"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for args in "2100 2100 2 2 192 causal" "2048 2300 2 1 160 fp16"; do
  tag=$(echo $args | tr ' ' '_')
  timeout 150 "$san" --tool memcheck --error-exitcode 9 python3 scripts/device/pad_once.py $args > "$R/memcheck_$tag.txt" 2>&1
  echo "memcheck $args: exit $? $(grep -h 'ERROR SUMMARY' $R/memcheck_$tag.txt | tail -1) $(grep -h '^pad_once' $R/memcheck_$tag.txt)"
done
stamp "memcheck"
head -qn 3 /tmp/cache-s33c/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*' | sort -u > "$R/kernels.txt"
tail -3 "$R/t192.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/t192.txt"
