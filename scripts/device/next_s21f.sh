#!/usr/bin/env bash
# Session 21, sixth call (H200): the unmasked tile D = 128 backward, the grid's weakest row on the H200 (1.02-1.07 x cuDNN):
# sustained windows of the shipped kernel against dQ in arrival order (U), the persistent grid (P) and out-of-phase consumers
# (PP), forms that lost on the H100, at 2k / 8k / 16k keys (H = 16, B = 16384 / N).
#   usage on the device: bash scripts/device/next_s21f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n21f; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
HB21_D=128 HB21_POINTS="2048,0:O,U,P,PP;8192,0:O,U,P,PP;16384,0:O,U,P,PP" timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 2 --budget 230 --end 270 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
grep -iE "error|traceback" $L/sweep.txt | head -5
(cd $L && tar czf "$RESULT/n21f.tgz" sw sweep.txt 2>/dev/null)
