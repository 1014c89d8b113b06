#!/usr/bin/env bash
# Session 15, last call: the checks of the two rules the sustained confirm (final_s15b.sh) extended, on their default routes,
# then both reference grids interleaved once more (run 2):
#   - `hd` + `ew` on the causal three-warpgroup D = 64 row up to 4096: the torch float64 forward oracle `long` (4096² causal,
#     full grid and a 2-block grid);
#   - the lazy O rescale on the three-warpgroup D = 64 rows from 8k keys: scripts/device/bwd_long_check.py FA_LONG_CASES=more
#     (causal / unmasked 8192², 8300 × 8192, unmasked 16384², forward + backward against float32, cuDNN / SDPA math beside),
#     memcheck + racecheck of the unmasked kernel (…pxderlr) at 4200² with the knob on a 2-block grid.
#   usage on the device: bash scripts/device/final_s15c.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/fs15c; mkdir -p "$RESULT" "$L"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-c-fl timeout 240 python3 scripts/device/torch_fwd_oracle.py oracle long > "$L/fwd_long.txt" 2>&1 &
FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-c-fl2 timeout 240 python3 scripts/device/torch_fwd_oracle.py oracle long > "$L/fwd_long_g2.txt" 2>&1 &
FA_LONG_CASES=more FLASH_ATTENTION_CACHE_DIR=/tmp/c-c-long FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python \
  timeout 240 python3 scripts/device/bwd_long_check.py > "$L/long.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(1515)
for c in 'qkv': np.save(f'/tmp/s15e_{c}.npy', (r.standard_normal((1, 4200, 1, 64)) * 0.5).astype(np.float32))
"
(
for tool in memcheck racecheck; do
  env FLASH_ATTENTION_HOPPER_RESCALE=lazy FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-c-$tool timeout 200 "$san" --tool $tool \
    --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/s15e_q.npy --k /tmp/s15e_k.npy --v /tmp/s15e_v.npy \
    --out /tmp/s15e_${tool}_o.npy --dtype bfloat16 --device cuda > "$L/$tool.txt" 2>&1; echo "exit $?" >> "$L/$tool.txt"
done
) &
wait $(jobs -p)
stamp "checks"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(hdxderew|lr)_sm_90a" | sort -u | tr '\n' ' '; }
echo "torch float64 forward oracle long: $(grep '^oracle' "$L/fwd_long.txt"); $(fk /tmp/c-c-fl)"
echo "torch float64 forward oracle long, 2-block grid: $(grep '^oracle' "$L/fwd_long_g2.txt"); $(fk /tmp/c-c-fl2)"
grep -h '^FAIL' "$L"/fwd_long*.txt | head -3
echo "lazy rescale rows against float32: $(grep '^bwd_long_check' "$L/long.txt"); $(fk /tmp/c-c-long)"
grep -E '^(ok|FAIL)' "$L/long.txt"; tail -3 "$L/long.txt" | grep -i error
for tool in memcheck racecheck; do echo "$tool forward 4200² lr (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$L/$tool.txt" | tail -1) $(tail -1 "$L/$tool.txt"); $(fk /tmp/c-c-$tool)"; done
(cd $L && tar czf "$RESULT/fs15c.tgz" .)
mkdir -p /tmp/r2; OUT=/tmp/r2 IL_TIMEOUT=${IL_TIMEOUT:-300} bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r2/interleaved.txt | head -8; (cd /tmp/r2 && tar czf "$RESULT/r2.tgz" .)
stamp "grid"
