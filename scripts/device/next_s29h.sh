#!/usr/bin/env bash
# Session 29, call 8 (H200, no build of its own): the key/value kernel's timeline at the long per-tile-grid rows still
#   below 1.1x cuDNN (causal D = 128 8k / 16k, D = 64 unmasked 8k / 16k and causal 16k).  usage: bash scripts/device/next_s29h.sh
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29h; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
FLASH_ATTENTION_HOPPER_BWD_LOG=1 BT_POINTS="16384,1,128;8192,1,128;16384,0,64;8192,0,64;16384,1,64" timeout 200 python3 scripts/device/bwd_timeline_s29.py > $L/tl.txt 2>&1
grep -v Warn $L/tl.txt | grep -A2 "call 0" | cut -c1-420
grep -h "hopper-bwd" $L/tl.txt | sort -u | cut -c1-100
cp $L/tl.txt "$RESULT/"
