#!/usr/bin/env bash
# Session 20: head groups in the wide backward (tile D = 256; FLASH_ATTENTION_HOPPER_BWD_GROUP=G, a knob). Its 3-D grid runs
# kv heads fastest, so the 132 resident CTAs span every head: at 16k keys each head's Q, dO and dQ accumulator (32 MB at
# D = 256) is swept by 132 / H CTAs at once, and at H = 16 a call ran 149 TFLOP/s against 420 at H = 8 (diag_s20.sh).
#   1. check-dense at D = 192 / 256 with G = 1 forced, deterministic and not; memcheck + racecheck (G = 1, arrival order);
#   2. per-call medians by G in {0, 1, 2, 4} at 9 shapes (wide_group_s20.py), two passes in opposite order.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n20c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_GROUP=1"
( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-g-det timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 192,256 --check-cases 12 \
    --check-dense --seed 61 > $LOG/dense_det.txt 2>&1; echo "exit $?" >> $LOG/dense_det.txt ) &
( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-g-nd timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 192,256 --check-cases 12 \
    --check-dense --nondeterministic --seed 63 > $LOG/dense_nd.txt 2>&1; echo "exit $?" >> $LOG/dense_nd.txt ) &
for tool in memcheck racecheck; do
  ( env $B FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered FLASH_ATTENTION_CACHE_DIR=/tmp/c-g-$tool timeout 150 "$san" --tool $tool \
      --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 256 \
      --check-cases 3 --check-dense --nondeterministic --seed 65 > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
# Beside it: the unmasked tile D = 128 default at exactly 4096 keys (head groups + mask branch + staged epilogue,
# `…_dqbuf2_w2_edv_ldk_g4_mb_pd_ste`, which final_s20b.sh's 4100-key runs missed), under both tools, bf16 and fp16.
python3 -c "
import numpy as np
r = np.random.default_rng(2022)
for c, n, hh in (('q', 300, 8), ('k', 4096, 4), ('v', 4096, 4), ('do', 300, 8)):
    np.save(f'/tmp/s20c_{c}.npy', r.standard_normal((1, n, hh, 128)).astype(np.float32) * 0.5)
"
for tool in memcheck racecheck; do
  for dt in bfloat16 float16; do
    ( env FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-ste-$tool-$dt timeout 150 "$san" --tool $tool \
        --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 /tmp/fa run --q /tmp/s20c_q.npy --k /tmp/s20c_k.npy --v /tmp/s20c_v.npy \
        --grad-out /tmp/s20c_do.npy --out /tmp/s20c_o_$tool$dt.npy --dq /tmp/s20c_dq_$tool$dt.npy --dk /tmp/s20c_dk_$tool$dt.npy \
        --dv /tmp/s20c_dv_$tool$dt.npy --dtype $dt --device cuda > $LOG/ste_$tool$dt.txt 2>&1; echo "exit $?" >> $LOG/ste_$tool$dt.txt ) &
  done
done
wait
for f in $LOG/ste_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort -u | tr '\n' ' ')"; done
for f in $LOG/dense_*.txt $LOG/san_*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|passed' $f | tail -1 | cut -c1-100) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*_g1_[a-z0-9_]*' $f | sort | uniq -c | tr '\n' ' ' | cut -c1-400)"
done
el "checks"
export FLASH_ATTENTION_CACHE_DIR=/tmp/c-wg
for g in 0 1 2 4 4 2 1 0; do FLASH_ATTENTION_HOPPER_BWD_GROUP=$g WG_ITERS=8 timeout 60 python3 scripts/device/wide_group_s20.py >> $L/wg.txt 2>&1; done
sort -t' ' -k2,6 -s $L/wg.txt | grep TFLOP | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
(cd $L && tar czf "$RESULT/n20c.tgz" logs wg.txt)
el "end"
