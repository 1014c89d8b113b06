#!/usr/bin/env bash
# The closing checks of session 20 (one device call, about 6 min on a fresh H100), on the integrated tree (8e44ee4):
#   A–C: scripts/device/closing_checks.sh (the checks every closing call runs; C's wide sanitizer runs now reach the
#        causal mask-branch kernels, the new default).
#   D. Session 20's default on its default route: the mask branch in the causal wide backward (tile D = 256): `backward-bench
#      --check-dense` at D = 192 / 256 deterministic and not (no knobs), memcheck + racecheck through `flash-attn run --grad-out`
#      (deterministic: the ordered two-writer kernels, with the staged epilogue at 300 × 2100, without at 600 × 9000 GQA),
#      bf16 and fp16.
#   E. Sustained windows: head groups of 4 with the mask branch (MBG4, the 8k+ form) against the shipped kernel at unmasked
#      tile D = 128 2k / 4k (the same `…_dqbuf2_w2_edv_ldk_g4_mb_pd` kernel the long rows run).
#   usage on the device: bash scripts/device/final_s20.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs20; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s20.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-s20-det timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 192,256 --check-cases 12 --check-dense --seed 41 > "$LOG/s20_det.txt" 2>&1; echo "exit $?" >> "$LOG/s20_det.txt"
  env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-s20-nd timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 192,256 --check-cases 12 --check-dense --nondeterministic --seed 43 > "$LOG/s20_nd.txt" 2>&1; echo "exit $?" >> "$LOG/s20_nd.txt" ) &
python3 -c "
import numpy as np
r = np.random.default_rng(2020)
for name, (sq, sk, h, hk) in {'a': (300, 2100, 2, 2), 'b': (600, 9000, 4, 2)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk), ('do', sq, h)):
        np.save(f'/tmp/s20{name}_{c}.npy', r.standard_normal((1, n, hh, 256)).astype(np.float32) * 0.5)
"
san_chain() {
  for n in "$@"; do
    for tool in memcheck racecheck; do
      for dt in bfloat16 float16; do
        nm=$tool$n$dt
        env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-s20-$nm timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
          --error-exitcode 9 /tmp/fa run --q /tmp/s20${n}_q.npy --k /tmp/s20${n}_k.npy --v /tmp/s20${n}_v.npy --grad-out /tmp/s20${n}_do.npy \
          --causal --out /tmp/s20_${nm}_o.npy --dq /tmp/s20_${nm}_dq.npy --dk /tmp/s20_${nm}_dk.npy --dv /tmp/s20_${nm}_dv.npy \
          --dtype $dt --device cuda > "$LOG/s20_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/s20_$nm.txt"
      done
    done
  done
}
san_chain a &
san_chain b &
d_jobs=$(jobs -p)
closing_checks_run
wait $d_jobs
stamp "D: session 20 default"
closing_checks_report
echo "=== session 20 default (causal wide backward with the mask branch)"
mbk() { grep -oE "hbwd_dkdv_[a-z0-9_]*d256[a-z0-9_]*" "$1" | sort | uniq -c | tr '\n' ' ' | cut -c1-500; }
for n in det nd; do echo "check-dense D=192/256 default route $n: $(grep -E 'passed|failed' "$LOG/s20_$n.txt" | tail -1 | cut -c1-120) | $(tail -1 "$LOG/s20_$n.txt") | $(mbk "$LOG/s20_$n.txt")"; done
for f in "$LOG"/s20_memcheck*.txt "$LOG"/s20_racecheck*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); $(mbk $f)"
done
stamp "checks end"
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_POINTS=${S20_POINTS:-"4096,0:O,MBG4;2048,0:O,MBG4"} timeout 150 python3 scripts/device/hopper_bwd21.py --out $OUT/sw --seconds 2.5 --windows 2 \
  --rounds 2 --budget 110 --end 140 > $OUT/sweep.txt 2>&1
sed -n '/^Summary/,$p' $OUT/sweep.txt
stamp "E: sustained"
pack
