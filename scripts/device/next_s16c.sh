#!/usr/bin/env bash
# Session 16, last call: (1) the lazy O rescale at tile D = 128's 128-key rows (unmasked up to 4k, causal 1k–4k), where the
# rescale weighs D / n = 1 against the 176-key long rows' 0.73 (there `lr` lost, next_s16.sh); sustained 2.5 s windows,
# O against LR (scripts/device/hopper_fwd29.py with HF29_FORMS); (2) both reference grids interleaved once more (run 2) on the
# defaults of the session (tile D = 256 `lr`).
#   usage on the device: bash scripts/device/next_s16c.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n16c; mkdir -p "$RESULT" "$L"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
HF29_FORMS="128,4096,0:O,LR;128,2048,0:O,LR;128,4096,1:O,LR;128,2048,1:O,LR;128,1024,1:O,LR" \
  timeout ${SWEEP_S:-200} python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 \
  --end ${SWEEP_END:-165} > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L/sw && tar czf "$RESULT/n16c_sweep.tgz" *.jsonl *.csv *.json ../sweep.txt 2>/dev/null)
el "sweep"
mkdir -p /tmp/r2; OUT=/tmp/r2 IL_TIMEOUT=${IL_TIMEOUT:-260} bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r2/interleaved.txt | head -8; (cd /tmp/r2 && tar czf "$RESULT/r2.tgz" .)
el "grid"
