#!/usr/bin/env bash
# The closing checks of session 15 (one device call, about 5 min on a fresh H100; 8 with FINAL_GRID=1), on the integrated tree:
#   A–C: scripts/device/closing_checks.sh (final_session.sh's checks, the Python subsets on CUDA tensors and test_large.py,
#      check-dense of the Hopper backward in its forms, compute-sanitizer memcheck + racecheck of the backward and the forward on
#      2-block grids).
#   D. Session 15's defaults on their default routes: the causal three-warpgroup D = 64 row at Sq = 2048 with the half-width
#      diagonal softmax and empty warpgroups (`…pdq2lthdxderew`): the torch float64 forward oracle `long` (full grid and a
#      2-block grid), a random verify sweep over 500–4096, memcheck + racecheck through `flash-attn run` on 2-block grids at causal
#      2048² and 2048 × 1500 (GQA), bf16 and fp16. The backward's product-order set + staged dK/dV epilogue at causal tile
#      D = 128 up to 16k keys (hopbwd21; the causal 1k–8k kernel): scripts/device/bwd_long_check.py, causal 16384² and 16000 × 16384
#      against a float32 reference beside cuDNN / SDPA math in the input precision; the same script checks the forward's lazy O
#      rescale on its default route (causal D = 64 16384², hopfwd28's `lr`) and the precomputed descriptors + early rescale at
#      unmasked D = 256 8192² (hopfwd29's rule); memcheck + racecheck of those two kernels at 2100² / 4200² with their knobs.
#   usage on the device: bash scripts/device/final_s15.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs15; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s15.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
# D first, in the background (its jobs overlap closing_checks_run's sequential A–C; none of them is timed)
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
BL=FLASH_ATTENTION_HOPPER_BWD_LOG=1
env $BL FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-verify timeout 200 /tmp/fa verify --device cuda --dtypes float16,bfloat16 \
  --lengths 500,1000,2048,3000,4096 --max-work 60000000 --cases 40 --seed 1515 > "$LOG/s15_verify.txt" 2>&1 &
FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-fl timeout 240 python3 scripts/device/torch_fwd_oracle.py oracle long > "$LOG/s15_fwd_long.txt" 2>&1 &
FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-fl2 timeout 240 python3 scripts/device/torch_fwd_oracle.py oracle long > "$LOG/s15_fwd_long_g2.txt" 2>&1 &
env $BL FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-long FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python \
  timeout 240 python3 scripts/device/bwd_long_check.py > "$LOG/s15_bwd_long.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(15)
for name, (sq, sk, h, hk, d) in {'fa': (2048, 2048, 2, 2, 64), 'fb': (2048, 1500, 4, 2, 64), 'fc': (2100, 2100, 2, 2, 64),
                                 'fd': (4200, 4200, 1, 1, 256)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        np.save(f'/tmp/s15{name}_{c}.npy', (r.standard_normal((1, n, hh, d)) * 0.5).astype(np.float32))
"
# One chain of sanitizer runs (beside A–C's own jobs, more parallel runs starve the timeouts)
(
for tool in memcheck racecheck; do
  for n in fa fb; do
    for dt in bfloat16 float16; do
      env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-$tool-$n-$dt timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/s15${n}_q.npy --k /tmp/s15${n}_k.npy --v /tmp/s15${n}_v.npy --out /tmp/s15_${tool}${n}${dt}_o.npy --causal \
        --dtype $dt --device cuda > "$LOG/s15_$tool$n$dt.txt" 2>&1; echo "exit $?" >> "$LOG/s15_$tool$n$dt.txt"
    done
  done
  # The 16k default's lr kernel (…pdq2ltxderlr), reached at 2100² with the knob (the three-warpgroup row from 2k queries).
  env FLASH_ATTENTION_HOPPER_RESCALE=lazy FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-$tool-fc-bfloat16 timeout 120 "$san" --tool $tool \
    --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/s15fc_q.npy --k /tmp/s15fc_k.npy --v /tmp/s15fc_v.npy \
    --out /tmp/s15_${tool}fc_o.npy --causal --dtype bfloat16 --device cuda > "$LOG/s15_${tool}fcbfloat16.txt" 2>&1; echo "exit $?" >> "$LOG/s15_${tool}fcbfloat16.txt"
done
) &
# The unmasked D = 256 long row's kernel with the precomputed descriptors + early rescale (…tmaws2pxder, the default from 8k keys),
# reached at 4200² with both knobs forced (the same row past 4k queries), on its own chain.
(
for tool in memcheck racecheck; do
  env FLASH_ATTENTION_HOPPER_DESC=1 FLASH_ATTENTION_HOPPER_EARLYRESCALE=1 FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-$tool-fd-bfloat16 \
    timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/s15fd_q.npy --k /tmp/s15fd_k.npy \
    --v /tmp/s15fd_v.npy --out /tmp/s15_${tool}fd_o.npy --dtype bfloat16 --device cuda > "$LOG/s15_${tool}fdbfloat16.txt" 2>&1; echo "exit $?" >> "$LOG/s15_${tool}fdbfloat16.txt"
done
) &
d_jobs=$(jobs -p)
closing_checks_run
wait $d_jobs
stamp "D: session 15 defaults"
closing_checks_report
echo "=== session 15 defaults"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(hdxderew|lr|d256_m128n80w12b1_lse_tmaws2pxder)_sm_90a" | sort -u | tr '\n' ' '; }
echo "verify (fwd+bwd, lengths 500-4096): $(grep -E 'passed' "$LOG/s15_verify.txt" | tail -1); hd+ew: $(fk /tmp/c-s15-verify)"
echo "torch float64 forward oracle long: $(grep '^oracle' "$LOG/s15_fwd_long.txt"); $(fk /tmp/c-s15-fl)"
echo "torch float64 forward oracle long, 2-block grid: $(grep '^oracle' "$LOG/s15_fwd_long_g2.txt"); $(fk /tmp/c-s15-fl2)"
grep -h '^FAIL' "$LOG"/s15_fwd_long*.txt "$LOG/s15_verify.txt" | head -3
echo "long problems (backward causal D = 128 16k set + ste, forward causal D = 64 16k lr, forward unmasked D = 256 8k xd + er) against float32: $(grep '^bwd_long_check' "$LOG/s15_bwd_long.txt"); kernels: $(grep -oE 'hbwd_dkdv[a-z0-9_]*' "$LOG/s15_bwd_long.txt" | sort | uniq -c | tr '\n' ' ')"
grep -E '^(ok|FAIL)' "$LOG/s15_bwd_long.txt"; echo "  forward kernels of these defaults: $(fk /tmp/c-s15-long)"
for tool in memcheck racecheck; do
  for n in fa fb fc fd; do
    for dt in bfloat16 float16; do
      [ -f "$LOG/s15_$tool$n$dt.txt" ] || continue
      echo "$tool forward $n $dt (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/s15_$tool$n$dt.txt" | tail -1) $(tail -1 "$LOG/s15_$tool$n$dt.txt"); $(fk /tmp/c-s15-$tool-$n-$dt)"
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
