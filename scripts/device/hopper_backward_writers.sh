#!/usr/bin/env bash
# One device call for the Hopper backward's dQ writers (issue 9's backward bar): a writer thread
# per dQ buffer (FLASH_ATTENTION_HOPPER_BWD_DQBUF=2 FLASH_ATTENTION_HOPPER_BWD_DQWRITERS=2, "w2")
# checked with it forced (pinned float64-oracle cases, test_large.py ordered and unordered,
# bitwise reruns, memcheck + racecheck over multi-step chains; with DQ=unordered the runtime keeps one
# writer, so those runs check the arrival-order writer with two buffers), then the bf16 grid in both
# determinism modes beside FA2 and cuDNN, a few fp16 points, and ncu on one D = 128 point.
#   usage on the device: bash scripts/device/hopper_backward_writers.sh   (logs under $OUT)
# Expects .device-bwd2/flash-attn.gz and .device-bwd2/libflashattention.so.
# HW_SKIP (words: check large sanitize bench torch ncu) leaves steps out.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
export FLASH_ATTENTION_LIB=$PWD/.device-bwd2/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
H=FLASH_ATTENTION_HOPPER_BWD; B=FLASH_ATTENTION_HOPPER_BWD_DQBUF; W=FLASH_ATTENTION_HOPPER_BWD_DQWRITERS; Q=FLASH_ATTENTION_HOPPER_BWD_DQ
W2="$B=2 $W=2"
seqlens=${HW_SEQLENS:-512,1024,2048,4096,8192,16384}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
# Modes timed: 1 = shipped defaults (deterministic), W = w2 everywhere at tile D = 128 (deterministic),
# U = shipped buffers, dQ in arrival order (non-deterministic calls), V = U with one dQ buffer.
menv() { case $1 in 1) echo "";; W) echo "$W2";; U) echo "$Q=unordered";; V) echo "$Q=unordered $B=1";; esac; }
mflag() { case $1 in U|V) echo "--nondeterministic";; esac; }
bg=()
# Compiles (3-pass grid kernels; each mode's Hopper kernels through a short bench) beside the checks.
want bench && { timeout 200 /tmp/fa backward-bench --warm-bench --head-dims 64,128,256 --dtypes bf16,fp16 --jobs 6 > "$OUT/warm.txt" 2>&1 & bg+=($!); }
for m in 1 W U V; do
  want bench || break
  env $(menv $m) timeout 200 /tmp/fa backward-bench --bench $(mflag $m) --head-dims 64,128 --seqlens 1024,2048 --dtypes bf16 --iterations 1 > "$OUT/warm_$m.txt" 2>&1 & bg+=($!)
done
want bench && { env $W2 timeout 200 /tmp/fa backward-bench --bench --head-dims 128 --seqlens 2048 --dtypes fp16 --iterations 1 > "$OUT/warm_fp16.txt" 2>&1 & bg+=($!); }
want check && { env $H=1 $W2 FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 200 /tmp/fa backward-bench --determinism 20 > "$OUT/determinism.txt" 2>&1 & bg+=($!); }
# Checks, all beside each other (correctness only; the timings start after they end).
ck=()
want check && { env $H=1 $W2 FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 240 /tmp/fa backward-bench --warm-verify 0 --jobs 8 \
    --check-dims 128,96 --check-cases 12 > "$OUT/check.txt" 2>&1 & ck+=($!); }
# The large oracle: ordered (flash_attn_func's deterministic=False overridden by DQ=ordered) and unordered, w2 forced.
for q in ordered unordered; do
  want large || break
  env $W2 $Q=$q FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 300 python3 -m pytest -q -s -p no:cacheprovider python/tests/test_large.py \
    -k "not 256" > "$OUT/large_$q.txt" 2>&1 & ck+=($!)
done
# Sanitizers: sanitize_hopper_backward.py (1000 queries x 1024 keys, GQA 4/2, dense and causal: 8-block
# turn chains), ordered and unordered with w2, memcheck and racecheck.
for tool in memcheck racecheck; do
  want sanitize || break
  for q in ordered unordered; do
    env $W2 $Q=$q FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 300 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/sanitize_hopper_backward.py > "$OUT/san_${tool}_$q.txt" 2>&1 & ck+=($!)
  done
