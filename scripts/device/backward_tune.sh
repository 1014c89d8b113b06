#!/usr/bin/env bash
# Times candidate backward tile shapes (FLASH_ATTENTION_BWD_TILES) on a few bf16 grid points,
# keeps the fastest per head dim (sum of TFLOP/s), then runs the whole backward session with
# it (oracle sweeps, determinism, sanitizers, grid beside PyTorch). Logs in $OUT.
#   usage on the device: bash scripts/device/backward_tune.sh [verify-cases]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
declare -A cands=(
  [64]="128x128w8/128x64w8 128x64w8/128x64w8"
  [128]="128x64w8/128x64w8 128x128w8/128x64w8"
  [256]="128x32w8/64x32w4 128x32w8/128x32w8"
)
picked=()
for D in 64 128 256; do
  best=""; bestsum=0
  for c in ${cands[$D]}; do
    sum=$(FLASH_ATTENTION_BWD_TILES="$D:$c" timeout 60 /tmp/fa backward-bench --bench --head-dims $D --seqlens 2048,16384 --dtypes bf16 --iterations 5 2>&1 |
      tee -a "$OUT/tune.txt" | awk '/TFLOP/ {s += $(NF-1)} END {printf "%.0f", s}')
    echo "tune D=$D $c: sum $sum TFLOP/s over 4 points" | tee -a "$OUT/tune_summary.txt"
    if [ "${sum:-0}" -gt "$bestsum" ]; then bestsum=$sum; best=$c; fi
  done
  picked+=("$D:$best")
done
export FLASH_ATTENTION_BWD_TILES=$(IFS=,; echo "${picked[*]}")
echo "picked FLASH_ATTENTION_BWD_TILES=$FLASH_ATTENTION_BWD_TILES" | tee -a "$OUT/tune_summary.txt"
bash scripts/device/backward_session.sh "${1:-120}"
cat "$OUT/tune_summary.txt"
