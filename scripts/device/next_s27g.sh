#!/usr/bin/env bash
# Session 27, seventh call (H200): the causal 512 / 1k forward rows (causal D = 64 at 0.99x cuDNN) against the two softmax
#   forms never timed there: the row sums from P's packed pairs (PK, `pr`: session 15 built it, counted +16 SASS instructions
#   a step, and never timed it) and the tree row reductions (TR, `tr`: session 8 timed it on the H100's long rows only, 0.96-1.00).
#   Both are refused beside `sx`; the kernel names listed last tell which forms ran. Two sustained 1.5 s windows a form and dtype.
#   usage on the device: bash scripts/device/next_s27g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27g; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="64,512,1:O,PK,TR;64,1024,1:O,PK,TR;128,512,1:O,PK,TR;256,512,1:O,PK,TR" \
  timeout 300 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 270 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -20
grep -h "kernels:" $L/fwd.txt | grep -v "cudnn\|none new" | grep " bf16 " | cut -c1-150 | sort -u | head -20
(cd $L && tar czf "$RESULT/n27g.tgz" fw fwd.txt 2>/dev/null)
