#!/usr/bin/env bash
# One device call for the Hopper backward's pipelined Sᵀ schedule (FLASH_ATTENTION_HOPPER_BWD_PIPE=1)
# and two dQ buffers (FLASH_ATTENTION_HOPPER_BWD_DQBUF=2): float64-oracle pinned cases and
# determinism with the new schedule forced, compute-sanitizer memcheck/racecheck on multi-step
# calls, then bf16 timings old (PIPE=0, one buffer) vs pipe vs pipe+dqbuf2 beside FA2/cuDNN.
#   usage on the device: bash scripts/device/hopper_backward_pipe.sh   (logs under $OUT)
# Environment: HP_DIMS (default 64,128), HP_SEQLENS (default 2048,8192,16384), HP_CASES (12).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
dims=${HP_DIMS:-64,128}; seqlens=${HP_SEQLENS:-2048,8192,16384}
H=FLASH_ATTENTION_HOPPER_BWD; P=FLASH_ATTENTION_HOPPER_BWD_PIPE; B=FLASH_ATTENTION_HOPPER_BWD_DQBUF
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
bg=()
# CPU-side compiles of the three timed schedules, and the bitwise reruns, beside the oracle checks.
for e in "$P=0 $B=1" "$P=1 $B=1" "$P=1 $B=2"; do
  env $H=1 $e timeout 150 /tmp/fa backward-bench --warm-bench --head-dims "$dims" --dtypes bf16 --jobs 5 > "$OUT/warm_${e// /_}.txt" 2>&1 & bg+=($!)
done
env $H=1 $P=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --determinism 20 > "$OUT/determinism.txt" 2>&1 & bg+=($!)
env $H=1 $P=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 120 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
  --check-dims "$dims" --check-cases "${HP_CASES:-12}" > "$OUT/check.txt" 2>&1
echo "check exit $?"; grep "^check" "$OUT/check.txt" | head -4 | cut -c1-300; stamp check
# Sanitizers on multi-step calls: `run` on D = 128 fp16, B = 1, Sq = Sk = 520, H = 4, Hk = 2 (5 key
# blocks x 9 query blocks x 2 heads per block), unmasked with two dQ buffers and causal with one;
# memcheck on --determinism 1 (D = 128 fp16 and D = 64 bf16 causal, GQA 8/2, Sq = 1000, Sk = 1100);
# racecheck on --sanitize (tile D = 64: D = 64 causal Sq = Sk = 130, D = 40 Sq = 65, Sk = 70).
python3 -c "
import numpy as np
r = np.random.default_rng(1)
for n, h in (('q', 4), ('k', 2), ('v', 2), ('do', 4)): np.save('/tmp/hp_' + n + '.npy', r.standard_normal((1, 520, h, 128)).astype(np.float16))
"
runsan() { local name=$1 tool=$2 args=$3; shift 3
  env "$@" FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 80 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa $args > "$OUT/san_$name.txt" 2>&1
  echo "$name exit $? $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/san_$name.txt" | tail -1) launches $(grep -c '^hopper-bwd' "$OUT/san_$name.txt")"; }
runargs() { echo "run --q /tmp/hp_q.npy --k /tmp/hp_k.npy --v /tmp/hp_v.npy --grad-out /tmp/hp_do.npy --dtype float16 --device cuda --dq $OUT/$1_dq.npy --dk $OUT/$1_dk.npy --dv $OUT/$1_dv.npy --out /tmp/$1_o.npy"; }
sp=()
runsan racecheck_pipe_dqbuf2_520 racecheck "$(runargs u520)" $H=1 $P=1 $B=2 & sp+=($!)
runsan racecheck_pipe_causal_520 racecheck "$(runargs c520) --causal" $H=1 $P=1 $B=1 & sp+=($!)
runsan memcheck_pipe_det memcheck "backward-bench --determinism 1" $H=1 $P=1 $B=1 & sp+=($!)
runsan racecheck_pipe_small racecheck "backward-bench --sanitize" $H=1 $P=1 $B=1 & sp+=($!)
wait "${sp[@]}"
stamp sanitize
wait "${bg[@]}"; grep -h "warm-bench" "$OUT"/warm_*.txt; grep "determinism" "$OUT/determinism.txt"
echo "determinism hopper launches: $(grep -c '^hopper-bwd' "$OUT/determinism.txt")"; stamp background
# Two rounds of old / pipe / pipe+dqbuf2, interleaved (a single sample drifts by up to 15 %).
for round in 1 2; do
  for mode in B P Q; do
    case $mode in B) e="$P=0 $B=1";; P) e="$P=1 $B=1";; Q) e="$P=1 $B=2";; esac
    env $H=1 $e timeout 90 /tmp/fa backward-bench --bench --csv "$OUT/bench$mode$round.csv" --head-dims "$dims" \
      --seqlens "$seqlens" --dtypes bf16 > "$OUT/bench$mode$round.txt" 2>&1
    echo "bench $mode$round exit $?"; stamp "bench $mode$round"
  done
done
PYTHONUNBUFFERED=1 timeout 100 python3 scripts/bench_cuda_backward.py --ours "$OUT/benchP1.csv" --out "$OUT/torch.csv" --dims "$dims" \
  --seqlens "$seqlens" --dtypes bf16 > "$OUT/table.txt" 2>"$OUT/torch_err.txt"
echo "torch exit $?"; stamp torch
python3 - "$OUT" <<'PY' | tee "$OUT/summary_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal")): r for r in csv.DictReader(open(path))}
tr = load("torch.csv")
f = lambda rows, k, c="tflops": float(rows.get(k, {}).get(c) or "nan")
def mean(mode, k):
    v = [f(load(f"bench{mode}{r}.csv"), k) for r in (1, 2)]
    v = [x for x in v if x == x]
    return sum(v) / len(v) if v else float("nan"), "/".join(f"{x:.0f}" for x in v)
print("dtype D N causal | old pipe pipe+dqbuf2 (mean of 2 rounds) FA2 cuDNN | pipe/old both/old best/cuDNN | rounds old; pipe; both")
for k in sorted(load("benchP1.csv"), key=lambda k: (k[0], int(k[1]), int(k[2]), k[3])):
    (o, ro), (p, rp), (q, rq) = mean("B", k), mean("P", k), mean("Q", k); fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    best = max(x for x in (o, p, q) if x == x)
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {o:.0f} {p:.0f} {q:.0f} {fa2:.0f} {cu:.0f} | {p/o:.3f} {q/o:.3f} {best/cu:.2f} | {ro}; {rp}; {rq}")
PY
grep -E "^pinned" "$OUT/check.txt"; echo "check hopper launches: $(grep -c '^hopper-bwd' "$OUT/check.txt")"
(cd "$OUT" && tar czf /tmp/hp-logs.tgz . && mv /tmp/hp-logs.tgz logs.tgz)
