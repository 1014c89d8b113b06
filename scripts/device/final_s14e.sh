#!/usr/bin/env bash
# Session 14's last call (the budget left after final_s14.sh): final_s14d.sh's oracles and sanitizers, then the forward oracles
# of final_s14b.sh and both reference grids interleaved once (the clock probe and the second grid run dropped for device time).
#   usage on the device: bash scripts/device/final_s14e.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
bash scripts/device/final_s14d.sh
O=${OUT:-/tmp/out}; mkdir -p /tmp/r1
OUT=/tmp/r1 bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -8; (cd /tmp/r1 && tar czf $O/r1.tgz .)
