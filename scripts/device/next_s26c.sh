#!/usr/bin/env bash
# Session 26, third call (H200): the idle time between kernels of back-to-back short calls, ours and cuDNN
# (scripts/device/gaps_s26.py, torch.profiler), forward and backward, on the tree's default route.
#   usage on the device: bash scripts/device/next_s26c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; mkdir -p "$RESULT"
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
FLASH_ATTENTION_CACHE_DIR=/tmp/c-gaps timeout 250 python3 scripts/device/gaps_s26.py 2>&1 | tee "$RESULT/gaps.txt"
