#!/usr/bin/env bash
# Session 30, call 12 (H200): the conversion pass as a programmatic dependent of the key/value kernel (`dc`, session 23; the
#   default up to 2k keys, where it was timed) past 2k keys, on the rows still below 1.1× cuDNN whose kernels can take it
#   (ordered dQ, not the persistent grid): causal tile D = 128 4k / 8k / 16k, causal and unmasked tile D = 64 8k / 16k.
#   Sustained windows, DC ÷ O.
#   usage: bash scripts/device/next_s30g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n30g; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="4096,1:O,DC;8192,1:O,DC;16384,1:O,DC" \
  timeout 140 python3 scripts/device/hopper_bwd21.py --out $L/b128 --seconds 1.5 --windows 2 --rounds 1 --budget 110 --end 135 > $L/b128.txt 2>&1
HB21_D=64 HB21_POINTS="8192,1:O,DC;16384,1:O,DC;8192,0:O,DC;16384,0:O,DC" \
  timeout 160 python3 scripts/device/hopper_bwd21.py --out $L/b64 --seconds 1.5 --windows 2 --rounds 1 --budget 130 --end 155 > $L/b64.txt 2>&1
for f in b128 b64; do grep -h "hopper-bwd hbwd_dkdv" $L/$f/*.log 2>/dev/null | sort -u | cut -c1-100 | head -12; sed -n '/^Summary/,$p' $L/$f.txt | grep -v cudnn | head -12; done
(cd $L && tar czf "$RESULT/n30g.tgz" . 2>/dev/null)
