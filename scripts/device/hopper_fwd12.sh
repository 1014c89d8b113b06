#!/usr/bin/env bash
# Session 9 (hopfwd12), Hopper forward, one device call. Candidate FLASH_ATTENTION_HOPPER_DESC=1
# (descriptor precomputedDescriptors, name suffix `xd`, every row): the consumers build each wgmma
# operand's shared-memory descriptor once (Q per tile, K and V per step from the stage's base, as
# lane-0 shuffles so ptxas keeps them warp-uniform) and give each product its descriptor as the low
# word plus an immediate (`mov.b64 {lo, hi}` inside the product's asm), instead of masking and
# shifting the full address before every HGMMA. NVRTC 13.5 SASS here: 43-66 fewer instructions per
# key step per consumer thread at D = 128 and D = 64/256 (docs/performance.md, session 9).
# Phase 1 (parallel, untimed), candidate forced (FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_DESC=1):
#   pinned float64-oracle cases D 64/128/256 (full grid and FLASH_ATTENTION_HOPPER_GRID=2), dense
#   forward + backward oracle cases (full and 2-block grid), a random verify sweep, compute-sanitizer
#   memcheck + racecheck (2-block grid); each lists the xd kernels it reached. Warm-ups of every
#   grid kernel (shipped and xd) into the shared cache meanwhile.
# Phase 2 (timed, one process at a time): the full forward grid (D 64/128/256, N 512...16k, causal and
#   not, bf16 + fp16), shipped / xd in two interleaved rounds, then PyTorch SDPA cuDNN + FA2 in the same
#   call (10 iterations). Round 2 is skipped if the call is past HW_BUDGET seconds (default 150) by then.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path .build-hopfwd12-static (from a git-archive copy); gzip -c .../release/flash-attn
#     > .device-hop/fwd12-flash-attn.gz
#   usage on the device: bash scripts/device/hopper_fwd12.sh   (carry .device-hop/fwd12-flash-attn.gz;
#   about 200 s: allow timeout_s 280)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c ${HW_BIN:-.device-hop/fwd12-flash-attn.gz} > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
BUDGET=${HW_BUDGET:-150}
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "xd_sm" | sort | uniq | wc -l; }
K="FLASH_ATTENTION_HOPPER_DESC=1"
F="FLASH_ATTENTION_HOPPER=1 $K ${HW_CHECK_ENV:-}"  # HW_CHECK_ENV: more environment for the checks (an experimental binary's form)
SN=512,1024,2048,4096,8192,16384
# Phase 1: checks, candidate forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 60 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
if [ -z "${HW_SKIP_CHECKS:-}" ]; then
job pinned "$F" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job pinned_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128,256 --check-cases 3
job dense "$F" $(dense 64,128,256 6)
job dense_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" $(dense 64,128,256 4)
job verify "$F" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 67
for tool in memcheck racecheck; do
  job san_$tool "$F FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 64,128,256 1)
done
fi
# Timed settings: shipped, xd, and any extra "name:ENV=VALUE[,ENV=VALUE]" in HW_EXTRA (space-separated).
SETS="base:X=1 xd:$K ${HW_EXTRA:-}"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
# Warm-ups into the shared cache (the timed runs compile nothing): one process per (dtype, D, setting).
for t in bf16 fp16; do
  for D in 64 128 256; do
    for set in $SETS; do ( env $(envs_of $set) timeout 60 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $SN --bench-dtypes $t > /dev/null 2>&1 ) & done
  done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for n in pinned pinned_g2 dense dense_g2 verify san_memcheck san_racecheck; do
  [ -f $LOG/$n.txt ] || continue
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); xd kernels reached: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt 2>/dev/null | head -5
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 80 /tmp/fa compile --bench --bench-head-dims 64,128,256 --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; echo "bench $1 exit $?"; }
for r in $(seq 1 ${HW_ROUNDS:-2}); do
  if [ $r -gt 1 ] && [ $(( $(date +%s) - T0 )) -ge $BUDGET ]; then el "round $r skipped (budget)"; break; fi
  for set in $SETS; do bench ${set%%:*}_$r "$(envs_of $set)"; done
  el "round $r done"
done
[ -z "${HW_SKIP_TORCH:-}" ] && PYTHONUNBUFFERED=1 timeout 70 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims 64,128,256 --seqlens $SN --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - "$OUT" <<'PY' > $OUT/table.txt
import csv, math, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n + ".csv"); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
t = load("torch")
R = [r for r in range(1, 9) if os.path.exists(os.path.join(out, f"base_{r}.csv"))]
B = {r: load(f"base_{r}") for r in R}; X = {r: load(f"xd_{r}") for r in R}
import re
extras = sorted({m.group(1) for m in (re.match(r"^([a-z0-9]+)_1\.csv$", n) for n in os.listdir(out)) if m and m.group(1) not in ("base", "xd")})
b1, x1 = B[1], X[1]
print(f"dtype D N c | shipped per round | xd per round | cudnn fa2 | xd/shipped per round, mean-of-rounds ratio | shipped/cudnn xd/cudnn   ({len(R)} rounds)")
logs = []
for k in sorted(b1, key=lambda k: (k[3], k[0], k[1], k[2])):
    rat = [v(X[r], k) / v(B[r], k) for r in R]
    b = [v(B[r], k) for r in R if not math.isnan(v(B[r], k))]; x = [v(X[r], k) for r in R if not math.isnan(v(X[r], k))]
    bm, xm = sum(b) / max(len(b), 1), sum(x) / max(len(x), 1)
    c = v(t, k, "cudnn")
    if bm > 0 and xm > 0: logs.append(math.log(xm / bm))
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {'/'.join(f'{y:.0f}' for y in b)} | {'/'.join(f'{y:.0f}' for y in x)} | {c:.0f} {v(t,k,'flash'):.0f} | {' '.join(f'{y:.3f}' for y in rat)} {xm/bm:.3f} | {bm/c:.2f} {xm/c:.2f}")
if logs: print(f"geomean xd/shipped over {len(logs)} points: {math.exp(sum(logs)/len(logs)):.4f}")
for e in extras:
    E = {r: load(f"{e}_{r}") for r in R}
    print(f"\n{e} / shipped per round, mean-of-rounds ratio (xd's mean beside)")
    gl = []
    for k in sorted(b1, key=lambda k: (k[3], k[0], k[1], k[2])):
        bm = sum(v(B[r], k) for r in R) / len(R); em = sum(v(E[r], k) for r in R) / len(R); xm = sum(v(X[r], k) for r in R) / len(R)
        if bm > 0 and em > 0: gl.append(math.log(em / bm))
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {' '.join(f'{v(E[r], k) / v(B[r], k):.3f}' for r in R)} {em/bm:.3f} | xd {xm/bm:.3f}")
    if gl: print(f"geomean {e}/shipped over {len(gl)} points: {math.exp(sum(gl)/len(gl)):.4f}")
print(f"xd kernels timed at {sum('xd_sm' in r.get('variant', '') for r in x1.values())} of {len(x1)} points (round 1); shipped with xd: {sum('xd_sm' in r.get('variant', '') for r in b1.values())}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
cat $OUT/table.txt
