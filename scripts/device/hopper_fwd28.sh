#!/usr/bin/env bash
# Session 15 (hopfwd28), Hopper forward, one device call: fewer instructions per score under the 700 W cap.
# Form: the lazy O rescale (lazyRescale, suffix `lr`, FLASH_ATTENTION_HOPPER_RESCALE=lazy): a row keeps the maximum its
# exponentials use unless the step's maximum passes it by more than 8 in 2^x units, and O·α (D/2 FMULs a thread a step)
# is skipped in a warp where every row kept it (the `__any_sync` vote of `rs`). SASS of the unmasked D = 128 176-key
# loop: 677 -> 631 instructions a step once the rescale is skipped (the packed row sum `pr`, also built, went 677 -> 693:
# ptxas adds a move per packed word; not timed).
# Phase 1 (parallel, untimed), the form forced: pinned float64 oracle D 64/128 (full and 2-block grid), a random verify
#   sweep, the torch float64 forward oracle (oracle, g2 on a 2-block grid, long) and the shipped kernels' oracle beside
#   it (error ratios), memcheck + racecheck on a causal 640x512 shape (2-block grid), each job's lr kernels listed.
# Phase 2 (timed, one process at a time): D 64/128, N 2k/8k/16k, causal + unmasked, bf16 + fp16, shipped vs lr in
#   HW_ROUNDS interleaved rounds (default 6), PyTorch SDPA cuDNN / FA2 once.
# Phase 3: sustained windows (clock_probe.py's method): unmasked bf16 D = 64 8k and D = 128 8k, each form looped ~2.5 s
#   (FLASH_ATTENTION_BENCH_ITERS), alternated base/lr/lr/base, nvidia-smi clocks.sm + power.draw every 50 ms.
#   usage on the device: bash .device-hopfwd28/hopper_fwd28.sh   (carry .device-hopfwd28: flash-attn.gz + this script)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=/tmp/hf28logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd28/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
FORM="FLASH_ATTENTION_HOPPER_RESCALE=lazy"
SETS="base:X=1 lr:$FORM"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
lrk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*lr_sm_90a" | sort -u; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(28)
for c, n, h in (('q', 640, 4), ('k', 512, 2), ('v', 512, 2)):
    np.save(f'/tmp/hf28_{c}.npy', (r.standard_normal((1, n, h, 64)) * 0.5).astype(np.float32))
