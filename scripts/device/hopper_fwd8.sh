#!/usr/bin/env bash
# Session 7, part 2 (hopfwd8), Hopper forward, one device call — built in session 7, NEVER RUN ON A GPU
# before this script's first call. Candidate (FLASH_ATTENTION_HOPPER_OKV=1, descriptor
# stageOInLastStage, name suffix `okv`): on the rows that stage O in the Q buffer (D = 256 up to N = 4k,
# causal up to 2k; dense 16-bit outputs), O is staged instead in the last key step's K stage (consumer
# warpgroup 0) and V stage (warpgroup 1), so the single Q buffer is freed after the last S product and
# the next tile's Q load runs under this tile's softmax, last P·V and epilogue (with `oq` it waits for
# the epilogue's store). Each warpgroup holds back its arrival on that stage's free barrier until its
# bulk store has read the rows; two named barriers (5, 6) hand the stages between the warpgroups.
# Phase 1 (parallel, untimed), candidate forced (FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_OKV=1):
# pinned float64-oracle cases (full grid and a 2-block grid: every block walks many tiles, so stages
# are held and released across tiles), dense forward + backward oracle cases, a random verify sweep,
# compute-sanitizer memcheck + racecheck on a 2-block grid; each prints the okv kernels it reached.
# Phase 2 (timed, one process at a time, two interleaved rounds, bf16 + fp16): D = 256 N = 512...4k
# shipped (`oq`) / okv; PyTorch SDPA cuDNN + FA2 on the same points.
#   staging (here, before the call):  see docs/performance.md "Session 7, part 2"
#   usage on the device: bash scripts/device/hopper_fwd8.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/fwd8-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "okv" | sort | uniq | tr '\n' ' '; }
K="FLASH_ATTENTION_HOPPER_OKV=1"
F="FLASH_ATTENTION_HOPPER=1 $K"
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 100 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
job pinned "$F" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job pinned_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 256 --check-cases 4
job dense "$F" $(dense 128,256 8)
job dense_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" $(dense 256 8)
job verify "$F" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 43
for tool in memcheck racecheck; do
  job san_$tool "$F FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 3)
done
# Warm-ups into the shared cache (the timed runs compile nothing).
for t in bf16 fp16; do
  for cfg in "X=1" "$K"; do ( env $cfg timeout 100 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens 512 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
wait
el "phase 1 done"
for n in pinned pinned_g2 dense dense_g2 verify san_memcheck san_racecheck; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); okv kernels ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt | head -5
# Phase 2 (timed, one process at a time).
SN=512,1024,2048,4096
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims $3 --bench-seqlens $4 --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base256_$r "X=1" 256 $SN; bench okv_$r "$K" 256 $SN
  el "round $r done"
done
PYTHONUNBUFFERED=1 timeout 40 python3 scripts/bench_cuda.py --ours $OUT/base256_1.csv --out $OUT/torch256.csv --dims 256 --seqlens $SN > $LOG/torch256.txt 2>$LOG/torch256_err.txt; echo "torch256 exit $?"
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
t = load("torch256")
b1, b2, o1, o2 = load("base256_1"), load("base256_2"), load("okv_1"), load("okv_2")
print("dtype D N c | shipped r1/r2 | okv r1/r2 | cudnn fa2 | okv/shipped | shipped/cudnn okv/cudnn | kernels")
for k in sorted(b1):
    b = (v(b1, k) + v(b2, k)) / 2; o = (v(o1, k) + v(o2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(o1,k):.0f}/{v(o2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {o/b:.3f} | {b/c:.2f} {o/c:.2f} | "
          + b1.get(k, {}).get("variant", "?") + " " + o1.get(k, {}).get("variant", "?"))
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
