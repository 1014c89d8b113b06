#!/usr/bin/env bash
# Session 12, closing call, after the interleaved grids: two pairings of existing knobs the session's profiles point at,
# against the defaults, `compile --bench` at D = 64 and 128, N = 512 / 1k / 2k, bf16 + fp16, HW_ROUNDS interleaved rounds:
#   xtxd  FLASH_ATTENTION_HOPPER_EXPTURN=1 FLASH_ATTENTION_HOPPER_DESC=1: cuDNN's step order (xt, 0.91-0.98x alone) with the
#         precomputed descriptors (cuDNN's step holds ~55 integer instructions, ours ~117)
#   k3    FLASH_ATTENTION_HOPPER_TILES=128c:128x3d FLASH_ATTENTION_HOPPER_QBUF=1 FLASH_ATTENTION_HOPPER_OQ=1: causal D = 128 with
#         a 3-stage K/V ring (one Q buffer, O staged in it); its profile put the largest data wait on the K of a tile's
#         later steps (two stages: K only two steps ahead)
#   usage on the device: bash scripts/device/ab_s12b.sh   (carry .device-me/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; LOG=/tmp/ab12b; mkdir -p "$OUT" $LOG
[ -x /tmp/fa ] || { gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa; } || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ab12b
SN=${HW_SEQLENS:-512,1024,2048}; DIMS=${HW_DIMS:-64,128}
SETS=${HW_SETS:-"base:X=1 xtxd:FLASH_ATTENTION_HOPPER_EXPTURN=1,FLASH_ATTENTION_HOPPER_DESC=1 k3:FLASH_ATTENTION_HOPPER_TILES=128c:128x3d,FLASH_ATTENTION_HOPPER_QBUF=1,FLASH_ATTENTION_HOPPER_OQ=1"}
envs_of() { echo "${1#*:}" | tr ',' ' '; }
for set in $SETS; do ( env $(envs_of $set) timeout 120 /tmp/fa compile --bench --bench-head-dims $DIMS --bench-seqlens $SN --bench-dtypes bf16,fp16 > $LOG/warm_${set%%:*}.txt 2>&1 ) & done
wait $(jobs -p)
for r in $(seq 1 ${HW_ROUNDS:-3}); do
  for set in $SETS; do
    env $(envs_of $set) timeout 120 /tmp/fa compile --bench --bench-head-dims $DIMS --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $LOG/${set%%:*}_$r.csv > $LOG/${set%%:*}_$r.txt 2>&1
  done
  echo "round $r done"
done
python3 - $LOG "$SETS" <<'PY' | tee $OUT/ab_s12b.txt
import csv, glob, os, sys
d, sets = sys.argv[1], [s.split(":")[0] for s in sys.argv[2].split()]
def load(n):
    p = os.path.join(d, n + ".csv"); r = {}
    if os.path.exists(p):
        for x in csv.DictReader(open(p)): r[(x["dtype"], int(x["headdim"]), int(x["seqlen"]), int(x["causal"]))] = x
    return r
R = sorted({int(os.path.basename(p).split("_")[1][:-4]) for p in glob.glob(os.path.join(d, "base_*.csv"))})
B = {r: load(f"base_{r}") for r in R}
keys = sorted(B[R[0]], key=lambda k: (k[1], k[3], k[2], k[0]))
for s in sets[1:]:
    S = {r: load(f"{s}_{r}") for r in R}
    print(f"== {s} / base per round (mean) | base kernel -> {s} kernel")
    for k in keys:
        rs = [float(S[r][k]["tflops"]) / float(B[r][k]["tflops"]) for r in R if k in S[r] and k in B[r]]
        if rs: print(f"{k[0]} D={k[1]} N={k[2]} causal={k[3]} | {' '.join(f'{x:.3f}' for x in rs)} ({sum(rs)/len(rs):.3f}) | {B[R[0]][k].get('variant','?')} -> {S[R[0]][k].get('variant','?')}")
print("== base TFLOPS per round")
for k in keys: print(f"{k[0]} D={k[1]} N={k[2]} causal={k[3]} | {'/'.join(str(round(float(B[r][k]['tflops']))) for r in R)}")
PY
tar -czf $OUT/ab_s12b.tgz -C $LOG .
