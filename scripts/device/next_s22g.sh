#!/usr/bin/env bash
# Session 22, seventh call (H200), a DIAGNOSTIC build (not in the tree; the patch: docs/performance.md, "Session 22", part 6): FLASH_ATTENTION_DIAG_NODQ=1 makes the backward's
# dQ bulk stores / reduce-adds no-ops (dQ wrong), to bound what the dQ accumulate traffic costs: sustained O against NODQ at
# unmasked D = 128 4k / 16k (persistent, arrival order), causal D = 128 16k (ordered turns kept), unmasked D = 64 16k.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n22g; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="4096,0:O,NODQ;16384,0:O,NODQ;16384,1:O,NODQ" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 1 --budget 150 --end 190 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "D=128"
HB21_D=64 HB21_POINTS="16384,0:O,NODQ" timeout 100 python3 scripts/device/hopper_bwd21.py --out $L/sw64 \
  --seconds 2.5 --windows 2 --rounds 1 --budget 60 --end 90 > $L/sweep64.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep64.txt
el "D=64"
(cd $L && tar czf "$RESULT/n22g.tgz" sw sw64 sweep.txt sweep64.txt 2>/dev/null)
