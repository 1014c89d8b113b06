#!/usr/bin/env bash
# Session 19: unmasked D = 128 at 1k–4k on 176-key steps with `sx` (form ST0 = FLASH_ATTENTION_HOPPER_STORE=0, which skips the
# TMA-store row so these lengths take the 176-key row that runs from 4097 queries: `…tmaws2psx`) against the shipped 128-key
# store row (`…tmaws2pq2sosx`; session 5 chose it over the 176-key kernel, 1.13 / 1.07× at 1k / 2k, before `sx` cut the 176-key
# step from 677 to 503 instructions). Sustained windows (two a form and dtype), fp16 where ST0 wins every bf16 window; then the
# float64 2-block check of the 176-key kernel at these lengths.
#   usage on the device: bash scripts/device/next_s19f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n19f; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
HF29_FORMS=${N19F_FORMS:-"128,1024,0:O,ST0;128,2048,0:O,ST0;128,4096,0:O,ST0"} \
  timeout 200 python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 2 --rounds 2 --end 180 > $L/sweep.txt 2>&1
grep -E "^== |^\s+(O|ST0|cudnn)\s" $L/sweep.txt | cut -c1-220
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
timeout 120 python3 scripts/device/hopper_fwd29_check.py ST0 128 0 1024 2048 > $L/chk.txt 2>&1; tail -2 $L/chk.txt | cut -c1-400
(cd $L && tar czf "$RESULT/n19f.tgz" sw sweep.txt chk.txt 2>/dev/null)
el "end"
