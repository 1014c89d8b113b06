#!/usr/bin/env bash
# Session 10 (hopfwd14), Hopper forward, one device call. Candidate FLASH_ATTENTION_HOPPER_WIDE256=1
# (descriptor splitScoreIssue, name suffix `sh`): tile D = 256 in 128-key steps with one K and one V
# stage (64 KB each), S issued in two 64-key halves and P.V in two commit groups, so O, P and S fit the
# consumers' 240 registers (NVRTC 13.5: 0 spill, no C75xx); with precomputed descriptors and the TMA
# store of O (staged in the Q buffer, or the last K/V stage where the row does). SASS per consumer
# thread: causal 804 instructions per 128 keys against 1024 (2 x 512) shipped, unmasked 765 against
# 875-955 (docs/performance.md, session 10).
# FLASH_ATTENTION_HOPPER_WIDE256=2 (descriptor separateValueTurn, suffix `vt`): the same 128-key one-stage
# shape with two ping-pong turns a step, P.V in the first and S (after that P.V retired, one n128 product a
# k step) in the second, so a step's K and V each have two products to land after their stage is freed.
# Phase 1 (parallel, untimed), candidate forced (FLASH_ATTENTION_HOPPER=1 WIDE256=$HW_FORM, default 2; the
#   _er jobs with EARLYRESCALE=1 as well; the _oq jobs with OKV=0, which reach the long rows' `sooq`
#   kernels at short lengths; _oq_sh with WIDE256=1): pinned float64-oracle cases (full grid and
#   FLASH_ATTENTION_HOPPER_GRID=2), dense oracle cases (full and 2-block grid), a random verify sweep,
#   compute-sanitizer memcheck + racecheck (2-block grid); each lists the `sh` / `vt` kernels it reached.
#   Warm-ups of every timed kernel into the shared cache meanwhile.
# Phase 2 (timed, one process at a time): the D = 256 forward grid (N 512...16k, causal and not, bf16 +
#   fp16): shipped / wide (WIDE256=1) / vt (WIDE256=2; both with the rows' er defaults) / vter (WIDE256=2 +
#   EARLYRESCALE=1) in
#   HW_ROUNDS interleaved rounds (default 3; a round is skipped once the call is past HW_BUDGET s,
#   default 150), then PyTorch SDPA cuDNN + FA2 in the same call. Summary in $OUT/table.txt.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path .build-hopfwd14-static; gzip -c .../release/flash-attn > .device-hopfwd14/flash-attn.gz
#   usage on the device: bash scripts/device/hopper_fwd14.sh   (carry .device-hopfwd14/flash-attn.gz;
#   timeout_s 300)
# Later (session 10, hopfwd15): the `sh` form was removed and FLASH_ATTENTION_HOPPER_WIDE256=1 now means
# the same as an unset knob, so this script's `wide` and `_sh` settings time and check the defaults.
# Its record is the call above (hopper_fwd15.sh's half-stage forms were removed later too, fwdclean10).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c ${HW_BIN:-.device-hopfwd14/flash-attn.gz} > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
BUDGET=${HW_BUDGET:-150}
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "(sh|vt)_sm" | sort | uniq | wc -l; }
# HW_FORM: the knob value the checks force (1: S issued in halves, `sh`; 2: P.V and S in separate turns, `vt`).
FORM=${HW_FORM:-2}
K="FLASH_ATTENTION_HOPPER_WIDE256=$FORM"
E="FLASH_ATTENTION_HOPPER=1 $K FLASH_ATTENTION_HOPPER_EARLYRESCALE=1"
F="FLASH_ATTENTION_HOPPER=1 $K ${HW_CHECK_ENV:-}"  # HW_CHECK_ENV: more environment for the checks
# OKV=0: O staged in the Q buffer at every length, so the short oracle cases reach the `sooq` kernels the long rows run.
Q="FLASH_ATTENTION_HOPPER_OKV=0"
SN=512,1024,2048,4096,8192,16384
DIMS=${HW_DIMS:-256}
# Phase 1: checks, candidate forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 90 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
CHECKS="pinned pinned_g2 pinned_er pinned_oq pinned_oq_sh dense dense_g2 dense_er dense_oq dense_oq_sh verify san_memcheck san_racecheck san_racecheck_oq"
if [ -z "${HW_SKIP_CHECKS:-}" ]; then
job pinned "$F" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job pinned_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128,256 --check-cases 3
job pinned_er "$E" /tmp/fa compile --check-dims 64,128,256 --check-cases 3
job pinned_oq "$F $Q" /tmp/fa compile --check-dims 256 --check-cases 6
job pinned_oq_sh "FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=1 $Q" /tmp/fa compile --check-dims 256 --check-cases 6
job dense "$F" $(dense 64,128,256 6)
job dense_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" $(dense 64,128,256 4)
job dense_er "$E" $(dense 64,128,256 4)
job dense_oq "$F $Q" $(dense 256 8)
job dense_oq_sh "FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=1 $Q" $(dense 256 8)
job verify "$F" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 67
for tool in memcheck racecheck; do
  job san_$tool "$F FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 64,128,256 1)
done
job san_racecheck_oq "$F $Q FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool racecheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 2)
fi
# Timed settings: shipped, xd, and any extra "name:ENV=VALUE[,ENV=VALUE]" in HW_EXTRA (space-separated).
SETS="base:X=1 wide:FLASH_ATTENTION_HOPPER_WIDE256=1 vt:FLASH_ATTENTION_HOPPER_WIDE256=2 vter:FLASH_ATTENTION_HOPPER_WIDE256=2,FLASH_ATTENTION_HOPPER_EARLYRESCALE=1 ${HW_EXTRA:-}"
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
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); sh/vt kernels reached: $(used /tmp/c-$n)"
  grep -h "^// FlashAttention forward" /tmp/c-$n/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(sh|vt)_sm_90a" | sort -u | sed "s/^/    /"
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
sets = [s for s in ("wide", "vt", "vter") if os.path.exists(os.path.join(out, f"{s}_1.csv"))]
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
print("\n-- shipped TFLOPS per round, cuDNN, FA2, shipped kernel")
for k in keys:
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {'/'.join(f'{v(B[r], k):.0f}' for r in R)} | {v(t, k, 'cudnn'):.0f} {v(t, k, 'flash'):.0f} | {B[1][k].get('variant', '?')}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
# Few files come back from the device: the CSVs travel as one archive.
(cd $OUT && tar -czf csv.tgz *.csv && rm -f *.csv)
el "end"
cat $OUT/table.txt
