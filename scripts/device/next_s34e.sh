#!/usr/bin/env bash
# Session 34, call 5 (the final build): softcap on the TMA forward as shipped (tile D = 128, at most 128-key steps) — the
# float64 oracle (softcap_check.py, verify at D = 80 / 96 / 128), then D = 128 capped against the wgmma loop
# (FLASH_ATTENTION_HOPPER_SOFTCAP=0, `off`) in alternating processes; the narrowed forward and backward spot-checked again.
#   usage on the device: bash scripts/device/next_s34e.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s34e
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 150 python3 scripts/device/softcap_check.py > "$R/softcap_check.txt" 2>&1
echo "softcap_check rc $?: $(tail -1 $R/softcap_check.txt)"
timeout 120 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 80,96,128 --cases 40 --seed 37 \
  --lengths 7,113,777,1500,2100 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
timeout 100 python3 scripts/device/pad_check.py --products > "$R/pad_check.txt" 2>&1
echo "pad_check rc $?: $(tail -1 $R/pad_check.txt)"
stamp "checks"
for form in ${S34_ROUNDS:-off on on off}; do
  if [ $form = off ]; then FLASH_ATTENTION_HOPPER_SOFTCAP=0 timeout 100 python3 scripts/device/pad_tiles_ab.py off --set 7 --only fwd_d128
  else timeout 100 python3 scripts/device/pad_tiles_ab.py on --set 7 --only fwd_d128; fi >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
head -qn 3 /tmp/cache-s34e/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*softcap[a-z0-9_]*tmaws[a-z0-9_]*' | sort -u > "$R/kernels.txt"; cat "$R/kernels.txt"
grep -h FAIL "$R/softcap_check.txt" | head -5
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
