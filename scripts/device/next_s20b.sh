#!/usr/bin/env bash
# Prepared in session 19 (not run): the mask branch at tile D = 256 (the wide backward), built in session 19 as a knob
# (FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1; warpgroup 0's exponentials branch once on `edge` instead of predicating the mask
# into every step: the causal arrival-order kernel `…_causal_dqunordered_qr_se_pd` falls from 2104 to 2032 SASS instructions,
# FSEL off the non-edge path; every CI variant compiles clean). First the float64 dense checks with it forced at D = 192 / 256
# (deterministic and not), then sustained windows O against MB at causal 2k / 8k / 16k and unmasked 8k (hopper_bwd21.py,
# HB21_D=256: B = 16384 / N, H = 8), fp16 where MB wins every bf16 window.
#   usage on the device: bash scripts/device/next_s20b.sh   (carry .device-me: the build of 4290223)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n20b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1"
( env $B FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-mbw-det timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 192,256 --check-cases 12 --check-dense --seed 29 > $LOG/mbw_det.txt 2>&1; echo "exit $?" >> $LOG/mbw_det.txt ) &
( env $B FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered FLASH_ATTENTION_CACHE_DIR=/tmp/c-mbw-nd timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 192,256 --check-cases 12 --check-dense --nondeterministic --seed 31 > $LOG/mbw_nd.txt 2>&1; echo "exit $?" >> $LOG/mbw_nd.txt ) &
wait
for f in $LOG/*.txt; do echo "$(basename $f .txt): $(grep -E 'passed|failed' $f | tail -1 | cut -c1-160) | $(tail -1 $f) | d256 mb launches: $(grep -c 'd256[a-z0-9_]*_mb_' $f)"; done
el "checks"
HB21_D=256 HB21_POINTS=${N20B_POINTS:-"2048,1:O,MB;8192,1:O,MB;16384,1:O,MB;8192,0:O,MB"} timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 2 --budget 230 --end 270 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
grep -oE "hbwd_dkdv_[a-z0-9_]*" $L/sweep.txt | sort -u | head
(cd $L && tar czf "$RESULT/n20b.tgz" logs sw sweep.txt 2>/dev/null)
el "end"
