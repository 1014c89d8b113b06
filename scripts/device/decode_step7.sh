#!/usr/bin/env bash
# One short device call for issue 6, step 7: the scalar decode kernel's transposed reduction of
# a step's (key, row) dot products (FLASH_ATTENTION_DECODE_REDUCE=transposed, off by default
# until timed) against the per-product lane reduction (the default). Float64-oracle sweeps with
# it forced (seeds 71, 72; 73 on the defaults; in parallel), compute-sanitizer memcheck on a few
# forced cases, the decode grid (B = 1, 8, 64 × 1k, 8k, 32k × Hk = 8, 32; contiguous and paged)
# lane (beside torch) then transposed, the same card;
# static SASS counts of the cached kernels and ncu warp instructions at B = 8, 8k, Hk = 8.
#   usage on the device: bash scripts/device/decode_step7.sh [cases-per-seed]
# Environment: DEC_BIN (gzipped binary, default .device-kv/fa-dec3.gz), DEC_SKIP (verify sanitize bench sass ncu).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-15}
gunzip -c "${DEC_BIN:-.device-kv/fa-dec3.gz}" > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
if [[ $skip != *" verify "* ]]; then
  for seed in 71 72 73; do
    red=transposed; [[ $seed == 73 ]] && red=lane
    FLASH_ATTENTION_DECODE_REDUCE=$red timeout 50 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 &
  done
  wait
  for seed in 71 72 73; do
    grep -E "FAILED|rror" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  FLASH_ATTENTION_DECODE_REDUCE=transposed timeout 40 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 79 --cases ${DEC_SAN_CASES:-3} > "$OUT/sanitize.txt" 2>&1
  code=$?; grep -E "ERROR SUMMARY|Invalid" "$OUT/sanitize.txt" | head -5
  summary+=("memcheck (${DEC_SAN_CASES:-3} kvcache cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" bench "* ]]; then
  for red in lane transposed; do
    extra=(--no-torch); [[ $red == lane ]] && extra=()
    FLASH_ATTENTION_DECODE_REDUCE=$red timeout 70 /tmp/fa bench --decode --device cuda "${extra[@]}" --batch 1,8,64 --kv-heads 8,32 \
      --seqlens 1024,8192,32768 --csv "$OUT/reduce_$red.csv" > "$OUT/reduce_$red.txt" 2>&1
    echo "== REDUCE=$red (exit $?)"; grep -E "contiguous|rror" "$OUT/reduce_$red.txt"
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sass "* ]]; then
  cuobj=$(command -v cuobjdump || ls /usr/local/cuda*/bin/cuobjdump 2>/dev/null | head -1)
  for f in /tmp/fa-cache/*.cu; do
    name=$(grep -o "decode_attention_sm_[a-z0-9_-]*" "$f" | head -1)
    [[ -z $name ]] && continue
    n=$("$cuobj" -sass "${f%.cu}.cubin" 2>/dev/null | grep -cE '^\s+/\*[0-9a-f]{4}\*/')
    regs=$(grep -o "Used [0-9]* registers" "${f%.cu}.log" | head -1)
    echo "$name sass=$n $regs"
  done | sort > "$OUT/sass.txt"
  cat "$OUT/sass.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  for red in lane transposed; do
    FLASH_ATTENTION_DECODE_REDUCE=$red timeout 45 "$ncu" --kernel-name flash_decode_attention --launch-skip 3 --launch-count 1 \
      --metrics smsp__inst_executed.sum,sm__warps_launched.sum,gpu__time_duration.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed \
      /tmp/fa bench --decode --device cuda --no-torch --batch 8 --kv-heads 8 --seqlens 8192 --repeats 5 > "$OUT/ncu_$red.txt" 2>&1
    echo "== ncu B=8 8k Hk=8 REDUCE=$red"; grep -E "inst_executed|warps_launched|duration|issue_active|dram__" "$OUT/ncu_$red.txt" | head -6
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
