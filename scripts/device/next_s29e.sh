#!/usr/bin/env bash
# Session 29, call 5 (H200): the backward key/value kernel's in-kernel timeline at the short rows (bwd_timeline_s29.py;
#   HopperBackwardDescriptor.timeline). usage: bash scripts/device/next_s29e.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29e; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
timeout 300 python3 scripts/device/bwd_timeline_s29.py > $L/tl.txt 2>&1
grep -v Warn $L/tl.txt | tail -60
cp $L/tl.txt "$RESULT/"
