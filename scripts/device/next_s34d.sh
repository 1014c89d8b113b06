#!/usr/bin/env bash
# Session 34, call 4: softcap on the TMA forward (the tanh in its softmax) — the float64 oracle (softcap_check.py: out, LSE
# and gradients; flash-attn verify, whose cases draw softcap a quarter of the time), memcheck of a capped TMA route, then
# the capped forward against the generic wgmma loop (FLASH_ATTENTION_HOPPER_SOFTCAP=0, `off`) and against the TMA kernel
# without the cap (`nocap`), alternating processes.
#   usage on the device: bash scripts/device/next_s34d.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s34d
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 200 python3 scripts/device/softcap_check.py > "$R/softcap_check.txt" 2>&1
echo "softcap_check rc $?: $(tail -1 $R/softcap_check.txt)"
timeout 150 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 64,96,128,256 --cases 60 --seed 29 \
  --lengths 1,7,23,113,777,1500 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
stamp "checks"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
timeout 120 "$san" --tool memcheck --error-exitcode 9 python3 scripts/device/pad_once.py 900 1100 2 1 128 causal softcap > "$R/memcheck.txt" 2>&1
echo "memcheck 900 1100 2 1 128 causal softcap: exit $? $(grep -h 'ERROR SUMMARY' $R/memcheck.txt | tail -1) $(grep -h '^pad_once' $R/memcheck.txt)"
stamp "memcheck"
for form in ${S34_ROUNDS:-off on nocap on off nocap}; do
  case $form in
    off) FLASH_ATTENTION_HOPPER_SOFTCAP=0 timeout 150 python3 scripts/device/pad_tiles_ab.py off --set 7 ;;
    on) timeout 150 python3 scripts/device/pad_tiles_ab.py on --set 7 ;;
    nocap) timeout 150 python3 scripts/device/pad_tiles_ab.py nocap --set 7 --nocap ;;
  esac >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
head -qn 3 /tmp/cache-s34d/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*softcap[a-z0-9_]*tmaws[a-z0-9_]*' | sort -u > "$R/kernels.txt"; wc -l < "$R/kernels.txt"
grep -h FAIL "$R/softcap_check.txt" | head -5
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
