#!/usr/bin/env bash
# Times alternative tile shapes (FLASH_ATTENTION_TILES overrides) on a few grid points, one
# line per (shape, point), to choose the heuristics table's entries.
#   usage on the device: bash scripts/device/tile_sweep.sh "128:128x128w8b1" "256:64x64w4b2" ...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[ -x /tmp/fa ] || { gunzip -c .device/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa; } || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
for shape in "$@"; do
  D=${shape%%:*}
  FLASH_ATTENTION_TILES=$shape /tmp/fa compile --bench --bench-head-dims "$D" --bench-seqlens "${SWEEP_SEQLENS:-1024,4096,16384}" \
    --bench-dtypes bf16 2>&1 | grep "TFLOP/s" | sed "s/^/[$shape] /"
done | tee "$OUT/sweep.txt"
