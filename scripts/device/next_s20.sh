#!/usr/bin/env bash
# Prepared in session 19 for the next session's first call (not run yet; .device-me holds the build of 4290223, the session's
# last code commit: 9312d12's defaults plus the tile D = 256 mask-branch knob). Session 19 made head groups of 4 + the mask branch the default on the unmasked tile D = 128 backward from
# 8k keys (`…_dqbuf2_w2_edv_ldk_g4_mb_pd`, HopperBackwardDescriptor.unmaskedTile128LongForm) after sustained windows and a
# float64 check at 8k-16k, but the device time ran out before compute-sanitizer saw that kernel. This call:
#   1. memcheck + racecheck on it through `flash-attn run --grad-out` (deterministic: key-block order), 300 × 8200 and
#      1000 × 8300 GQA (8 query heads over 4), bf16 and fp16;
#   2. the float64 dQ / dK / dV check on the default route (scripts/device/bwd_check_s19.py, no knob);
#   3. sustained windows O (the new default) against OLD (MASKBRANCH=0 GROUP=0: session 18's kernel) at unmasked 8k / 16k,
#      and head groups (G4) at causal 16k, tile D = 128 (1.00-1.04 in the grids; the mask branch is already there);
#   4. the mask branch at unmasked tile D = 64 (4k-16k) in sustained windows (its kernel predicates 64 FSEL a step), and
#      head groups at causal tile D = 64 16k (1.01-1.05 in the grids);
#   5. the interleaved grid (both passes) into $OUT/r1.tgz, so the backward chart carries the new default.
# (About 600 s in all: if the call's limit bites, run step 5 alone in a second call.)
#   usage on the device: bash scripts/device/next_s20.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n20; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(2020)
for name, (sq, sk, h, hk) in {'a': (300, 8200, 4, 4), 'b': (1000, 8300, 8, 4)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk), ('do', sq, h)):
        np.save(f'/tmp/n20{name}_{c}.npy', r.standard_normal((1, n, hh, 128)).astype(np.float32) * 0.5)
"
for n in a b; do
  for tool in memcheck racecheck; do
    for dt in bfloat16 float16; do
      nm=$tool-$n-$dt
      ( env FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 280 "$san" --tool $tool \
          --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 /tmp/fa run --q /tmp/n20${n}_q.npy --k /tmp/n20${n}_k.npy \
          --v /tmp/n20${n}_v.npy --grad-out /tmp/n20${n}_do.npy --out /tmp/n20_${nm}_o.npy --dq /tmp/n20_${nm}_dq.npy --dk /tmp/n20_${nm}_dk.npy \
          --dv /tmp/n20_${nm}_dv.npy --dtype $dt --device cuda > $LOG/$nm.txt 2>&1; echo "exit $?" >> $LOG/$nm.txt ) &
    done
  done
done
( FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check' $f | tail -1) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort -u | tr '\n' ' ')"
done
el "checks"
HB21_POINTS="8192,0:O,OLD;16384,0:O,OLD;16384,1:O,G4" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 --windows 2 --rounds 2 \
  --budget 150 --end 180 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
# The same predicated mask at unmasked tile D = 64 (64 FSEL a consumer thread a step; session 6's bursts read the branch
# 0.93-1.03 there, before the power-cap method): O against MB, sustained, if the call has the time.
HB21_D=64 HB21_POINTS="4096,0:O,MB;8192,0:O,MB;16384,0:O,MB;16384,1:O,G4" timeout 150 python3 scripts/device/hopper_bwd21.py --out $L/sw64 --seconds 2.5 \
  --windows 2 --rounds 1 --budget 110 --end 130 > $L/sweep64.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep64.txt
el "sustained D = 64"
if [ $(( $(date +%s) - T0 )) -lt 370 ]; then
  mkdir -p /tmp/r1; OUT=/tmp/r1 IL_TIMEOUT=$(( 580 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -10; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
else
  echo "grid skipped (no time left in this call): run OUT=\$OUT bash scripts/device/interleaved_s9.sh in a second call"
fi
(cd $L && tar czf "$RESULT/n20.tgz" logs sw sw64 sweep.txt sweep64.txt 2>/dev/null)
el "end"
