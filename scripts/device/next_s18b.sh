#!/usr/bin/env bash
# Session 18, second call: the speculative maximum (`sx`) as the default at tile D = 64 / 128 (defaultSpeculativeMax).
# Sustained 2.5 s windows at the grid points next_s18.sh did not time, the session-17 kernels (O: the call runs with
# FLASH_ATTENTION_HOPPER_RESCALE=nospec) against SX (=spec, the new default's kernels), bf16 and, where SX beat O in every
# bf16 window, fp16; first the ramp oracle on the default route (no knob) beside the sweep's compile.
#   usage on the device: bash scripts/device/next_s18b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n18b; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c ${DEV:-.device-me}/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/${DEV:-.device-me}/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
sxk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*sx_sm_90a" | sort -u | tr '\n' ' '; }
env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-ramp timeout 200 python3 scripts/device/torch_fwd_oracle.py ramp > $LOG/ramp.txt 2>&1
echo "ramp, default route: $(grep '^oracle' $LOG/ramp.txt | tail -1) | $(sxk /tmp/c-ramp | wc -w) sx kernels"; grep -h "^FAIL" $LOG/ramp.txt | head -4
el "ramp"
FLASH_ATTENTION_HOPPER_RESCALE=nospec HF29_FORMS=${N18_FORMS:-"128,1024,0:O,SX;128,4096,0:O,SX;128,4096,1:O,SX;128,512,1:O,SX;64,512,0:O,SX;64,1024,0:O,SX;64,2048,0:O,SX;64,16384,0:O,SX;64,2048,1:O,SX;64,4096,1:O,SX;64,16384,1:O,SX;64,4096,0:O,SX"} \
  timeout $(( 585 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows ${N18_WINDOWS:-1} --rounds 2 \
  --end $(( 560 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
grep -h "sx_sm_90a\|names" $L/sw/names.json 2>/dev/null | head -3
(cd $L && tar czf "$RESULT/n18b.tgz" logs sw sweep.txt 2>/dev/null)
el "end"
