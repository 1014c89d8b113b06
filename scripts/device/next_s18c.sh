#!/usr/bin/env bash
# Session 18, third call: the speculative maximum with the exact softmax on the step after a causal tile's diagonal block
# (next_s18b.sh found causal D = 128 512 at 0.967 and 4k level: the diagonal block's top rows keep low maxima, so the
# next step asked for a redo in most tiles). Checks of the forced kernels (the torch float64 forward oracle full / long /
# ramp, 2-block grid for the ramp), then sustained windows O (FLASH_ATTENTION_HOPPER_RESCALE=nospec for the call) against
# SX at the short and causal rows, two windows a form and dtype in each of two rounds.
#   usage on the device: bash scripts/device/next_s18c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n18c; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c ${DEV:-.device-me}/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/${DEV:-.device-me}/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
sxk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*sx_sm_90a" | sort -u | tr '\n' ' '; }
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
SX="env FLASH_ATTENTION_HOPPER_RESCALE=spec FA_BIN=/tmp/fa"
job oracle $SX timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle
job long $SX timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle long
job ramp_g2 $SX FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py ramp
wait $(jobs -p)
for f in $LOG/*.txt; do n=$(basename $f .txt); echo "$n: $(grep -E '^oracle' $f | tail -1) | $(tail -1 $f) | $(sxk /tmp/c-$n | wc -w) sx kernels, causal: $(sxk /tmp/c-$n | tr ' ' '\n' | grep -c causal)"; done
grep -h "^FAIL" $LOG/*.txt | head -6
el "checks"
FLASH_ATTENTION_HOPPER_RESCALE=nospec HF29_FORMS=${N18_FORMS:-"128,512,1:O,SX;128,4096,1:O,SX;128,8192,1:O,SX;64,2048,1:O,SX;64,4096,1:O,SX;64,512,0:O,SX;64,1024,0:O,SX;128,512,0:O,SX"} \
  timeout $(( 585 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows ${N18_WINDOWS:-2} --rounds 2 \
  --end $(( 560 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L && tar czf "$RESULT/n18c.tgz" logs sw sweep.txt 2>/dev/null)
el "end"
