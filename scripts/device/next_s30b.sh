#!/usr/bin/env bash
# Session 30, call 1 (H200): the backward's tail split in later waves (HopperBackwardKernel.tailSplit's time model: tile
#   D = 128's 68 last-round blocks as two waves of thirds and more), and the grid rows next_s30.sh prepared.
#   1. checks with FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1: the float64 check of dQ, dK, dV (bwd_check_s19.py) on small grids
#      with FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=12 (every block in 12 parts: 2-6 waves, ordered dQ turns across waves), at
#      D = 128, 64 and 96; on the reference grid's shape (2048², H = 16, B = 8: 68 blocks in thirds) and forced to 7 parts;
#      memcheck + racecheck (bwd_once.py, 12 parts);
#   2. sustained windows: O and TS at unmasked tile D = 128 1k … 16k (2048 key blocks: 68 in the last round);
#   3. the unmasked D = 64 8k / 16k backward grid rows (the tail split's default there since session 29; bench_interleaved).
#   usage: bash scripts/device/next_s30b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n30b; LOG=$L/logs; mkdir -p "$RESULT" $LOG
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
K="FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1"
S="2048,2048,4,4;1000,700,8,2;700,1000,4,4;300,2000,2,2;129,640,4,4"
( env $K FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=12 BWC_SHAPES=$S BWC_B=3 BWC_D=128 timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/c128.txt 2>&1
  env $K BWC_SHAPES="2048,2048,16,16" BWC_B=8 BWC_D=128 timeout 100 python3 scripts/device/bwd_check_s19.py > $LOG/cgrid.txt 2>&1 ) &
( env $K FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=12 BWC_SHAPES=$S BWC_B=3 BWC_D=64 timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/c64.txt 2>&1
  env $K FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=7 BWC_SHAPES="2048,2048,16,16" BWC_B=8 BWC_D=128 timeout 100 python3 scripts/device/bwd_check_s19.py > $LOG/cgrid7.txt 2>&1 ) &
( env $K FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=12 BWC_SHAPES=$S BWC_B=2 BWC_D=96 timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/c96.txt 2>&1 ) &
for tool in memcheck racecheck; do
  ( env $K FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=12 timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/bwd_once.py 513 700 4 4 128 fp16 > $LOG/san_${tool}_128.txt 2>&1; echo "exit $?" >> $LOG/san_${tool}_128.txt ) &
done
wait
for f in c128 c64 c96 cgrid cgrid7; do echo "float64 $f: $(grep '^bwd check' $LOG/$f.txt | tail -1) | $(grep -h FAIL $LOG/$f.txt | head -2) | $(grep -h '^ok' $LOG/$f.txt | head -1 | cut -c1-120) | kernels: $(grep -ho 'hopper-bwd hbwd_dkdv_[a-z0-9_]*' $LOG/$f.txt | sort -u | sed 's/hopper-bwd //' | tr '\n' ' ' | cut -c1-300)"; done
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(grep -h '^bwd_once' $f)"; done
HB21_D=128 HB21_POINTS="1024,0:O,TS;2048,0:O,TS;4096,0:O,TS;8192,0:O,TS;16384,0:O,TS" \
  timeout 230 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 200 --end 225 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort -u | cut -c1-110 | head -12
sed -n '/^Summary/,$p' $L/bwd.txt | head -24
FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 python3 scripts/bench_interleaved.py --passes bwd --dims 64 --seqlens 8192,16384 --rounds 5 \
  --out $RESULT/grid_s30.csv > $L/grid_s30.txt 2>&1
grep -v Warn $L/grid_s30.txt | grep -v hopper-bwd | tail -7
grep -h "hopper-bwd hbwd_dkdv" $L/grid_s30.txt | cut -c1-90 | sort -u
(cd $L && tar czf "$RESULT/n30b.tgz" logs bw bwd.txt grid_s30.txt 2>/dev/null)
