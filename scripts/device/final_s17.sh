#!/usr/bin/env bash
# The closing checks of session 17 (one device call, about 5 min on a fresh H100; 8 with FINAL_GRID=1), on the integrated tree:
#   A–C: scripts/device/closing_checks.sh (the checks every closing call runs).
#   D. Session 17's defaults on their default route: the lazy O rescale (`lr`) on causal tile D = 128's overlapped rows
#      (`xoa` + `lr` at 513…1024 keys, `xo` + `lr` at 1025…2048) and on unmasked tile D = 256 from 512 keys (the 512-key
#      `…psookvxderqhlr` kernel): hopper_fwd29_check.py with the shipped form (float64, 2-block grid; N × N, N+104 × N+4,
#      N+4 × N+104, GQA, bf16 and fp16) at causal D = 128 1k / 2k and unmasked D = 256 512 / 1k, the torch float64 forward
#      oracle (its (1024, 768) case reaches `xoa`; full and 2-block grid), the pinned float64 oracle at D = 128 / 256,
#      memcheck + racecheck through `flash-attn run` on 2-block grids at causal 1024² and 900 × 1000 GQA (D = 128) and
#      unmasked 512² and 600 × 520 GQA (D = 256), bf16 and fp16.
#   usage on the device: bash scripts/device/final_s17.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs17; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s17.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
PYENV="FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python"
env $PYENV timeout 200 python3 scripts/device/hopper_fwd29_check.py O 128 1 1024 2048 > "$LOG/s17_c128.txt" 2>&1 &
env $PYENV timeout 200 python3 scripts/device/hopper_fwd29_check.py O 256 0 512 1024 > "$LOG/s17_u256.txt" 2>&1 &
env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-s17-oracle timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle > "$LOG/s17_oracle.txt" 2>&1 &
env FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s17-oracle-g2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2 > "$LOG/s17_oracle_g2.txt" 2>&1 &
env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s17-pinned-g2 timeout 200 /tmp/fa compile --check-dims 128,256 --check-cases 16 > "$LOG/s17_pinned_g2.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(1717)
for name, (sq, sk, h, hk, d) in {'ca': (1024, 1024, 2, 2, 128), 'cb': (900, 1000, 4, 2, 128), 'ua': (512, 512, 2, 2, 256), 'ub': (600, 520, 4, 2, 256)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        np.save(f'/tmp/s17{name}_{c}.npy', (r.standard_normal((1, n, hh, d)) * 0.5).astype(np.float32))
"
san_chain() {
  for n in "$@"; do
    flag=""; [ "${n:0:1}" = c ] && flag=--causal
    for tool in memcheck racecheck; do
      for dt in bfloat16 float16; do
        env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s17-$tool-$n-$dt timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
          --error-exitcode 9 /tmp/fa run --q /tmp/s17${n}_q.npy --k /tmp/s17${n}_k.npy --v /tmp/s17${n}_v.npy --out /tmp/s17_${tool}${n}${dt}_o.npy $flag \
          --dtype $dt --device cuda > "$LOG/s17_$tool$n$dt.txt" 2>&1; echo "exit $?" >> "$LOG/s17_$tool$n$dt.txt"
      done
    done
  done
}
san_chain ca ua &
san_chain cb ub &
d_jobs=$(jobs -p)
closing_checks_run
wait $d_jobs
stamp "D: session 17 defaults"
closing_checks_report
echo "=== session 17 defaults (lr on causal D = 128 xoa / xo, unmasked D = 256 from 512)"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(xoa?lr|qhlr)_sm_90a" | sort -u | tr '\n' ' '; }
echo "causal D = 128 1k / 2k, float64, 2-block grid: $(grep -E 'passed' "$LOG/s17_c128.txt" | tail -1); $(fk /tmp/fa-cache-hf29-check/O-128-1)"
echo "unmasked D = 256 512 / 1k, float64, 2-block grid: $(grep -E 'passed' "$LOG/s17_u256.txt" | tail -1); $(fk /tmp/fa-cache-hf29-check/O-256-0)"
echo "torch float64 oracle: $(grep '^oracle' "$LOG/s17_oracle.txt" | tail -1); $(fk /tmp/c-s17-oracle)"
echo "torch float64 oracle, 2-block grid: $(grep '^oracle' "$LOG/s17_oracle_g2.txt" | tail -1); $(fk /tmp/c-s17-oracle-g2)"
echo "pinned D = 128 / 256, 2-block grid: $(grep -E '^check:' "$LOG/s17_pinned_g2.txt" | tail -1); $(fk /tmp/c-s17-pinned-g2)"
grep -h '^FAIL' "$LOG"/s17_*.txt | head -5
for n in ca cb ua ub; do
  for tool in memcheck racecheck; do
    for dt in bfloat16 float16; do
      echo "$tool forward $n $dt (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/s17_$tool$n$dt.txt" | tail -1) $(tail -1 "$LOG/s17_$tool$n$dt.txt"); $(fk /tmp/c-s17-$tool-$n-$dt)"
    done
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
