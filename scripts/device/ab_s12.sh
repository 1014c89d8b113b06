#!/usr/bin/env bash
# Session 12, closing A/B (after final_s12.sh, same call): the Q-half defaults against the kernels they replaced, and
# one untried pairing. `compile --bench` at D = 256, bf16 + fp16, HW_ROUNDS interleaved rounds, one process at a time:
#   base  the defaults (causal `qr` up to 1k keys, `qh` at 2k; unmasked `qh` up to 1k)
#   q0    FLASH_ATTENTION_HOPPER_QHALVES=0 (the session-11 kernels)
#   qhxd  FLASH_ATTENTION_HOPPER_QHALVES=1 FLASH_ATTENTION_HOPPER_DESC=1 (`qh` with precomputed descriptors on every row:
#         unmasked `qh` lost 4-6 % at 2k-4k on the 80-key row without them)
#   xd    FLASH_ATTENTION_HOPPER_DESC=1 (the control for qhxd)
#   usage on the device: bash scripts/device/ab_s12.sh   (carry .device-me/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; LOG=/tmp/ab12; mkdir -p "$OUT" $LOG
[ -x /tmp/fa ] || { gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa; } || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ab
SN=${HW_SEQLENS:-512,1024,2048,4096,8192}
SETS="base:X=1 q0:FLASH_ATTENTION_HOPPER_QHALVES=0 qhxd:FLASH_ATTENTION_HOPPER_QHALVES=1,FLASH_ATTENTION_HOPPER_DESC=1 xd:FLASH_ATTENTION_HOPPER_DESC=1"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
for set in $SETS; do ( env $(envs_of $set) timeout 120 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens $SN --bench-dtypes bf16,fp16 > /dev/null 2>&1 ) & done
wait $(jobs -p)
for r in $(seq 1 ${HW_ROUNDS:-3}); do
  for set in $SETS; do
    env $(envs_of $set) timeout 120 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $LOG/${set%%:*}_$r.csv > $LOG/${set%%:*}_$r.txt 2>&1
  done
  echo "round $r done"
done
python3 - $LOG <<'PY' | tee $OUT/ab_s12.txt
import csv, glob, math, os, sys
d = sys.argv[1]
def load(n):
    p = os.path.join(d, n + ".csv"); r = {}
    if os.path.exists(p):
        for x in csv.DictReader(open(p)): r[(x["dtype"], int(x["headdim"]), int(x["seqlen"]), int(x["causal"]))] = x
    return r
R = sorted({int(os.path.basename(p)[5:-4]) for p in glob.glob(os.path.join(d, "base_*.csv"))})
B = {r: load(f"base_{r}") for r in R}
keys = sorted(B[R[0]], key=lambda k: (k[3], k[2], k[0]))
for s in ("q0", "qhxd", "xd"):
    S = {r: load(f"{s}_{r}") for r in R}
    print(f"== {s} / base per round (mean) | base kernel -> {s} kernel")
    for k in keys:
        rs = [float(S[r][k]["tflops"]) / float(B[r][k]["tflops"]) for r in R if k in S[r] and k in B[r]]
        print(f"{k[0]} D={k[1]} N={k[2]} causal={k[3]} | {' '.join(f'{x:.3f}' for x in rs)} ({sum(rs)/len(rs):.3f}) | {B[R[0]][k].get('variant','?')} -> {S[R[0]][k].get('variant','?')}")
print("== base TFLOPS per round")
for k in keys: print(f"{k[0]} D={k[1]} N={k[2]} causal={k[3]} | {'/'.join(B[r][k]['tflops'] for r in R)}")
PY
tar -czf $OUT/ab_s12.tgz -C $LOG .
