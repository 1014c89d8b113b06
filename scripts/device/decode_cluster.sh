#!/usr/bin/env bash
# One short device call for the split-cluster merge of the CUDA decode path (issue 6, step 6):
# float64-oracle sweeps with the cluster forced (3 seeds in parallel: clusters of up to 16, 16
# and 8), compute-sanitizer memcheck on a few cluster cases, then the contiguous decode grid
# (B = 1, 8, 64 × 1k, 8k, 32k × Hk = 8, 32) A/B: combine kernel (CLUSTER=off, beside torch)
# against clusters of up to 16 and up to 8, same card, same run. Logs in $OUT, summary last.
#   usage on the device: bash scripts/device/decode_cluster.sh [cases-per-seed]
# Environment: DEC_BIN (gzipped binary, default .device-kv/fa-dec2.gz), DEC_SKIP (verify sanitize bench).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-15}
gunzip -c "${DEC_BIN:-.device-kv/fa-dec2.gz}" > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
if [[ $skip != *" verify "* ]]; then
  for seed in 1 2 3; do
    cl=16; [[ $seed == 3 ]] && cl=8
    FLASH_ATTENTION_DECODE_CLUSTER=$cl timeout 50 /tmp/fa verify --kvcache --device cuda --seed $((60 + seed)) --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 &
  done
  wait
  for seed in 1 2 3; do
    cl=16; [[ $seed == 3 ]] && cl=8
    grep -E "FAILED|rror" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $((60 + seed)) (CLUSTER=$cl): $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 40 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 69 --cases ${DEC_SAN_CASES:-3} > "$OUT/sanitize.txt" 2>&1
  code=$?; grep -E "ERROR SUMMARY|Invalid" "$OUT/sanitize.txt" | head -5
  summary+=("memcheck CLUSTER=16 (${DEC_SAN_CASES:-3} kvcache cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" bench "* ]]; then
  for cl in off 16 8; do
    extra=(--no-torch); [[ $cl == off ]] && extra=()
    FLASH_ATTENTION_DECODE_CLUSTER=$cl timeout 60 /tmp/fa bench --decode --device cuda "${extra[@]}" --batch 1,8,64 --kv-heads 8,32 \
      --seqlens 1024,8192,32768 --csv "$OUT/cluster_$cl.csv" > "$OUT/cluster_$cl.txt" 2>&1
    echo "== CLUSTER=$cl (exit $?)"; grep -E "contiguous|rror" "$OUT/cluster_$cl.txt"
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
