#!/usr/bin/env bash
# Session 11 (hopfwd17), Hopper forward, one device call. Candidate FLASH_ATTENTION_HOPPER_OWNO=1 (descriptor
# stageOInOwnBuffer, name suffix `ob`): on the 128-key D = 256 rows (`vt`), warpgroup 0 stages its O rows in a
# 32 KB buffer of its own instead of the last step's K stage (warpgroup 1 keeps the V stage; the Q-buffer
# staging of the rows past 1k keys becomes this form too), so the last S releases the K stage at once and the
# next tile's first K copy runs under this tile's last softmax, P.V and epilogue (causal D = 256 N = 512 is
# bound by device memory, ncu session 10 part 3: ours 65 % of the peak, cuDNN 74 %, same bytes).
# Phase 1 (parallel, untimed), candidate forced (FLASH_ATTENTION_HOPPER=1 WIDE256=2 OWNO=1; _ner jobs with
#   EARLYRESCALE=0, the long rows' `…sookvxdvtob` form; the others take the short rows' `…sookvxdervtob`):
#   pinned float64-oracle cases at D = 256 (full grid and FLASH_ATTENTION_HOPPER_GRID=2), dense forward oracle
#   cases at D = 240 / 256 (full and 2-block grid), a random verify sweep over multi-step lengths, and
#   compute-sanitizer memcheck + racecheck on one causal 640 x 640 problem on a 2-block grid (5 key steps a
#   tile, 10 tiles on 2 blocks: the own buffer's reuse across tiles); each lists the `ob` kernels it reached.
#   Warm-ups of every timed kernel into the shared cache meanwhile.
# Phase 2 (timed, one process at a time): D = 256, N 512 / 1k / 2k / 4k, causal and unmasked (unmasked runs
#   the same kernel in every setting: a control), bf16 + fp16: shipped / ob (OWNO=1) / okv (OKV=1: the last
#   K/V stage staging without the own buffer, to tell the two apart at 2k / 4k where shipped stages in the
#   Q buffer) in HW_ROUNDS interleaved rounds (default 4; a round after the third is skipped once the call
#   is past HW_BUDGET s, default 170), then PyTorch SDPA cuDNN + FA2. Summary in $OUT/table.txt.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path .build-hopfwd17-static; gzip -c .../release/flash-attn > /work/main/.device-ob/flash-attn.gz,
#     and this script copied to /work/main/.device-ob/hopper_fwd17.sh
#   usage on the device: bash .device-ob/hopper_fwd17.sh   (carry .device-ob; timeout_s 300)
#   Call 2 (the longer rows, timing only): HW_SKIP_CHECKS=1 HW_SEQLENS=1024,2048,4096,8192,16384
#     HW_SETS="base:X=1 ob:FLASH_ATTENTION_HOPPER_OWNO=1" HW_ROUNDS=5 bash .device-ob/hopper_fwd17.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c ${HW_BIN:-.device-ob/flash-attn.gz} > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
BUDGET=${HW_BUDGET:-170}
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
obk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*ob_sm_90a" | sort -u; }
F="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WIDE256=2 FLASH_ATTENTION_HOPPER_OWNO=1"
N="$F FLASH_ATTENTION_HOPPER_EARLYRESCALE=0"
SN=${HW_SEQLENS:-512,1024,2048,4096}
# Phase 1: checks, candidate forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 150 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense --seed $3; }
python3 -c "
import numpy as np
r = np.random.default_rng(17)
for n in 'qkv': np.save('/tmp/w_' + n + '.npy', (r.standard_normal((1, 640, 2, 256)) * 0.5).astype(np.float32))
"
runw() { echo /tmp/fa run --q /tmp/w_q.npy --k /tmp/w_k.npy --v /tmp/w_v.npy --out /tmp/w_o_$1.npy --causal --dtype $2 --device cuda; }
CHECKS="pinned pinned_g2 pinned_ner dense dense_g2 dense_ner_g2 verify verify_ner san_memcheck san_racecheck san_racecheck_ner"
if [ -z "${HW_SKIP_CHECKS:-}" ]; then
job pinned "$F" /tmp/fa compile --check-dims 256 --check-cases 8
job pinned_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 256 --check-cases 6
job pinned_ner "$N FLASH_ATTENTION_HOPPER_GRID=3" /tmp/fa compile --check-dims 256 --check-cases 6
job dense "$F" $(dense 240,256 8 1701)
job dense_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" $(dense 240,256 8 1702)
job dense_ner_g2 "$N FLASH_ATTENTION_HOPPER_GRID=2" $(dense 240,256 6 1703)
job verify "$F" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --lengths 129,300,777,1500 --max-work 20000000 --cases 30 --seed 1717
job verify_ner "$N FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --lengths 300,777,1500 --max-work 20000000 --cases 12 --seed 1718
job san_memcheck "$F FLASH_ATTENTION_HOPPER_GRID=2" "$san" --tool memcheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(runw m bfloat16)
job san_racecheck "$F FLASH_ATTENTION_HOPPER_GRID=2" "$san" --tool racecheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(runw r bfloat16)
job san_racecheck_ner "$N FLASH_ATTENTION_HOPPER_GRID=2" "$san" --tool racecheck --kernel-name kns=flash_attention_forward --error-exitcode 9 $(runw rn float16)
fi
# Timed settings: shipped, the candidate, and O in the last K/V stages without the own buffer.
SETS="${HW_SETS:-base:X=1 ob:FLASH_ATTENTION_HOPPER_OWNO=1 okv:FLASH_ATTENTION_HOPPER_OKV=1} ${HW_EXTRA:-}"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
# Warm-ups into the shared cache (the timed runs compile nothing): one process per (dtype, setting).
for t in bf16 fp16; do
  for set in $SETS; do ( env $(envs_of $set) timeout 90 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens $SN --bench-dtypes $t > /dev/null 2>&1 ) & done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for n in $CHECKS; do
  [ -f $LOG/$n.txt ] || continue
  echo "$n: $(grep -E '^check:|passed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); ob kernels reached: $(obk /tmp/c-$n | wc -l)"
  obk /tmp/c-$n | sed "s/^/    /"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify*.txt $LOG/san_*.txt 2>/dev/null | head -5
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 80 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; echo "bench $1 exit $?"; }
for r in $(seq 1 ${HW_ROUNDS:-4}); do
  if [ $r -gt 3 ] && [ $(( $(date +%s) - T0 )) -ge $BUDGET ]; then el "round $r skipped (budget)"; break; fi
  for set in $SETS; do bench ${set%%:*}_$r "$(envs_of $set)"; done
  el "round $r done"
