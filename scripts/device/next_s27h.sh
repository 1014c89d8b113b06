#!/usr/bin/env bash
# Session 27, ninth call (H200): the mid rows below 1.1x against forms not yet timed there, two sustained 1.5 s windows:
#   unmasked D = 128 1k / 2k: three 128-key K/V stages with one Q buffer and no O store (T3: the only three-stage shape that
#   fits beside D = 128), and xd; unmasked D = 256 2k: the sleeping producer (PS, +0.7-1.3 % bf16 in session 26) and XD (O's
#   own kernel: a control); causal D = 64 2k: three K/V stages on its three-warpgroup pair (K3).
#   usage on the device: bash scripts/device/next_s27h.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27h; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="128,1024,0:O,T3,XD;128,2048,0:O,T3,XD;256,2048,0:O,PS,XD;64,2048,1:O,K3" \
  timeout 300 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 250 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -20
grep -h "kernels:" $L/fwd.txt | grep -v "cudnn\|none new" | grep " bf16 " | cut -c1-150 | sort -u | head -20
(cd $L && tar czf "$RESULT/n27h.tgz" fw fwd.txt 2>/dev/null)
