#!/usr/bin/env bash
# Session 30, call 4 and 5 (H200): why the persistent grid's split tail lost (0.97-0.98 in next_s30c.sh). Sustained windows at
#   unmasked tile D = 128 4k / 16k: O (132 CTAs: 68 run a 16th tile alone), TS (the split), TS0 (the `ts` kernel with no
#   split: FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=1), G128 (the persistent grid on 128 CTAs: 16 tiles each, no tail).
#   usage: bash scripts/device/next_s30d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n30d; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="4096,0:O,TS,TS0;16384,0:O,TS,TS0" \
  timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 170 --end 195 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort -u | cut -c1-110 | head -12
sed -n '/^Summary/,$p' $L/bwd.txt | head -14
(cd $L && tar czf "$RESULT/n30d.tgz" bw bwd.txt 2>/dev/null)
