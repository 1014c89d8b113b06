#!/usr/bin/env bash
# Session 27, sixth call (H200): K/V stage counts on the short forward rows below 1.1x cuDNN (FLASH_ATTENTION_HOPPER_STAGES,
#   a tuning hook that keeps the row's other choices; a count the shared memory or step order refuses leaves O's kernel,
#   so the kernel names listed last tell which forms were real). Two sustained 1.5 s windows a form and dtype.
#   usage on the device: bash scripts/device/next_s27f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27f; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="64,512,1:O,K3,K4;64,1024,1:O,K3,K4;128,512,1:O,K3;128,512,0:O,K3;128,1024,0:O,K3;256,512,1:O,K2;64,1024,0:O,K4;256,512,0:O,K3" \
  timeout 420 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 390 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -40
grep -h "kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-150 | sort -u | head -30
(cd $L && tar czf "$RESULT/n27f.tgz" fw fwd.txt 2>/dev/null)
