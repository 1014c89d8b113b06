#!/usr/bin/env bash
# Session 21, third call (H200): the build with head groups of 4 on causal tile D = 64 / 128 with many kv heads
# (`HopperBackwardDescriptor.causalManyHeadsGroup`) and one head at a time on the wide two-stage form too. Checks, then timings:
#   1. float64 dQ / dK / dV on the default route (bwd_check_s19.py): tile D = 128 1000 × 8200 H = 32, 1500 × 8300 GQA 64 / 32;
#      tile D = 64 700 × 16400 H = 64; D = 96 900 × 8300 H = 32; each causal (bottom-right);
#   2. memcheck + racecheck on the default route: non-deterministic (bwd_once.py 300 × 8300 H = 32 D = 128, 300 × 16400 H = 64
#      D = 64) and deterministic through `flash-attn run --grad-out` (300 × 8300 H = 32 D = 128);
#   3. `backward-bench --check-dense` D = 64 / 128 with head groups of 4 forced (small shapes), deterministic and not;
#   4. per-call medians, default against the 3-D grid forced: causal tile D = 128 16k H = 32, 8k × 2 H = 32, tile D = 64 16k
#      H = 64; deterministic unmasked D = 256 (the two-stage form) 16k H = 8 / 16, 4k × 4 H = 16.
#   usage on the device: bash scripts/device/next_s21c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n21c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
( for d in 128 64 96; do
    case $d in 128) sh="1000,8200,32,32,1;1500,8300,64,32,1";; 64) sh="700,16400,64,64,1";; 96) sh="900,8300,32,32,1";; esac
    env $B BWC_D=$d BWC_SHAPES="$sh" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64_$d.txt 2>&1; echo "exit $?" >> $LOG/f64_$d.txt
  done ) &
python3 -c "
import numpy as np
r = np.random.default_rng(2131)
for c, n in (('q', 300), ('k', 8300), ('v', 8300), ('do', 300)):
    np.save(f'/tmp/n21c_{c}.npy', r.standard_normal((1, n, 32, 128)).astype(np.float32) * 0.5)
"
for tool in memcheck racecheck; do
  ( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-py-$tool timeout 240 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/bwd_once.py 300 8300 32 32 128 causal > $LOG/py128_$tool.txt 2>&1; echo "exit $?" >> $LOG/py128_$tool.txt
    env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-py-$tool timeout 240 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/bwd_once.py 300 16400 64 64 64 causal fp16 > $LOG/py64_$tool.txt 2>&1; echo "exit $?" >> $LOG/py64_$tool.txt ) &
  ( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-det-$tool timeout 240 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa run --q /tmp/n21c_q.npy --k /tmp/n21c_k.npy --v /tmp/n21c_v.npy --grad-out /tmp/n21c_do.npy --causal \
      --out /tmp/n21c_${tool}_o.npy --dq /tmp/n21c_${tool}_dq.npy --dk /tmp/n21c_${tool}_dk.npy --dv /tmp/n21c_${tool}_dv.npy \
      --dtype bfloat16 --device cuda > $LOG/det_$tool.txt 2>&1; echo "exit $?" >> $LOG/det_$tool.txt ) &
done
( env $B FLASH_ATTENTION_HOPPER_BWD_GROUP=4 FLASH_ATTENTION_CACHE_DIR=/tmp/c-g4 timeout 240 /tmp/fa backward-bench \
    --warm-verify 0 --jobs 8 --check-dims 64,128 --check-cases 12 --check-dense --seed 72 > $LOG/dense_g4.txt 2>&1; echo "exit $?" >> $LOG/dense_g4.txt
  env $B FLASH_ATTENTION_HOPPER_BWD_GROUP=4 FLASH_ATTENTION_CACHE_DIR=/tmp/c-g4 timeout 240 /tmp/fa backward-bench \
    --warm-verify 0 --jobs 8 --check-dims 64,128 --check-cases 12 --check-dense --nondeterministic --seed 73 > $LOG/dense_g4nd.txt 2>&1; echo "exit $?" >> $LOG/dense_g4nd.txt ) &
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed|bwd_once' $f | tail -1 | cut -c1-120) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -4 | tr '\n' ' ' | cut -c1-300)"
done
grep -h "^FAIL" $LOG/f64_*.txt | head -5
el "checks"
pc() {  # D shapes det groups...
  local d=$1 shapes=$2 det=$3; shift 3
  for g in "$@"; do if [ "$g" = d ]; then unset FLASH_ATTENTION_HOPPER_BWD_GROUP; else export FLASH_ATTENTION_HOPPER_BWD_GROUP=$g; fi
    WG_DET=$det WG_D=$d WG_ITERS=8 WG_SHAPES="$shapes" timeout 90 python3 scripts/device/wide_group_s20.py >> $L/pc.txt 2>&1; done
  unset FLASH_ATTENTION_HOPPER_BWD_GROUP
}
pc 128 "1,16384,32,1;2,8192,32,1" 0 0 d d 0
pc 64 "1,16384,64,1" 0 0 d d 0
pc 256 "1,16384,8,0;1,16384,16,0;4,4096,16,0" 1 0 d d 0
grep TFLOP $L/pc.txt | sort -t' ' -k2,6 -s | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
el "per call"
(cd $L && tar czf "$RESULT/n21c.tgz" logs pc.txt 2>/dev/null)
