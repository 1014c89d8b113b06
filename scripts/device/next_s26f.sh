#!/usr/bin/env bash
# Session 26, sixth call (H200): the precomputed descriptors on unmasked tile D = 128 up to 512 keys
#   (defaultPrecomputedDescriptors: `…tmaws2pq2sosx` → `…soxdsx`) beside session 26's `sx` on unmasked tile D = 64, on the
#   default route: the torch float64 forward oracle (full and 2-block grid), the ramp inputs (full and 2-block grid), the
#   pinned float64 oracle at D = 64 / 128 on a 2-block grid, memcheck + racecheck through `flash-attn run` on 2-block grids at
#   512² and a 500 × 512 GQA ramp input at D = 128, bf16 and fp16; then the forward grid's D = 64 / 128 rows at 512 and 1k
#   keys beside cuDNN and FA2 (scripts/bench_interleaved.py, 5 rounds).
#   usage on the device: bash scripts/device/next_s26f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n26f; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
o26() { env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-26f-$1 "${@:3}" timeout 200 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o26 oracle oracle; o26 ramp ramp ) &
( o26 oracle_g2 "oracle g2" FLASH_ATTENTION_HOPPER_GRID=2; o26 ramp_g2 ramp FLASH_ATTENTION_HOPPER_GRID=2 ) &
env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-26f-pinned timeout 200 /tmp/fa compile --check-dims 64,128 --check-cases 12 > "$LOG/pinned_g2.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(2626)
for name, (sq, sk, h, hk, d, ramp) in {'u512': (512, 512, 4, 4, 128, 0), 'r500': (500, 512, 4, 2, 128, 300)}.items():
    u = r.standard_normal(d).astype(np.float32); u *= 4 / np.linalg.norm(u)
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        x = r.standard_normal((2, n, hh, d)).astype(np.float32) * 0.5
        if ramp and c == 'q': x += u
        if ramp and c == 'k': x += (np.linspace(1, 0, n, dtype=np.float32) * ramp * d ** 0.5 / 16)[None, :, None, None] * u
        np.save(f'/tmp/s26f{name}_{c}.npy', x)
"
for n in u512 r500; do
  for tool in memcheck racecheck; do
    ( for dt in bfloat16 float16; do
        nm=$tool$n$dt
        env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-26f-$nm timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
          --error-exitcode 9 /tmp/fa run --q /tmp/s26f${n}_q.npy --k /tmp/s26f${n}_k.npy --v /tmp/s26f${n}_v.npy --out /tmp/s26f_${nm}_o.npy \
          --dtype $dt --device cuda > "$LOG/san_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/san_$nm.txt"
      done ) &
  done
done
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(d64[a-z0-9_]*_lse_tmaws3[a-z0-9_]*sx|d128[a-z0-9_]*_lse_tmaws2pq2soxdsx)_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle oracle_g2 ramp ramp_g2; do echo "torch float64 $n: $(grep '^oracle' "$LOG/$n.txt" | tail -1) | 512-key kernels: $(fk /tmp/c-26f-$n)"; done
echo "pinned D = 64 / 128, 2-block grid: $(grep -E '^check:' "$LOG/pinned_g2.txt" | tail -1) | $(fk /tmp/c-26f-pinned)"
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ')"; done
echo "kernels under the sanitizers: $(fk /tmp/c-26f-memcheckr500bfloat16) $(fk /tmp/c-26f-memchecku512float16)"
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n26f.tgz" logs 2>/dev/null)
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader > $L/gpu.txt
PYTHONUNBUFFERED=1 FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-il timeout 200 python3 scripts/bench_interleaved.py --passes fwd --dims 64,128 \
  --seqlens 512,1024 --rounds 5 --out $L/interleaved.csv > $L/interleaved.txt 2> $L/interleaved_err.txt
echo "grid exit $?"; tail -3 $L/interleaved_err.txt
grep -v "^fwd " $L/interleaved.txt | tail -30
el "grid rows"
(cd $L && tar czf "$RESULT/n26f.tgz" logs interleaved.csv interleaved.txt gpu.txt 2>/dev/null)
