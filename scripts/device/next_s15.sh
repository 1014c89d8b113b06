#!/usr/bin/env bash
# Prepared at the end of session 14 for the next session's first call (about 330 s on a fresh H100; carry .device-me with
# flash-attn.gz and libflashattention.so of the tree):
#   1. SM clock and board power while ours and cuDNN run six points (scripts/device/clock_probe.py): how far each is from the
#      700 W cap's clock-scaled peak, the question behind the unmasked D = 128 / 256 forward rows (0.98–1.09× cuDNN at
#      69–77 % of the boost-clock peak).
#   2. hopfwd27's rule 3, the half-width diagonal softmax with empty warpgroups on the causal three-warpgroup D = 64 row
#      (FLASH_ATTENTION_HOPPER_DIAG=1 FLASH_ATTENTION_HOPPER_EMPTYWG=dyn; 1.030–1.047 at causal D = 64 2k in one call's 8 runs,
#      never checked): its checks (pinned float64 oracle full and 2-block grid, the torch float64 forward oracle `long` on a
#      2-block grid, memcheck + racecheck on 2-block grids at 2100², 2048², 2500 × 2048) and 6 interleaved rounds at causal
#      D = 64 2k / 3k against the defaults (scripts/device/ab_s12b.sh).
#   usage on the device: bash scripts/device/next_s15.sh
set -uo pipefail
O=${OUT:-/tmp/out}; L=/tmp/n15; mkdir -p $O $L /tmp/npy
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
H=FLASH_ATTENTION_HOPPER; FORM="${H}_DIAG=1 ${H}_EMPTYWG=dyn"
kern() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*tmaws[a-z0-9]*_sm_90a" | sort -u | tr '\n' ' '; }
FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-clock FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python \
  timeout 260 python3 scripts/device/clock_probe.py --seconds 2.5 > $L/clock.txt 2>&1
tail -44 $L/clock.txt
env $FORM FLASH_ATTENTION_CACHE_DIR=/tmp/c-pf timeout 200 /tmp/fa compile --check-dims 64 --check-cases 8 > $L/pinned_full.txt 2>&1 &
env $FORM ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-pg timeout 200 /tmp/fa compile --check-dims 64 --check-cases 8 > $L/pinned_g2.txt 2>&1 &
env $FORM ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-ol timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle long > $L/oracle_long_g2.txt 2>&1 &
wait $(jobs -p)
echo "pinned: $(grep -E '^check:' $L/pinned_full.txt | tail -1) / 2-block grid $(grep -E '^check:' $L/pinned_g2.txt | tail -1)"
echo "torch oracle long (2-block grid): $(grep '^oracle' $L/oracle_long_g2.txt); kernels: $(kern /tmp/c-ol)"
grep -h FAIL $L/*.txt | head -3
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for s in "2100 2100" "2048 2048" "2500 2048"; do
  set -- $s; t=${1}x$2
  python3 -c "
import numpy as np; r = np.random.default_rng($1 + $2)
for x, n in (('q', $1), ('k', $2), ('v', $2)): np.save('/tmp/npy/n15_${t}_' + x + '.npy', (r.standard_normal((1, n, 2, 64)) * 0.5).astype(np.float32))"
  for tool in memcheck racecheck; do
    ( env $FORM ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool-$t timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/npy/n15_${t}_q.npy --k /tmp/npy/n15_${t}_k.npy --v /tmp/npy/n15_${t}_v.npy \
        --out /tmp/npy/n15_${t}_${tool}_o.npy --dtype float16 --device cuda --causal > $L/${tool}_$t.txt 2>&1; echo "exit $?" >> $L/${tool}_$t.txt ) &
  done
done
wait $(jobs -p)
for f in $L/memcheck_*.txt $L/racecheck_*.txt; do
  b=$(basename $f .txt); echo "$b: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); kernels: $(kern /tmp/c-${b%%_*}-${b#*_})"
done
HW_SETS="base:X=1 hdew:$(echo $FORM | tr ' ' ',')" HW_DIMS=64 HW_SEQLENS=2048,3072 HW_ROUNDS=${HW_ROUNDS:-6} bash scripts/device/ab_s12b.sh 2>&1 | grep -v "causal=0"
tar czf $O/logs.tgz -C $L .
