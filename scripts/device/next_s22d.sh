#!/usr/bin/env bash
# Session 22, fourth call (H200): the interleaved grid on a clean build of HEAD (session 22's first grid ran the build of
# 996c70b, whose CLI held a stale object; its fp16 D = 128 512-key backward read 0.86 with rounds from 280 to 345 TFLOP/s).
#   usage on the device: bash scripts/device/next_s22d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; T0=$(date +%s)
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
timeout 60 /tmp/fa check 2>&1 | grep -m2 "MiB L2"
mkdir -p /tmp/r2; OUT=/tmp/r2 IL_TIMEOUT=$(( 560 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r2/interleaved.txt | head -10; (cd /tmp/r2 && tar czf "$RESULT/r2.tgz" .)
echo "[+$(( $(date +%s) - T0 ))s] end"
