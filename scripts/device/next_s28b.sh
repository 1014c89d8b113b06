#!/usr/bin/env bash
# Session 28, second call (H200): the stream-K tail after its loop head became a counted loop and the knob took xd with it.
#   1. checks with the knob set on capped grids (3 / 5 blocks): the torch float64 oracle (short, long), the pinned oracle;
#   2. sustained windows: O, SK (stream-K + xd) and XD (xd alone: SK's kernel less the tail) at unmasked D = 128 512–4k;
#   3. the wave probe (waves_s28.py) at D = 128 1k with and without the knob.
#   usage on the device: bash scripts/device/next_s28b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n28b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
K=FLASH_ATTENTION_HOPPER_STREAMK=1
o28() { env FA_BIN=/tmp/fa TFO_DIMS=128 $K FLASH_ATTENTION_CACHE_DIR=/tmp/c-28b-$1 "${@:3}" timeout 200 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o28 oracle_g3 oracle FLASH_ATTENTION_HOPPER_GRID=3 ) &
( o28 long_g5 "oracle long" FLASH_ATTENTION_HOPPER_GRID=5 ) &
( o28 ramp_g5 ramp FLASH_ATTENTION_HOPPER_GRID=5 TFO_RAMP_SHORT=1 ) &
env $K FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_CACHE_DIR=/tmp/c-28b-pinned timeout 200 /tmp/fa compile --check-dims 128 --check-cases 24 > "$LOG/pinned_g3.txt" 2>&1 &
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_sk_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle_g3 long_g5 ramp_g5; do echo "torch float64 $n: $(grep -E '^(oracle|ramp)' "$LOG/$n.txt" | tail -1) | sk kernels: $(fk /tmp/c-28b-$n)"; done
echo "pinned D = 128, 3-block grid: $(grep -E '^check:' "$LOG/pinned_g3.txt" | tail -1) | $(fk /tmp/c-28b-pinned)"
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
HF29_FORMS="128,512,0:O,SK,XD;128,1024,0:O,SK,XD;128,2048,0:O,SK,XD;128,4096,0:O,SK,XD" \
  timeout 260 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 240 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -16
grep -h "kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-160 | sort -u | head -12
el "sustained"
(cd $L && tar czf "$RESULT/n28b.tgz" logs fw fwd.txt 2>/dev/null)
for k in 0 1; do echo "STREAMK=$k"; FLASH_ATTENTION_HOPPER_STREAMK=$k FLASH_ATTENTION_HOPPER_DESC=1 PYTHONPATH=$PWD/python:$PWD/scripts timeout 100 python3 scripts/device/waves_s28.py "128,1024,128,246:248:256:264:265" 2>&1 | grep -v Warn; done
el "waves"
