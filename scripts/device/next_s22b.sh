#!/usr/bin/env bash
# Session 22, second call (H200): the persistent key/value grid at tile D = 64 (unmasked, non-deterministic, arrival-order dQ),
# forced with FLASH_ATTENTION_HOPPER_BWD_PERSIST=1; and the causal many-heads head groups from 4k keys with >= 64 kv heads.
#   1. the L2 line of `flash-attn check` (session 22's first call printed 89944476 MiB) beside the driver's attribute via ctypes;
#   2. float64 dQ / dK / dV, tile D = 64 persistent forced: 8192², 8300 × 8200 GQA, 16384², 4100 × 4000 GQA, 3000 × 4096 GQA,
#      and with the grid capped to 7 CTAs (FLASH_ATTENTION_HOPPER_GRID=7: each CTA walks many tiles); check-dense D = 64
#      non-deterministic forced; memcheck + racecheck at 300 × 8300 GQA;
#   3. float64 on the new many-heads default route (causal tile D = 128, 4096 keys, 64 kv heads);
#   4. sustained windows at unmasked D = 64 4k / 8k / 16k: the default (O) against the persistent grid (P);
#   5. per-call medians, causal D = 128 4k × 4 H = 64 and 96: default (Gd) against the 3-D grid.
#   usage on the device: bash scripts/device/next_s22b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n22b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
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
( env $B $P BWC_D=64 BWC_SHAPES="8192,8192,4,4;8300,8200,8,4;16384,16384,4,4;4100,4000,8,4;3000,4096,8,2" timeout 200 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_pt64.txt 2>&1; echo "exit $?" >> $LOG/f64_pt64.txt
  env $B $P FLASH_ATTENTION_HOPPER_GRID=7 BWC_D=64 BWC_SHAPES="4100,4000,8,4;1000,1300,4,2" timeout 120 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_pt64_g7.txt 2>&1; echo "exit $?" >> $LOG/f64_pt64_g7.txt
  env $B BWC_D=128 BWC_SHAPES="4096,4096,64,64,1;4100,4000,128,64,1" timeout 120 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_mh4k.txt 2>&1; echo "exit $?" >> $LOG/f64_mh4k.txt ) &
for tool in memcheck racecheck; do
  ( env $B $P FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/bwd_once.py 300 8300 4 2 64 > $LOG/py_$tool.txt 2>&1; echo "exit $?" >> $LOG/py_$tool.txt ) &
done
( env $P FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 64 --check-cases 16 \
    --check-dense --nondeterministic --seed 221 > $LOG/dense_pt64.txt 2>&1; echo "exit $?" >> $LOG/dense_pt64.txt
  env $P FLASH_ATTENTION_HOPPER_GRID=5 FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 8 \
    --check-dims 64 --check-cases 16 --check-dense --nondeterministic --seed 222 > $LOG/dense_pt64_g5.txt 2>&1; echo "exit $?" >> $LOG/dense_pt64_g5.txt ) &
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed' $f | tail -1 | cut -c1-100) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -3 | tr '\n' ' ' | cut -c1-260)"
done
grep -h "^FAIL" $LOG/*.txt | head -5
el "checks"
HB21_D=64 HB21_POINTS="4096,0:O,P;8192,0:O,P;16384,0:O,P" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 \
  --windows 2 --rounds 2 --budget 150 --end 180 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
for g in 0 d d 0; do if [ $g = d ]; then unset FLASH_ATTENTION_HOPPER_BWD_GROUP; else export FLASH_ATTENTION_HOPPER_BWD_GROUP=0; fi
  WG_D=128 WG_ITERS=6 WG_SHAPES="4,4096,64,1;4,4096,96,1" timeout 60 python3 scripts/device/wide_group_s20.py >> $L/pc.txt 2>&1; done
unset FLASH_ATTENTION_HOPPER_BWD_GROUP
grep TFLOP $L/pc.txt | sort -t' ' -k2,6 -s | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
el "per call"
(cd $L && tar czf "$RESULT/n22b.tgz" logs sw sweep.txt pc.txt 2>/dev/null)
