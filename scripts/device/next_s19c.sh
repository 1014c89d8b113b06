#!/usr/bin/env bash
# Session 19, after final_s19.sh on the same warm machine: sustained windows of the shipped kernels (O) against session 18's at
# the rows this session moved: unmasked D = 256 2k (NSX0: `…psooqlr`), 8k and 16k (NS: `…pxderlr`; O is now `…pxdersx` with
# the re-derived tile counts), unmasked D = 64 1k (NSX0: `…soltew`), causal D = 128 2k (XOLR: `…soxdxtxlxolr`); then the
# grid once more (scripts/device/interleaved_s9.sh) into $OUT/r2.tgz.
#   usage on the device: bash scripts/device/next_s19c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n19c; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
[ -x /tmp/fa ] || { gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS=${N19C_FORMS:-"256,2048,0:O,NSX0;256,8192,0:O,NS;256,16384,0:O,NS;64,1024,0:O,NSX0;128,2048,1:O,XOLR"} \
  timeout 260 python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 2 --rounds 1 --end 240 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L && tar czf "$RESULT/n19c.tgz" sw sweep.txt 2>/dev/null)
el "sustained"
if [ "${GRID:-1}" = 1 ]; then
  mkdir -p /tmp/r2; OUT=/tmp/r2 IL_TIMEOUT=${IL_TIMEOUT:-300} bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd \|^bwd " /tmp/r2/interleaved.txt | head -8; (cd /tmp/r2 && tar czf "$RESULT/r2.tgz" .)
  el "grid"
fi
