#!/usr/bin/env bash
# Issue 6, session 4, call D: the shipped rule (GQA decode on non-tiny grids: keys-as-M
# tensor-core kernel up to 2k keys, rows-as-M beyond; splits down to two CTAs per SM where
# 2048-key splits would leave SMs idle), checked and timed beside torch.
#  - float64-oracle sweeps: defaults; FLASH_ATTENTION_DECODE_MMA=on (keys as M wherever <= 8
#    rows), =m16 (rows as M everywhere); memcheck on the defaults;
#  - sweeps (contiguous, no torch): defaults on Hk = 8; the tensor-core forms on the tiny B = 1
#    grids (which keep the scalar kernel and its split cluster by default);
#  - the decode grid (Hk = 8, 32; B = 1, 8, 64 x 1k, 8k, 32k; contiguous and paged) and B = 1
#    at 128k on the defaults beside torch. Everything also lands in $OUT/s4d.tgz.
#   usage on the device: bash scripts/device/decode_s4d.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s4d; mkdir -p $W
cases=${1:-12}
gunzip -c .device-dec4/fa-d.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$W/gpu.txt"
t0=$(date +%s)
if [[ $skip != *" verify "* ]]; then
  for seed in 111 112; do timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$W/verify_$seed.txt" 2>&1 & done
  FLASH_ATTENTION_DECODE_MMA=on timeout 80 /tmp/fa verify --kvcache --device cuda --seed 113 --cases "$cases" > "$W/verify_113.txt" 2>&1 &
  FLASH_ATTENTION_DECODE_MMA=m16 timeout 80 /tmp/fa verify --kvcache --device cuda --seed 114 --cases "$cases" > "$W/verify_114.txt" 2>&1 &
  wait
  for seed in 111 112 113 114; do
    grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$W/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 119 --cases 4 > "$W/sanitize.txt" 2>&1
  code=$?; summary+=("memcheck defaults (4 cases): exit $code, $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
run() {  # name env... -- extra bench args
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "== $name (exit $?)"; grep -E "contiguous|rror" "$W/b_$name.txt" | cut -c1-60
}
if [[ $skip != *" sweep "* ]]; then
  run def -- --batch 1,8,64 --kv-heads 8 --seqlens 1024,8192,32768
  run on FLASH_ATTENTION_DECODE_MMA=on -- --batch 1 --kv-heads 8 --seqlens 1024,8192,32768,131072
  run m16 FLASH_ATTENTION_DECODE_MMA=m16 -- --batch 1 --kv-heads 8 --seqlens 1024,8192,32768,131072
  run on_512 FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_SPLITS=8,512 -- --batch 1 --kv-heads 8 --seqlens 8192,32768,131072
  run b8_k2 FLASH_ATTENTION_DECODE_SPLITS=8,512 -- --batch 8 --kv-heads 8 --seqlens 1024
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" grid "* ]]; then
  timeout 200 /tmp/fa bench --decode --device cuda --batch 1,8,64 --kv-heads 8,32 --seqlens 1024,8192,32768 --csv "$W/grid.csv" > "$W/grid.txt" 2>&1
  echo "== grid + torch (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid.txt"
  timeout 90 /tmp/fa bench --decode --device cuda --batch 1 --kv-heads 8,32 --seqlens 131072 --csv "$W/grid128k.csv" > "$W/grid128k.txt" 2>&1
  echo "== grid 128k + torch (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid128k.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}" | tee "$W/summary.txt"
tar czf "$OUT/s4d.tgz" -C $W .
