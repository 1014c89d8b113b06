#!/usr/bin/env bash
# Session 35, call 5 (the final build): window_check.py (windows and ALiBi against float64), then final_session.sh's check,
# random float64 sweep forward + backward on CUDA and the Python suite on CUDA tensors (pinned cases, KV cache, test_large
# and the sanitizers left to the earlier calls of this session).
#   usage on the device: bash scripts/device/next_s35d.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
cp /tmp/lib/libflashattention.so .device-me/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
( export PYTHONPATH=$PWD/python FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s35d
  timeout 150 python3 scripts/device/window_check.py > "$R/window_check.txt" 2>&1; echo "window_check rc $?: $(tail -1 $R/window_check.txt)" )
FINAL_SKIP="pinned kvcache large sanitize" FINAL_CASES=${S35_CASES:-40} bash scripts/device/final_session.sh 2>&1 | tail -12
