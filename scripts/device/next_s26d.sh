#!/usr/bin/env bash
# Session 26, fourth call (H200): a sustained knob sweep of the short forward rows on the H200 (their defaults were tuned on
#   the H100, sessions 12-18): causal / unmasked D = 64 at 512 and 1k, causal / unmasked D = 128 at 512, unmasked D = 128 1k,
#   each against the forms the tree's knobs give there (hopper_fwd29.py labels: XD precomputed descriptors, XE + early
#   rescale, LR lazy rescale, SX / NS speculative maximum on / off, HD / EW / HDEW half-width diagonal / empty warpgroups,
#   PS sleeping producer, W3 three warpgroups, SO / ST0 the TMA store of O on / off). No build of its own: the tree's knobs.
#   usage on the device: bash scripts/device/next_s26d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n26d; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="64,512,1:O,XD,XE,LR,SX,NS,HDEW,PS,W3;64,1024,1:O,XD,XE,LR,SX,NS,HDEW,PS,W3;64,512,0:O,XD,XE,LR,SX,NS,EW,W3,SO;128,512,1:O,XD,XE,LR,SX,NS,HD,PS;128,512,0:O,XD,XE,LR,SX,NS,SO,ST0,PS;128,1024,0:O,XD,XE,LR,SX,NS,ST0" \
  timeout 450 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 400 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -90
(cd $L && tar czf "$RESULT/n26d.tgz" fw fwd.txt 2>/dev/null)
