#!/usr/bin/env bash
# Session 21, fourth call (H200): head groups for the deterministic wide backward. Per-call medians (wide_group_s20.py,
# WG_DET=1, bf16) showed one head at a time losing 10-25 % there (a head's consecutive key blocks queue on each other's
# ordered dQ turns), except unmasked from 16k keys. Groups of 2 / 4 / 8 heads keep fewer key blocks of a head in flight
# while keeping the head's data in L2: the 3-D grid (0) against G = 2, 4, 8, each twice in mirrored order.
#   usage on the device: bash scripts/device/next_s21d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n21d; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
for g in 0 2 4 8 8 4 2 0; do
  FLASH_ATTENTION_HOPPER_BWD_GROUP=$g WG_DET=1 WG_D=256 WG_ITERS=6 \
    WG_SHAPES="8,2048,16,1;4,4096,16,1;1,16384,16,1;4,4096,16,0;2,8192,16,0;1,16384,16,0;2,8192,8,1" \
    timeout 100 python3 scripts/device/wide_group_s20.py >> $L/pc.txt 2>&1
done
grep TFLOP $L/pc.txt | sort -t' ' -k2,6 -s | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
grep -v TFLOP $L/pc.txt | tail -3
cp $L/pc.txt "$RESULT/n21d_pc.txt"
