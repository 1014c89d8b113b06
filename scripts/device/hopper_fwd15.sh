#!/usr/bin/env bash
# Session 10 (hopfwd15), Hopper forward, one device call. Candidates: tile D = 256 in 128-key steps with
# P.V and S in separate ping-pong turns (`vt`, the causal default since hopfwd14) and K (and V) held as
# rings of 64-key half stages (32 KB each) in the ~32 KB the one-stage form leaves free, so the next
# step's first K half loads while this step's are read: FLASH_ATTENTION_HOPPER_WIDE256=3 (suffix `hk3`:
# three K halves, V one 128-key stage), =4 (`hk3hv2`: three K halves, two V halves), =5 (`hk2hv3`); S is
# two n64 products on the step's K halves, each its own commit group (NVRTC 13.5: 0 spill, 0 stack, no
# C75xx; SASS per 128 keys causal 833-848, unmasked 800-811, against vt's 717 / 681).
# Phase 1 (parallel, untimed), candidates forced (FLASH_ATTENTION_HOPPER=1 WIDE256=3, 4 or 5; the rows
#   that stage O in the last K/V stage stage it in the Q buffer with these): pinned float64-oracle cases
#   (full grid and FLASH_ATTENTION_HOPPER_GRID=2), dense oracle cases (full and 2-block grid), a random
#   verify sweep, compute-sanitizer memcheck + racecheck (2-block grid); each lists the hk kernels it reached.
#   Warm-ups of every timed kernel into the shared cache meanwhile.
# Phase 2 (timed, one process at a time): the D = 256 forward grid (N 512...16k, causal and not, bf16 +
#   fp16): shipped / vt (WIDE256=2) / hk3 / hk3hv2 / hk2hv3 in HW_ROUNDS interleaved rounds (default 3; a
#   round is skipped once the call is past HW_BUDGET s, default 150), then PyTorch SDPA cuDNN + FA2 in the
#   same call. Summary in $OUT/table.txt (ratios to shipped, and of each hk form to vt; csv.tgz has the CSVs).
# Call 2 (control): HW_CONTROL=1 HW_SETS="vt:FLASH_ATTENTION_HOPPER_WIDE256=2 hk3:FLASH_ATTENTION_HOPPER_WIDE256=3
#   hk2:FLASH_ATTENTION_HOPPER_WIDE256=6": two K halves and V one stage (vt's memory, S as two n64 products)
#   against three K halves, to tell the cost of the n64 products from the gain of the earlier K load.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path .build-hopfwd15-static; gzip -c .../release/flash-attn > .device-hopfwd15/flash-attn.gz
#   usage on the device: bash scripts/device/hopper_fwd15.sh   (carry .device-hopfwd15/flash-attn.gz;
#   timeout_s 300)
# Later (session 10, fwdclean10): the half-stage forms (hk<n> / hv<n>) were removed in eb7061d and
# FLASH_ATTENTION_HOPPER_WIDE256=3|4|5|6 now mean the same as an unset knob, so this script's `hk` settings
# time and check the defaults. Its record is the two calls in docs/performance.md, "Session 10, part 2".
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c ${HW_BIN:-.device-hopfwd15/flash-attn.gz} > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
BUDGET=${HW_BUDGET:-150}
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "hk[0-9](hv[0-9])?_sm" | sort | uniq | wc -l; }
# The checks force the three half-stage forms (3: hk3, 4: hk3hv2, 5: hk2hv3), each in several jobs.
F3="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=3"
F4="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=4"
F5="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=5"
SN=512,1024,2048,4096,8192,16384
DIMS=${HW_DIMS:-256}
# Phase 1: checks, candidates forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 90 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
CHECKS="pinned3 pinned4 pinned5 pinned3_g2 pinned4_er dense3 dense4 dense5 dense5_g2 dense3_er verify3 verify4 san_memcheck3 san_memcheck4 san_racecheck3 san_racecheck5"
# HW_CONTROL=1: the checks of the control form only (WIDE256=6, `hk2`: two K halves, V one stage).
F6="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=6"
if [ -n "${HW_CONTROL:-}" ] && [ -z "${HW_SKIP_CHECKS:-}" ]; then
CHECKS="pinned6 pinned6_g2 dense6 dense6_g2 san_memcheck6 san_racecheck6"
job pinned6 "$F6" /tmp/fa compile --check-dims 256 --check-cases 6
job pinned6_g2 "$F6 FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 256 --check-cases 4
job dense6 "$F6" $(dense 256 8)
job dense6_g2 "$F6 FLASH_ATTENTION_HOPPER_GRID=2" $(dense 256 4)
job san_memcheck6 "$F6 FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool memcheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 2)
job san_racecheck6 "$F6 FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool racecheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 2)
elif [ -z "${HW_SKIP_CHECKS:-}" ]; then
job pinned3 "$F3" /tmp/fa compile --check-dims 256 --check-cases 6
job pinned4 "$F4" /tmp/fa compile --check-dims 256 --check-cases 6
job pinned5 "$F5" /tmp/fa compile --check-dims 256 --check-cases 6
job pinned3_g2 "$F3 FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128,256 --check-cases 3
job pinned4_er "$F4 FLASH_ATTENTION_HOPPER_EARLYRESCALE=1" /tmp/fa compile --check-dims 256 --check-cases 4
job dense3 "$F3" $(dense 256 8)
job dense4 "$F4" $(dense 256 8)
job dense5 "$F5" $(dense 256 6)
job dense5_g2 "$F5 FLASH_ATTENTION_HOPPER_GRID=2" $(dense 256 4)
job dense3_er "$F3 FLASH_ATTENTION_HOPPER_EARLYRESCALE=1" $(dense 256 4)
job verify3 "$F3" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 20 --seed 71
job verify4 "$F4" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 20 --seed 73
for f in 3 4; do job san_memcheck$f "FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=$f FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool memcheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 2); done
for f in 3 5; do job san_racecheck$f "FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=$f FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool racecheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 2); done
fi
# Timed settings: shipped, xd, and any extra "name:ENV=VALUE[,ENV=VALUE]" in HW_EXTRA (space-separated).
# HW_SETS replaces the candidates after shipped (e.g. the control call: "vt:... hk3:... hk2:FLASH_ATTENTION_HOPPER_WIDE256=6").
SETS="base:X=1 ${HW_SETS:-vt:FLASH_ATTENTION_HOPPER_WIDE256=2 hk3:FLASH_ATTENTION_HOPPER_WIDE256=3 hk3hv2:FLASH_ATTENTION_HOPPER_WIDE256=4 hk2hv3:FLASH_ATTENTION_HOPPER_WIDE256=5} ${HW_EXTRA:-}"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
# Warm-ups into the shared cache (the timed runs compile nothing): one process per (dtype, D, setting).
for t in bf16 fp16; do
  for D in ${DIMS//,/ }; do
    for set in $SETS; do ( env $(envs_of $set) timeout 60 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $SN --bench-dtypes $t > /dev/null 2>&1 ) & done
  done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for n in $CHECKS; do
  [ -f $LOG/$n.txt ] || continue
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); hk kernels reached: $(used /tmp/c-$n)"
  grep -h "^// FlashAttention forward" /tmp/c-$n/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*hk[0-9](hv[0-9])?_sm_90a" | sort -u | sed "s/^/    /"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt 2>/dev/null | head -5
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 80 /tmp/fa compile --bench --bench-head-dims $DIMS --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; echo "bench $1 exit $?"; }
for r in $(seq 1 ${HW_ROUNDS:-3}); do
  if [ $r -gt 1 ] && [ $(( $(date +%s) - T0 )) -ge $BUDGET ]; then el "round $r skipped (budget)"; break; fi
  for set in $SETS; do bench ${set%%:*}_$r "$(envs_of $set)"; done
  el "round $r done"
