#!/usr/bin/env bash
# Issue 6, session 4, call E (the closing call): the shipped rule (GQA decode on non-tiny grids:
# keys-as-M tensor-core kernel up to 2k keys, rows-as-M beyond; no forced splits), and the
# 8-warp keys form for grids under one CTA per SM (FLASH_ATTENTION_DECODE_MMA_WARPS=8) A/B at
# B = 8, 1k, Hk = 8: taken for the rest of the call when 3% faster (printed as "warps mode").
#  - float64-oracle sweeps on that mode, and with every <= 8-row problem on the keys form
#    (MMA=on) in 8-warp form where under-filled; memcheck with it forced;
#  - ncu: kernel durations of a B = 1, 1k, Hk = 8 call (host cost against kernel time);
#  - the decode grid (Hk = 8, 32; B = 1, 8, 64 x 1k, 8k, 32k; contiguous and paged) and B = 1 at
#    128k beside torch. Everything also lands in $OUT/s4e.tgz.
#   usage on the device: bash scripts/device/decode_s4e.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s4e; mkdir -p $W
cases=${1:-12}
gunzip -c .device-dec4/fa-e.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$W/gpu.txt"
t0=$(date +%s)
run() {  # name env... -- extra bench args
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "== $name (exit $?)"; grep -E "contiguous|rror" "$W/b_$name.txt" | cut -c1-60
}
ms() { awk '$1=="bfloat16" && $2==8 && $3==1024 {print $6}' "$W/b_$1.txt"; }
run w4 -- --batch 8 --kv-heads 8 --seqlens 1024,2048
run w8 FLASH_ATTENTION_DECODE_MMA_WARPS=8 -- --batch 8 --kv-heads 8 --seqlens 1024,2048
run w4b -- --batch 8 --kv-heads 8 --seqlens 1024
run w8b FLASH_ATTENTION_DECODE_MMA_WARPS=8 -- --batch 8 --kv-heads 8 --seqlens 1024
a=$(awk -v x=$(ms w4) -v y=$(ms w4b) 'BEGIN{print (x<y?x:y)}'); b=$(awk -v x=$(ms w8) -v y=$(ms w8b) 'BEGIN{print (x<y?x:y)}')
echo "B=8 1k: 4 warps $a ms, 8 warps $b ms"
if awk -v a=$a -v b=$b 'BEGIN{exit !(b < 0.97 * a)}'; then export FLASH_ATTENTION_DECODE_MMA_WARPS=8; fi
echo "warps mode: FLASH_ATTENTION_DECODE_MMA_WARPS=${FLASH_ATTENTION_DECODE_MMA_WARPS:-<unset: 4>}"
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" verify "* ]]; then
  for seed in 121 122; do timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$W/verify_$seed.txt" 2>&1 & done
  for seed in 123 124; do FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_MMA_WARPS=8 timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$W/verify_$seed.txt" 2>&1 & done
  wait
  for seed in 121 122 123 124; do
    grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$W/verify_$seed.txt")")
  done
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_MMA_WARPS=8 timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 128 --cases 4 > "$W/sanitize.txt" 2>&1
  code=$?; summary+=("memcheck MMA=on, 8 warps (4 cases): exit $code, $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 45 "$ncu" --launch-skip 4 --launch-count 3 --metrics gpu__time_duration.sum \
    /tmp/fa bench --decode --device cuda --no-torch --batch 1,8 --kv-heads 8 --seqlens 1024 --repeats 3 > "$W/ncu_b1.txt" 2>&1
  echo "== ncu durations, B = 1 then 8, 1k, Hk = 8"; grep -E "flash_|duration" "$W/ncu_b1.txt" | head -12 | cut -c1-150
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
tar czf "$OUT/s4e.tgz" -C $W .
