#!/usr/bin/env bash
# Session 30, call 3 (H200): the tail split on the persistent key/value grid (unmasked tile D = 128 from 4k keys on the
#   H200): its last T = G mod 132 tiles' steps shared out in equal ranges, one a CTA (stream-K; a range spans at most two
#   tiles, the pieces of a tile meet in float32 sums behind a counter).
#   1. checks with FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1: the float64 check of dQ, dK, dV (bwd_check_s19.py) on the default
#      persistent route (4096² H = 16: 116 tail tiles; 8300 × 8200 GQA 8 / 4: 128) and forced persistent (PERSIST=1, dQ in
#      arrival order, no head groups) on small shapes with the grid capped at 7 and 13 CTAs (FLASH_ATTENTION_HOPPER_GRID: every
#      CTA several whole tiles, then its range); memcheck + racecheck (bwd_once.py, grid 7);
#   2. sustained windows: O and TS at unmasked tile D = 128 4k / 8k / 16k.
#   usage: bash scripts/device/next_s30c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n30c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
K="FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1"
P="FLASH_ATTENTION_HOPPER_BWD_PERSIST=1 FLASH_ATTENTION_HOPPER_BWD_GROUP=0 FLASH_ATTENTION_HOPPER_BWD_DQ=unordered"
S="2048,2048,4,4;1000,700,8,2;700,1000,4,4;300,2000,2,2;129,640,4,4"
( env $K BWC_SHAPES="4096,4096,16,16;8300,8200,8,4" BWC_B=1 BWC_D=128 timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/cdef.txt 2>&1 ) &
( env $K $P FLASH_ATTENTION_HOPPER_GRID=7 BWC_SHAPES=$S BWC_B=3 BWC_D=128 timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/cg7.txt 2>&1 ) &
( env $K $P FLASH_ATTENTION_HOPPER_GRID=13 BWC_SHAPES=$S BWC_B=2 BWC_D=96 timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/cg13.txt 2>&1 ) &
for tool in memcheck racecheck; do
  ( env $K $P FLASH_ATTENTION_HOPPER_GRID=7 timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/bwd_once.py 700 1000 4 2 128 fp16 > $LOG/san_${tool}.txt 2>&1; echo "exit $?" >> $LOG/san_${tool}.txt ) &
done
wait
for f in cdef cg7 cg13; do echo "float64 $f: $(grep '^bwd check' $LOG/$f.txt | tail -1) | $(grep -h FAIL $LOG/$f.txt | head -2) | $(grep -h '^ok' $LOG/$f.txt | head -1 | cut -c1-150) | kernels: $(grep -ho 'hopper-bwd hbwd_dkdv_[a-z0-9_]*' $LOG/$f.txt | sort -u | sed 's/hopper-bwd //' | tr '\n' ' ' | cut -c1-300)"; done
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(grep -h '^bwd_once' $f)"; done
HB21_D=128 HB21_POINTS="4096,0:O,TS;8192,0:O,TS;16384,0:O,TS" \
  timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 270 --end 295 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort -u | cut -c1-110 | head -12
sed -n '/^Summary/,$p' $L/bwd.txt | head -14
(cd $L && tar czf "$RESULT/n30c.tgz" logs bw bwd.txt 2>/dev/null)
