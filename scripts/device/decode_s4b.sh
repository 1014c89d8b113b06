#!/usr/bin/env bash
# Issue 6, session 4, call B: the keys-as-M tensor-core decode kernel (Sᵀ = K·Qᵀ, Oᵀ += Vᵀ·Pᵀ;
# the default for GQA decode on non-tiny grids in this build).
#  - float64-oracle sweeps: defaults; FLASH_ATTENTION_DECODE_MMA=on (tensor cores wherever they
#    apply: keys as M up to 8 rows, rows as M above); =m16 (the rows-as-M form); memcheck;
#  - the Hk = 8 grid (contiguous, no torch): defaults, the scalar kernel (MMA=off), split and
#    stage variants, the keys form forced on tiny grids with short splits;
#  - ncu of the keys form at B = 8, 8k and B = 64, 1k; the Hk = 8 grid paged (16, 256) on the defaults.
#   usage on the device: bash scripts/device/decode_s4b.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-12}
gunzip -c .device-dec4/fa-b.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
grid=(--batch 1,8,64 --kv-heads 8 --seqlens 1024,8192,32768)
if [[ $skip != *" verify "* ]]; then
  for seed in 91 92; do timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 & done
  for seed in 93 94; do FLASH_ATTENTION_DECODE_MMA=on timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 & done
  FLASH_ATTENTION_DECODE_MMA=m16 timeout 80 /tmp/fa verify --kvcache --device cuda --seed 95 --cases "$cases" > "$OUT/verify_95.txt" 2>&1 &
  wait
  for seed in 91 92 93 94 95; do
    grep -E "FAILED|rror" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  FLASH_ATTENTION_DECODE_MMA=on timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 98 --cases 4 > "$OUT/sanitize_on.txt" 2>&1
  code=$?; summary+=("memcheck MMA=on (4 cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize_on.txt" | tail -1)")
  timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 99 --cases 3 > "$OUT/sanitize.txt" 2>&1
  code=$?; summary+=("memcheck defaults (3 cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
run() {  # name env... -- extra bench args
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$OUT/b_$name.csv" > "$OUT/b_$name.txt" 2>&1
  echo "== $name (exit $?)"; grep -E "contiguous|rror" "$OUT/b_$name.txt" | cut -c1-60
}
if [[ $skip != *" sweep "* ]]; then
  run def -- "${grid[@]}"
  run scalar FLASH_ATTENTION_DECODE_MMA=off -- "${grid[@]}"
  for mk in 1024 4096; do run k_$mk FLASH_ATTENTION_DECODE_SPLITS=8,$mk -- "${grid[@]}"; done
  run st2 FLASH_ATTENTION_DECODE_STAGES=2 -- "${grid[@]}"
  for mk in 256 512; do run on_$mk FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_SPLITS=8,$mk -- --batch 1 --kv-heads 8 --seqlens 1024,8192,32768,131072; done
  run on_2048 FLASH_ATTENTION_DECODE_MMA=on -- --batch 1 --kv-heads 8 --seqlens 32768,131072
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  m=smsp__inst_executed.sum,gpu__time_duration.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active
  for bs in "8 8192" "64 1024"; do set -- $bs
    FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 45 "$ncu" --kernel-name flash_decode_attention --launch-skip 3 --launch-count 1 --metrics $m \
      /tmp/fa bench --decode --device cuda --no-torch --batch $1 --kv-heads 8 --seqlens $2 --repeats 3 > "$OUT/ncu_$1_$2.txt" 2>&1
    echo "== ncu B=$1 $2 Hk=8 defaults"; grep -E "duration|inst_exec|issue_active|dram__|registers|warps_active" "$OUT/ncu_$1_$2.txt" | head -8
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" grid "* ]]; then
  timeout 90 /tmp/fa bench --decode --device cuda --no-torch "${grid[@]}" --csv "$OUT/paged.csv" > "$OUT/paged.txt" 2>&1
  echo "== Hk=8 defaults, contiguous and paged (exit $?)"; grep -E "contiguous|paged|rror" "$OUT/paged.txt" | cut -c1-60
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
