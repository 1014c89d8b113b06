#!/usr/bin/env bash
# Session 35, call 4: ALiBi on the TMA forward — the float64 oracle (window_check.py: ALiBi cases first, then the windows'
# again on this build; verify, whose random cases draw ALiBi and windows), memcheck / racecheck on ALiBi calls, then
# the biased forwards (pad_tiles_ab.py --set 9) against the wgmma loop (FLASH_ATTENTION_HOPPER_ALIBI=0, `off`) and the
# same kernels' problems without the bias (`plain`) in alternating processes.
#   usage on the device: bash scripts/device/next_s35c.sh   (carry .device-me); results in $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
gunzip -c .device-me/flash-attn.gz > /tmp/flash-attn && chmod +x /tmp/flash-attn
mkdir -p /tmp/lib && gunzip -c .device-me/libflashattention.so.gz > /tmp/lib/libflashattention.so
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
export FLASH_ATTENTION_LIB=/tmp/lib/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/cache-s35c
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
timeout 240 python3 scripts/device/window_check.py > "$R/window_check.txt" 2>&1
echo "window_check rc $?: $(tail -1 $R/window_check.txt)"
timeout 200 /tmp/flash-attn verify --device cuda --dtypes float16,bfloat16 --head-dims 64,96,128,256 --cases 40 --seed 351 \
  --lengths 7,113,777,1500,2100 > "$R/verify.txt" 2>&1
echo "verify rc $?: $(tail -1 $R/verify.txt)"
stamp "checks"
SAN=/usr/local/cuda/bin/compute-sanitizer
cat > /tmp/san.py <<'PY'
import torch, sys
from flash_attn import flash_attn_func
d = int(sys.argv[1])
for dt in (torch.bfloat16, torch.float16):
    q = torch.randn(1, 700, 4, d, device="cuda", dtype=dt); k, v = (torch.randn(1, 900, 2, d, device="cuda", dtype=dt) for _ in range(2))
    slopes = torch.rand(4, device="cuda") * 0.2
    flash_attn_func(q, k, v, causal=True, alibi_slopes=slopes); flash_attn_func(q, k, v, alibi_slopes=slopes)
    flash_attn_func(q, k, v, window_size=(100, 20), alibi_slopes=slopes)
torch.cuda.synchronize(); print("ran")
PY
for d in 64 128 256; do
  timeout 120 $SAN --tool memcheck python3 /tmp/san.py $d > "$R/memcheck_$d.txt" 2>&1; echo "memcheck d$d rc $?: $(grep -h 'ERROR SUMMARY' $R/memcheck_$d.txt | tail -1)"
done
timeout 120 $SAN --tool racecheck python3 /tmp/san.py 128 > "$R/racecheck.txt" 2>&1; echo "racecheck rc $?: $(grep -h 'RACECHECK SUMMARY' $R/racecheck.txt | tail -1)"
stamp "sanitizers"
grep -h FAIL "$R/window_check.txt" | head -5; grep -h -i "fail" "$R/verify.txt" | head -5
for form in ${S35_ROUNDS:-off on plain plain on off}; do
  case $form in
    off) env FLASH_ATTENTION_HOPPER_ALIBI=0 timeout 100 python3 scripts/device/pad_tiles_ab.py off --set 9 ;;
    plain) timeout 100 python3 scripts/device/pad_tiles_ab.py plain --set 9 --noalibi ;;
    *) timeout 100 python3 scripts/device/pad_tiles_ab.py on --set 9 ;;
  esac >> "$R/ab.txt" 2>> "$R/ab.err"
  stamp "$form"
done
head -qn 3 /tmp/cache-s35c/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*alibi[a-z0-9_]*' | sort -u > "$R/kernels.txt"
echo "ALiBi kernels built: $(grep -c tmaws $R/kernels.txt) TMA, $(grep -vc tmaws $R/kernels.txt) other"
tail -3 "$R/ab.err"
python3 scripts/device/pad_tiles_ab.py --summarize "$R/ab.txt"
echo "window_check: $(tail -1 $R/window_check.txt); verify: $(tail -1 $R/verify.txt)"
