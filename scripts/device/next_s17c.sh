#!/usr/bin/env bash
# Session 17, last call: the existing forward knobs at the two short rows that trail cuDNN in steady running too (causal D = 64
# and D = 256 at N = 512, 0.96 sustained; next_s17b.sh), in sustained 2.5 s windows (sessions 13-14 ranked the short rows'
# knobs in bursts only). Information for the next session; no default changes on its strength alone.
#   usage on the device: bash scripts/device/next_s17c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n17c; mkdir -p "$RESULT" "$L"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
HF29_FORMS="64,512,1:O,PS,RS,XD,XE,XO,SO,EW,HDEW,HD;256,512,1:O,PS,RS,XD,XE,W2,OQ,SO,EW,HD" \
  timeout 560 python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 --end 520 > $L/sweep.txt 2>&1
sed -n '/^== sustained/,$p' $L/sweep.txt | grep -v "^$" | cut -c1-260
(cd $L/sw && tar czf "$RESULT/n17c_sweep.tgz" *.jsonl *.csv *.json ../sweep.txt 2>/dev/null)
el "end"