"
# Phase 1 (untimed, in parallel). The timed sets' kernels compile meanwhile (their own cache).
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
for set in $SETS; do ( env $(envs_of $set) timeout 100 /tmp/fa compile --bench --bench-head-dims 64,128 --bench-seqlens 2048 --bench-dtypes bf16,fp16 > /dev/null 2>&1 ) & done
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
job pinned env $FORM timeout 90 /tmp/fa compile --check-dims 64,128 --check-cases 8
job pinned_g2 env $FORM FLASH_ATTENTION_HOPPER_GRID=2 timeout 90 /tmp/fa compile --check-dims 64,128 --check-cases 8
job verify env $FORM timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --lengths 500,1000,2048,3000,4096 --max-work 60000000 --cases 30 --seed 2828
job oracle env $FORM FA_BIN=/tmp/fa timeout 90 python3 scripts/device/torch_fwd_oracle.py oracle
job oracle_g2 env $FORM FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 timeout 90 python3 scripts/device/torch_fwd_oracle.py oracle g2
job oracle_long env $FORM FA_BIN=/tmp/fa timeout 90 python3 scripts/device/torch_fwd_oracle.py oracle long
job base_oracle env FA_BIN=/tmp/fa timeout 90 python3 scripts/device/torch_fwd_oracle.py oracle
job base_oracle_long env FA_BIN=/tmp/fa timeout 90 python3 scripts/device/torch_fwd_oracle.py oracle long
for tool in memcheck racecheck; do
  for dt in bfloat16 float16; do
    job ${tool}_$dt env $FORM FLASH_ATTENTION_HOPPER_GRID=2 timeout 90 "$san" --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 \
      /tmp/fa run --q /tmp/hf28_q.npy --k /tmp/hf28_k.npy --v /tmp/hf28_v.npy --out /tmp/hf28_${tool}_$dt.npy --causal --dtype $dt --device cuda
  done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for f in $LOG/*.txt; do
  n=$(basename $f .txt)
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|^oracle|ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); lr kernels: $(lrk /tmp/c-$n | wc -l)"
  lrk /tmp/c-$n | sed "s/^/    /"
done
grep -h "^FAIL" $LOG/*.txt | head -8
echo "-- oracle error lines (out err (naive), lse err (naive)): lr then shipped"
for n in oracle oracle_long base_oracle base_oracle_long oracle_g2; do echo "[$n]"; grep -E "^(PASS|FAIL)" $LOG/$n.txt | head -40; done
# Phase 2 (timed, one process at a time).
DIMS=64,128; SN=2048,8192,16384
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims $DIMS --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; echo "bench $1 exit $?"; }
for r in $(seq 1 ${HW_ROUNDS:-6}); do
  if [ $r -gt 3 ] && [ $(( $(date +%s) - T0 )) -ge ${HW_BUDGET:-200} ]; then el "round $r skipped (budget)"; break; fi
  if [ $((r % 2)) = 1 ]; then order="$SETS"; else order="lr:$FORM base:X=1"; fi
  for set in $order; do bench ${set%%:*}_$r "$(envs_of $set)"; done
  el "round $r done"
done
PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims $DIMS --seqlens $SN --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
# Phase 3: sustained windows with clock and power.
nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw --format=csv,noheader,nounits -lms 50 > $LOG/smi.csv &
SMI=$!
sleep 1
: > $LOG/windows.txt
for D in 128 64; do
  it=$([ $D = 128 ] && echo 1400 || echo 1150)
  for set in base:X=1 lr:$FORM lr:$FORM base:X=1; do
    s=$(date +%s.%N)
    env $(envs_of $set) FLASH_ATTENTION_BENCH_ITERS=$it FLASH_ATTENTION_BENCH_CAUSAL=0 timeout 30 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens 8192 --bench-dtypes bf16 --bench-csv $LOG/sus.csv > /dev/null 2>&1
    e=$(date +%s.%N)
    echo "${set%%:*} $D $s $e $(tail -1 $LOG/sus.csv)" >> $LOG/windows.txt
    sleep 1
  done
done
kill $SMI
el "sustained done"
python3 - $LOG <<'PY' > $OUT/sustained.txt
import sys, time, datetime
d = sys.argv[1]
S = []
for line in open(f"{d}/smi.csv"):
    p = [x.strip() for x in line.split(",")]
    try:
        ts = datetime.datetime.strptime(p[0], "%Y/%m/%d %H:%M:%S.%f").timestamp()
        S.append((ts, float(p[1]), float(p[2])))
    except (ValueError, IndexError):
        continue
print("form D | TFLOP/s (median call of the window) | SM MHz mean (min) | W mean | samples  (window: from 1.5 s after the process start, the allocation and warm-up)")
for line in open(f"{d}/windows.txt"):
    f = line.split(maxsplit=4)
    name, D, s, e, csvl = f[0], f[1], float(f[2]), float(f[3]), f[4] if len(f) > 4 else ""
    try: tf = float(csvl.split(",")[-2]) if csvl else float("nan")
    except ValueError: tf = float("nan")
    inside = [x for x in S if s + 1.5 <= x[0] <= e - 0.2]
    if not inside: print(f"{name} {D} | {csvl.strip()} | no samples"); continue
    print(f"{name:4} {D:3} | {csvl.strip()} | {sum(x[1] for x in inside)/len(inside):6.0f} ({min(x[1] for x in inside):.0f}) | {sum(x[2] for x in inside)/len(inside):5.0f} | {len(inside)}")
PY
cat $OUT/sustained.txt
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
t = load("torch")
R = [r for r in range(1, 9) if os.path.exists(os.path.join(out, f"base_{r}.csv")) and os.path.exists(os.path.join(out, f"lr_{r}.csv"))]
B = {r: load(f"base_{r}") for r in R}; S = {r: load(f"lr_{r}") for r in R}
keys = sorted(B[R[0]], key=lambda k: (k[3], k[1], k[2], k[0]))
print(f"{len(R)} interleaved rounds (odd rounds base first, even rounds lr first); ratio = lr / shipped TFLOPS, same round")
print("dtype D N causal | lr/shipped per round | mean | min | shipped/cuDNN lr/cuDNN | FA2 | shipped kernel -> lr kernel")
for k in keys:
    rs = [v(S[r], k) / v(B[r], k) for r in R]
    bm = sum(v(B[r], k) for r in R) / len(R); sm = sum(v(S[r], k) for r in R) / len(R); c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {' '.join(f'{x:.3f}' for x in rs)} | {sum(rs)/len(rs):.3f} | {min(rs):.3f} | {bm / c:.3f} {sm / c:.3f} | {v(t, k, 'flash'):.0f} | {B[R[0]][k].get('variant', '?')} -> {S[R[0]][k].get('variant', '?')}")
print("\n-- shipped TFLOPS per round | lr per round | cuDNN")
for k in keys:
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {'/'.join(f'{v(B[r], k):.0f}' for r in R)} | {'/'.join(f'{v(S[r], k):.0f}' for r in R)} | {v(t, k, 'cudnn'):.0f}")
PY
cp $LOG/torch.txt $OUT/ 2>/dev/null
tar -czf $OUT/logs.tgz -C $LOG . && (cd $OUT && tar -czf csv.tgz *.csv && rm -f *.csv)
el "end"
cat $OUT/table.txt
