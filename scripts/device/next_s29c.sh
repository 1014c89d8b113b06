#!/usr/bin/env bash
# Session 29, call 3 (H200): the dynamic scheduler's section width (schedulerSectionPairs, `_sp<P>`,
#   FLASH_ATTENTION_HOPPER_SECTIONPAIRS=P). Call 2 found a head's row blocks run back to back in one block (whole units,
#   `_uo`) 9–25 % slower than on neighbouring blocks at once: sharing each K/V fetch as it arrives beats reading it again
#   from the L2 later. The dynamic rows (causal, unmasked tile D = 64) run their L2-sized sections heaviest row block first,
#   so a head's row blocks run about a round apart; P = 1 puts them back to back, P = 33 one section a round.
#   1. sustained windows: O, SP1, SP8, SP33 at causal D = 64 512 / 1k, causal D = 128 512, causal D = 256 512, unmasked D = 64 512;
#   2. checks with SECTIONPAIRS=1 and =8 on capped and full grids: the torch float64 oracle (D = 64 / 128 / 256), the ramp.
#   usage on the device: bash scripts/device/next_s29c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="64,512,1:O,SP1,SP8,SP33;64,1024,1:O,SP1,SP8,SP33;128,512,1:O,SP1,SP8,SP33;256,512,1:O,SP1,SP8,SP33;64,512,0:O,SP1,SP8,SP33" \
  timeout 330 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 2 --end 240 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -24
grep -h "kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-160 | sort -u | head -12
el "sustained"
(cd $L && tar czf "$RESULT/n29c.tgz" fw fwd.txt 2>/dev/null)
o29() { env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-29c-$1 "${@:3}" timeout 150 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o29 sp1_g3 oracle FLASH_ATTENTION_HOPPER_SECTIONPAIRS=1 FLASH_ATTENTION_HOPPER_GRID=3 TFO_DIMS=64,128 ) &
( o29 sp8_full "oracle g2" FLASH_ATTENTION_HOPPER_SECTIONPAIRS=8 TFO_DIMS=64,128 ) &
( o29 sp1_256 oracle FLASH_ATTENTION_HOPPER_SECTIONPAIRS=1 FLASH_ATTENTION_HOPPER_GRID=5 TFO_DIMS=256 ) &
( o29 sp33_ramp ramp FLASH_ATTENTION_HOPPER_SECTIONPAIRS=33 FLASH_ATTENTION_HOPPER_GRID=5 TFO_RAMP_SHORT=1 TFO_DIMS=64,128 ) &
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_sp[0-9]+_sm_90a" | sort -u | tr '\n' ' '; }
for n in sp1_g3 sp8_full sp1_256 sp33_ramp; do echo "torch float64 $n: $(grep -E '^(oracle|ramp)' "$LOG/$n.txt" | tail -1) | sp kernels: $(fk /tmp/c-29c-$n | cut -c1-300)"; done
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n29c.tgz" logs fw fwd.txt 2>/dev/null)
