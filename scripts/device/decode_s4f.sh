#!/usr/bin/env bash
# Issue 6, session 4, call F: the rows-as-M tensor-core form (the default for GQA decode beyond
# 2k keys) skipping the O rescale when no row's max moved (its 12 padding rows at G = 4 forced it
# every step). Oracle sweeps with that form forced and on the defaults, memcheck, the affected
# grid points A/B against call E's build (fa-e, 8-warp default exported), then those points beside
# torch on the new build (contiguous and paged). Everything also lands in $OUT/s4f.tgz.
#   usage on the device: bash scripts/device/decode_s4f.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s4f; mkdir -p $W
cases=${1:-12}
gunzip -c .device-dec4/fa-f.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
gunzip -c .device-dec4/fa-e.gz > /tmp/fa0 && chmod +x /tmp/fa0 || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$W/gpu.txt"
t0=$(date +%s)
for seed in 131 132; do FLASH_ATTENTION_DECODE_MMA=m16 timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$W/verify_$seed.txt" 2>&1 & done
timeout 80 /tmp/fa verify --kvcache --device cuda --seed 133 --cases "$cases" > "$W/verify_133.txt" 2>&1 &
wait
for seed in 131 132 133; do
  grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
  summary+=("verify --kvcache seed $seed: $(tail -1 "$W/verify_$seed.txt")")
done
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
FLASH_ATTENTION_DECODE_MMA=m16 timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 138 --cases 3 > "$W/sanitize.txt" 2>&1
code=$?; summary+=("memcheck MMA=m16 (3 cases): exit $code, $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
echo "[t=$(( $(date +%s) - t0 ))s]"
pts=(--batch 8,64 --kv-heads 8 --seqlens 8192,32768)
for round in 1 2; do
  for v in old new; do
    bin=/tmp/fa; [[ $v == old ]] && bin=/tmp/fa0
    FLASH_ATTENTION_DECODE_MMA_WARPS=8 FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 60 $bin bench --decode --device cuda --no-torch "${pts[@]}" \
      --csv "$W/b_${v}_$round.csv" > "$W/b_${v}_$round.txt" 2>&1
    echo "== $v round $round (exit $?)"; grep -E "contiguous|rror" "$W/b_${v}_$round.txt" | cut -c1-60
  done
done
echo "[t=$(( $(date +%s) - t0 ))s]"
timeout 120 /tmp/fa bench --decode --device cuda "${pts[@]}" --csv "$W/grid.csv" > "$W/grid.txt" 2>&1
echo "== new + torch (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid.txt"
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}" | tee "$W/summary.txt"
tar czf "$OUT/s4f.tgz" -C $W .
