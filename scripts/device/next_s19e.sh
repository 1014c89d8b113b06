#!/usr/bin/env bash
# Session 19: the two unmasked tile D = 256 rows left out of `sx` (512 and 1k keys: next_s19b.sh read 1.001–1.014 / 0.993–0.994
# and 0.995–1.020 sustained, bursts 0.998–1.018 and 1.016–1.018), once more with the shipped build: O (`…psookvxderqhlr`,
# `…psooqxderqhlr`) against SX (FLASH_ATTENTION_HOPPER_RESCALE=spec: `…psookvxderqhsx`, `…psooqxderqhsx`), three sustained
# windows a form and dtype in each of two rounds, fp16 where SX beat O in every bf16 window.
#   usage on the device: bash scripts/device/next_s19e.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n19e; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
HF29_FORMS=${N19E_FORMS:-"256,1024,0:O,SX;256,512,0:O,SX"} \
  timeout 280 python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 --end 260 > $L/sweep.txt 2>&1
grep -E "^== |^\s+(O|SX|cudnn)\s" $L/sweep.txt | cut -c1-200
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L && tar czf "$RESULT/n19e.tgz" sw sweep.txt 2>/dev/null)
el "end"
