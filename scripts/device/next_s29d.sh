#!/usr/bin/env bash
# Session 29, call 4 (H200, no build of its own): the fixed cost per work unit of the short unmasked calls, ours beside cuDNN
#   (scripts/device/percta_s29.py at tile D = 128 and 64).   usage: bash scripts/device/next_s29d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29d; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
timeout 200 python3 scripts/device/percta_s29.py > $L/d128.txt 2>&1
PC_D=64 timeout 150 python3 scripts/device/percta_s29.py > $L/d64.txt 2>&1
cat $L/d128.txt $L/d64.txt | grep -v Warning | cut -c1-330
cp $L/*.txt "$RESULT/"