done
[ -z "${HW_SKIP_TORCH:-}" ] && PYTHONUNBUFFERED=1 timeout 80 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims 256 --seqlens $SN --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
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
def gm(xs):
    xs = [x for x in xs if x > 0 and not math.isnan(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")
t = load("torch")
R = [r for r in range(1, 9) if os.path.exists(os.path.join(out, f"base_{r}.csv"))]
B = {r: load(f"base_{r}") for r in R}
keys = sorted(B[1], key=lambda k: (k[3], k[1], k[2], k[0]))
print(f"{len(R)} interleaved rounds; ratio = setting / shipped TFLOPS, same round")
for s in ("ob", "okv"):
    S = {r: load(f"{s}_{r}") for r in R if os.path.exists(os.path.join(out, f"{s}_{r}.csv"))}
    Rs = sorted(S)
    if not Rs: continue
    print(f"\n== {s} / shipped per (causal, N range): geomean per round | all rounds | points >= 1.0 in every round")
    for c in (1, 0):
        for lo, hi in ((512, 1024), (2048, 4096), (8192, 16384)):
            ks = [k for k in keys if k[3] == c and lo <= k[2] <= hi]
            if not ks: continue
            per = [gm([v(S[r], k) / v(B[r], k) for k in ks]) for r in Rs]
            wins = sum(all(v(S[r], k) >= v(B[r], k) for r in Rs) for k in ks)
            print(f"{'causal' if c else 'unmasked':8} N {lo}-{hi} | {' '.join(f'{x:.4f}' for x in per)} | {gm([v(S[r], k) / v(B[r], k) for k in ks for r in Rs]):.4f} | {wins}/{len(ks)}")
    print(f"-- {s} per point: dtype D N causal | ratio per round | mean-of-rounds ratio | shipped/cudnn {s}/cudnn | {s} kernel")
    for k in keys:
        bm = sum(v(B[r], k) for r in Rs) / len(Rs); sm = sum(v(S[r], k) for r in Rs) / len(Rs); c = v(t, k, "cudnn")
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {' '.join(f'{v(S[r], k) / v(B[r], k):.3f}' for r in Rs)} | {sm / bm:.3f} | {bm / c:.3f} {sm / c:.3f} | {S[Rs[0]].get(k, {}).get('variant', '?')}")
print("\n-- shipped TFLOPS per round, cuDNN, FA2, shipped kernel")
for k in keys:
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {'/'.join(f'{v(B[r], k):.0f}' for r in R)} | {v(t, k, 'cudnn'):.0f} {v(t, k, 'flash'):.0f} | {B[1][k].get('variant', '?')}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
# Few files come back from the device: the CSVs travel as one archive.
(cd $OUT && tar -czf csv.tgz *.csv && rm -f *.csv)
el "end"
cat $OUT/table.txt
