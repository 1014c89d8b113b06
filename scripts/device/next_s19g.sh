#!/usr/bin/env bash
# Session 19: the mask branch (`mb`) on the unmasked tile D = 128 backward rows. Unmasked, a step is an edge step only at the
# sequence's end, but without the branch ptxas predicates the mask into every step (32 FSEL a consumer thread; the default
# unmasked kernel `…_dqunordered_dqbuf2_edv_ldk_pd` runs 463 SASS instructions a step, 437 with `mb` off the edge). At the
# 700 W cap fewer instructions have meant more work (sessions 15 and 18). First the float64 dense checks with the branch forced
# on every tile D = 64 / 128 backward (deterministic and not), then sustained windows (hopper_bwd21.py, two a form and dtype,
# fp16 where a form beats O in every bf16 window; two burst rounds) at unmasked 2k / 4k (O, MB) and 8k / 16k (O, MB, MBG4 =
# MB + head groups of 4, which session 15 read +0.8-1.0 % in every bf16 window).
#   usage on the device: bash scripts/device/next_s19g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n19g; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1"
( env $B FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-mb-det timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 64,128 --check-cases 12 --check-dense --seed 19 > $LOG/mb_det.txt 2>&1; echo "exit $?" >> $LOG/mb_det.txt ) &
( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-mb-nd timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 64,128 --check-cases 12 --check-dense --nondeterministic --seed 21 > $LOG/mb_nd.txt 2>&1; echo "exit $?" >> $LOG/mb_nd.txt ) &
( env $B FLASH_ATTENTION_HOPPER_BWD_GROUP=4 FLASH_ATTENTION_CACHE_DIR=/tmp/c-mbg4-nd timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 128 --check-cases 12 --check-dense --nondeterministic --seed 23 > $LOG/mbg4_nd.txt 2>&1; echo "exit $?" >> $LOG/mbg4_nd.txt ) &
wait
for f in $LOG/*.txt; do echo "$(basename $f .txt): $(grep -E 'passed|failed' $f | tail -1 | cut -c1-160) | $(tail -1 $f) | launches with mb: $(grep -c '_mb_' $f)"; done
grep -h "hbwd_[a-z0-9_]*_mb_[a-z0-9_]*" -o $LOG/*.txt | sort | uniq -c | head -12
el "checks"
HB21_POINTS=${N19G_POINTS:-"2048,0:O,MB;4096,0:O,MB;8192,0:O,MB,MBG4;16384,0:O,MB,MBG4"} \
  timeout $(( 560 - ($(date +%s) - T0) )) python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 --windows 2 --rounds 2 \
  --budget $(( 400 - ($(date +%s) - T0) )) --end $(( 520 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
grep -E "hbwd_" $L/sweep.txt | sort -u | head -12
(cd $L && tar czf "$RESULT/n19g.tgz" logs sw sweep.txt 2>/dev/null)
el "end"
