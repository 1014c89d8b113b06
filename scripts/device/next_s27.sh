#!/usr/bin/env bash
# Prepared in session 26 for the next session (not yet run): the two sustained knob sweeps session 26 did not reach, on the
# tree's knobs (no build of its own; carry .device-me built by build-device-me.sh):
#   1. the short tile D = 256 forward rows below 1.1x cuDNN in the H200 grid (unmasked 512 / 1k, causal 512), as
#      next_s26d.sh swept D = 64 / 128 (labels of hopper_fwd29.py; S2 is the shipped kernel in the tree, a control);
#   2. the short tile D = 64 / 128 backward rows (unmasked / causal D = 128 512 / 1k / 2k, causal D = 64 512) against single
#      knobs (labels of hopper_bwd21.py: B1 / B2 dQ buffers, PIPE, NE, ND, NMB, EDV / NEDV, U, DC / NDC, DS / NDS).
#   A form that beats O in every window of both dtypes is a candidate; confirm it in a second call before changing a default.
#   usage on the device: bash scripts/device/next_s27.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="256,512,0:O,XD,XE,LR,NS,W2,OQ,PS,S2;256,1024,0:O,XD,XE,LR,NS,W2,OQ,PS;256,512,1:O,XD,XE,LR,NS,PS" \
  timeout 260 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 230 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -40
(cd $L && tar czf "$RESULT/n27.tgz" fw fwd.txt 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,B1,PIPE,NE,ND,NMB,NEDV,U,NDS;512,1:O,B2,PIPE,NE,ND,NMB,NEDV,NDC;1024,0:O,B1,NE,ND,NEDV,U,NDC;2048,0:O,B1,NE,ND,NEDV,U,NDC" \
  timeout 330 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 270 --end 300 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn | head -40
(cd $L && tar czf "$RESULT/n27.tgz" fw fwd.txt bw bwd.txt 2>/dev/null)
