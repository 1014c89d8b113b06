#!/usr/bin/env bash
# Session 27, second call (H200): next_s27.sh's S2 at unmasked tile D = 256 512 keys read above the shipped kernel in every
#   window of both dtypes (+1.1-2.4 %). In the tree S2 is the speculative maximum (`…xderqhsx`; defaultSpeculativeMax puts
#   it on unmasked tile D = 256 only from 1025 keys, so 512 / 1k run the lazy rescale `…lr`). Its same-kernel controls read
#   up to +1.9 % in that call (XD / XE / NS ran O's kernel), so this call times more rounds: O, SX (= S2), EG (the eager
#   rescale, session 17's kernel) and XD (a same-kernel control) at 512; O, SX, PS and XD (control) at 1k.
#   Three rounds of two 1.5 s sustained windows a form and dtype. The kernel names each form ran are listed last.
#   usage on the device: bash scripts/device/next_s27b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27b; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="256,512,0:O,SX,EG,XD;256,1024,0:O,SX,PS,XD" \
  timeout 420 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 3 --end 390 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -40
grep -E "^point .* kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-220 | head -20
(cd $L && tar czf "$RESULT/n27b.tgz" fw fwd.txt 2>/dev/null)
