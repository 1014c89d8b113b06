#!/usr/bin/env bash
# The closing checks of session 28 (one device call, about 6 min), on the integrated tree (the stream-K tail: a knob at
# unmasked tile D = 128 up to 4k keys, the default at unmasked tile D = 256 past 4k keys):
#   A-C: scripts/device/closing_checks.sh (final_session.sh's Swift checks, the Python subsets on CUDA tensors and
#        test_large.py, check-dense of the Hopper backward, the sanitizers);
#   D:   the stream-K tail on capped grids (every tail tile split into parts): the torch float64 oracle (long shapes) at
#        D = 256 on its default route (3 / 5 / 7 blocks), and forced at D = 128 (short, long, ramp), the pinned oracle,
#        memcheck + racecheck (640 × 700 GQA at D = 128 forced, 4200 × 4000 at D = 256 on the default route);
#   E:   the forward grid's unmasked D = 256 rows at 8k and 16k beside cuDNN and FA2 (scripts/bench_interleaved.py, 5 rounds).
#   usage on the device: bash scripts/device/final_s28.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs28; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s28.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
(
  o28() { env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-f28-$1 "${@:3}" timeout 250 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/tfo_$1.txt" 2>&1; }
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
  ( o28 l256g5 "oracle long" TFO_DIMS=256 FLASH_ATTENTION_HOPPER_GRID=5; o28 l256g3 "oracle long" TFO_DIMS=256 FLASH_ATTENTION_HOPPER_GRID=3 ) &
  ( o28 l256g7 "oracle long" TFO_DIMS=256 FLASH_ATTENTION_HOPPER_GRID=7; o28 l256 "oracle long" TFO_DIMS=256 ) &
  ( o28 k128g3 oracle TFO_DIMS=128 FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_HOPPER_STREAMK=1; o28 k128g7 "oracle g2" TFO_DIMS=128 FLASH_ATTENTION_HOPPER_GRID=7 FLASH_ATTENTION_HOPPER_STREAMK=1 ) &
  ( o28 k128l5 "oracle long" TFO_DIMS=128 FLASH_ATTENTION_HOPPER_GRID=5 FLASH_ATTENTION_HOPPER_STREAMK=1; o28 k128r5 ramp TFO_DIMS=128 TFO_RAMP_SHORT=1 FLASH_ATTENTION_HOPPER_GRID=5 FLASH_ATTENTION_HOPPER_STREAMK=1 ) &
  env FLASH_ATTENTION_HOPPER_STREAMK=1 FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f28-pinned timeout 250 /tmp/fa compile --check-dims 128,256 --check-cases 16 > "$LOG/pinned_g3.txt" 2>&1 &
  python3 -c "
import numpy as np
r = np.random.default_rng(2828)
for name, d, (sq, sk, h, hk) in (('a', 128, (640, 700, 4, 2)), ('b', 256, (4200, 4000, 2, 1))):
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        np.save(f'/tmp/s28{name}_{c}.npy', (r.standard_normal((1, n, hh, d)) * 0.5).astype(np.float32))
"
  for tool in memcheck racecheck; do
    ( for nm in a b; do
        env $([ $nm = a ] && echo FLASH_ATTENTION_HOPPER_STREAMK=1) FLASH_ATTENTION_HOPPER_GRID=$([ $nm = a ] && echo 3 || echo 5) FLASH_ATTENTION_CACHE_DIR=/tmp/c-f28-$tool$nm \
          timeout 240 "$san" --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/s28${nm}_q.npy \
          --k /tmp/s28${nm}_k.npy --v /tmp/s28${nm}_v.npy --out /tmp/s28${nm}_${tool}_o.npy --dtype bfloat16 --device cuda > "$LOG/san_$tool$nm.txt" 2>&1
        echo "exit $?" >> "$LOG/san_$tool$nm.txt"
      done ) &
  done
  wait
) &
sk=$!
source scripts/device/closing_checks.sh
closing_checks_run
wait $sk
stamp "D: stream-K checks"
closing_checks_report
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_sk_sm_90a" | sort -u | tr '\n' ' '; }
for n in l256g5 l256g3 l256g7 l256 k128g3 k128g7 k128l5 k128r5; do echo "torch float64 $n: $(grep -E '^(oracle|ramp)' "$LOG/tfo_$n.txt" | tail -1) | $(fk /tmp/c-f28-$n)"; done
echo "pinned D = 128 / 256 (3-block grid, knob set): $(grep -E '^check:' "$LOG/pinned_g3.txt" | tail -1) | $(fk /tmp/c-f28-pinned)"
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(fk /tmp/c-f28-$(basename $f .txt | sed s/san_//))"; done
grep -h "^FAIL" $LOG/tfo_*.txt | head -5
pack
FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python timeout 150 python3 scripts/bench_interleaved.py --passes fwd --dims 256 --seqlens 8192,16384 --rounds 5 --out $RESULT/grid_s28.csv 2>&1 | grep -v Warn | tail -8
stamp "E: grid rows"
pack
