#!/usr/bin/env bash
# Session 14, the last call: the torch float64 forward oracle with the defaults (full grid and a 2-block grid; the session-14
# kernels reached listed), SM clock and board power beside cuDNN at six points (scripts/device/clock_probe.py), then both
# reference grids (forward and backward) interleaved twice (scripts/device/interleaved_s9.sh); IL_RUNS=1 runs the grids once.
#   usage on the device: bash scripts/device/final_s14b.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
O=${OUT:-/tmp/out}; L=/tmp/f14b; mkdir -p $O $L /tmp/npy
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
kern() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(xoa|xo|ew|sohdxdxtxl)_sm_90a" | sort -u | tr '\n' ' '; }
FLASH_ATTENTION_CACHE_DIR=/tmp/c-o1 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle > $L/oracle.txt 2>&1 &
FLASH_ATTENTION_CACHE_DIR=/tmp/c-o2 FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2 > $L/oracle_g2.txt 2>&1 &
wait $(jobs -p)
echo "torch forward oracle (defaults): $(grep '^oracle' $L/oracle.txt); kernels: $(kern /tmp/c-o1)"
echo "torch forward oracle (2-block grid): $(grep '^oracle' $L/oracle_g2.txt); kernels: $(kern /tmp/c-o2)"
grep -h FAIL $L/oracle*.txt | head -5
FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-clock FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python \
  timeout 200 python3 scripts/device/clock_probe.py > $L/clock.txt 2>&1
cat $L/clock.txt | tail -32
for r in $(seq 1 ${IL_RUNS:-2}); do
  mkdir -p /tmp/r$r; OUT=/tmp/r$r bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd \|^bwd " /tmp/r$r/interleaved.txt | head -8; (cd /tmp/r$r && tar czf $O/r$r.tgz .)
done
tar czf $O/logs.tgz -C $L .
