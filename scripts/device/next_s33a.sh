#!/usr/bin/env bash
# Session 33: the padded tile head dims on sm_90a (PaddedTileHeadDim) against the routes before them
# (FLASH_ATTENTION_PAD_TILES=0), beside PyTorch SDPA's cuDNN and flash backends: scripts/device/pad_tiles_ab.py in
# alternating processes (off on torch on off), one kernel cache for all rounds. S33_ROUNDS sets the rounds; S33_ONLY
# passes --only. Results in $OUT/ab.txt, errors in $OUT/ab.err, the summary last.
#   usage on the device: bash scripts/device/next_s33a.sh   (carry .device-me)
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s33
only="${S33_ONLY:+--only $S33_ONLY} ${S33_SET:+--set $S33_SET}"
for form in ${S33_ROUNDS:-off on torch on off}; do
  start=$(date +%s)
  case $form in
    off) FLASH_ATTENTION_PAD_TILES=0 python3 scripts/device/pad_tiles_ab.py off $only ;;
    on) python3 scripts/device/pad_tiles_ab.py on $only ;;
    g) FLASH_ATTENTION_PAD_TILES=t32,t96,t192,t224,f96,f160,f224,b96,b224 python3 scripts/device/pad_tiles_ab.py g $only ;;
    torch) python3 scripts/device/pad_tiles_ab.py cudnn $only; python3 scripts/device/pad_tiles_ab.py flash $only ;;
  esac >> "$R/ab.txt" 2>> "$R/ab.err"
  echo "round $form: $(( $(date +%s) - start )) s" | tee -a "$R/rounds.txt"
done
head -qn 2 /tmp/cache-s33/*.cu 2>/dev/null | grep -o '\(flash\|bwd\)_[a-z0-9_]*' | sort -u > "$R/kernels.txt"
tail -5 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
# S33_VERIFY=1: then the float64 oracle on the default routes at head dims that pad (and their neighbours).
if [ "${S33_VERIFY:-0}" = 1 ]; then
  gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
  timeout ${S33_VERIFY_S:-240} /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 24,32,80,88,96,136,152,160,176,192,200,224 \
    --cases ${S33_CASES:-60} --seed ${S33_SEED:-7} --lengths 1,7,23,113,777,1500 > "$R/verify.txt" 2>&1
  echo "verify rc $?"; tail -3 "$R/verify.txt"
fi
