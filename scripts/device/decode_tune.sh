#!/usr/bin/env bash
# Split-target sweep for the CUDA decode path: bench --decode at batch 1 and 8 (where splits
# matter) for several FLASH_ATTENTION_DECODE_SPLITS=ctas-per-SM,min-keys settings, no torch.
#   usage on the device: bash scripts/device/decode_tune.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-kv/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
for setting in ${DEC_TUNE:-8,256 4,256 2,256 16,128 4,512 8,128}; do
  FLASH_ATTENTION_DECODE_SPLITS=$setting timeout 100 /tmp/fa bench --decode --device cuda --no-torch --batch 1,8 \
    --csv "$OUT/tune_${setting/,/_}.csv" > "$OUT/tune_${setting/,/_}.txt" 2>&1
  echo "== $setting"; grep contiguous "$OUT/tune_${setting/,/_}.txt"
done
(cd "$OUT" && tar czf logs.tgz --exclude logs.tgz . && find . -maxdepth 1 -type f ! -name logs.tgz -delete)
