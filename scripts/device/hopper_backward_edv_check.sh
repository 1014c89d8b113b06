#!/usr/bin/env bash
# Second device call for the early dV + late dK order (session 5): the first call checked it
# forced on problems below 2k keys (one dQ buffer); the default also runs it with two dQ buffers
# and a writer each (unmasked, from 2k keys). Here both buffers are forced at checkable sizes:
# float64-oracle cases, bitwise reruns, memcheck + racecheck over 8-block turn chains, then the
# default plan's kernel names and timings at two grid points (S = the shipped order, forced back).
#   usage on the device: bash scripts/device/hopper_backward_edv_check.sh   (logs under $OUT)
# Expects .device-bwd2/flash-attn.gz.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
F="FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_DQBUF=2 FLASH_ATTENTION_HOPPER_BWD_DQWRITERS=2 FLASH_ATTENTION_HOPPER_BWD_EARLYDV=1 FLASH_ATTENTION_HOPPER_BWD_LATEDK=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1"
python3 -c "
import numpy as np
r = np.random.default_rng(7)
for n, s in (('q', (1, 1000, 4, 128)), ('k', (1, 1024, 2, 128)), ('v', (1, 1024, 2, 128)), ('do', (1, 1000, 4, 128))):
    np.save(f'/tmp/san_{n}.npy', r.standard_normal(s).astype(np.float16))
"
sargs() { echo "run --q /tmp/san_q.npy --k /tmp/san_k.npy --v /tmp/san_v.npy --grad-out /tmp/san_do.npy --dtype $1 --device cuda $2 --dq /tmp/s_dq$3.npy --dk /tmp/s_dk$3.npy --dv /tmp/s_dv$3.npy --out /tmp/s_o$3.npy"; }
ck=()
env $F timeout 60 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims 128,96 --check-cases 12 --check-dense > "$OUT/check.txt" 2>&1 & ck+=($!)
env $F timeout 60 /tmp/fa backward-bench --determinism 10 > "$OUT/det.txt" 2>&1 & ck+=($!)
for tool in memcheck racecheck; do
  env $F timeout 60 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa $(sargs bfloat16 "" ${tool}d) > "$OUT/san_${tool}_dense.txt" 2>&1 & ck+=($!)
  env $F timeout 60 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa $(sargs float16 --causal ${tool}c) > "$OUT/san_${tool}_causal.txt" 2>&1 & ck+=($!)
done
for pid in "${ck[@]}"; do wait $pid; done
stamp checks
for m in D S D S; do
  e=""; [ $m = S ] && e="FLASH_ATTENTION_HOPPER_BWD_EARLYDV=0 FLASH_ATTENTION_HOPPER_BWD_LATEDK=0"
  env $e timeout 30 /tmp/fa backward-bench --bench --csv "$OUT/bench_$m.csv" --head-dims 128 --seqlens 2048,8192 --dtypes bf16 > "$OUT/bench_$m.txt" 2>&1
  echo "$m: $(grep -o '[0-9.]* TFLOP/s' "$OUT/bench_$m.txt" | tr '\n' ' ')"
done
stamp bench
echo "=== summary"
echo "forced 2 bufs/2 writers/E/L: $(grep '^pinned' "$OUT/check.txt"); launches $(grep -c 'hbwd_dkdv.*dqbuf2_w2_edv_ldk' "$OUT/check.txt")/$(grep -c 'hbwd_dkdv' "$OUT/check.txt")"
echo "determinism: $(grep '^determinism:' "$OUT/det.txt") ($(grep -c 'dqbuf2_w2_edv_ldk' "$OUT/det.txt") launches)"
for f in "$OUT"/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); launches $(grep -c 'dqbuf2_w2_edv_ldk' $f)"; done
echo "default plan variants: $(cut -d, -f3,4,9 "$OUT/bench_D.csv" | tail -n +2 | tr '\n' ' ')"
