#!/usr/bin/env bash
# The closing checks of session 16 (one device call, about 5 min on a fresh H100; 8 with FINAL_GRID=1), on the integrated tree:
#   A–C: scripts/device/closing_checks.sh (final_session.sh's checks, the Python subsets on CUDA tensors and test_large.py,
#      check-dense of the Hopper backward in its forms, compute-sanitizer memcheck + racecheck of the backward and the forward on
#      2-block grids).
#   D. Session 16's default on its default route: tile D = 256's lazy O rescale (`lr`, unmasked from 1k keys, causal from 2k):
#      scripts/device/bwd_long_check.py FA_LONG_CASES=wide (causal 8192², 2048², 2000 × 2100, unmasked 4096², 1100 × 1024, forward
#      + backward against float32, cuDNN / SDPA math beside), the pinned float64 oracle at D = 256 (full and 2-block grid), a
#      random verify sweep over 500–4096, memcheck + racecheck through `flash-attn run` on 2-block grids at causal 2048² / 2100²
#      and unmasked 1100² / 2100² (each a different `lr` kernel), bf16.
#   usage on the device: bash scripts/device/final_s16.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs16; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s16.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
BL=FLASH_ATTENTION_HOPPER_BWD_LOG=1
env $BL FLASH_ATTENTION_CACHE_DIR=/tmp/c-s16-verify timeout 200 /tmp/fa verify --device cuda --dtypes float16,bfloat16 \
  --lengths 500,1000,2048,3000,4096 --max-work 60000000 --cases 40 --seed 1616 > "$LOG/s16_verify.txt" 2>&1 &
env FLASH_ATTENTION_CACHE_DIR=/tmp/c-s16-pinned timeout 200 /tmp/fa compile --check-dims 256 --check-cases 16 > "$LOG/s16_pinned.txt" 2>&1 &
env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s16-pinned-g2 timeout 200 /tmp/fa compile --check-dims 256 --check-cases 16 > "$LOG/s16_pinned_g2.txt" 2>&1 &
env $BL FA_LONG_CASES=wide FLASH_ATTENTION_CACHE_DIR=/tmp/c-s16-long FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python \
  timeout 240 python3 scripts/device/bwd_long_check.py > "$LOG/s16_long.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(16)
for name, (sq, sk, h, hk) in {'ca': (2048, 2048, 2, 1), 'cb': (2100, 2100, 2, 2), 'ua': (1100, 1100, 2, 1), 'ub': (2100, 2100, 2, 2)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        np.save(f'/tmp/s16{name}_{c}.npy', (r.standard_normal((1, n, hh, 256)) * 0.5).astype(np.float32))
"
san_chain() {
  for n in "$@"; do
    flag=""; [ "${n:0:1}" = c ] && flag=--causal
    for tool in memcheck racecheck; do
      env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s16-$tool-$n timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/s16${n}_q.npy --k /tmp/s16${n}_k.npy --v /tmp/s16${n}_v.npy --out /tmp/s16_${tool}${n}_o.npy $flag \
        --dtype bfloat16 --device cuda > "$LOG/s16_$tool$n.txt" 2>&1; echo "exit $?" >> "$LOG/s16_$tool$n.txt"
    done
  done
}
san_chain ca ua &
san_chain cb ub &
d_jobs=$(jobs -p)
closing_checks_run
wait $d_jobs
stamp "D: session 16 default"
closing_checks_report
echo "=== session 16 default (tile D = 256 lr)"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*d256[a-z0-9_]*lr_sm_90a" | sort -u | tr '\n' ' '; }
echo "verify (fwd+bwd, lengths 500-4096): $(grep -E 'passed' "$LOG/s16_verify.txt" | tail -1); lr: $(fk /tmp/c-s16-verify)"
echo "pinned D = 256: $(grep -E '^check:' "$LOG/s16_pinned.txt" | tail -1); $(fk /tmp/c-s16-pinned)"
echo "pinned D = 256, 2-block grid: $(grep -E '^check:' "$LOG/s16_pinned_g2.txt" | tail -1); $(fk /tmp/c-s16-pinned-g2)"
grep -h '^FAIL' "$LOG"/s16_pinned*.txt "$LOG/s16_verify.txt" | head -3
echo "tile D = 256 against float32 (fwd + bwd): $(grep '^bwd_long_check' "$LOG/s16_long.txt"); $(fk /tmp/c-s16-long)"
grep -E '^(ok|FAIL)' "$LOG/s16_long.txt"; tail -3 "$LOG/s16_long.txt" | grep -i error
for n in ca cb ua ub; do
  for tool in memcheck racecheck; do
    echo "$tool forward $n (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/s16_$tool$n.txt" | tail -1) $(tail -1 "$LOG/s16_$tool$n.txt"); $(fk /tmp/c-s16-$tool-$n)"
  done
done
stamp "end"
pack
# FINAL_GRID=1: then both reference grids interleaved once (scripts/device/interleaved_s9.sh, about 190 s) into $RESULT/r1.tgz.
if [ "${FINAL_GRID:-0}" = 1 ]; then
  mkdir -p /tmp/r1; OUT=/tmp/r1 IL_TIMEOUT=${IL_TIMEOUT:-300} bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -8; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
  stamp "grid"
fi
