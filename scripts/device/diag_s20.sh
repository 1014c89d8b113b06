#!/usr/bin/env bash
# Session 20: the closing grid read unmasked D = 256 16k backward at ~205 TFLOP/s in 4 of 5 bf16 rounds (415 before, same
# kernel). Per-call times at that point (default route, then key-block-order dQ), the clocks / throttle reasons beside them,
# and the D = 256 backward grid rows at 8k / 16k again.
set -uo pipefail
RESULT=${OUT:-/tmp/out}
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,clocks_throttle_reasons.active,temperature.gpu,memory.used --format=csv -lms 250 > $RESULT/smi.csv &
smi=$!
FLASH_ATTENTION_HOPPER_BWD_LOG=1 python3 scripts/device/diag_s20_u256.py > $RESULT/diag_default.txt 2>&1
DIAG_N=20 FLASH_ATTENTION_HOPPER_BWD256_DQ=ordered python3 scripts/device/diag_s20_u256.py > $RESULT/diag_ordered.txt 2>&1
grep -v "^[0-9]" $RESULT/diag_default.txt | sort | uniq -c | head -5
echo "default: $(grep -E '^[0-9]+ ' $RESULT/diag_default.txt | awk '{print $4}' | tr '\n' ' ')"
echo "ordered: $(grep -E '^[0-9]+ ' $RESULT/diag_ordered.txt | awk '{print $4}' | tr '\n' ' ')"
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_interleaved.py --passes bwd --dims 256 --seqlens 8192,16384 --rounds 5 --out $RESULT/il.csv > $RESULT/il.txt 2>&1
cut -c1-150 $RESULT/il.txt
kill $smi
awk -F, 'NR>1{print $4}' $RESULT/smi.csv | sort | uniq -c
