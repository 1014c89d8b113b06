#!/usr/bin/env bash
# Session 24, sixth call (H200): the whole interleaved grid (forward and backward, ours / cuDNN / FA2 per point, five rounds)
# on the session's final build: the backward's second run beside next_s24d.sh's, the forward's first since session 22 (no
# forward kernel changed since; the dependent-launch knob is off).
#   usage on the device: bash scripts/device/next_s24f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
mkdir -p /tmp/r2; OUT=/tmp/r2 IL_PASSES=fwd,bwd IL_TIMEOUT=${IL_TIMEOUT:-540} bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r2/interleaved.txt | head -14; (cd /tmp/r2 && tar czf "$RESULT/r2.tgz" .)
