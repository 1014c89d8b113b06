#!/usr/bin/env bash
# The closing checks of session 18 (one device call, about 5 min on a fresh H100; 8 with FINAL_GRID=1), on the integrated tree:
#   A–C: scripts/device/closing_checks.sh (the checks every closing call runs; its forward checks now reach the `sx` kernels).
#   D. Session 18's default, the speculative maximum (`sx`) on every tile D = 64 / 128 kernel of the shipped step order, on
#      its default route: the torch float64 forward oracle (full, 2-block grid, `long`), the ramp inputs that force the redo
#      and its +inf path (full grid and 2-block grid), the pinned float64 oracle at D = 64 / 128 on a 2-block grid, memcheck
#      + racecheck through `flash-attn run` on 2-block grids at 1024² causal and unmasked and a 900 × 1400 GQA ramp input,
#      D = 64 and 128, bf16 and fp16.
#   usage on the device: bash scripts/device/final_s18.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs18; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s18.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
o18() { env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-s18-$1 "${@:3}" timeout 200 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/s18_$1.txt" 2>&1; }
( o18 oracle oracle; o18 ramp ramp ) &
( o18 oracle_g2 "oracle g2" FLASH_ATTENTION_HOPPER_GRID=2; o18 ramp_g2 ramp FLASH_ATTENTION_HOPPER_GRID=2 ) &
o18 long "oracle long" &
env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s18-pinned-g2 timeout 200 /tmp/fa compile --check-dims 64,128 --check-cases 16 > "$LOG/s18_pinned_g2.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(1818)
for name, (sq, sk, h, hk, d, ramp) in {'c64': (1024, 1024, 2, 2, 64, 0), 'c128': (1024, 1024, 2, 2, 128, 0), 'r64': (900, 1400, 4, 2, 64, 300),
                                       'r128': (900, 1400, 4, 2, 128, 300)}.items():
    u = r.standard_normal(d).astype(np.float32); u *= 4 / np.linalg.norm(u)
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        x = r.standard_normal((1, n, hh, d)).astype(np.float32) * 0.5
        if ramp and c == 'q': x += u
        if ramp and c == 'k': x += (np.linspace(1, 0, n, dtype=np.float32) * ramp * d ** 0.5 / 16)[None, :, None, None] * u
        np.save(f'/tmp/s18{name}_{c}.npy', x)
"
san_chain() {
  for n in "$@"; do
    for m in c u; do
      flag=""; [ $m = c ] && flag=--causal
      for tool in memcheck racecheck; do
        for dt in bfloat16 float16; do
          nm=$tool$n$m$dt
          env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s18-$nm timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
            --error-exitcode 9 /tmp/fa run --q /tmp/s18${n}_q.npy --k /tmp/s18${n}_k.npy --v /tmp/s18${n}_v.npy --out /tmp/s18_${nm}_o.npy $flag \
            --dtype $dt --device cuda > "$LOG/s18_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/s18_$nm.txt"
        done
      done
    done
  done
}
san_chain c64 r64 &
san_chain c128 r128 &
d_jobs=$(jobs -p)
closing_checks_run
wait $d_jobs
stamp "D: session 18 default"
closing_checks_report
echo "=== session 18 default (sx on the tile D = 64 / 128 kernels of the shipped step order)"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*sx_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle oracle_g2 long ramp ramp_g2; do echo "torch float64 $n: $(grep '^oracle' "$LOG/s18_$n.txt" | tail -1); $(fk /tmp/c-s18-$n | wc -w) sx kernels: $(fk /tmp/c-s18-$n | cut -c1-600)"; done
echo "pinned D = 64 / 128, 2-block grid: $(grep -E '^check:' "$LOG/s18_pinned_g2.txt" | tail -1); $(fk /tmp/c-s18-pinned-g2)"
grep -h '^FAIL' "$LOG"/s18_*.txt | head -5
for f in "$LOG"/s18_memcheck*.txt "$LOG"/s18_racecheck*.txt; do
  n=$(basename $f .txt); echo "$n (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); $(fk /tmp/c-${n/_/-})"
done
stamp "end"
pack
# FINAL_GRID=1: then both reference grids interleaved once (scripts/device/interleaved_s9.sh, about 190 s) into $RESULT/r1.tgz.
if [ "${FINAL_GRID:-0}" = 1 ]; then
  mkdir -p /tmp/r1; OUT=/tmp/r1 IL_TIMEOUT=${IL_TIMEOUT:-300} bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -8; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
  stamp "grid"
fi
