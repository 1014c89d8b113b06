#!/usr/bin/env bash
# Session 29, call 9 (H200): the backward's tail split (HopperBackwardDescriptor.tailSplit, `ts`,
#   FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1): the last round's T = G mod 132 key blocks as k = min(132 / T, steps) CTAs each.
#   1. checks with the knob: the float64 check of dQ, dK, dV (bwd_check_s19.py) at D = 64 and 128 on small grids (every block
#      a tail block: 2-3 parts, GQA steps across heads), deterministic and not; memcheck + racecheck (bwd_once.py);
#   2. the timeline at unmasked D = 64 16k with the knob (the idle tail);
#   3. sustained windows: O and TS at unmasked tile D = 64 2k / 4k / 8k / 16k (4096 key blocks: four in the last round).
#   usage: bash scripts/device/next_s29i.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29i; LOG=$L/logs; mkdir -p "$RESULT" $LOG
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
K=FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1
S="512,512,4,4;1000,700,8,2;700,1000,4,4;300,2000,2,2;2048,2048,2,1;129,640,4,4"
( env $K FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_SHAPES=$S BWC_B=3 BWC_D=64 timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/c64.txt 2>&1
  env $K FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_SHAPES=$S BWC_B=2 BWC_D=64 BWC_DET=1 timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/c64det.txt 2>&1 ) &
( env $K FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_SHAPES=$S BWC_B=3 BWC_D=128 timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/c128.txt 2>&1
  env $K FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_SHAPES=$S BWC_B=2 BWC_D=96 timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/c96.txt 2>&1 ) &
for tool in memcheck racecheck; do
  ( env $K timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/bwd_once.py 600 513 8 2 64 > $LOG/san_${tool}_64.txt 2>&1; echo "exit $?" >> $LOG/san_${tool}_64.txt
    env $K timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/bwd_once.py 513 700 4 4 128 fp16 > $LOG/san_${tool}_128.txt 2>&1; echo "exit $?" >> $LOG/san_${tool}_128.txt ) &
done
wait
for f in c64 c64det c128 c96; do echo "float64 $f: $(grep '^bwd check' $LOG/$f.txt | tail -1) | $(grep -h FAIL $LOG/$f.txt | head -2) | kernels: $(grep -ho 'hopper-bwd hbwd_dkdv_[a-z0-9_]*' $LOG/$f.txt | sort -u | sed 's/hopper-bwd //' | tr '\n' ' ' | cut -c1-400)"; done
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(grep -h '^bwd_once' $f)"; done
env $K BT_POINTS="16384,0,64;2048,0,64" timeout 100 python3 scripts/device/bwd_timeline_s29.py 2>&1 | grep -v Warn | grep -A1 "call 0" | cut -c1-300
HB21_D=64 HB21_POINTS="2048,0:O,TS;8192,0:O,TS;16384,0:O,TS" \
  timeout 280 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 1 --budget 170 --end 200 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort -u | cut -c1-100 | head -8
sed -n '/^Summary/,$p' $L/bwd.txt | head -16
(cd $L && tar czf "$RESULT/n29i.tgz" logs bw bwd.txt 2>/dev/null)
