#!/usr/bin/env bash
# The closing device call of session 4 in one go (≤ ~6 min on a fresh H100): the Python subsets
# that touch the CUDA paths changed this session (strided, varlen, KV cache, and the large-problem
# float64 oracle through the Hopper backward) run beside final_session.sh's Swift checks (each
# with its own kernel cache), then the sanitizers over a multi-step Hopper backward, then the
# tile D = 64 two-dQ-buffer call (hopper_backward_d64.sh, one timing round) alone on the GPU.
#   usage on the device: bash scripts/device/final_s4.sh
# Expects .device-me/flash-attn.gz and .device-me/libflashattention.so.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/py" "$OUT/d64"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
(
  export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-py FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
  timeout 200 python3 -m pytest -q -p no:cacheprovider python/tests/test_strided.py python/tests/test_varlen.py \
    python/tests/test_kvcache.py > "$OUT/py/subset.txt" 2>&1
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 120 python3 -m pytest -q -s -p no:cacheprovider python/tests/test_large.py > "$OUT/py/large.txt" 2>&1
) &
py=$!
FINAL_SKIP="pytest large sanitize" FINAL_CASES=${FINAL_CASES:-30} FINAL_PINNED=${FINAL_PINNED:-16} FINAL_KV_CASES=${FINAL_KV_CASES:-30} \
  bash scripts/device/final_session.sh > "$OUT/final_a.txt" 2>&1
stamp "swift checks"
wait $py
stamp "python"
FINAL_SKIP="check verify pinned kvcache pytest large" bash scripts/device/final_session.sh > "$OUT/final_b.txt" 2>&1
stamp "sanitizers"
OUT=$OUT/d64 HW_SKIP="round2" timeout 130 bash scripts/device/hopper_backward_d64.sh > "$OUT/d64/run.txt" 2>&1
stamp "d64"
echo "=== python (CUDA tensors)"
echo "subset: $(tail -1 "$OUT/py/subset.txt")"
echo "large: $(tail -1 "$OUT/py/large.txt"); Hopper backward launches: $(grep -o 'hopper-bwd' "$OUT/py/large.txt" | wc -l), two-writer: $(grep -o 'hopper-bwd [a-z0-9_]*w2' "$OUT/py/large.txt" | wc -l)"
echo "=== swift checks"; sed -n '/=== summary/,$p' "$OUT/final_a.txt" | grep -v "TMA variants"
echo "=== sanitizers"; sed -n '/=== summary/,$p' "$OUT/final_b.txt" | grep -E "memcheck|racecheck"
echo "=== tile D = 64, two dQ buffers"; tail -25 "$OUT/d64/run.txt"
