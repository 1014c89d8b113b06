#!/usr/bin/env bash
# Session 7, hopbwd10: the wide Hopper backward (tile D = 256) with a dQ turn counter per 64-column chunk
# (FLASH_ATTENTION_HOPPER_BWD256_TURNS=chunk, descriptor wideChunkTurns), and dQ in arrival order
# (FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered, non-deterministic calls only; timed, not oracle-checked:
# the oracle commands make deterministic calls). hopper_bwd10_measure.sh (ncu, D = 256 2k) found the
# consumers waiting for the dQ staging about a fifth of their time behind the writer's turn chain.
# Modes: S = shipped (no knob), C = chunk turns (stages by the shipped rule), C1/C2 = chunk turns with one /
# two Q stages forced, U = arrival order (stages by rule, --nondeterministic), W = two dQ writer threads on
# alternate steps (FLASH_ATTENTION_HOPPER_BWD256_WRITERS=2, stages by rule), W1/W2 = W with one / two stages.
# Call 2 (2026-11-27 03:0x) ran the defaults below (C lost 0.67-0.96x, U 1.07-1.23x). For W (built after
# call 2, never run):  HW_CHECK="W1 W2" HW_R1="S W W2 U" HW_F1="S W W2" HW_R2="W2 W S" bash scripts/device/hopper_bwd10.sh
# Phase 1 (HW_SKIP word "check"): C1 and C2 forced: float64-oracle check-dense D 192/256 (launches counted),
# bitwise reruns (--determinism 10), a random verify sweep with C on, memcheck + racecheck on small
# multi-block problems. Phase 2: bf16 D = 256 grid S C C2 U (r1), fp16 S C C2, bf16 S C C2 (r2), cuDNN/FA2 both
# dtypes in the same call. Summary table last; all logs in one archive.
#   usage on the device: bash scripts/device/hopper_bwd10.sh   (expects .device-dec4/hb10.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hb10w; mkdir -p $W
gunzip -c .device-dec4/hb10.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
T=FLASH_ATTENTION_HOPPER_BWD256_TURNS; S=FLASH_ATTENTION_HOPPER_BWD256_STAGES; Q=FLASH_ATTENTION_HOPPER_BWD256_DQ
WR=FLASH_ATTENTION_HOPPER_BWD256_WRITERS
menv() { case $1 in S) echo "";; C) echo "$T=chunk";; C1) echo "$T=chunk $S=1";; C2) echo "$T=chunk $S=2";; U) echo "$Q=unordered";;
  W) echo "$WR=2";; W1) echo "$WR=2 $S=1";; W2) echo "$WR=2 $S=2";; esac; }
