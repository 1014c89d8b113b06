#!/usr/bin/env bash
# Session 24, eighth call (H200): the backward grid's D = 256 rows (interleaved ours / cuDNN / FA2, five rounds) on the build
# with the wide kernel's dependent dQ conversion (the default since next_s24g.sh); the rest of the grid is next_s24d.sh's.
#   usage on the device: bash scripts/device/next_s24h.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; mkdir -p /tmp/r3
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-il
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/bench_interleaved.py --passes bwd --dims 256 --rounds 5 --out /tmp/r3/interleaved.csv \
  > /tmp/r3/interleaved.txt 2> /tmp/r3/interleaved_err.txt
grep "^bwd " /tmp/r3/interleaved.txt | cut -c1-110; grep -v "^bwd " /tmp/r3/interleaved.txt | head -4
(cd /tmp/r3 && tar czf "$RESULT/r3.tgz" .)
