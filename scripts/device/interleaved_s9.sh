#!/usr/bin/env bash
# Session 9: both reference grids (forward, backward in non-deterministic calls) with ours, PyTorch SDPA cuDNN
# and SDPA flash (FA2) timed point by point in one process, order rotated each round (scripts/bench_interleaved.py),
# because the closing call's sequential grids moved our long-N forward 5-10 % between rounds while cuDNN stayed level.
#   usage on the device: bash scripts/device/interleaved_s9.sh   (carry .device-me/libflashattention.so)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-il
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader > "$OUT/gpu.txt"
PYTHONUNBUFFERED=1 timeout ${IL_TIMEOUT:-500} python3 scripts/bench_interleaved.py --passes ${IL_PASSES:-fwd,bwd} --rounds ${IL_ROUNDS:-5} \
  --out "$OUT/interleaved.csv" > "$OUT/interleaved.txt" 2> "$OUT/interleaved_err.txt"
echo "exit $?"
tail -5 "$OUT/interleaved_err.txt"
grep -v "^fwd \|^bwd " "$OUT/interleaved.txt"
