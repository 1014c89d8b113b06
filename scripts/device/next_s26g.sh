#!/usr/bin/env bash
# Session 26, seventh call (H200): the same sustained knob sweep as next_s26d.sh on the mid / long forward rows still below
#   1.1x cuDNN in the H200 grid (unmasked D = 128 2k / 8k / 16k, unmasked D = 256 2k / 16k, causal D = 64 2k), whose
#   defaults were tuned on the H100 (sessions 14-19). Labels as in hopper_fwd29.py (W2 / OQ / S2: the D = 256 forms,
#   T128 / XO: the D = 128 ones). No build of its own: the tree's knobs.
#   usage on the device: bash scripts/device/next_s26g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n26g; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="128,2048,0:O,XD,XE,LR,NS,SO,ST0,PS;256,2048,0:O,XD,XE,LR,NS,W2,OQ,PS;256,16384,0:O,XD,XE,LR,NS,W2,PS,S2;128,8192,0:O,XD,XE,LR,NS,PS,T128,XO;64,2048,1:O,XD,XE,LR,NS,HDEW,PS,W3;128,16384,0:O,XD,XE,LR,NS,PS" \
  timeout 470 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 420 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -90
(cd $L && tar czf "$RESULT/n26g.tgz" fw fwd.txt 2>/dev/null)
