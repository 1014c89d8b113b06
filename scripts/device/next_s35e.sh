#!/usr/bin/env bash
# Session 35, call 6: the backward of windowed problems (the generic backward; windows do not run the warp-specialised one)
# beside the causal backward of the same shapes (pad_tiles_ab.py --set 10), three rounds — what windowed training leaves.
#   usage on the device: bash scripts/device/next_s35e.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s35e
for round in 1 2 3; do timeout 150 python3 scripts/device/pad_tiles_ab.py on --set 10 --iters 10 >> "$R/ab.txt" 2>> "$R/ab.err"; done
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
