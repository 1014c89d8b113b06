#!/usr/bin/env bash
# Session 6 (hopfwd6), confirming call: the new table (causal D = 64 three warpgroups + two Q
# buffers from N = 2k; D = 256 O staged in the Q buffer up to 2k) timed as shipped, and O staged
# in the Q buffer (FLASH_ATTENTION_HOPPER_OQ=1) on the long-N rows that have no store: D = 64
# three warpgroups from 2k, D = 128 176-key steps from 4k and causal from 2k, D = 256 from 4k.
# Phase 1 (parallel, untimed): the long-N kernels forced onto short problems with OQ=1
# (FLASH_ATTENTION_HOPPER_TILES, STORE=0 so the short rows' own stores give way): pinned oracle
# cases (full and 2-block grid), dense forward + backward oracle cases, a random verify sweep,
# memcheck + racecheck on a 2-block grid; warm-ups. Phase 2 (timed, two interleaved rounds):
# D 64/128/256, N 2k...16k, shipped vs OQ=1; PyTorch SDPA cuDNN + FA2 in the same call.
#   usage on the device: bash scripts/device/hopper_s6d.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "oq_|lt_" | sort | uniq | tr '\n' ' '; }
OQ="FLASH_ATTENTION_HOPPER_OQ=1"
LONG="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WG=3 $OQ FLASH_ATTENTION_HOPPER_STORE=0 FLASH_ATTENTION_HOPPER_TILES=64:128x2p,64c:128x2dq,128:176x2p,128c:128x2d"
LN=2048,4096,8192,16384
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 100 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
job pinned "$LONG" /tmp/fa compile --check-dims 64,128,256 --check-cases 3
job pinned_g2 "$LONG FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128 --check-cases 3
job dense "$LONG" $(dense 64,128,256 6)
job dense_g2 "$LONG FLASH_ATTENTION_HOPPER_GRID=2" $(dense 64,128 6)
job verify "$LONG" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 31
for tool in memcheck racecheck; do
  job san_$tool "$LONG FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 64,128 2)
done
for t in bf16 fp16; do
  for cfg in "X=1" "$OQ"; do ( env $cfg timeout 90 /tmp/fa compile --bench --bench-head-dims 64,128,256 --bench-seqlens 2048,4096 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
wait
el "phase 1 done"
for n in pinned pinned_g2 dense dense_g2 verify san_memcheck san_racecheck; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); new kernels ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt | head -5
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims 64,128,256 --bench-seqlens $LN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do bench base_$r "X=1"; bench oq_$r "$OQ"; done
el "bench done"
PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims 64,128,256 --seqlens $LN > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n + ".csv"); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
b1, b2, o1, o2, t = (load(n) for n in ("base_1", "base_2", "oq_1", "oq_2", "torch"))
print("dtype D N c | shipped r1/r2 | oq r1/r2 | cudnn fa2 | oq/shipped | shipped/cudnn oq/cudnn | kernels")
for k in sorted(b1):
    b = (v(b1, k) + v(b2, k)) / 2; o = (v(o1, k) + v(o2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(o1,k):.0f}/{v(o2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {o/b:.3f} | {b/c:.2f} {o/c:.2f} | {b1[k].get('variant','')} {o1.get(k, {}).get('variant','')}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
