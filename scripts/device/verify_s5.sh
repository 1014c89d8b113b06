#!/usr/bin/env bash
# Session 5's first device call: everything committed after session 4's closing call (review fixes
# to the CUDA runtime, KV-cache staging, Hopper backward guards, decode planning) on the GPU.
# final_s4.sh's checks without its timing step, then backward-bench --check-dense with the Hopper
# backward forced (its first GPU run), counting the warp-specialised dK/dV launches.
#   usage on the device: bash scripts/device/verify_s5.sh
# Expects .device-me/flash-attn.gz and .device-me/libflashattention.so.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/py"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
(
  export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-py FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
  timeout 200 python3 -m pytest -q -p no:cacheprovider python/tests/test_strided.py python/tests/test_varlen.py \
    python/tests/test_kvcache.py > "$OUT/py/subset.txt" 2>&1
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 python3 -m pytest -q -s -p no:cacheprovider python/tests/test_large.py > "$OUT/py/large.txt" 2>&1
) &
py=$!
FINAL_SKIP="pytest large sanitize" FINAL_CASES=${FINAL_CASES:-30} FINAL_PINNED=${FINAL_PINNED:-16} FINAL_KV_CASES=${FINAL_KV_CASES:-30} \
  bash scripts/device/final_session.sh > "$OUT/final_a.txt" 2>&1
stamp "swift checks"
FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-dense \
  timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,128 --check-cases 12 --check-dense > "$OUT/dense.txt" 2>&1
dense_rc=$?
stamp "check-dense"
wait $py
stamp "python"
FINAL_SKIP="check verify pinned kvcache pytest large" bash scripts/device/final_session.sh > "$OUT/final_b.txt" 2>&1
stamp "sanitizers"
echo "=== python (CUDA tensors)"
echo "subset: $(tail -1 "$OUT/py/subset.txt")"
echo "large: $(tail -1 "$OUT/py/large.txt"); Hopper backward launches: $(grep -o 'hopper-bwd' "$OUT/py/large.txt" | wc -l), two-writer: $(grep -o 'hopper-bwd [a-z0-9_]*w2' "$OUT/py/large.txt" | wc -l)"
echo "=== backward-bench --check-dense (Hopper backward forced) exit $dense_rc: $(tail -1 "$OUT/dense.txt"); hbwd_dkdv launches: $(grep -c 'hbwd_dkdv' "$OUT/dense.txt")"
echo "=== swift checks"; sed -n '/=== summary/,$p' "$OUT/final_a.txt" | grep -v "TMA variants"
echo "=== sanitizers"; sed -n '/=== summary/,$p' "$OUT/final_b.txt" | grep -E "memcheck|racecheck"
