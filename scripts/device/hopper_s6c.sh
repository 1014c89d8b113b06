#!/usr/bin/env bash
# Session 6 (hopfwd6), Hopper forward, one device call:
# (1) causal D = 64 with three consumer warpgroups and two Q buffers beside the dynamic scheduler
#     (late tile addresses; FLASH_ATTENTION_HOPPER_WG=3 takes it below N = 4k, with
#     FLASH_ATTENTION_HOPPER_TILES=64c:128x2dq at every N);
# (2) D = 256 with the TMA store of O staged in the Q buffer (FLASH_ATTENTION_HOPPER_OQ=1).
# Phase 1 (parallel, untimed), everything forced on at once (FLASH_ATTENTION_HOPPER=1): pinned
# float64-oracle cases (full grid and a 2-block grid), dense forward + backward oracle cases (every
# other causal), a random verify sweep, compute-sanitizer memcheck + racecheck on a 2-block grid,
# warm-ups so no timing includes NVRTC. Phase 2 (timed, one process at a time, two interleaved
# rounds): D = 64 all N shipped / WG=3 / WG=3 + q2 everywhere; D = 256 N <= 2k shipped / OQ;
# PyTorch SDPA cuDNN + FA2 on the same points.
#   usage on the device: bash scripts/device/hopper_s6c.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "lt_|oq_" | sort | uniq | tr '\n' ' '; }
WG3="FLASH_ATTENTION_HOPPER_WG=3"
WG3ALL="FLASH_ATTENTION_HOPPER_WG=3 FLASH_ATTENTION_HOPPER_TILES=64c:128x2dq"
OQ="FLASH_ATTENTION_HOPPER_OQ=1"
ALL="FLASH_ATTENTION_HOPPER=1 $WG3ALL $OQ"
ALLN=512,1024,2048,4096,8192,16384
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 100 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims 64,256 --check-cases $1 --check-dense; }
job pinned "$ALL" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job pinned_g2 "$ALL FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,256 --check-cases 3
job dense "$ALL" $(dense 8)
job dense_g2 "$ALL FLASH_ATTENTION_HOPPER_GRID=2" $(dense 6)
job verify "$ALL" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 29
for tool in memcheck racecheck; do
  job san_$tool "$ALL FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 2)
done
# Warm-ups into the shared cache (the timed runs compile nothing).
for t in bf16 fp16; do
  for cfg in "X=1" "$WG3" "$WG3ALL"; do ( env $cfg timeout 90 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,4096 --bench-dtypes $t > /dev/null 2>&1 ) & done
  for cfg in "X=1" "$OQ"; do ( env $cfg timeout 90 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens 512 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
wait
el "phase 1 done"
for n in pinned pinned_g2 dense dense_g2 verify san_memcheck san_racecheck; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); new kernels ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt | head -5
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 40 /tmp/fa compile --bench --bench-head-dims $3 --bench-seqlens $4 --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base64_$r "X=1" 64 $ALLN; bench wg3_$r "$WG3" 64 $ALLN; bench wg3all_$r "$WG3ALL" 64 $ALLN
  bench base256_$r "X=1" 256 512,1024,2048; bench oq_$r "$OQ" 256 512,1024,2048
done
el "bench done"
PYTHONUNBUFFERED=1 timeout 45 python3 scripts/bench_cuda.py --ours $OUT/base64_1.csv --out $OUT/torch64.csv --dims 64 --seqlens $ALLN > $LOG/torch64.txt 2>$LOG/torch64_err.txt; echo "torch64 exit $?"
PYTHONUNBUFFERED=1 timeout 30 python3 scripts/bench_cuda.py --ours $OUT/base256_1.csv --out $OUT/torch256.csv --dims 256 --seqlens 512,1024,2048 > $LOG/torch256.txt 2>$LOG/torch256_err.txt; echo "torch256 exit $?"
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
t = {**load("torch64"), **load("torch256")}
def table(base, cands):
    b1, b2 = load(base + "_1"), load(base + "_2")
    cs = [(c, load(c + "_1"), load(c + "_2")) for c in cands]
    print("dtype D N c | base r1/r2 | " + " | ".join(f"{c} r1/r2" for c, _, _ in cs) + " | cudnn fa2 | " + " ".join(f"{c}/base" for c, _, _ in cs) + " | base/cudnn " + " ".join(f"{c}/cudnn" for c, _, _ in cs) + " | kernels")
    for k in sorted(b1):
        b = (v(b1, k) + v(b2, k)) / 2; c = v(t, k, "cudnn")
        means = [(v(x1, k) + v(x2, k)) / 2 for _, x1, x2 in cs]
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | " + " | ".join(f"{v(x1,k):.0f}/{v(x2,k):.0f}" for _, x1, x2 in cs)
              + f" | {c:.0f} {v(t,k,'flash'):.0f} | " + " ".join(f"{m/b:.3f}" for m in means) + f" | {b/c:.2f} " + " ".join(f"{m/c:.2f}" for m in means)
              + " | " + " ".join(x1.get(k, {}).get("variant", "?") for _, x1, _ in [("base", b1, b2)] + cs))
table("base64", ["wg3", "wg3all"])
table("base256", ["oq"])
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
