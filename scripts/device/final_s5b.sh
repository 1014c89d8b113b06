#!/usr/bin/env bash
# Second closing call of session 5: compute-sanitizer memcheck + racecheck over the forward's O-store
# kernels with the names of the kernels each run reached (dense D = 128 cases, causal every other one,
# on a 2-block grid so every block walks many tiles), beside the full Python suite on CUDA tensors.
#   usage on the device: bash scripts/device/final_s5b.sh
# Expects .device-me/flash-attn.gz and .device-me/libflashattention.so.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs5b; mkdir -p "$RESULT" "$OUT"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort -u | tr '\n' ' '; }
(
  export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-py FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so
  export FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
  timeout 240 python3 -m pytest -q -p no:cacheprovider python/tests --ignore=python/tests/test_ring_flash_attn.py \
    --ignore=python/tests/test_large.py > "$OUT/pytest.txt" 2>&1; echo "exit $?" >> "$OUT/pytest.txt"
) &
py=$!
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for tool in memcheck racecheck; do
  FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-san-$tool timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
    --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 128 --check-cases 6 --check-dense --seed 21 > "$OUT/san_$tool.txt" 2>&1
  echo "exit $?" >> "$OUT/san_$tool.txt"
  echo "forward $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/san_$tool.txt" | tail -1); $(tail -2 "$OUT/san_$tool.txt" | head -1); $(tail -1 "$OUT/san_$tool.txt")"
  echo "  store kernels reached: $(used /tmp/c-san-$tool | tr ' ' '\n' | grep 'so_sm' | tr '\n' ' ')"
  stamp $tool
done
wait $py
echo "pytest (CUDA tensors, all but ring and large): $(tail -2 "$OUT/pytest.txt" | tr '\n' ' ')"
stamp end
tar -czf "$RESULT/final_s5b.tgz" -C "$OUT" .