done
[ -z "${HW_SKIP_TORCH:-}" ] && PYTHONUNBUFFERED=1 timeout 70 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims $DIMS --seqlens $SN --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - "$OUT" <<'PY' > $OUT/table.txt
import csv, math, os, re, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n + ".csv"); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
def gm(xs):
    xs = [x for x in xs if x > 0 and not math.isnan(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")
t = load("torch")
R = [r for r in range(1, 9) if os.path.exists(os.path.join(out, f"base_{r}.csv"))]
B = {r: load(f"base_{r}") for r in R}
sets = [s for s in ("vt", "hk3", "hk3hv2", "hk2hv3") if os.path.exists(os.path.join(out, f"{s}_1.csv"))]
sets += sorted({m.group(1) for m in (re.match(r"^([a-z0-9]+)_1\.csv$", n) for n in os.listdir(out)) if m and m.group(1) not in ["base", "torch"] + sets})
keys = sorted(B[1], key=lambda k: (k[3], k[1], k[2], k[0]))
print(f"{len(R)} interleaved rounds; ratio = setting / shipped TFLOPS, same round")
for s in sets:
    S = {r: load(f"{s}_{r}") for r in R if os.path.exists(os.path.join(out, f"{s}_{r}.csv"))}
    Rs = sorted(S)
    print(f"\n== {s} / shipped: per (D, causal) geomean per round | all rounds | points >= 1.0 in every round")
    for D in sorted({k[1] for k in keys}):
        for c in (0, 1):
            ks = [k for k in keys if k[1] == D and k[3] == c]
            per = [gm([v(S[r], k) / v(B[r], k) for k in ks]) for r in Rs]
            allr = gm([v(S[r], k) / v(B[r], k) for k in ks for r in Rs])
            wins = [f"{k[0]}{k[2]}" for k in ks if all(v(S[r], k) >= v(B[r], k) for r in Rs)]
            print(f"D={D} {'causal' if c else 'unmasked':8} | {' '.join(f'{x:.4f}' for x in per)} | {allr:.4f} | {len(wins)}/{len(ks)} {' '.join(wins)}")
    print(f"all points: {' '.join(f'{gm([v(S[r], k) / v(B[r], k) for k in keys]):.4f}' for r in Rs)} (per round)")
    print(f"-- {s} / shipped per (D, causal, N range): geomean per round | all rounds | points >= 1.0 in every round")
    for D in sorted({k[1] for k in keys}):
        for c in (0, 1):
            for lo, hi in ((512, 1024), (2048, 4096), (8192, 16384)):
                ks = [k for k in keys if k[1] == D and k[3] == c and lo <= k[2] <= hi]
                if not ks: continue
                per = [gm([v(S[r], k) / v(B[r], k) for k in ks]) for r in Rs]
                wins = sum(all(v(S[r], k) >= v(B[r], k) for r in Rs) for k in ks)
                print(f"D={D} {'causal' if c else 'unmasked':8} N {lo}-{hi} | {' '.join(f'{x:.4f}' for x in per)} | {gm([v(S[r], k) / v(B[r], k) for k in ks for r in Rs]):.4f} | {wins}/{len(ks)}")
    print(f"-- {s} per point: dtype D N causal | ratio per round | mean-of-rounds ratio | shipped/cudnn {s}/cudnn | {s} kernel")
    for k in keys:
        bm = sum(v(B[r], k) for r in Rs) / len(Rs); sm = sum(v(S[r], k) for r in Rs) / len(Rs); c = v(t, k, "cudnn")
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {' '.join(f'{v(S[r], k) / v(B[r], k):.3f}' for r in Rs)} | {sm / bm:.3f} | {bm / c:.2f} {sm / c:.2f} | {S[Rs[0]].get(k, {}).get('variant', '?')}")
# The half-stage forms against vt (the form they extend), same round.
if "vt" in sets:
    V = {r: load(f"vt_{r}") for r in R}
    for s in [x for x in sets if x.startswith("hk")]:
        S = {r: load(f"{s}_{r}") for r in R}
        print(f"\n== {s} / vt per (causal, N range): geomean per round | all rounds | points >= 1.0 in every round")
        for c in (0, 1):
            for lo, hi in ((512, 1024), (2048, 4096), (8192, 16384)):
                ks = [k for k in keys if k[3] == c and lo <= k[2] <= hi]
                if not ks: continue
                per = [gm([v(S[r], k) / v(V[r], k) for k in ks]) for r in R]
                wins = sum(all(v(S[r], k) >= v(V[r], k) for r in R) for k in ks)
                print(f"{'causal' if c else 'unmasked':8} N {lo}-{hi} | {' '.join(f'{x:.4f}' for x in per)} | {gm([v(S[r], k) / v(V[r], k) for k in ks for r in R]):.4f} | {wins}/{len(ks)}")
print("\n-- shipped TFLOPS per round, cuDNN, FA2, shipped kernel")
for k in keys:
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {'/'.join(f'{v(B[r], k):.0f}' for r in R)} | {v(t, k, 'cudnn'):.0f} {v(t, k, 'flash'):.0f} | {B[1][k].get('variant', '?')}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
# Few files come back from the device: the CSVs travel as one archive.
(cd $OUT && tar -czf csv.tgz *.csv && rm -f *.csv)
el "end"
cat $OUT/table.txt
