#!/usr/bin/env bash
# Session 26, fifth call (H200): the speculative maximum on unmasked tile D = 64 at every length (defaultSpeculativeMax; up
#   to 512 keys the three-stage empty-warpgroup kernel `…tmaws3pdq2soltxderewsx`), on its default route:
#   1. checks: the torch float64 forward oracle (full and on a 2-block grid), the ramp inputs that force the redo and its
#      +inf path (full and 2-block grid), the pinned float64 oracle at D = 64 on a 2-block grid, memcheck + racecheck through
#      `flash-attn run` on 2-block grids at 512² and a 500 × 512 GQA ramp input, bf16 and fp16;
#   2. sustained: O (now `sx`) against NS (the kernel before) at unmasked D = 64 256 / 512, both dtypes, two rounds; and
#      unmasked D = 128 512 / 256 against XD (precomputed descriptors, the sweep's other every-window win) again.
#   usage on the device: bash scripts/device/next_s26e.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n26e; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
o26() { env FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-26-$1 "${@:3}" timeout 200 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/$1.txt" 2>&1; }
( o26 oracle oracle; o26 ramp ramp ) &
( o26 oracle_g2 "oracle g2" FLASH_ATTENTION_HOPPER_GRID=2; o26 ramp_g2 ramp FLASH_ATTENTION_HOPPER_GRID=2 ) &
env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-26-pinned timeout 200 /tmp/fa compile --check-dims 64 --check-cases 16 > "$LOG/pinned_g2.txt" 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(2626)
for name, (sq, sk, h, hk, d, ramp) in {'u512': (512, 512, 4, 4, 64, 0), 'r500': (500, 512, 4, 2, 64, 300)}.items():
    u = r.standard_normal(d).astype(np.float32); u *= 4 / np.linalg.norm(u)
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        x = r.standard_normal((2, n, hh, d)).astype(np.float32) * 0.5
        if ramp and c == 'q': x += u
        if ramp and c == 'k': x += (np.linspace(1, 0, n, dtype=np.float32) * ramp * d ** 0.5 / 16)[None, :, None, None] * u
        np.save(f'/tmp/s26{name}_{c}.npy', x)
"
for n in u512 r500; do
  for tool in memcheck racecheck; do
    ( for dt in bfloat16 float16; do
        nm=$tool$n$dt
        env FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-26-$nm timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
          --error-exitcode 9 /tmp/fa run --q /tmp/s26${n}_q.npy --k /tmp/s26${n}_k.npy --v /tmp/s26${n}_v.npy --out /tmp/s26_${nm}_o.npy \
          --dtype $dt --device cuda > "$LOG/san_$nm.txt" 2>&1; echo "exit $?" >> "$LOG/san_$nm.txt"
      done ) &
  done
done
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*d64[a-z0-9_]*_lse_tmaws3[a-z0-9_]*sx_sm_90a" | sort -u | tr '\n' ' '; }
for n in oracle oracle_g2 ramp ramp_g2; do echo "torch float64 $n: $(grep '^oracle' "$LOG/$n.txt" | tail -1) | 512-key sx kernels: $(fk /tmp/c-26-$n)"; done
echo "pinned D = 64, 2-block grid: $(grep -E '^check:' "$LOG/pinned_g2.txt" | tail -1) | $(fk /tmp/c-26-pinned)"
for f in $LOG/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ')"; done
echo "kernels under the sanitizers: $(fk /tmp/c-26-memcheckr500bfloat16) $(fk /tmp/c-26-memchecku512float16)"
grep -h "FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n26e.tgz" logs 2>/dev/null)
HF29_FORMS="64,512,0:O,NS;64,256,0:O,NS;128,512,0:O,XD;128,256,0:O,XD" \
  timeout 330 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 1.5 --windows 2 --rounds 2 --end 300 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -30
el "sustained"
(cd $L && tar czf "$RESULT/n26e.tgz" logs fw fwd.txt 2>/dev/null)
