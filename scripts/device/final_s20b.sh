#!/usr/bin/env bash
# Session 20, second closing call: head groups of 4 + the mask branch on unmasked tile D = 128 from 4k keys (the default since
# this session's second change; at 4k with the staged epilogue: `…_dqbuf2_w2_edv_ldk_g4_mb_pd_ste`, a kernel no GPU ran before
# final_s20.sh's timing):
#   1. the float64 dQ / dK / dV check at 4096², 4100 × 4000 GQA and 6000 × 5000 on the default route (bwd_check_s19.py);
#   2. `backward-bench --check-dense` at D = 64 / 128 with the mask branch and head groups forced (deterministic and not;
#      1k–4k keys take the staged epilogue);
#   3. memcheck + racecheck through `flash-attn run --grad-out` at 300 × 4100 and 1000 × 4200 GQA, bf16 and fp16;
#   4. the interleaved grid (both passes) into $OUT/r1.tgz.
#   usage on the device: bash scripts/device/final_s20b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/f20b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
python3 -c "
import numpy as np
r = np.random.default_rng(2021)
for name, (sq, sk, h, hk) in {'a': (300, 4100, 4, 4), 'b': (1000, 4200, 8, 4)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk), ('do', sq, h)):
        np.save(f'/tmp/f20{name}_{c}.npy', r.standard_normal((1, n, hh, 128)).astype(np.float32) * 0.5)
"
for n in a b; do
  for tool in memcheck racecheck; do
    for dt in bfloat16 float16; do
      nm=$tool-$n-$dt
      ( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
          --error-exitcode 9 /tmp/fa run --q /tmp/f20${n}_q.npy --k /tmp/f20${n}_k.npy --v /tmp/f20${n}_v.npy --grad-out /tmp/f20${n}_do.npy \
          --out /tmp/f20_${nm}_o.npy --dq /tmp/f20_${nm}_dq.npy --dk /tmp/f20_${nm}_dk.npy --dv /tmp/f20_${nm}_dv.npy --dtype $dt --device cuda \
          > $LOG/$nm.txt 2>&1; echo "exit $?" >> $LOG/$nm.txt ) &
    done
  done
done
( env $B BWC_SHAPES="4096,4096,4,4;4100,4000,8,4;6000,5000,4,2" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
F="FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1 FLASH_ATTENTION_HOPPER_BWD_GROUP=4 FLASH_ATTENTION_HOPPER_BWD=1"
( env $B $F FLASH_ATTENTION_CACHE_DIR=/tmp/c-d1 timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 64,128 --check-cases 12 \
    --check-dense --seed 51 > $LOG/dense_det.txt 2>&1; echo "exit $?" >> $LOG/dense_det.txt
  env $B $F FLASH_ATTENTION_CACHE_DIR=/tmp/c-d2 timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 64,128 --check-cases 12 \
    --check-dense --nondeterministic --seed 53 > $LOG/dense_nd.txt 2>&1; echo "exit $?" >> $LOG/dense_nd.txt ) &
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed' $f | tail -1 | cut -c1-120) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*g4_mb[a-z0-9_]*' $f | sort | uniq -c | tr '\n' ' ')"
done
el "checks"
mkdir -p /tmp/r1; OUT=/tmp/r1 IL_TIMEOUT=$(( 560 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -10; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
(cd $L && tar czf "$RESULT/f20b.tgz" logs)
el "end"
