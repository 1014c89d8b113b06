#!/usr/bin/env bash
# Short device call (Hopper forward session 3, call 3): the overlapped epilogue in the form
# ptxas does not serialise (no C7514/C7517; FLASH_ATTENTION_HOPPER_OVERLAP=1) against the
# shipped kernels: forced oracle cases on a 2-block grid, then bf16 D 64/128 at N 512/1k/2k/16k,
# interleaved twice.   usage on the device: bash scripts/device/hopper_ovl2.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=/tmp/hoplogs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s]"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
FLASH_ATTENTION_HOPPER_OVERLAP=1 FLASH_ATTENTION_HOPPER_GRID=2 timeout 40 /tmp/fa compile --check-dims 64,128 --check-cases 2 > $LOG/check.txt 2>&1
echo "check overlap (grid 2) exit $?: $(tail -1 $LOG/check.txt)"; el
: > $LOG/ab.txt
for r in 1 2; do for s in new ovl; do
  if [[ $s == ovl ]]; then e=(env FLASH_ATTENTION_HOPPER_OVERLAP=1); else e=(env); fi
  "${e[@]}" timeout 40 /tmp/fa compile --bench --bench-head-dims 64,128 --bench-seqlens 512,1024,2048,16384 --bench-dtypes bf16 2>&1 | grep TFLOP/s | sed "s|^|[$s] |" >> $LOG/ab.txt
done; done; el
cp $LOG/ab.txt $OUT/
python3 - $LOG/ab.txt <<'PY'
import re, sys, collections
r = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"\[(\S+)\] \S+ D=(\d+) N=(\d+)( causal)? \S+ ms ([\d.]+) TFLOP/s", line)
    if m: r[(int(m.group(2)), int(m.group(3)), bool(m.group(4)), m.group(1))].append(float(m.group(5)))
print("D N causal | new (r1/r2) | ovl (r1/r2) | ovl/new")
for k in sorted({k[:3] for k in r}):
    a, b = r[k + ("new",)], r[k + ("ovl",)]
    print(f"{k[0]} {k[1]} {int(k[2])} | {'/'.join(f'{x:.0f}' for x in a)} | {'/'.join(f'{x:.0f}' for x in b)} | {sum(b)/max(sum(a),1):.2f}")
PY
