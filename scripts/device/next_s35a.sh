#!/usr/bin/env bash
# Session 35, calls 1 and 2: sliding windows on the TMA forward — the float64 oracle (window_check.py: out, LSE, gradients;
# verify with its random windows at D = 64 / 96 / 128 / 256), compute-sanitizer on two windowed calls, then the windowed
# forwards (pad_tiles_ab.py --set 8) in alternating processes: `off` the wgmma loop (FLASH_ATTENTION_HOPPER_WINDOW=0), `on`
# the default, `wide` no narrow-window tiles (FLASH_ATTENTION_HOPPER_WINDOW_NARROW=0), `narrow` every window ≤ 8k keys on
# them (=8192), both with every window on the TMA kernel (FLASH_ATTENTION_HOPPER_WINDOW=1); and FlexAttention with the same windows (`flex`) once. S35_ROUNDS picks the forms (call 1: off on on off).
#   usage on the device: bash scripts/device/next_s35a.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s35
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 200 python3 scripts/device/window_check.py > "$R/window_check.txt" 2>&1
echo "window_check rc $?: $(tail -1 $R/window_check.txt)"
timeout 240 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 64,96,128,256 --cases 40 --seed 35 \
  --lengths 7,113,777,1500,2100 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
stamp "checks"
SAN=/usr/local/cuda/bin/compute-sanitizer
if [ -x $SAN ]; then
  cat > /tmp/san.py <<'PY'
import torch, sys
from flash_attn import flash_attn_func
d = int(sys.argv[1])
for dt in (torch.bfloat16, torch.float16):
    q = torch.randn(1, 700, 4, d, device="cuda", dtype=dt); k, v = (torch.randn(1, 900, 2, d, device="cuda", dtype=dt) for _ in range(2))
    flash_attn_func(q, k, v, causal=True, window_size=(150, -1)); flash_attn_func(q, k, v, window_size=(40, 60))
torch.cuda.synchronize(); print("ran")
PY
  for d in 64 128 256; do
    timeout 120 $SAN --tool memcheck python3 /tmp/san.py $d > "$R/memcheck_$d.txt" 2>&1; echo "memcheck d$d rc $?: $(grep -h 'ERROR SUMMARY' $R/memcheck_$d.txt | tail -1)"
  done
  timeout 120 $SAN --tool racecheck python3 /tmp/san.py 128 > "$R/racecheck.txt" 2>&1; echo "racecheck rc $?: $(grep -h 'HAZARD\|RACECHECK SUMMARY' $R/racecheck.txt | tail -1)"
fi
stamp "sanitizers"
grep -h FAIL "$R/window_check.txt" | head -5; grep -h -i "fail" "$R/verify.txt" | head -5
for form in ${S35_ROUNDS:-off on on off}; do
  case $form in
    off) env FLASH_ATTENTION_HOPPER_WINDOW=0 timeout 100 python3 scripts/device/pad_tiles_ab.py off --set 8 ;;
    wide) env FLASH_ATTENTION_HOPPER_WINDOW=1 FLASH_ATTENTION_HOPPER_WINDOW_NARROW=0 timeout 100 python3 scripts/device/pad_tiles_ab.py wide --set 8 ;;
    narrow) env FLASH_ATTENTION_HOPPER_WINDOW=1 FLASH_ATTENTION_HOPPER_WINDOW_NARROW=8192 timeout 100 python3 scripts/device/pad_tiles_ab.py narrow --set 8 ;;
    *) timeout 100 python3 scripts/device/pad_tiles_ab.py on --set 8 ;;
  esac >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
[ "${S35_FLEX:-x}" != none ] && timeout ${S35_FLEX_S:-200} python3 scripts/device/pad_tiles_ab.py flex --set 8 --iters 10 --only ${S35_FLEX:-fwd_d128_causal_w4k_16k,fwd_d64_causal_w128_16k,fwd_d256_causal_w1k_16k,fwd_d128_local_w256_16k} >> "$R/ab.txt" 2>> "$R/flex.err"
stamp "flex"
head -qn 3 /tmp/cache-s35/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*window[a-z0-9_]*' | sort -u > "$R/kernels.txt"; echo "windowed kernels built: $(grep -c tmaws $R/kernels.txt) TMA, $(grep -vc tmaws $R/kernels.txt) other"
tail -3 "$R/ab.err"; tail -3 "$R/flex.err" 2>/dev/null
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
echo "window_check: $(tail -1 $R/window_check.txt); verify: $(tail -1 $R/verify.txt)"
