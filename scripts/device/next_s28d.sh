#!/usr/bin/env bash
# Session 28, fourth call (H200): the stream-K tail with its hand-over protocol (the part holding a tile's last steps merges,
#   the others release their part without waiting; each share runs from its end), at unmasked tile D = 128 up to 4k and
#   tile D = 256 past 4k keys (the 80-key row).
#   1. checks with the knob set on capped grids (3 / 5 / 7 blocks): the torch float64 oracle (short, long, D = 128 and 256),
#      the ramp, the pinned float64 oracle (D = 128 / 256), memcheck + racecheck through `flash-attn run` (640 × 700 GQA);
#   2. sustained windows: O and SK at unmasked D = 128 512 / 1k / 2k / 4k and D = 256 8k / 16k.
#   usage on the device: bash scripts/device/next_s28d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n28d; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
K=FLASH_ATTENTION_HOPPER_STREAMK=1
o28() { env FA_BIN=/tmp/fa $K FLASH_ATTENTION_CACHE_DIR=/tmp/c-28d-$1 "${@:3}" timeout 200 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o28 oracle_g3 oracle FLASH_ATTENTION_HOPPER_GRID=3 TFO_DIMS=128 ) &
( o28 oracle_g7 "oracle g2" FLASH_ATTENTION_HOPPER_GRID=7 TFO_DIMS=128; o28 oracle_full "oracle g2" TFO_DIMS=128 ) &
( o28 long_g5 "oracle long" FLASH_ATTENTION_HOPPER_GRID=5 TFO_DIMS=128 ) &
( o28 long256_g5 "oracle long" FLASH_ATTENTION_HOPPER_GRID=5 TFO_DIMS=256 ) &
( o28 long256_g7 "oracle long" FLASH_ATTENTION_HOPPER_GRID=7 TFO_DIMS=256 ) &
( o28 ramp_g5 ramp FLASH_ATTENTION_HOPPER_GRID=5 TFO_RAMP_SHORT=1 TFO_DIMS=128 ) &
env $K FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_CACHE_DIR=/tmp/c-28d-pinned timeout 200 /tmp/fa compile --check-dims 128,256 --check-cases 16 > "$LOG/pinned_g3.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(2828)
for c, n, hh in (('q', 640, 4), ('k', 700, 2), ('v', 700, 2)):
    np.save(f'/tmp/s28_{c}.npy', (r.standard_normal((2, n, hh, 128)) * 0.5).astype(np.float32))
"
for tool in memcheck racecheck; do
  ( for dt in bfloat16 float16; do
      nm=$tool$dt
      env $K FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_CACHE_DIR=/tmp/c-28d-$nm timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/s28_q.npy --k /tmp/s28_k.npy --v /tmp/s28_v.npy --out /tmp/s28_${nm}_o.npy \
        --dtype $dt --device cuda > "$LOG/san_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/san_$nm.txt"
    done ) &
done
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_sk_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle_g3 oracle_g7 oracle_full long_g5 long256_g5 long256_g7 ramp_g5; do echo "torch float64 $n: $(grep -E '^(oracle|ramp)' "$LOG/$n.txt" | tail -1) | sk kernels: $(fk /tmp/c-28d-$n)"; done
echo "pinned D = 128 / 256, 3-block grid: $(grep -E '^check:' "$LOG/pinned_g3.txt" | tail -1) | $(fk /tmp/c-28d-pinned)"
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(fk /tmp/c-28d-$(basename $f .txt | sed s/san_//))"; done
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n28d.tgz" logs 2>/dev/null)
HF29_FORMS="128,512,0:O,SK;128,1024,0:O,SK;128,2048,0:O,SK;128,4096,0:O,SK;256,8192,0:O,SK;256,16384,0:O,SK" \
  timeout 330 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 310 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -16
grep -h "kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-160 | sort -u | head -12
el "sustained"
(cd $L && tar czf "$RESULT/n28d.tgz" logs fw fwd.txt 2>/dev/null)
