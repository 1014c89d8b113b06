#!/usr/bin/env bash
# Session 29, call 6 (H200, no build of its own): call 5's timeline put 5.2 us of a 24.4 us key/value CTA at unmasked
#   tile D = 128 512 keys after its last step (dK/dV stored from registers; the one writer's last add 5.5 us), against
#   2.7 / 3.4 us at 1k where the staged epilogue and two dQ buffers with a writer each run. Those two knobs at 512:
#   1. the timeline with both (EB2) at unmasked and causal 512;
#   2. sustained windows: O, E (staged epilogue), B2 (two buffers, a writer each), EB2 at unmasked and causal tile D = 128 512.
#   usage: bash scripts/device/next_s29f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n29f; mkdir -p "$RESULT" $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
B_=FLASH_ATTENTION_HOPPER_BWD
env ${B_}_EPI=1 ${B_}_DQBUF=2 ${B_}_DQWRITERS=2 ${B_}_LOG=1 BT_POINTS="512,0,128;512,1,128" timeout 120 python3 scripts/device/bwd_timeline_s29.py > $L/tl.txt 2>&1
grep -v Warn $L/tl.txt | grep -v "call [12]" | grep -A2 "call 0" | cut -c1-600
grep -h "hopper-bwd" $L/tl.txt | sort -u | cut -c1-120
HB21_D=128 HB21_POINTS="512,0:O,E,B2,EB2;512,1:O,E,B2,EB2" \
  timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/bw --seconds 1.5 --windows 2 --rounds 2 --budget 230 --end 250 > $L/bwd.txt 2>&1
grep -h "hopper-bwd" $L/bw/*.log 2>/dev/null | sort -u | cut -c1-110
sed -n '/^Summary/,$p' $L/bwd.txt | head -30
(cd $L && tar czf "$RESULT/n29f.tgz" tl.txt bw bwd.txt 2>/dev/null)
