#!/usr/bin/env bash
# One device call for the CUDA KV-cache path (issue 6): float64-oracle sweep of random KV-cache
# calls (4 seeds in parallel: the defaults twice, the append kernel, the tensor-core kernel),
# compute-sanitizer memcheck on a few, an optional A/B of variants without torch (DEC_AB), then
# `bench --decode --device cuda` beside torch SDPA. Logs go to $OUT; summary printed last.
#   usage on the device: bash scripts/device/decode_session.sh [cases-per-seed]
# Environment: DEC_SKIP (words: verify sanitize ab bench), DEC_BENCH_ARGS (extra grid flags),
# DEC_AB (A/B words, below; none by default), DEC_SEED0 (verify seed offset), DEC_SAN_CASES.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-12}
gunzip -c .device-kv/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
if [[ $skip != *" verify "* ]]; then
  # Seeds 1-2: the defaults; 3: the append kernel (FLASH_ATTENTION_DECODE_APPEND=kernel);
  # 4: the tensor-core kernel (FLASH_ATTENTION_DECODE_MMA=on).
  for seed in 1 2 3 4; do
    envs=(FLASH_ATTENTION_DECODE_X=1)
    [[ $seed == 3 ]] && envs+=(FLASH_ATTENTION_DECODE_APPEND=kernel)
    [[ $seed == 4 ]] && envs+=(FLASH_ATTENTION_DECODE_MMA=on)
    env "${envs[@]}" timeout 70 /tmp/fa verify --kvcache --device cuda --seed $((seed + ${DEC_SEED0:-0})) --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 &
  done
  wait
  for seed in 1 2 3 4; do
    grep -E "FAILED|error" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    what=defaults; [[ $seed == 3 ]] && what="append kernel"; [[ $seed == 4 ]] && what="tensor cores"
    summary+=("verify --kvcache seed $((seed + ${DEC_SEED0:-0})) ($what): $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  timeout 45 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 9 --cases ${DEC_SAN_CASES:-4} > "$OUT/sanitize.txt" 2>&1
  code=$?; echo "memcheck exit $code"; grep -E "ERROR SUMMARY|Invalid|passed" "$OUT/sanitize.txt" | head -5
  summary+=("memcheck (${DEC_SAN_CASES:-4} kvcache cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
# A/B on the same card, contexts 1k-32k, no torch: `mma` (tensor cores), `st2`/`st4` (their
# stages), `k128` (min keys per split 128), `fusedc` (fused combine), `plain` (rotary steps on
# the append kernel; no effect on the bench, which has no rotary).
if [[ $skip != *" ab "* ]]; then
  for ab in ${DEC_AB:-}; do
    envs=(FLASH_ATTENTION_DECODE_X=1); batch=1,8,64; hk=8,32
    case $ab in
      mma) envs+=(FLASH_ATTENTION_DECODE_MMA=on) ;;
      st2) envs+=(FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_STAGES=2); batch=1,8; hk=8 ;;
      st4) envs+=(FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_STAGES=4); batch=1,8; hk=8 ;;
      k128) envs+=(FLASH_ATTENTION_DECODE_SPLITS=8,128); batch=1,8 ;;
      k64) envs+=(FLASH_ATTENTION_DECODE_SPLITS=8,64); batch=1,8 ;;
      fusedc) envs+=(FLASH_ATTENTION_DECODE_COMBINE=fused); batch=1,8 ;;
    esac
    env "${envs[@]}" timeout 40 /tmp/fa bench --decode --device cuda --no-torch --batch $batch --kv-heads $hk \
      --seqlens 1024,8192,32768 --csv "$OUT/ab_$ab.csv" > "$OUT/ab_$ab.txt" 2>&1
    echo "== A/B: $ab"; grep contiguous "$OUT/ab_$ab.txt"
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" bench "* ]]; then
  timeout 220 /tmp/fa bench --decode --device cuda --csv "$OUT/decode.csv" ${DEC_BENCH_ARGS:-} > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; cat "$OUT/bench.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
(cd "$OUT" && cat ab_*.txt > ab_all.txt 2>/dev/null; cat ab_*.csv > ab_all.csv 2>/dev/null
 tar czf logs.tgz --exclude logs.tgz . && find . -maxdepth 1 -type f ! -name logs.tgz ! -name bench.txt ! -name decode.csv ! -name ab_all.txt ! -name ab_all.csv ! -name gpu.txt -delete)
