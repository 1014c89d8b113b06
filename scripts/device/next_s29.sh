#!/usr/bin/env bash
# Session 29, call 1 (no build of its own; carry .device-me): does the persistent key/value grid pay at the short unmasked
# tile D = 128 backward rows? P (the persistent grid, arrival-order dQ) against U (the shipped per-tile grid with arrival-order
# dQ): P / U isolates the persistence (both pay the accumulator's memset and add every key block); O is the shipped route.
#   usage on the device: bash scripts/device/next_s29.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="512,0:O,U,P;1024,0:O,U,P;2048,0:O,U,P" \
  timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 2 --budget 250 --end 270 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort | uniq | head -30
sed -n '/^Summary/,$p' $L/bwd.txt | head -60
(cd $L && tar czf "$RESULT/n29.tgz" bw bwd.txt 2>/dev/null)
