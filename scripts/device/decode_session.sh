#!/usr/bin/env bash
# One device call for the CUDA KV-cache path (issue 6): float64-oracle sweep of random KV-cache
# calls (4 seeds in parallel; odd cases on device tensors), compute-sanitizer memcheck on a few,
# then `bench --decode --device cuda` beside torch SDPA. Logs go to $OUT; summary printed last.
#   usage on the device: bash scripts/device/decode_session.sh [cases-per-seed]
# Environment: DEC_SKIP (words: verify sanitize bench ab), DEC_BENCH_ARGS (extra bench flags),
# DEC_TUNE (FLASH_ATTENTION_DECODE_SPLITS settings timed at B = 1, 8 without torch after the
# bench), DEC_AB / DEC_AB_BATCH (the A/B phase below), DEC_SEED0 (verify seed offset).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-60}
gunzip -c .device-kv/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
if [[ $skip != *" verify "* ]]; then
  # Seed 3 runs the separate append kernel, seed 4 the fused combine, so every path is checked.
  for seed in 1 2 3 4; do
    envs=(); [[ $seed == 3 ]] && envs=(FLASH_ATTENTION_DECODE_APPEND=kernel); [[ $seed == 4 ]] && envs=(FLASH_ATTENTION_DECODE_COMBINE=fused)
    env "${envs[@]}" timeout 150 /tmp/fa verify --kvcache --device cuda --seed $((seed + ${DEC_SEED0:-0})) --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 &
  done
  wait
  for seed in 1 2 3 4; do
    grep -E "FAILED|error" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  timeout 90 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 9 --cases 10 > "$OUT/sanitize.txt" 2>&1
  code=$?; echo "memcheck exit $code"; grep -E "ERROR SUMMARY|Invalid|passed" "$OUT/sanitize.txt" | head -5
  summary+=("memcheck (10 kvcache cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" bench "* ]]; then
  timeout 320 /tmp/fa bench --decode --device cuda --csv "$OUT/decode.csv" ${DEC_BENCH_ARGS:-} > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; cat "$OUT/bench.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
# A/B on the same card, B in DEC_AB_BATCH: DEC_AB words `append` (separate append kernel),
# `fused` (combine fused into attention), `both` (append kernel + fused combine), `kernels`
# (append and combine kernels: the path before the fused append).
if [[ $skip != *" ab "* ]]; then
  for ab in ${DEC_AB:-kernels}; do
    envs=()
    [[ $ab == append || $ab == both || $ab == kernels ]] && envs+=(FLASH_ATTENTION_DECODE_APPEND=kernel)
    [[ $ab == fused || $ab == both ]] && envs+=(FLASH_ATTENTION_DECODE_COMBINE=fused)
    env "${envs[@]}" timeout 100 /tmp/fa bench --decode --device cuda --no-torch --batch ${DEC_AB_BATCH:-1,8} \
      --csv "$OUT/ab_$ab.csv" > "$OUT/ab_$ab.txt" 2>&1
    echo "== A/B: $ab"; grep contiguous "$OUT/ab_$ab.txt"
  done
fi
for setting in ${DEC_TUNE:-}; do
  FLASH_ATTENTION_DECODE_SPLITS=$setting timeout 100 /tmp/fa bench --decode --device cuda --no-torch --batch 1,8 \
    --csv "$OUT/tune_${setting/,/_}.csv" > "$OUT/tune_${setting/,/_}.txt" 2>&1
  echo "== splits $setting"; grep contiguous "$OUT/tune_${setting/,/_}.txt"
done
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
(cd "$OUT" && tar czf logs.tgz --exclude logs.tgz . && find . -maxdepth 1 -type f ! -name logs.tgz ! -name bench.txt ! -name decode.csv ! -name 'ab_*.csv' ! -name 'tune_*.csv' -delete)
