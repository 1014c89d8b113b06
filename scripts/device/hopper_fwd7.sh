#!/usr/bin/env bash
# Session 7 (hopfwd7), Hopper forward, one device call. Candidates, all reachable by knobs:
# (A) causal D = 128 with 176-key steps beside the dynamic scheduler and late tile addresses
#     (FLASH_ATTENTION_HOPPER_TILES=128c:176x2d FLASH_ATTENTION_HOPPER_LATE=128; without late
#     addresses it spills 8 B) — the long causal points (0.93–0.99x cuDNN) run 128-key steps while
#     unmasked D = 128 runs 176 (session 2's one-block-per-tile sweep: causal 176x2 629 vs 128x2 599
#     at 16k; 176 beside the scheduler was never timed);
# (B) causal D = 128 with 160-key steps beside the scheduler (TILES=128c:160x2d, 0 spills as is);
# (C) unmasked D = 256 at N <= 2k with 64-key steps and O staged in the Q buffer (TILES=256:64x2p):
#     80-key steps compute 560 keys for N = 512 (7 steps, the last 32/80 used), 64-key steps 512.
# Phase 1 (parallel, untimed), A and C forced on (FLASH_ATTENTION_HOPPER=1): pinned float64-oracle
# cases (full and a 2-block grid), dense forward + backward oracle cases (every other causal), a random
# verify sweep, compute-sanitizer memcheck + racecheck on a 2-block grid; B on pinned cases; warm-ups.
# Phase 2 (timed, one process at a time, two interleaved rounds, bf16 + fp16): D = 128 N = 2k...16k
# shipped / A / B, D = 256 N = 512...2k shipped / C; PyTorch SDPA cuDNN + FA2 on the same points.
#   usage on the device: bash scripts/device/hopper_fwd7.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/fwd7-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "n176.*pdlt|n160.*causal.*pd_|d256_m128n64w12b1_(lse_)?tmaws2psooq" | sort | uniq | tr '\n' ' '; }
A="FLASH_ATTENTION_HOPPER_TILES=128c:176x2d FLASH_ATTENTION_HOPPER_LATE=128"
B="FLASH_ATTENTION_HOPPER_TILES=128c:160x2d"
C="FLASH_ATTENTION_HOPPER_TILES=256:64x2p,256c:64x2d"
AC="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=128c:176x2d,256:64x2p,256c:64x2d FLASH_ATTENTION_HOPPER_LATE=128"
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 100 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
job pinned "$AC" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job pinned_g2 "$AC FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 128,256 --check-cases 3
job pinned_b "FLASH_ATTENTION_HOPPER=1 $B" /tmp/fa compile --check-dims 128 --check-cases 4
job dense "$AC" $(dense 64,128,256 6)
job dense_g2 "$AC FLASH_ATTENTION_HOPPER_GRID=2" $(dense 128,256 6)
job verify "$AC" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 37
for tool in memcheck racecheck; do
  job san_$tool "$AC FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 128,256 2)
done
# Warm-ups into the shared cache (the timed runs compile nothing).
for t in bf16 fp16; do
  for cfg in "X=1" "$A" "$B"; do ( env $cfg timeout 100 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 2048 --bench-dtypes $t > /dev/null 2>&1 ) & done
  for cfg in "X=1" "$C"; do ( env $cfg timeout 100 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens 512 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
wait
el "phase 1 done"
for n in pinned pinned_g2 pinned_b dense dense_g2 verify san_memcheck san_racecheck; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); candidates ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt | head -5
# Phase 2 (timed, one process at a time).
LN=2048,4096,8192,16384; SN=512,1024,2048
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims $3 --bench-seqlens $4 --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base128_$r "X=1" 128 $LN; bench a_$r "$A" 128 $LN; bench b_$r "$B" 128 $LN
  bench base256_$r "X=1" 256 $SN; bench c_$r "$C" 256 $SN
  el "round $r done"
done
PYTHONUNBUFFERED=1 timeout 50 python3 scripts/bench_cuda.py --ours $OUT/base128_1.csv --out $OUT/torch128.csv --dims 128 --seqlens $LN > $LOG/torch128.txt 2>$LOG/torch128_err.txt; echo "torch128 exit $?"
PYTHONUNBUFFERED=1 timeout 30 python3 scripts/bench_cuda.py --ours $OUT/base256_1.csv --out $OUT/torch256.csv --dims 256 --seqlens $SN > $LOG/torch256.txt 2>$LOG/torch256_err.txt; echo "torch256 exit $?"
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
t = {**load("torch128"), **load("torch256")}
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
table("base128", ["a", "b"])
table("base256", ["c"])
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
