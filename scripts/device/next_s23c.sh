#!/usr/bin/env bash
# Session 23, third call (H200): per-kernel device time of the short backward (ours: preprocess / key-value / dQ conversion;
# cuDNN's kernels beside them), to size a dQ conversion folded into the key/value kernel. bf16, D = 128 and 64 / 256 at 512.
#   usage on the device: bash scripts/device/next_s23c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; mkdir -p "$RESULT"
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-split
BS_D=128 timeout 150 python3 scripts/device/bwd_split_s23.py 2>&1 | tee "$RESULT/split128.txt" | grep -v Warning
BS_D=64 BS_POINTS="512,0;512,1;1024,1" timeout 80 python3 scripts/device/bwd_split_s23.py 2>&1 | tee "$RESULT/split64.txt" | grep -v Warning
BS_D=256 BS_POINTS="512,0;512,1" timeout 80 python3 scripts/device/bwd_split_s23.py 2>&1 | tee "$RESULT/split256.txt" | grep -v Warning
