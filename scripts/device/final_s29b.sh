#!/usr/bin/env bash
# Session 29's second closing call, on the final tree (the staged epilogue from 512 keys at tile D = 128; the tail split the
#   default at unmasked tile D = 64 from 8k keys, non-deterministic calls):
#   A-C: scripts/device/closing_checks.sh;
#   D:   the tail split on its default route: the float64 check of dQ, dK, dV at D = 64 on shapes whose grids leave a short
#        last round (8576² with 2 heads: 134 key blocks, two split 66 ways; 8200 × 8320 GQA 6 / 3: 195, 63 split in two;
#        9216² with 2 heads: 144, 12 split 11 ways), bf16 and fp16;
#   E:   the backward grid's unmasked D = 64 8k / 16k rows beside cuDNN and FA2 (bench_interleaved.py, 5 rounds).
#   usage on the device: bash scripts/device/final_s29b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs29b; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s29b.tgz" -C "$OUT" . ; }
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
timeout 150 python3 scripts/bench_interleaved.py --passes bwd --dims 64 --seqlens 8192,16384 --rounds 5 --out $RESULT/grid_s29b.csv 2>&1 | grep -v Warn | tail -7
stamp "E: grid rows"
pack
