#!/usr/bin/env bash
# Prepared in session 20 for the next session's first call (not run yet; .device-me holds the build of 47ab459). Session 20 made
# the wide backward (tile D = 256) run one head at a time from 2048 keys (`HopperBackwardDescriptor.wideHeadGroup`, `…_g1_…`)
# after per-call medians (149 -> 439 TFLOP/s at 16k keys, H = 16) and checks with the head group forced; the device time ran
# out before its default route, and its arrival-order kernel without the staged epilogue, were checked. This call:
#   1. the float64 dQ / dK / dV check on the default route at D = 256 (bwd_check_s19.py, BWC_D=256): 2048², causal and not,
#      4100 × 4000 GQA causal, 9000 × 8500 GQA causal and not (`…_dqunordered_g1_qr`, `…_causal_dqunordered_g1_mb_qr_pd`);
#   2. memcheck + racecheck on the default route: non-deterministic through python (bwd_once.py, 300 × 9000 GQA, causal and
#      not) and deterministic through `flash-attn run --grad-out` (300 × 2100 causal: `…_causal_g1_mb_ww2_qr_se_pd`);
#   3. the two-stage form with the head group forced (deterministic unmasked from 4k keys keeps the 3-D grid until this
#      passes): check-dense D = 192 / 256 deterministic, memcheck + racecheck at 300 × 4200;
#   4. sustained windows O (G = 1) against G0 (the 3-D grid) at unmasked 16k / 4k and causal 16k / 2k (HB21_D=256, H = 8);
#   5. per-call medians at tile D = 128 with many heads (H = 32 / 64), the 3-D grid against head groups of 1 and 4;
#   6. the interleaved grid (both passes) into $OUT/r1.tgz (then docs/data and the charts).
#   usage on the device: bash scripts/device/next_s21.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n21; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
( env $B BWC_D=256 BWC_SHAPES="2048,2048,8,8;2048,2048,8,8,1;4100,4000,8,4,1;9000,8500,4,2;9000,8500,4,2,1" timeout 280 \
    python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
python3 -c "
import numpy as np
r = np.random.default_rng(2121)
for name, (sq, sk, h, hk) in {'a': (300, 2100, 4, 2), 'b': (300, 4200, 4, 2)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk), ('do', sq, h)):
        np.save(f'/tmp/n21{name}_{c}.npy', r.standard_normal((1, n, hh, 256)).astype(np.float32) * 0.5)
"
runfa() {  # tool name inputs extra-env... ; extra flags in FA_FLAGS
  local tool=$1 nm=$2 n=$3; shift 3
  env $B "$@" FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa run --q /tmp/n21${n}_q.npy --k /tmp/n21${n}_k.npy --v /tmp/n21${n}_v.npy --grad-out /tmp/n21${n}_do.npy $FA_FLAGS \
    --out /tmp/n21_${nm}_o.npy --dq /tmp/n21_${nm}_dq.npy --dk /tmp/n21_${nm}_dk.npy --dv /tmp/n21_${nm}_dv.npy --dtype bfloat16 --device cuda \
    > $LOG/$nm.txt 2>&1; echo "exit $?" >> $LOG/$nm.txt
}
for tool in memcheck racecheck; do
  ( for c in "" causal; do
      env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-py-$tool$c timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
        --error-exitcode 9 python3 scripts/device/bwd_once.py 300 9000 4 2 256 $c > $LOG/py_$tool$c.txt 2>&1; echo "exit $?" >> $LOG/py_$tool$c.txt
    done ) &
  ( FA_FLAGS=--causal runfa $tool det_$tool a ) &
  ( FA_FLAGS= runfa $tool s2g1_$tool b FLASH_ATTENTION_HOPPER_BWD_GROUP=1 ) &
done
( env $B FLASH_ATTENTION_HOPPER_BWD_GROUP=1 FLASH_ATTENTION_HOPPER_BWD256_STAGES=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s2 timeout 200 /tmp/fa backward-bench \
    --warm-verify 0 --jobs 8 --check-dims 192,256 --check-cases 12 --check-dense --seed 71 > $LOG/dense_s2g1.txt 2>&1; echo "exit $?" >> $LOG/dense_s2g1.txt ) &
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|passed|bwd_once' $f | tail -1 | cut -c1-120) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*d256[a-z0-9_]*' $f | sort | uniq -c | tr '\n' ' ' | cut -c1-400)"
done
grep -h "^FAIL" $LOG/f64.txt | head -5
el "checks"
HB21_D=256 HB21_POINTS="16384,0:O,G0;16384,1:O,G0;4096,0:O,G0;2048,1:O,G0" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 \
  --windows 2 --rounds 1 --budget 150 --end 180 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
# The tile D = 64 / 128 backward's 3-D grid also runs kv heads fastest: at the grid's H (32 / 16) it holds up, but at
# H = 32-64 with D = 128 (Llama-like shapes) only 2-4 CTAs of a head are resident at once. Per-call medians, G = 0 against
# head groups of 4, bf16 (the causal rows and unmasked below 4k run G = 0 by default).
for g in 0 1 4 4 1 0; do FLASH_ATTENTION_HOPPER_BWD_GROUP=$g WG_D=128 WG_ITERS=6 WG_SHAPES="1,16384,32,1;1,16384,64,1;2,8192,32,1;4,4096,32,0;4,4096,64,1" \
  timeout 60 python3 scripts/device/wide_group_s20.py >> $L/g128.txt 2>&1; done
sort -t' ' -k2,6 -s $L/g128.txt | grep TFLOP | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
el "tile D = 128 head groups"
mkdir -p /tmp/r1; OUT=/tmp/r1 IL_TIMEOUT=$(( 585 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -10; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
(cd $L && tar czf "$RESULT/n21.tgz" logs sw sweep.txt g128.txt 2>/dev/null)
el "end"
