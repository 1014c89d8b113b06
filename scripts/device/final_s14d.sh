#!/usr/bin/env bash
# Session 14's closing checks, part 2 (after scripts/device/final_s14.sh, on the same binary): the torch float64 forward oracle
# `long` (2048–4200 rows; full grid and a 2-block grid) and compute-sanitizer memcheck + racecheck through `flash-attn run` with
# the defaults: backward (bf16, deterministic calls = the default kernels) D = 64 causal 1000 × 1024 GQA (`ste`), unmasked
# 2100 × 2048 (two dQ buffers + `ste`), unmasked 4096² (head groups + two buffers + `ste`), causal 4000 × 4100 (two buffers +
# `ste`); forward on a 2-block grid: causal D = 128 2000² and 1500 × 1800 (`xo`), unmasked D = 64 4096² and 3000² (`ew`).
#   usage on the device: bash scripts/device/final_s14d.sh   (carry .device-me: flash-attn.gz)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; LOG=/tmp/fs14d; mkdir -p "$RESULT" "$LOG"
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
BL=FLASH_ATTENTION_HOPPER_BWD_LOG=1
t0=$(date +%s)
FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-fl timeout 150 python3 scripts/device/torch_fwd_oracle.py oracle long > "$LOG/s14_fwd_long.txt" 2>&1 &
FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-fl2 timeout 150 python3 scripts/device/torch_fwd_oracle.py oracle long > "$LOG/s14_fwd_long_g2.txt" 2>&1 &
wait $(jobs -p)
echo "[t=$(( $(date +%s) - t0 ))s] oracles"
python3 -c "
import numpy as np
r = np.random.default_rng(14)
for name, (sq, sk, h, hk, d) in {'bc': (1000, 1024, 4, 2, 64), 'bu': (2100, 2048, 2, 1, 64), 'bg': (4096, 4096, 2, 2, 64), 'bd': (4000, 4100, 2, 2, 64),
                                 'fx': (2000, 2000, 2, 2, 128), 'fy': (1500, 1800, 2, 1, 128), 'fe': (4096, 4096, 2, 2, 64), 'ff': (3000, 3000, 2, 2, 64)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk), ('do', sq, h)):
        np.save(f'/tmp/s14{name}_{c}.npy', (r.standard_normal((1, n, hh, d)) * 0.5).astype(np.float32))
"
for tool in memcheck racecheck; do
  for shape in "bc --causal" "bu" "bg" "bd --causal"; do
    set -- $shape; n=$1; mask=${2:-}
    ( env $BL FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-$tool-$n timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 /tmp/fa run --q /tmp/s14${n}_q.npy --k /tmp/s14${n}_k.npy --v /tmp/s14${n}_v.npy --grad-out /tmp/s14${n}_do.npy \
      --out /tmp/s14_${tool}${n}_o.npy --dq /tmp/s14_${tool}${n}_dq.npy --dk /tmp/s14_${tool}${n}_dk.npy --dv /tmp/s14_${tool}${n}_dv.npy $mask \
      --dtype bfloat16 --device cuda > "$LOG/s14_$tool$n.txt" 2>&1; echo "exit $?" >> "$LOG/s14_$tool$n.txt" ) &
  done
  for shape in "fx --causal" "fy --causal" "fe" "ff"; do
    set -- $shape; n=$1; mask=${2:-}
    ( env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-$tool-$n timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
      --error-exitcode 9 /tmp/fa run --q /tmp/s14${n}_q.npy --k /tmp/s14${n}_k.npy --v /tmp/s14${n}_v.npy --out /tmp/s14_${tool}${n}_o.npy $mask \
      --dtype bfloat16 --device cuda > "$LOG/s14_$tool$n.txt" 2>&1; echo "exit $?" >> "$LOG/s14_$tool$n.txt" ) &
  done
  wait $(jobs -p)
  echo "[t=$(( $(date +%s) - t0 ))s] $tool"
done
echo "[t=$(( $(date +%s) - t0 ))s]"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(xo|ew)_sm_90a" | sort -u | tr '\n' ' '; }
bk() { grep -oE "hbwd_dkdv[a-z0-9_]*_(ste|dqbuf2)[a-z0-9_]*" "$1" | sort | uniq -c | tr '\n' ' '; }
echo "torch float64 forward oracle long: $(grep '^oracle' "$LOG/s14_fwd_long.txt"); $(fk /tmp/c-s14-fl)"
echo "torch float64 forward oracle long, 2-block grid: $(grep '^oracle' "$LOG/s14_fwd_long_g2.txt"); $(fk /tmp/c-s14-fl2)"
grep -h '^FAIL' "$LOG"/s14_fwd_long*.txt | head -3
for tool in memcheck racecheck; do
  for n in bc bu bg bd; do echo "$tool backward $n: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/s14_$tool$n.txt" | tail -1) $(tail -1 "$LOG/s14_$tool$n.txt"); $(bk "$LOG/s14_$tool$n.txt")"; done
  for n in fx fy fe ff; do echo "$tool forward $n (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/s14_$tool$n.txt" | tail -1) $(tail -1 "$LOG/s14_$tool$n.txt"); $(fk /tmp/c-s14-$tool-$n)"; done
done
tar -czf "$RESULT/final_s14d.tgz" -C "$LOG" .
