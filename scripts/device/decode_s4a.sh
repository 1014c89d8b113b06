#!/usr/bin/env bash
# Issue 6, session 4, call A: where the GQA (Hk = 8) decode points lose to SDPA, on one card.
#  - oracle (float64) sweeps of the new build: defaults (q loaded behind the first K/V copies),
#    the tensor-core kernel forced, the 8-warp scalar kernel forced; memcheck on a few cases;
#  - the Hk = 8 grid (B = 1, 8, 64 x 1k, 8k, 32k, contiguous): the previous build (HEAD's
#    kernels: fa-dec3 with the transposed reduction) beside torch, then the new build's defaults
#    with host timing per call, then kernel/split variants (no torch);
#  - ncu durations of every kernel of a B = 1, 1k call, and of the tensor-core kernel at B = 8, 8k.
#   usage on the device: bash scripts/device/decode_s4a.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-12}
gunzip -c .device-dec4/fa-a.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
gunzip -c .device-kv/fa-dec3.gz > /tmp/fa0 && chmod +x /tmp/fa0 || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
grid=(--batch 1,8,64 --kv-heads 8 --seqlens 1024,8192,32768)
if [[ $skip != *" verify "* ]]; then
  FLASH_ATTENTION_DECODE_MMA=on timeout 60 /tmp/fa verify --kvcache --device cuda --seed 83 --cases "$cases" > "$OUT/verify_83.txt" 2>&1 &
  FLASH_ATTENTION_DECODE_WARPS=8 timeout 60 /tmp/fa verify --kvcache --device cuda --seed 84 --cases "$cases" > "$OUT/verify_84.txt" 2>&1 &
  for seed in 81 82; do timeout 60 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 & done
  wait
  for seed in 81 82 83 84; do
    grep -E "FAILED|rror" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  timeout 40 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 89 --cases 3 > "$OUT/sanitize.txt" 2>&1
  code=$?; summary+=("memcheck defaults (3 cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize.txt" | tail -1)")
  FLASH_ATTENTION_DECODE_MMA=on timeout 40 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 88 --cases 3 > "$OUT/sanitize_mma.txt" 2>&1
  code=$?; summary+=("memcheck MMA (3 cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize_mma.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
run() {  # name binary env... -- extra bench args
  local name=$1 bin=$2; shift 2
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 $bin bench --decode --device cuda "$@" "${grid[@]}" \
    --csv "$OUT/b_$name.csv" > "$OUT/b_$name.txt" 2>&1
  echo "== $name (exit $?)"; grep -E "contiguous|host |rror" "$OUT/b_$name.txt"
}
if [[ $skip != *" bench "* ]]; then
  run base /tmp/fa0 FLASH_ATTENTION_DECODE_REDUCE=transposed --
  run new /tmp/fa FLASH_ATTENTION_BENCH_DECODE_HOST=1 -- --no-torch
  run mma /tmp/fa FLASH_ATTENTION_DECODE_MMA=on -- --no-torch
  for mk in 512 1024 2048; do run mma_$mk /tmp/fa FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_SPLITS=8,$mk -- --no-torch; done
  run mma_s4_1024 /tmp/fa FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_STAGES=4 FLASH_ATTENTION_DECODE_SPLITS=8,1024 -- --no-torch
  run mma_s2_1024 /tmp/fa FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_STAGES=2 FLASH_ATTENTION_DECODE_SPLITS=8,1024 -- --no-torch
  run w8 /tmp/fa FLASH_ATTENTION_DECODE_WARPS=8 -- --no-torch
  for mk in 128 512; do run sc_$mk /tmp/fa FLASH_ATTENTION_DECODE_SPLITS=8,$mk -- --no-torch; done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  m=smsp__inst_executed.sum,gpu__time_duration.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active
  FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 45 "$ncu" --launch-skip 6 --launch-count 4 --metrics $m \
    /tmp/fa bench --decode --device cuda --no-torch --batch 1 --kv-heads 8 --seqlens 1024 --repeats 3 > "$OUT/ncu_b1.txt" 2>&1
  echo "== ncu B=1 1k Hk=8 defaults"; grep -E "^  [a-z_]+.*\(|duration|inst_exec|issue_active|dram__|registers|warps_active" "$OUT/ncu_b1.txt" | head -30
  FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_SPLITS=8,1024 FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 45 "$ncu" --kernel-name flash_decode_attention --launch-skip 3 --launch-count 1 --metrics $m \
    /tmp/fa bench --decode --device cuda --no-torch --batch 8 --kv-heads 8 --seqlens 8192 --repeats 3 > "$OUT/ncu_mma.txt" 2>&1
  echo "== ncu B=8 8k Hk=8 MMA minkeys 1024"; grep -E "duration|inst_exec|issue_active|dram__|registers|warps_active" "$OUT/ncu_mma.txt" | head -8
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
