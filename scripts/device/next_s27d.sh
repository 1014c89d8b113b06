#!/usr/bin/env bash
# Session 27, fourth call (H200): the short forward rows session 26's sweep did not reach or left borderline, three
#   sustained 1.5 s windows a form and dtype:
#   - unmasked D = 64 1k / 2k: three K/V stages on the empty-warpgroup row (S3, FLASH_ATTENTION_HOPPER_EWSTAGES=3: the
#     512-key kernel `…tmaws3pdq2soltxderewsx` at 1k; session 13's H100 bursts read it level at 1k), the sleeping producer,
#     the kernel without `sx` (NS);
#   - causal D = 64 1k (0.99x cuDNN): NS, XE, HDEW (each above O in session 26's bf16 windows, not in fp16) and XD (O's own
#     kernel: a control);
#   - causal D = 128 512: LR (above O in every window of session 26, within its scatter), SX, XD (control);
#   - unmasked D = 128 1k: XD (above O in session 26's bf16 windows), PS.
#   usage on the device: bash scripts/device/next_s27d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27d; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="64,1024,0:O,S3,PS,NS;64,2048,0:O,S3;64,1024,1:O,NS,XE,HDEW,XD;128,512,1:O,LR,SX,XD;128,1024,0:O,XD,PS" \
  timeout 420 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 3 --rounds 1 --end 390 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -40
grep -E "^point .* kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-160 | head -20
(cd $L && tar czf "$RESULT/n27d.tgz" fw fwd.txt 2>/dev/null)
