#!/usr/bin/env bash
# Session 32, second call: the A/B of next_s32a.sh on the final rules, then `flash-attn verify` (forward + backward against
#   float64 over random problems: options, GQA, strided and varlen layouts, odd lengths) on the working tree's build, with
#   the default routes and with the mma.sync backward on sm_90a (FLASH_ATTENTION_BWD_WGMMA=0), and the names of the backward
#   kernels verify compiled (from the disk cache).
#   usage on the device: bash scripts/device/next_s32b.sh   (carry .device-me .device-old)
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
OUT=$R bash scripts/device/next_s32a.sh > "$R/ab_summary.txt" 2>&1
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
for seed in ${S32_SEEDS:-1 2}; do
  FLASH_ATTENTION_CACHE_DIR=/tmp/c-ver timeout 150 /tmp/fa verify --device cuda --cases 150 --seed $seed --dtypes float16,bfloat16 \
    > "$R/verify_default_$seed.txt" 2>&1
  echo "default routes seed $seed: $(tail -1 "$R/verify_default_$seed.txt")"
done
for seed in ${S32_MMA_SEEDS:-3}; do
  FLASH_ATTENTION_BWD_WGMMA=0 FLASH_ATTENTION_CACHE_DIR=/tmp/c-ver-mma timeout 150 /tmp/fa verify --device cuda --cases 150 --seed $seed \
    --dtypes float16,bfloat16 > "$R/verify_mma_$seed.txt" 2>&1
  echo "mma.sync backward seed $seed: $(tail -1 "$R/verify_mma_$seed.txt")"
done
head -qn 2 /tmp/c-ver/*.cu /tmp/c-ver-mma/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$R/kernels_verify.txt"
echo "backward kernels verify compiled: $(wc -l < "$R/kernels_verify.txt"); halved option steps among them: $(grep -c 'dq_.*d64_m64n64w4b1_.*softcap.*wgmma\|dq_.*d128_m128n64w8b1_.*wgmma\|dkdv_.*d128_m32n64w4b1_.*\(softcap\|alibi\).*wgmma\|d128_m\(32\|16\)n128w8b1\|d128_m128n32w8b1' "$R/kernels_verify.txt")"
cat "$R/ab_summary.txt" | grep -v "^tail"
