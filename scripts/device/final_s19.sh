#!/usr/bin/env bash
# The closing checks of session 19 (one device call, about 5 min on a fresh H100; 8 with FINAL_GRID=1), on the integrated tree:
#   A–C: scripts/device/closing_checks.sh (the checks every closing call runs).
#   D. Session 19's defaults on their default route: causal tile D = 128 1025…2048 keys in the shipped order with `sx`
#      (`…soxdsx`), unmasked D = 64 513…1024 keys with xd + er + `sx` (`…soltxderewsx`), unmasked tile D = 256 past 1k keys
#      with xd + er + `sx` and the re-derived tile counts (`…psooqxdersx` 2k–4k, `…pxdersx` from 8k): the torch float64
#      forward oracle (full, 2-block grid, `long`), the ramp (full and 2-block grid; D = 256 too), hopper_fwd29_check.py at
#      unmasked D = 256 2k / 8k on a 2-block grid, memcheck + racecheck through `flash-attn run` on 2-block grids at unmasked
#      D = 256 2100 × 2000 and 300 × 8200 GQA, bf16 and fp16.
#   usage on the device: bash scripts/device/final_s19.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs19; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s19.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
o19() { env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-s19-$1 "${@:3}" timeout 240 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/s19_$1.txt" 2>&1; }
( o19 oracle oracle; o19 ramp ramp ) &
( o19 oracle_g2 "oracle g2" FLASH_ATTENTION_HOPPER_GRID=2; o19 ramp_g2 ramp FLASH_ATTENTION_HOPPER_GRID=2 ) &
( o19 long "oracle long"; o19 ramp256_g2 ramp FLASH_ATTENTION_HOPPER_GRID=2 TFO_DIMS=256 ) &
( env FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python timeout 240 python3 scripts/device/hopper_fwd29_check.py O 256 0 2048 8192 \
    > "$LOG/s19_chk256.txt" 2>&1 ) &
python3 -c "
import numpy as np
r = np.random.default_rng(1919)
for name, (sq, sk, h, hk, d) in {'u256a': (2100, 2000, 4, 2, 256), 'u256b': (300, 8200, 2, 1, 256)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        np.save(f'/tmp/s19{name}_{c}.npy', r.standard_normal((1, n, hh, d)).astype(np.float32) * 0.5)
"
san_chain() {
  for n in "$@"; do
    for tool in memcheck racecheck; do
      for dt in bfloat16 float16; do
        nm=$tool$n$dt
        env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s19-$nm timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
          --error-exitcode 9 /tmp/fa run --q /tmp/s19${n}_q.npy --k /tmp/s19${n}_k.npy --v /tmp/s19${n}_v.npy --out /tmp/s19_${nm}_o.npy \
          --dtype $dt --device cuda > "$LOG/s19_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/s19_$nm.txt"
      done
    done
  done
}
san_chain u256a &
san_chain u256b &
d_jobs=$(jobs -p)
closing_checks_run
wait $d_jobs
stamp "D: session 19 defaults"
closing_checks_report
echo "=== session 19 defaults (c128 1025-2048 soxdsx, u64 513-1024 soltxderewsx, u256 >1k xder+sx)"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(soxdsx|soltxderewsx|d256[a-z0-9_]*sx)_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle oracle_g2 long ramp ramp_g2 ramp256_g2; do echo "torch float64 $n: $(grep '^oracle' "$LOG/s19_$n.txt" | tail -1); new kernels: $(fk /tmp/c-s19-$n | cut -c1-600)"; done
echo "hopper_fwd29_check O D=256 unmasked 2k/8k, 2-block grid: $(grep -E '^check' "$LOG/s19_chk256.txt" | tail -1 | cut -c1-600)"
grep -h '^FAIL' "$LOG"/s19_*.txt | head -5
for f in "$LOG"/s19_memcheck*.txt "$LOG"/s19_racecheck*.txt; do
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
