#!/usr/bin/env bash
# Session 14 (hopfwd27), not run: the checks a default would want for the two rules docs/performance.md proposes ("Session 14: a
# knob sweep of the mid/long forward"), forced by their knobs with FLASH_ATTENTION_HOPPER=1 (hopfwd27's call 1 ran them all at once
# and its torch oracles timed out, no failure so far):
#   xo    FLASH_ATTENTION_HOPPER_EXPTURN=lean FLASH_ATTENTION_HOPPER_EXPOVERLAP=1 (causal tile D = 128 at 1025-2048 keys: `…pdq2soxdxtxlxo`)
#   hdew  FLASH_ATTENTION_HOPPER_DIAG=1 FLASH_ATTENTION_HOPPER_EMPTYWG=dyn (causal tile D = 64 three-warpgroup row `…lthdxderew`,
#         unmasked tile D = 64 past 2k on the dynamic scheduler `…pdq2ltxderew`)
# Per form: the pinned float64 oracle (`compile --check-dims 64,128`, full grid and FLASH_ATTENTION_HOPPER_GRID=2), the torch float64
# oracle `oracle g2` and `oracle long` on a 2-block grid and `oracle long` on the full grid; then memcheck + racecheck through
# `flash-attn run` on a 2-block grid (fp16, B 1, 2 heads): xo causal D = 128 2000², 2048 × 1500, 1000²; hdew causal D = 64 2100²,
# 2048², 2500 × 2048 (rows that see no key), unmasked 4100². Kernels reached listed per job.
#   usage on the device: bash scripts/device/hopper_fwd27c.sh   (carry .device-hopfwd27 with flash-attn.gz; timeout_s 400)
set -uo pipefail
OUT=${OUT:-/tmp/out}; L=$OUT/logs; mkdir -p $L /tmp/npy
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd27/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
H=FLASH_ATTENTION_HOPPER
declare -A FORM=([xo]="${H}_EXPTURN=lean ${H}_EXPOVERLAP=1" [hdew]="${H}_DIAG=1 ${H}_EMPTYWG=dyn")
kern() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*tmaws[a-z0-9]*_sm_90a" | sort -u | tr '\n' ' '; }
for f in xo hdew; do
  env ${FORM[$f]} $H=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-pf-$f timeout 200 /tmp/fa compile --check-dims 64,128 --check-cases 6 > $L/pinned_full_$f.txt 2>&1 &
  env ${FORM[$f]} $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-pg-$f timeout 200 /tmp/fa compile --check-dims 64,128 --check-cases 6 > $L/pinned_g2_$f.txt 2>&1 &
  env ${FORM[$f]} $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-og-$f timeout 300 python3 scripts/device/torch_fwd_oracle.py oracle g2 > $L/oracle_g2_$f.txt 2>&1 &
  env ${FORM[$f]} $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-ol-$f timeout 300 python3 scripts/device/torch_fwd_oracle.py oracle long > $L/oracle_long_g2_$f.txt 2>&1 &
  env ${FORM[$f]} $H=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-of-$f timeout 300 python3 scripts/device/torch_fwd_oracle.py oracle long > $L/oracle_long_full_$f.txt 2>&1 &
done
wait $(jobs -p)
el "oracles done"
for f in xo hdew; do for j in pf pg og ol of; do
  case $j in pf) n=pinned_full;; pg) n=pinned_g2;; og) n=oracle_g2;; ol) n=oracle_long_g2;; of) n=oracle_long_full;; esac
  echo "$f $n: $(grep -E '^check:|^oracle' $L/${n}_$f.txt | tail -1); kernels: $(kern /tmp/c-$j-$f)"
  grep -h FAIL $L/${n}_$f.txt | head -3
done; done
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for s in "xo 128 1 2000 2000" "xo 128 1 2048 1500" "xo 128 1 1000 1000" "hdew 64 1 2100 2100" "hdew 64 1 2048 2048" "hdew 64 1 2500 2048" "hdew 64 0 4100 4100"; do
  set -- $s; f=$1; D=$2; c=$3; sq=$4; sk=$5; t=${f}_d${D}c${c}_${sq}x$sk
  python3 -c "
import numpy as np; r = np.random.default_rng($sq * 7 + $sk + $D)
for x, n in (('q', $sq), ('k', $sk), ('v', $sk)): np.save('/tmp/npy/s_${t}_' + x + '.npy', (r.standard_normal((1, n, 2, $D)) * 0.5).astype(np.float32))"
  for tool in memcheck racecheck; do
    ( env ${FORM[$f]} $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool-$t timeout 250 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/npy/s_${t}_q.npy --k /tmp/npy/s_${t}_k.npy --v /tmp/npy/s_${t}_v.npy --out /tmp/npy/s_${t}_${tool}_o.npy \
        --dtype float16 --device cuda $([ $c = 1 ] && echo --causal) > $L/${tool}_$t.txt 2>&1; echo "exit $?" >> $L/${tool}_$t.txt ) &
  done
done
wait $(jobs -p)
for f in $L/memcheck_*.txt $L/racecheck_*.txt; do
  b=$(basename $f .txt)
  echo "$b: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); kernels: $(kern /tmp/c-${b%%_*}-${b#*_})"
done
el "end"
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $L
