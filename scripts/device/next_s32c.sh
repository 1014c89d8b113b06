#!/usr/bin/env bash
# Session 32, third call (the final rules: predicated mask tests kept for plain and window kernels): one A/B round of
#   next_s32a.sh (old, new on the default routes; new, old on the mma.sync backward), then `flash-attn verify` against
#   float64 (forward + backward) with the default routes and with FLASH_ATTENTION_BWD_WGMMA=0; logs in one tarball.
#   usage on the device: bash scripts/device/next_s32c.sh   (carry .device-me .device-old)
set -uo pipefail
R=${OUT:-/tmp/out}; W=/tmp/s32c; mkdir -p "$R" "$W"
OUT=$W S32_ORDER="old new" S32_MMA_ORDER="new old" bash scripts/device/next_s32a.sh > "$W/ab_summary.txt" 2>&1
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
FLASH_ATTENTION_CACHE_DIR=/tmp/c-ver timeout 200 /tmp/fa verify --device cuda --cases 80 --seed 1 --dtypes float16,bfloat16 > "$W/verify_default_1.txt" 2>&1
echo "default routes seed 1 (80 cases): rc $? | $(tail -1 "$W/verify_default_1.txt")"
FLASH_ATTENTION_BWD_WGMMA=0 FLASH_ATTENTION_CACHE_DIR=/tmp/c-ver-mma timeout 180 /tmp/fa verify --device cuda --cases 80 --seed 3 \
  --dtypes float16,bfloat16 > "$W/verify_mma_3.txt" 2>&1
echo "mma.sync backward seed 3 (80 cases): rc $? | $(tail -1 "$W/verify_mma_3.txt")"
head -qn 2 /tmp/c-ver/*.cu /tmp/c-ver-mma/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$W/kernels_verify.txt"
echo "backward kernels verify compiled: $(wc -l < "$W/kernels_verify.txt")"
cat "$W/ab_summary.txt"
tar czf "$R/s32c.tgz" -C "$W" .
