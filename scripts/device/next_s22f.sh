#!/usr/bin/env bash
# Session 22, sixth call (H200): the unmasked tile D = 64 backward from 4k keys (1.07-1.09 x cuDNN in the grid) against its
# knobs on the H200, sustained: arrival-order dQ (U), head groups of 2 (G2), the mask branch (MB), the staged epilogue (E).
# The shipped forms were tuned on the H100 (sessions 14-19).
#   usage on the device: bash scripts/device/next_s22f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n22f; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
FLASH_ATTENTION_HOPPER_BWD_LOG=1 python3 scripts/device/bwd_once.py 300 16384 4 4 64 2>&1 | grep -oE 'hbwd_dkdv_[a-z0-9_]*' | head -2
FLASH_ATTENTION_HOPPER_BWD_LOG=1 python3 scripts/device/bwd_once.py 300 8192 4 4 64 2>&1 | grep -oE 'hbwd_dkdv_[a-z0-9_]*' | head -2
HB21_D=64 HB21_POINTS="8192,0:O,U,G2,MB,E;16384,0:O,U,G2,MB,E;4096,0:O,U,MB" timeout 330 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 2 --budget 270 --end 310 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
(cd $L && tar czf "$RESULT/n22f.tgz" sw sweep.txt 2>/dev/null)
