#!/usr/bin/env bash
# Session 27, tenth call (H200): three Q/dO stages in the tile D = 128 backward's key/value kernel (S3:
#   FLASH_ATTENTION_HOPPER_BWD_STAGES=3 with one dQ buffer, the only layout that holds them; B1, one dQ buffer alone, beside it)
#   at the unmasked D = 128 rows below 1.1x cuDNN (512, 1k, 2k, 4k) and causal D = 128 512. Two sustained 1.5 s windows.
#   usage on the device: bash scripts/device/next_s27i.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27i; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="512,0:O,S3,B1;1024,0:O,S3,B1;2048,0:O,S3,B1;4096,0:O,S3,B1;512,1:O,S3,B1" \
  timeout 250 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 190 --end 220 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn | head -24
grep -h "kernels" $L/bwd.txt | grep -v cudnn | cut -c1-200 | sort -u | head -12
(cd $L && tar czf "$RESULT/n27i.tgz" bw bwd.txt 2>/dev/null)
echo "three-stage kernels compiled: $(grep -rhoE 'hbwd_dkdv_[a-z0-9_]*m64n128s3[a-z0-9_]*' /tmp/fa-cache* 2>/dev/null | sort -u | tr '\n' ' ')"
