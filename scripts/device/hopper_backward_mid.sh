#!/usr/bin/env bash
# Session 6, lead: (1) should the wide Hopper backward (tile D = 256) also take D = 160 and 192, which
# the 3-pass kernels run at tiles 160 / 192? backward-bench at D = 160, 192, 224, 256 (bf16 and fp16,
# N = 1k…16k, causal and not), FLASH_ATTENTION_HOPPER_BWD256=0 (3-pass) against =1 (wide, forced),
# interleaved twice; (2) compute-sanitizer memcheck + racecheck with the Hopper backward, head groups
# of 4 and the mask branch forced at D = 128 (hopper_backward_d128.sh's lines that did not run);
# (3) the decode streaming form's ring-shape rule (off by default): verify --kvcache with it forced.
#   usage on the device: bash scripts/device/hopper_backward_mid.sh   (expects .device-me/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hmid; mkdir -p $W
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( env FLASH_ATTENTION_DECODE_STREAM=on FLASH_ATTENTION_DECODE_MMA=on timeout 100 /tmp/fa verify --kvcache --device cuda --seed 821 --cases 10 > $W/stream.txt 2>&1
  echo "exit $?" >> $W/stream.txt ) &
for tool in memcheck racecheck; do
  env FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_GROUP=4 FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 \
    timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa backward-bench --warm-verify 0 --check-dims 128 --check-cases 4 --check-dense --seed 13 > $W/san_$tool.txt 2>&1
  echo "D = 128 g4 + mb $tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $W/san_$tool.txt | tail -1); g4 launches $(grep -c 'hbwd_dkdv.*_g4' $W/san_$tool.txt); $(grep -E 'passed|failed' $W/san_$tool.txt | tail -1)" | tee -a $W/summary.txt
done
wait
echo "stream form forced, verify --kvcache: $(tail -2 $W/stream.txt | tr '\n' ' ')" | tee -a $W/summary.txt
stamp checks
for r in 1 2; do
  for m in 0 1; do
    env FLASH_ATTENTION_HOPPER_BWD256=$m timeout 90 /tmp/fa backward-bench --bench --csv $W/b${m}_r$r.csv --head-dims 160,192,224,256 \
      --seqlens 1024,4096,16384 --dtypes bf16$([ $r = 1 ] && echo ,fp16) > $W/b${m}_r$r.txt 2>&1
    stamp "wide=$m round $r exit $?"
  done
done
python3 - $W <<'PY' | tee $W/table.txt
import csv, os, sys
w = sys.argv[1]
def load(n):
    p = os.path.join(w, n)
    return {(r["dtype"], r["headdim"], r["seqlen"], r["causal"]): float(r["tflops"]) for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
o = [load("b0_r1.csv"), load("b0_r2.csv")]; n = [load("b1_r1.csv"), load("b1_r2.csv")]
def mean(ds, k):
    xs = [d[k] for d in ds if k in d]; return sum(xs) / len(xs) if xs else float("nan")
print("dtype D N causal | 3-pass wide | wide/3-pass")
for k in sorted(set(o[0]) | set(n[0]), key=lambda k: (k[0], int(k[1]), int(k[2]), k[3])):
    a, b = mean(o, k), mean(n, k)
    print(f"{k[0]} {k[1]:>3} {k[2]:>5} {k[3]} | {a:6.1f} {b:6.1f} | {b/a:.3f}")
PY
tar czf "$OUT/hmid.tgz" -C $W .
