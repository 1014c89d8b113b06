#!/usr/bin/env bash
# Session 30's closing call, on the final tree (the tail split's k from its time model, later waves allowed; the parts' sums
#   by two-column vector reductions; the defaults unchanged: split at unmasked tile D = 64 from 8k keys):
#   A-C: scripts/device/closing_checks.sh;
#   D:   the tail split on its default route: the float64 check of dQ, dK, dV at D = 64 on shapes whose grids leave a short
#        last round (8576² with 2 heads, 8200 × 8320 GQA 6 / 3, 9216² with 2 heads), bf16 and fp16;
#   E:   sustained windows at unmasked tile D = 64 16k: O (the split), TS0 (the `ts` kernel, no split), NTS (the kernel
#        without the split).
#   usage on the device: bash scripts/device/final_s30.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs30; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s30.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
(
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python FLASH_ATTENTION_HOPPER_BWD_LOG=1
  BWC_SHAPES="8576,8576,2,2;8200,8320,6,3;9216,9216,2,2" BWC_B=1 BWC_D=64 timeout 280 python3 scripts/device/bwd_check_s19.py > "$LOG/bwc64ts.txt" 2>&1
) &
d=$!
source scripts/device/closing_checks.sh
closing_checks_run
wait $d
stamp "D: the tail split's route"
closing_checks_report
echo "float64 bwc64ts: $(grep '^bwd check' $LOG/bwc64ts.txt | tail -1) | $(grep -h FAIL $LOG/bwc64ts.txt | head -2) | kernels: $(grep -ho 'hopper-bwd hbwd_dkdv_[a-z0-9_]*' $LOG/bwc64ts.txt | sort -u | sed 's/hopper-bwd //' | tr '\n' ' ')"
pack
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=64 HB21_POINTS="16384,0:O,TS0,NTS" \
  timeout 120 python3 scripts/device/hopper_bwd21.py --out $OUT/bw --seconds 1.5 --windows 2 --rounds 1 --budget 90 --end 115 > $OUT/bwd.txt 2>&1
sed -n '/^Summary/,$p' $OUT/bwd.txt | head -6
stamp "E: sustained"
pack
