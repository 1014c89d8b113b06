#!/usr/bin/env bash
# The closing checks of session 26 (one device call, about 4-5 min), on the integrated tree (session 26's two forward
# defaults: `sx` on unmasked tile D = 64 from the first key, xd on unmasked tile D = 128 up to 512 keys):
#   A-C: scripts/device/closing_checks.sh (the checks every closing call runs: final_session.sh's Swift checks, the Python
#        subsets on CUDA tensors and test_large.py, check-dense of the Hopper backward, the sanitizers).
#   usage on the device: bash scripts/device/final_s26.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs26; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s26.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
closing_checks_run
closing_checks_report
pack
