#!/usr/bin/env bash
# Session 27, third call (H200): the speculative maximum on unmasked tile D = 256 at every length (defaultSpeculativeMax;
#   512 keys `…psookvxderqhlr` → `…psookvxderqhsx`, 1k `…psooqxderqhlr` → `…psooqxderqhsx`), on its default route:
#   1. checks at D = 256: the torch float64 forward oracle (full and 2-block grid), the ramp inputs that force the redo and its
#      +inf path with the short shapes (500 × 512, 256²; full and 2-block grid), the pinned float64 oracle at D = 256 on a
#      2-block grid, memcheck + racecheck through `flash-attn run` on 2-block grids at 512² and a 1000 × 1024 GQA ramp input,
#      bf16 and fp16;
#   2. sustained: O (now `sx`) against NS (the `lr` kernels before) at unmasked D = 256 256 / 512 / 1k, both dtypes;
#   3. the forward grid's D = 256 rows at 512 and 1k keys beside cuDNN and FA2 (scripts/bench_interleaved.py, 5 rounds).
#   usage on the device: bash scripts/device/next_s27c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n27c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
o27() { env FA_BIN=/tmp/fa TFO_DIMS=256 TFO_RAMP_SHORT=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-27c-$1 "${@:3}" timeout 200 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o27 oracle oracle ) &
( o27 ramp ramp ) &
( o27 oracle_g2 "oracle g2" FLASH_ATTENTION_HOPPER_GRID=2; o27 ramp_g2 ramp FLASH_ATTENTION_HOPPER_GRID=2 ) &
env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-27c-pinned timeout 200 /tmp/fa compile --check-dims 256 --check-cases 16 > "$LOG/pinned_g2.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(2727)
for name, (sq, sk, h, hk, d, ramp) in {'u512': (512, 512, 4, 4, 256, 0), 'r1000': (1000, 1024, 4, 2, 256, 300)}.items():
    u = r.standard_normal(d).astype(np.float32); u *= 4 / np.linalg.norm(u)
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        x = r.standard_normal((2, n, hh, d)).astype(np.float32) * 0.5
        if ramp and c == 'q': x += u
        if ramp and c == 'k': x += (np.linspace(1, 0, n, dtype=np.float32) * ramp * d ** 0.5 / 16)[None, :, None, None] * u
        np.save(f'/tmp/s27c{name}_{c}.npy', x)
"
for n in u512 r1000; do
  for tool in memcheck racecheck; do
    ( for dt in bfloat16 float16; do
        nm=$tool$n$dt
        env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-27c-$nm timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
          --error-exitcode 9 /tmp/fa run --q /tmp/s27c${n}_q.npy --k /tmp/s27c${n}_k.npy --v /tmp/s27c${n}_v.npy --out /tmp/s27c_${nm}_o.npy \
          --dtype $dt --device cuda > "$LOG/san_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/san_$nm.txt"
      done ) &
  done
done
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*d256[a-z0-9_]*_lse_tmaws2psoo(kv|q)xderqhsx_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle oracle_g2 ramp ramp_g2; do echo "torch float64 $n: $(grep '^oracle' "$LOG/$n.txt" | tail -1) | short sx kernels: $(fk /tmp/c-27c-$n)"; done
echo "pinned D = 256, 2-block grid: $(grep -E '^check:' "$LOG/pinned_g2.txt" | tail -1) | $(fk /tmp/c-27c-pinned)"
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ')"; done
echo "kernels under the sanitizers: $(fk /tmp/c-27c-memcheckr1000bfloat16) $(fk /tmp/c-27c-memchecku512float16)"
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n27c.tgz" logs 2>/dev/null)
HF29_FORMS="256,512,0:O,NS;256,1024,0:O,NS;256,256,0:O,NS" \
  timeout 200 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 1 --end 170 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -12
grep -E "^point .* kernels:" $L/fwd.txt | grep " bf16 " | cut -c1-160 | head -8
el "sustained"
(cd $L && tar czf "$RESULT/n27c.tgz" logs fw fwd.txt 2>/dev/null)
nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader > $L/gpu.txt
PYTHONUNBUFFERED=1 FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-il timeout 150 python3 scripts/bench_interleaved.py --passes fwd --dims 256 \
  --seqlens 512,1024 --rounds 5 --out $L/interleaved.csv > $L/interleaved.txt 2> $L/interleaved_err.txt
echo "grid exit $?"; tail -3 $L/interleaved_err.txt
grep -v "^fwd " $L/interleaved.txt | tail -14
el "grid rows"
(cd $L && tar czf "$RESULT/n27c.tgz" logs fw fwd.txt interleaved.csv interleaved.txt gpu.txt 2>/dev/null)
