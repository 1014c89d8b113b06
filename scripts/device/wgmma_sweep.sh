#!/usr/bin/env bash
# wgmma tile shapes at one head dim: oracle cases pinned to that D, then a few grid points each.
#   usage on the device: D=64 bash scripts/device/wgmma_sweep.sh 128x64 128x128 128x256 192x128 ...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_WGMMA=1
D=${D:-64}
for shape in "$@"; do
  export FLASH_ATTENTION_TILES="$D:${shape}w0b1"
  check=$(/tmp/fa compile --check-dims "$D" --check-cases 6 2>&1 | tail -1)
  /tmp/fa compile --bench --bench-head-dims "$D" --bench-seqlens "${SWEEP_SEQLENS:-512,2048,16384}" --bench-dtypes bf16 2>&1 \
    | grep "TFLOP/s" | sed "s/ (fwd.*//; s/^/[$shape] /"
  echo "[$shape] $check"
done | tee "$OUT/wgmma_sweep.txt"
