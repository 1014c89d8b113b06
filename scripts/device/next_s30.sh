#!/usr/bin/env bash
# Prepared at the end of session 29 for the next session (not yet run): the grid rows session 29's device time did not reach
#   — the backward's unmasked tile D = 64 8k / 16k rows with the tail split (its default there since session 29) beside cuDNN
#   and FA2 (bench_interleaved.py, 5 rounds), and the same rows with FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=0 as the control.
#   docs/data/h200-backward.csv's D = 64 8k / 16k rows are session 24's until this runs.
#   usage on the device: bash scripts/device/next_s30.sh   (carry .device-me, built by scripts/device/build-device-me.sh)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; mkdir -p "$RESULT"
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 200 python3 scripts/bench_interleaved.py --passes bwd --dims 64 --seqlens 8192,16384 --rounds 5 \
  --out $RESULT/grid_s30.csv > $RESULT/grid_s30.txt 2>&1
grep -v Warn $RESULT/grid_s30.txt | grep -v hopper-bwd | tail -7
grep -h "hopper-bwd hbwd_dkdv" $RESULT/grid_s30.txt | cut -c1-90 | sort -u
FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=0 timeout 200 python3 scripts/bench_interleaved.py --passes bwd --dims 64 --seqlens 8192,16384 --rounds 5 \
  --out $RESULT/grid_s30_nots.csv 2>&1 | grep -v Warn | tail -7
