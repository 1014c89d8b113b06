#!/usr/bin/env bash
# Session 30, call 9 (H200): a probe of code size. With scripts/device/patches/s30-dead-block-probe.patch applied (its build
#   in .device-me), form TS is the plain persistent key/value kernel (unmasked tile D = 128 from 4k keys) plus a never-taken
#   block the size of a tail part's epilogue after its steps; O is the plain kernel. Sustained windows at 4k / 16k.
#   usage: bash scripts/device/next_s30e.sh   (carry .device-me built with the patch)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n30e; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="4096,0:O,TS;16384,0:O,TS" \
  timeout 150 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 120 --end 145 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort -u | cut -c1-110 | head -4
sed -n '/^Summary/,$p' $L/bwd.txt | head -8
