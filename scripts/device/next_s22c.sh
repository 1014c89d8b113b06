#!/usr/bin/env bash
# Session 22, third call (H200): the persistent key/value grid on causal tile D = 128 (non-deterministic, arrival-order dQ),
# forced with FLASH_ATTENTION_HOPPER_BWD_PERSIST=1 (until now unmasked only; never checked causal). Clean build of .device-me.
#   1. the L2 line of `flash-attn check` (the stale build printed a heap address);
#   2. float64 dQ / dK / dV causal persistent: 8192², 8300 × 8200 GQA, 4000 × 3000 GQA (1000 rows see no key), 3000 × 4096
#      GQA, 16384²; the grid capped to 7 CTAs at 4100 × 4000 and 1000 × 1300; check-dense D = 128 non-deterministic forced
#      (and capped to 5 CTAs); memcheck + racecheck at 300 × 8300 GQA and 1300 × 1000 causal;
#   3. sustained windows at causal D = 128 4k / 8k / 16k: the default (O) against the persistent grid (P), and the forms in
#      S22C_FORMS (default O,P).
#   usage on the device: bash scripts/device/next_s22c.sh   (carry .device-me)
#   The fifth call ran it again on a build with the balanced pair order (docs/performance.md, "Session 22", part 3):
#   S22C_TAG=n22e S22C_FORMS=O,P,U bash scripts/device/next_s22c.sh   (U: arrival-order dQ alone)
set -uo pipefail
F=${S22C_FORMS:-O,P}; TAG=${S22C_TAG:-n22c}
RESULT=${OUT:-/tmp/out}; L=/tmp/$TAG; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
timeout 60 /tmp/fa check 2>&1 | grep -m2 "MiB L2"
python3 -c "
import ctypes; c = ctypes.CDLL('libcuda.so.1'); c.cuInit(0); d = ctypes.c_int(); c.cuDeviceGet(ctypes.byref(d), 0)
v = ctypes.c_int(-1); r = c.cuDeviceGetAttribute(ctypes.byref(v), 38, d); print('cuDeviceGetAttribute(38) rc', r, 'value', v.value, v.value >> 20, 'MiB')"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
P="FLASH_ATTENTION_HOPPER_BWD_PERSIST=1"
( env $B $P BWC_D=128 BWC_SHAPES="8192,8192,4,4,1;8300,8200,8,4,1;4000,3000,8,4,1;3000,4096,8,2,1;16384,16384,4,4,1" timeout 220 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_ptc.txt 2>&1; echo "exit $?" >> $LOG/f64_ptc.txt
  env $B $P FLASH_ATTENTION_HOPPER_GRID=7 BWC_D=128 BWC_SHAPES="4100,4000,8,4,1;1000,1300,4,2,1" timeout 120 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_ptc_g7.txt 2>&1; echo "exit $?" >> $LOG/f64_ptc_g7.txt ) &
for tool in memcheck racecheck; do
  ( env $B $P FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/bwd_once.py 300 8300 4 2 128 causal > $LOG/py_$tool.txt 2>&1; echo "exit $?" >> $LOG/py_$tool.txt
    env $B $P FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/bwd_once.py 1300 1000 4 2 128 causal > $LOG/py_${tool}_b.txt 2>&1; echo "exit $?" >> $LOG/py_${tool}_b.txt ) &
done
( env $P FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 128 --check-cases 16 \
    --check-dense --nondeterministic --seed 223 > $LOG/dense_ptc.txt 2>&1; echo "exit $?" >> $LOG/dense_ptc.txt
  env $P FLASH_ATTENTION_HOPPER_GRID=5 FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 8 \
    --check-dims 128 --check-cases 16 --check-dense --nondeterministic --seed 224 > $LOG/dense_ptc_g5.txt 2>&1; echo "exit $?" >> $LOG/dense_ptc_g5.txt ) &
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed' $f | tail -1 | cut -c1-100) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -3 | tr '\n' ' ' | cut -c1-260)"
done
grep -h "^FAIL" $LOG/*.txt | head -5
el "checks"
HB21_D=128 HB21_POINTS="4096,1:$F;8192,1:$F;16384,1:$F" timeout 260 python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 \
  --windows 2 --rounds 2 --budget 200 --end 240 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
(cd $L && tar czf "$RESULT/$TAG.tgz" logs sw sweep.txt 2>/dev/null)
