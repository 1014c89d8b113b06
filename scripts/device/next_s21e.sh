#!/usr/bin/env bash
# Session 21, fifth call (H200): the deterministic wide backward's head groups (`wideHeadGroup`: unmasked from 4k keys in
# groups of 4 / 2 / 1 from 4k / 8k / 16k; causal and short rows back on the 3-D grid). Checks, then a timing:
#   1. float64 dQ / dK / dV with deterministic=True on the default route (bwd_check_s19.py BWC_DET=1, D = 256 and 200):
#      4100 × 4000 GQA (G = 4), 8300 × 8200 GQA (G = 2), 300 × 16400 (G = 1), 2048² causal (3-D grid);
#   2. memcheck + racecheck through `flash-attn run --grad-out` (deterministic) at 300 × 4200 and 300 × 8300 GQA;
#   3. `backward-bench --check-dense` D = 192 / 256 deterministic with the two-stage form and G = 2 / 4 forced;
#   4. per-call medians, deterministic, H = 8: the default against the 3-D grid at unmasked 4k / 8k / 16k.
#   usage on the device: bash scripts/device/next_s21e.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n21e; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
( env $B BWC_DET=1 BWC_D=256 BWC_SHAPES="4100,4000,8,4;8300,8200,4,2;300,16400,4,4;2048,2048,8,8,1" timeout 200 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_256.txt 2>&1; echo "exit $?" >> $LOG/f64_256.txt
  env $B BWC_DET=1 BWC_D=200 BWC_SHAPES="4100,4000,8,4;8300,8200,4,2" timeout 200 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64_200.txt 2>&1; echo "exit $?" >> $LOG/f64_200.txt ) &
python3 -c "
import numpy as np
r = np.random.default_rng(2151)
for name, (sq, sk, h, hk) in {'a': (300, 4200, 4, 2), 'b': (300, 8300, 4, 2)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk), ('do', sq, h)):
        np.save(f'/tmp/n21e{name}_{c}.npy', r.standard_normal((1, n, hh, 256)).astype(np.float32) * 0.5)
"
for tool in memcheck racecheck; do for n in a b; do
  ( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool$n timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa run --q /tmp/n21e${n}_q.npy --k /tmp/n21e${n}_k.npy --v /tmp/n21e${n}_v.npy --grad-out /tmp/n21e${n}_do.npy \
      --out /tmp/n21e_$tool${n}_o.npy --dq /tmp/n21e_$tool${n}_dq.npy --dk /tmp/n21e_$tool${n}_dk.npy --dv /tmp/n21e_$tool${n}_dv.npy \
      --dtype bfloat16 --device cuda > $LOG/det_$tool$n.txt 2>&1; echo "exit $?" >> $LOG/det_$tool$n.txt ) &
done; done
for g in 2 4; do
  ( env $B FLASH_ATTENTION_HOPPER_BWD_GROUP=$g FLASH_ATTENTION_HOPPER_BWD256_STAGES=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s2g$g timeout 200 /tmp/fa backward-bench \
      --warm-verify 0 --jobs 8 --check-dims 192,256 --check-cases 12 --check-dense --seed 8$g > $LOG/dense_s2g$g.txt 2>&1; echo "exit $?" >> $LOG/dense_s2g$g.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed' $f | tail -1 | cut -c1-100) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*d256[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -4 | tr '\n' ' ' | cut -c1-300)"
done
grep -h "^FAIL" $LOG/f64_*.txt | head -5
el "checks"
for g in 0 d d 0; do if [ $g = d ]; then unset FLASH_ATTENTION_HOPPER_BWD_GROUP; else export FLASH_ATTENTION_HOPPER_BWD_GROUP=0; fi
  WG_DET=1 WG_D=256 WG_ITERS=6 WG_SHAPES="4,4096,8,0;2,8192,8,0;1,16384,8,0" timeout 90 python3 scripts/device/wide_group_s20.py >> $L/pc.txt 2>&1; done
unset FLASH_ATTENTION_HOPPER_BWD_GROUP
grep TFLOP $L/pc.txt | sort -t' ' -k2,6 -s | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
el "per call"
(cd $L && tar czf "$RESULT/n21e.tgz" logs pc.txt 2>/dev/null)
