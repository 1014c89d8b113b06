#!/usr/bin/env bash
# Session 29, call 2 (H200): whole (batch, head) units per block on the static persistent forward (unitTileOrder, `_uo`,
#   FLASH_ATTENTION_HOPPER_UNITORDER=1): a head's row blocks back to back in one block, so its K/V come from device memory
#   once and from the L2 after.
#   1. sustained windows: O and UO at unmasked D = 128 512 / 1k / 2k and D = 256 512 / 1k;
#   2. checks with the knob set on capped grids (3 / 5 blocks: several units a block): the torch float64 oracle (D = 128 and
#      256, long shapes), the pinned float64 oracle, memcheck + racecheck through `flash-attn run` (640 × 700 GQA).
#   usage on the device: bash scripts/device/next_s29b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="128,512,0:O,UO;128,1024,0:O,UO;128,2048,0:O,UO;256,512,0:O,UO;256,1024,0:O,UO" \
  timeout 300 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 2 --end 200 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -16
grep -h "kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-160 | sort -u | head -12
el "sustained"
(cd $L && tar czf "$RESULT/n29b.tgz" fw fwd.txt 2>/dev/null)
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
K=FLASH_ATTENTION_HOPPER_UNITORDER=1
o29() { env FA_BIN=/tmp/fa $K FLASH_ATTENTION_CACHE_DIR=/tmp/c-29b-$1 "${@:3}" timeout 150 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o29 oracle_g3 oracle FLASH_ATTENTION_HOPPER_GRID=3 TFO_DIMS=128 ) &
( o29 oracle256_g5 oracle FLASH_ATTENTION_HOPPER_GRID=5 TFO_DIMS=256 ) &
( o29 long_g5 "oracle long" FLASH_ATTENTION_HOPPER_GRID=5 TFO_DIMS=128 ) &
( o29 long256_g3 "oracle long" FLASH_ATTENTION_HOPPER_GRID=3 TFO_DIMS=256 ) &
env $K FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_CACHE_DIR=/tmp/c-29b-pinned timeout 150 /tmp/fa compile --check-dims 128,256 --check-cases 16 > "$LOG/pinned_g3.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(2929)
for c, n, hh in (('q', 640, 4), ('k', 700, 2), ('v', 700, 2)):
    np.save(f'/tmp/s29_{c}.npy', (r.standard_normal((2, n, hh, 128)) * 0.5).astype(np.float32))
"
for tool in memcheck racecheck; do
  ( for dt in bfloat16 float16; do
      nm=$tool$dt
      env $K FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_CACHE_DIR=/tmp/c-29b-$nm timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/s29_q.npy --k /tmp/s29_k.npy --v /tmp/s29_v.npy --out /tmp/s29_${nm}_o.npy \
        --dtype $dt --device cuda > "$LOG/san_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/san_$nm.txt"
    done ) &
done
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_uo_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle_g3 oracle256_g5 long_g5 long256_g3; do echo "torch float64 $n: $(grep -E '^(oracle|ramp)' "$LOG/$n.txt" | tail -1) | uo kernels: $(fk /tmp/c-29b-$n)"; done
echo "pinned D = 128 / 256, 3-block grid: $(grep -E '^check:' "$LOG/pinned_g3.txt" | tail -1) | $(fk /tmp/c-29b-pinned)"
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(fk /tmp/c-29b-$(basename $f .txt | sed s/san_//))"; done
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n29b.tgz" logs fw fwd.txt 2>/dev/null)
