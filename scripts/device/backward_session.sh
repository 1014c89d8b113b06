#!/usr/bin/env bash
# One device call for the CUDA backward: pre-compile, float64-oracle sweep (forward + backward),
# 50-rerun determinism, compute-sanitizer memcheck and racecheck on small problems, then the
# reference grid beside PyTorch's flash and cuDNN backward. Logs go to $OUT; the summary is
# printed last.
#   usage on the device: bash scripts/device/backward_session.sh [verify-cases]
# Environment: BWD_SKIP (words: verify determinism sanitize bench torch), BWD_DIMS, BWD_SEQLENS,
# BWD_DTYPES narrow the grid (the full grid runs only when the sweep passed, unless BWD_FULL=1).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-120}
gunzip -c .device-bwd/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
skip=" ${BWD_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
if [[ $skip != *" verify "* ]]; then
  pinned=${BWD_CHECK_DIMS:-64,128,192,256}
  timeout 150 /tmp/fa backward-bench --warm-verify "$cases" --check-dims "$pinned" --jobs 16 2>&1 | tee "$OUT/warm.txt" | grep -v "^check\|^pinned" | tail -3
  timeout 200 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases "$cases" > "$OUT/verify.txt" 2>&1
  echo "verify exit $?"; grep '^#' "$OUT/verify.txt" | head -6 | cut -c1-600
  summary+=("verify: $(tail -1 "$OUT/verify.txt")")
  grep "^check" "$OUT/warm.txt" | head -6 | cut -c1-600
  summary+=("$(grep '^pinned' "$OUT/warm.txt")")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" determinism "* ]]; then
  timeout 90 /tmp/fa backward-bench --determinism 50 > "$OUT/determinism.txt" 2>&1; echo "determinism exit $?"
  cat "$OUT/determinism.txt"; summary+=("$(tail -1 "$OUT/determinism.txt")")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  for tool in memcheck racecheck; do
    timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_backward --error-exitcode 9 /tmp/fa backward-bench --sanitize > "$OUT/sanitize_$tool.txt" 2>&1
    code=$?
    if ! grep -q "SUMMARY" "$OUT/sanitize_$tool.txt"; then  # filter syntax not taken: check every kernel
      head -3 "$OUT/sanitize_$tool.txt"
      timeout 150 "$san" --tool $tool --error-exitcode 9 /tmp/fa backward-bench --sanitize > "$OUT/sanitize_$tool.txt" 2>&1; code=$?
    fi; echo "$tool exit $code"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Error|Hazard" "$OUT/sanitize_$tool.txt" | head -5
    summary+=("$tool: exit $code, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize_$tool.txt" | tail -1)")
  done
  grep unwritten "$OUT/sanitize_memcheck.txt" | cut -c1-200
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
dims=${BWD_DIMS:-64,128,256}; seqlens=${BWD_SEQLENS:-512,1024,2048,4096,8192,16384}; dtypes=${BWD_DTYPES:-bf16,fp16}
if ! grep -q " 0 failed" "$OUT/verify.txt" 2>/dev/null && [ "${BWD_FULL:-0}" != 1 ]; then dims=128; dtypes=bf16; fi
if [[ $skip != *" bench "* ]]; then
  timeout 240 /tmp/fa backward-bench --bench --csv "$OUT/ours.csv" --head-dims "$dims" --seqlens "$seqlens" --dtypes "$dtypes" > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; tail -2 "$OUT/bench.txt"
fi
if [ "${BWD_COMPARE:-0}" = 1 ]; then
  FLASH_ATTENTION_BWD_WGMMA=0 timeout 120 /tmp/fa backward-bench --bench --csv "$OUT/ours_mma.csv" --head-dims 64,128,256 --seqlens 1024,4096,16384 --dtypes bf16 > "$OUT/bench_mma.txt" 2>&1
  echo "mma.sync (FLASH_ATTENTION_BWD_WGMMA=0):"; grep TFLOP "$OUT/bench_mma.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" torch "* ]]; then
  PYTHONUNBUFFERED=1 timeout 240 python3 scripts/bench_cuda_backward.py --ours "$OUT/ours.csv" --out "$OUT/torch.csv" --dims "$dims" \
    --seqlens "$seqlens" --dtypes "$dtypes" > "$OUT/table.txt" 2>"$OUT/torch_err.txt"
  echo "torch exit $?"; cat "$OUT/table.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
# At most 8 files come back from a device call: the tables, plus every log in one archive.
# (The archive is written outside $OUT first: tar fails on a folder that changes under it.)
(cd "$OUT" && tar czf /tmp/bwd-logs.tgz --exclude session.txt . ; find . -maxdepth 1 -type f ! -name table.txt ! -name torch.csv ! -name ours.csv ! -name session.txt ! -name tune_summary.txt -delete; mv /tmp/bwd-logs.tgz logs.tgz)
