#!/usr/bin/env bash
# One device call that checks the integrated tree at the end of a session: `check`, the random
# float64-oracle sweep forward + backward on CUDA, pinned-D cases with the Hopper TMA forward
# forced on (D = 64 and 128, so its causal D = 64 row is reached too), the KV-cache oracle sweep
# on CUDA, and the Python suite on CUDA tensors. Logs go to $OUT; the summary is printed last.
#   usage on the device: bash scripts/device/final_session.sh
# Expects .device-me/flash-attn.gz (static CLI) and .device-me/libflashattention.so.
# FINAL_SKIP (words: check verify pinned kvcache pytest large sanitize) leaves steps out.
# `large` runs python/tests/test_large.py (the Hopper kernels at 1k-4k tokens against the float64
# oracle, counting the warp-specialised backward's launches); `sanitize` runs compute-sanitizer
# memcheck and racecheck over a multi-step Hopper backward call.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
# Unpacked beside and renamed over: a caller may be running /tmp/fa in the background ("Text file busy" on a write in place).
gunzip -c .device-me/flash-attn.gz > /tmp/fa.new.$$ && chmod +x /tmp/fa.new.$$ && mv -f /tmp/fa.new.$$ /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
summary=()
skip=" ${FINAL_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
want check && timeout 60 /tmp/fa check > "$OUT/check.txt" 2>&1; summary+=("check exit $?: $(grep -c '✓' "$OUT/check.txt") ok, $(grep -c '✗' "$OUT/check.txt") failed")
stamp check
# Compile the sweep's kernels in parallel first (the sweep itself compiles one at a time).
want verify && timeout 120 /tmp/fa backward-bench --warm-verify ${FINAL_CASES:-100} --jobs 16 > "$OUT/warm.txt" 2>&1
want verify && timeout 150 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases ${FINAL_CASES:-100} > "$OUT/verify.txt" 2>&1
summary+=("verify fwd+bwd exit $?: $(tail -1 "$OUT/verify.txt")")
stamp verify
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort -u | tr '\n' ' '; }
want pinned && FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-hop timeout 120 /tmp/fa compile --check-dims 64,128 --check-cases ${FINAL_PINNED:-40} > "$OUT/hopper_pinned.txt" 2>&1
summary+=("hopper forced, pinned D=64/128 exit $?: $(tail -1 "$OUT/hopper_pinned.txt")")
summary+=("  TMA variants reached: $(used /tmp/cache-hop)")
stamp pinned
want pinned && timeout 120 /tmp/fa compile --check-dims 64,128,192,256 --check-cases 20 > "$OUT/default_pinned.txt" 2>&1
summary+=("defaults, pinned D=64..256 exit $?: $(tail -1 "$OUT/default_pinned.txt")")
stamp default-pinned
want kvcache && timeout 120 /tmp/fa verify --kvcache --device cuda --cases ${FINAL_KV_CASES:-100} > "$OUT/verify_kv.txt" 2>&1
summary+=("verify --kvcache exit $?: $(tail -1 "$OUT/verify_kv.txt")")
stamp kvcache
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
if want pytest; then
  timeout 200 python3 -m pytest -q -x -p no:cacheprovider python/tests --ignore=python/tests/test_ring_flash_attn.py \
    --ignore=python/tests/test_large.py > "$OUT/pytest.txt" 2>&1
  summary+=("pytest cuda exit $?: $(tail -1 "$OUT/pytest.txt")")
fi
stamp pytest
if want large; then
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 240 python3 -m pytest -q -s -p no:cacheprovider python/tests/test_large.py > "$OUT/large.txt" 2>&1
  summary+=("pytest large exit $?: $(tail -1 "$OUT/large.txt"); Hopper backward launches: $(grep -o "hopper-bwd" "$OUT/large.txt" | wc -l)")
fi
stamp large
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for tool in memcheck racecheck; do
  want sanitize || continue
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 240 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/sanitize_hopper_backward.py > "$OUT/sanitize_$tool.txt" 2>&1
  summary+=("$tool hopper backward exit $?: $(grep -c '^hopper-bwd' "$OUT/sanitize_$tool.txt") launches; $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize_$tool.txt" | tr '\n' ' ')")
  stamp $tool
done
echo "=== summary"; printf '%s\n' "${summary[@]}"
