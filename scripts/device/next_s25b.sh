#!/usr/bin/env bash
# Session 25, second call (H200), a diagnostic build (runtime patch /work/notes/s25/nopre.patch, not in the tree): what the
# backward's two small passes cost on the shipped route at short lengths, tile D = 128. NOPRE skips the preprocess, NOCVT the
# dQ conversion, NOPC both (wrong gradients; timing only): the ceiling of folding them into the key/value kernel.
#   1. per-kernel split (bwd_split_s23.py) at u/c 512 and u 1k, ours and cuDNN;
#   2. sustained O against NOPRE / NOCVT / NOPC at unmasked 512 / 1k / 2k and causal 512.
#   usage on the device: bash scripts/device/next_s25b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n25b; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
BS_D=128 BS_POINTS="512,0;512,1;1024,0" timeout 100 python3 scripts/device/bwd_split_s23.py > $L/split.txt 2>&1
tail -30 $L/split.txt
el "split"
HB21_D=128 HB21_POINTS="512,0:O,NOPRE,NOCVT,NOPC;1024,0:O,NOPRE,NOPC;2048,0:O,NOPRE,NOPC;512,1:O,NOPRE,NOPC" timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 200 --end 260 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained"
(cd $L && tar czf "$RESULT/n25b.tgz" split.txt bw bwd.txt 2>/dev/null)