done
# Bitwise reruns through Python with deterministic=True (w2 forced): D = 128 bf16, GQA 8/2, 1 x 1500 x 1700,
# dense and causal (14 key blocks x 24 query blocks per head).
want check && { env $W2 FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 200 python3 - > "$OUT/determinism_py.txt" 2>&1 <<'PYDET' & ck+=($!); }
import torch
from flash_attn import flash_attn_func
torch.manual_seed(0)
for causal in (False, True):
    q = torch.randn(1, 1500, 8, 128, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    k = torch.randn(1, 1700, 2, 128, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    v = torch.randn(1, 1700, 2, 128, dtype=torch.bfloat16, device="cuda", requires_grad=True)
    out = flash_attn_func(q, k, v, causal=causal, deterministic=True)
    do = torch.randn_like(out)
    first = torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    same = sum(all(torch.equal(a, b) for a, b in zip(first, torch.autograd.grad(out, (q, k, v), do, retain_graph=True))) for _ in range(15))
    print(f"determinism_py causal={causal}: {same}/15 bitwise identical")
PYDET
for pid in "${ck[@]}"; do wait $pid; done
want check && summary+=("$(grep '^determinism_py' "$OUT/determinism_py.txt" | tr '\n' ' ') w2 launches $(grep -c 'hopper-bwd.*w2' "$OUT/determinism_py.txt")")
want check && summary+=("w2 forced: $(grep '^pinned' "$OUT/check.txt"); launches $(grep -c '^hopper-bwd' "$OUT/check.txt")")
for q in ordered unordered; do
  want large && summary+=("test_large w2 $q: $(tail -1 "$OUT/large_$q.txt"); w2 launches $(grep -c 'hopper-bwd.*w2' "$OUT/large_$q.txt"), unordered $(grep -c 'hopper-bwd.*dqunordered' "$OUT/large_$q.txt")")
done
for f in "$OUT"/san_*.txt; do
  [ -f "$f" ] && summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); launches w2 $(grep -c '^hopper-bwd.*w2' $f), unordered $(grep -c '^hopper-bwd.*dqunordered' $f)")
done
stamp checks
for pid in "${bg[@]}"; do wait $pid; done
want check && summary+=("w2 forced: $(grep 'D=128 float16 none' "$OUT/determinism.txt"); $(grep '^determinism:' "$OUT/determinism.txt")")
stamp background
if want bench; then
  for m in 1 W U V; do
    dims=64,128; [[ $m = 1 ]] && dims=64,128,256; [[ $m = W || $m = V ]] && dims=128
    env $(menv $m) timeout 150 /tmp/fa backward-bench --bench $(mflag $m) --csv "$OUT/bench$m.csv" --head-dims $dims \
      --seqlens "$seqlens" --dtypes bf16 > "$OUT/bench$m.txt" 2>&1
    echo "bench $m exit $?"; stamp "bench $m"
  done
  for m in 1 W; do
    env $(menv $m) timeout 60 /tmp/fa backward-bench --bench --csv "$OUT/benchF$m.csv" --head-dims 128 --seqlens 2048,16384 \
      --dtypes fp16 > "$OUT/benchF$m.txt" 2>&1
  done
  stamp "bench fp16"
fi
if want torch; then
  PYTHONUNBUFFERED=1 timeout 150 python3 scripts/bench_cuda_backward.py --ours "$OUT/bench1.csv" --out "$OUT/torch.csv" --dims 64,128,256 \
    --seqlens "$seqlens" --dtypes bf16 > "$OUT/table.txt" 2>"$OUT/torch_err.txt"
  echo "torch exit $?"
  PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda_backward.py --ours "$OUT/benchF1.csv" --out "$OUT/torchF.csv" --dims 128 \
    --seqlens 2048,16384 --dtypes fp16 > "$OUT/tableF.txt" 2>>"$OUT/torch_err.txt"
  stamp torch
fi
# ncu: one D = 128 unmasked 8k point (fp16, B = 1, H = 16), the key/value kernel (second launch), shipped vs w2.
if want ncu; then
  python3 -c "
import numpy as np
r = np.random.default_rng(2)
for n in ('q', 'k', 'v', 'do'): np.save('/tmp/nc_' + n + '.npy', r.standard_normal((1, 8192, 16, 128)).astype(np.float16))
"
  args="run --q /tmp/nc_q.npy --k /tmp/nc_k.npy --v /tmp/nc_v.npy --grad-out /tmp/nc_do.npy --dtype float16 --device cuda --dq /tmp/nc_dq.npy --dk /tmp/nc_dk.npy --dv /tmp/nc_dv.npy --out /tmp/nc_o.npy"
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
  for m in 1 W; do
    env $(menv $m) timeout 120 "$ncu" --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
      --section SpeedOfLight --section WarpStateStats --section SchedulerStats \
      /tmp/fa $args > "$OUT/ncu_$m.txt" 2>&1
    echo "ncu $m exit $?"
  done
  stamp ncu
fi
python3 - "$OUT" <<'PY' | tee "$OUT/summary_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal")): r for r in csv.DictReader(open(path))}
tr = {**load("torch.csv"), **load("torchF.csv")}
rows = {m: {**load(f"bench{m}.csv"), **load(f"benchF{m}.csv")} for m in "1WUV"}
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
print("dtype D N causal | det: shipped w2 | nondet: unord unord-1buf | FA2 cuDNN | best det/cuDNN best nondet/cuDNN")
for k in sorted(rows["1"], key=lambda k: (k[0], int(k[1]), int(k[2]), k[3])):
    s, w, u, v = (f(rows[m], k) for m in "1WUV"); fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    bd = max(x for x in (s, w) if x == x); bn = max([x for x in (s, w, u, v) if x == x])
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {s:.0f} {w:.0f} | {u:.0f} {v:.0f} | {fa2:.0f} {cu:.0f} | {bd/cu:.2f} {bn/cu:.2f}")
PY
for m in 1 W; do
  echo "--- ncu $m"; grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|L2 Cache Throughput|Issue Slots Busy|No Eligible|Warp Cycles Per Issued|Stall|One or More Eligible" "$OUT/ncu_$m.txt" 2>/dev/null | head -14
done
echo "=== summary"; printf '%s\n' "${summary[@]}"
(cd "$OUT" && tar czf /tmp/hw-logs.tgz . && mv /tmp/hw-logs.tgz logs.tgz)