tagof() { case $1 in C*) echo '_ct_';; W*) echo '_ww2_';; *) echo '_sm_90a';; esac; }  # the forced form's kernel-name mark
checks=${HW_CHECK:-C1 C2}; vmode=${checks%% *}; vmode=${vmode%?}
mflag() { [ "$1" = U ] && echo "--nondeterministic"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee $W/gpu.txt
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
python3 -c "
import numpy as np
r = np.random.default_rng(17)
for tag, sq, sk, d in (('a', 300, 320, 256), ('b', 257, 200, 232)):
    for n, s in (('q', (1, sq, 4, d)), ('k', (1, sk, 2, d)), ('v', (1, sk, 2, d)), ('do', (1, sq, 4, d))):
        np.save(f'/tmp/san{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
sargs() { echo "run --q /tmp/san$1_q.npy --k /tmp/san$1_k.npy --v /tmp/san$1_v.npy --grad-out /tmp/san$1_do.npy --dtype $2 --device cuda $3 --dq /tmp/s_dq$4.npy --dk /tmp/s_dk$4.npy --dv /tmp/s_dv$4.npy --out /tmp/s_o$4.npy"; }
if want check; then
  ck=()
  for m in $checks; do
    env FLASH_ATTENTION_HOPPER_BWD=1 $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
      --check-dims 192,256 --check-cases 12 --check-dense --seed 23 > $W/check_$m.txt 2>&1 & ck+=($!)
    env $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --determinism 10 > $W/det_$m.txt 2>&1 & ck+=($!)
  done
  ( env $(menv $vmode) timeout 60 /tmp/fa backward-bench --warm-verify 30 --seed 29 --jobs 8 > $W/verify_warm.txt 2>&1
    env $(menv $vmode) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 30 --seed 29 \
      > $W/verify_$vmode.txt 2>&1 ) & ck+=($!)
  for m in $checks; do
    for tool in memcheck racecheck; do
      env $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
        --error-exitcode 9 /tmp/fa $(sargs a bfloat16 --causal a$m$tool) > $W/san_${tool}_${m}_d256c.txt 2>&1 & ck+=($!)
    done
    env $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool memcheck --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 /tmp/fa $(sargs b float16 "" b$m) > $W/san_memcheck_${m}_d232.txt 2>&1 & ck+=($!)
  done
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  mk=$(tagof $vmode)
  for m in $checks; do
    summary+=("$m forced: $(grep '^pinned' $W/check_$m.txt); $m wide launches $(grep -c "hbwd_dkdv.*d256.*$mk" $W/check_$m.txt) of $(grep -c 'hopper-bwd' $W/check_$m.txt) Hopper launches")
    summary+=("$m: $(grep '^determinism:' $W/det_$m.txt) ($(grep -c "hbwd_dkdv.*d256.*$mk" $W/det_$m.txt) $m launches)")
  done
  summary+=("verify, $vmode (seed 29, 30 cases): $(tail -2 $W/verify_$vmode.txt | tr '\n' ' '); $vmode launches $(grep -c "hbwd_dkdv.*d256.*$mk" $W/verify_$vmode.txt)")
  for f in $W/san_*.txt; do
    summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $vmode launches $(grep -c "hbwd_dkdv.*d256.*$mk" $f); 'Error' lines $(grep -c 'Error' $f)")
  done
  printf '%s\n' "${summary[@]}"
fi
bench() {  # mode dtypes tag
  env $(menv $1) timeout 90 /tmp/fa backward-bench --bench $(mflag $1) --csv $W/bench_$1_$3.csv --head-dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes $2 > $W/bench_$1_$3.txt 2>&1
  stamp "bench $1 $3 exit $?"
}
if want bench; then
  for m in ${HW_R1:-S C C2 U}; do bench $m bf16 r1; done
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours $W/bench_S_r1.csv --out $W/torch_bf16.csv --dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes bf16 > $W/torch_bf16.txt 2>&1; stamp "torch bf16"
  for m in ${HW_F1:-S C C2}; do bench $m fp16 f1; done
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours $W/bench_S_f1.csv --out $W/torch_fp16.csv --dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes fp16 > $W/torch_fp16.txt 2>&1; stamp "torch fp16"
  for m in ${HW_R2:-C2 C S}; do bench $m bf16 r2; done
fi
python3 - $W "S C C1 C2 U W W1 W2" <<'PY' | tee $W/summary_table.txt
import csv, os, sys
out, modes = sys.argv[1], sys.argv[2].split()
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal")): r for r in csv.DictReader(open(path))}
tr = {**load("torch_bf16.csv"), **load("torch_fp16.csv")}
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
modes = [m for m in modes if any(runs[m])]
def mean(m, k):
    xs = [f(d, k) for d in runs[m] if k in d]; xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
print("dtype D N causal | " + " ".join(modes) + " (mean of rounds) | FA2 cuDNN | " + " ".join(f"{m}/cuDNN" for m in modes)
      + " | " + " ".join(f"{m}/S" for m in modes if m != "S") + " | r1/r2 " + " ".join(modes))
for k in keys:
    v = [mean(m, k) for m in modes]; fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn"); s = mean("S", k)
    rr = " ".join(f"{f(runs[m][0], k):.0f}/{f(runs[m][1], k):.0f}" for m in modes)
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {fa2:.0f} {cu:.0f} | "
          + " ".join(f"{x / cu:.2f}" for x in v) + " | " + " ".join(f"{mean(m, k) / s:.2f}" for m in modes if m != "S") + f" | {rr}")
PY
echo "=== checks"; printf '%s\n' "${summary[@]}"
stamp done
( cd $W && tar czf "$OUT/hb10_logs.tgz" --exclude='*.npy' . ); cp $W/summary_table.txt "$OUT/"
