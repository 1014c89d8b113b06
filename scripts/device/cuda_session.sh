#!/usr/bin/env bash
# One device call: unpack the staged binary, compile the heuristics table with the device's
# NVRTC, run the random float64-oracle sweep on CUDA, time the reference grid against PyTorch.
# Logs go to $OUT; the last lines printed are the summary tables.
#   usage on the device: bash scripts/device/cuda_session.sh [verify-cases] [bench-args...]
# Environment: FA_DIMS, FA_SEQLENS, FA_DTYPES narrow the grid; FA_SKIP (words: compile verify bench torch).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-200}
gunzip -c .device/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
skip=" ${FA_SKIP:-} "
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv | tee "$OUT/gpu.txt"
if [[ $skip != *" compile "* ]]; then
  /tmp/fa compile --jobs 8 > "$OUT/compile.txt" 2>&1; echo "compile exit $?"; tail -3 "$OUT/compile.txt"
  # SASS: local-memory traffic and tensor-core instructions per cached cubin.
  for f in /tmp/fa-cache/*.cubin; do
    name=$(head -1 "${f%.cubin}.cu" | cut -c1-12); s=$(cuobjdump -sass "$f" 2>/dev/null)
    echo "$(basename "$f" .cubin) LDL=$(grep -c 'LDL' <<<"$s") STL=$(grep -c 'STL' <<<"$s") HMMA=$(grep -c 'HMMA' <<<"$s") HGMMA=$(grep -c 'HGMMA' <<<"$s") $(sed -n 2p "${f%.cubin}.cu")"
  done > "$OUT/sass.txt" 2>&1
fi
if [[ $skip != *" verify "* ]]; then
  /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases "$cases" > "$OUT/verify.txt" 2>&1
  echo "verify exit $?"; grep -c '^#' "$OUT/verify.txt"; tail -1 "$OUT/verify.txt"
fi
if [[ $skip != *" bench "* ]]; then
  /tmp/fa compile --bench --bench-csv "$OUT/ours.csv" --bench-head-dims "${FA_DIMS:-64,128,256}" \
    --bench-seqlens "${FA_SEQLENS:-512,1024,2048,4096,8192,16384}" --bench-dtypes "${FA_DTYPES:-bf16,fp16}" "${@:2}" > "$OUT/bench.txt" 2>&1
  echo "bench exit $?"; grep -v "TFLOP/s (" "$OUT/bench.txt" | tail -30
fi
if [[ $skip != *" torch "* ]]; then
  PYTHONUNBUFFERED=1 python3 scripts/bench_cuda.py --ours "$OUT/ours.csv" --out "$OUT/torch.csv" --dims "${FA_DIMS:-64,128,256}" \
    --seqlens "${FA_SEQLENS:-512,1024,2048,4096,8192,16384}" --dtypes "${FA_DTYPES:-bf16,fp16}" > "$OUT/table.txt" 2>"$OUT/torch_err.txt"
  echo "torch exit $?"; cat "$OUT/table.txt"
fi
