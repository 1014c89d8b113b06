#!/usr/bin/env bash
# Session 7, hopbwd11: out-of-phase (ping-pong) consumers in the tile D = 128 Hopper backward
# (P = FLASH_ATTENTION_HOPPER_BWD_PINGPONG=1: each consumer warpgroup computes its own dQ_partial over its
# own 64 keys and all 128 columns, so no barrier between the warpgroups remains inside a step; named
# barriers give them turns to issue Sᵀ and dPᵀ; warpgroup 1 adds its partial into warpgroup 0's staged one,
# fixed order, before the writer's one ordered add).
# Phase 1 (P forced with FLASH_ATTENTION_HOPPER_BWD=1, launches counted): float64-oracle pinned dense cases at
# D 128/96 (deterministic and non-deterministic calls), bitwise reruns, memcheck + racecheck on small
# multi-block D = 128 problems (dense and causal; kns=flash_attention_backward_hopper).
# Phase 2: backward-bench D = 128, N = 1k…8k, causal and not: O = defaults, P = ping-pong; bf16 two
# interleaved rounds (O P P O), fp16 one (O P); PyTorch SDPA cuDNN/FA2 on the same grid last.
# HW_SKIP (words: check sanitize fp16 round2 torch), HW_BUDGET (s, default 95) bounds optional steps.
#   usage on the device: bash scripts/device/hopper_bwd11.sh   (expects .device-dec5/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-dec5/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
budget=${HW_BUDGET:-95}   # a bench step starts only before t = budget s
H=FLASH_ATTENTION_HOPPER_BWD; P=FLASH_ATTENTION_HOPPER_BWD_PINGPONG; L=FLASH_ATTENTION_HOPPER_BWD_LOG
menv() { case $1 in O) echo "$P=0";; P) echo "$P=1";; esac; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
python3 -c "
import numpy as np
r = np.random.default_rng(5)
for tag, (sq, sk, h, hk, d) in {'b': (200, 260, 4, 2, 128), 'c': (330, 300, 2, 1, 96)}.items():
    for n, s in (('q', (1, sq, h, d)), ('k', (1, sk, hk, d)), ('v', (1, sk, hk, d)), ('do', (1, sq, h, d))):
        np.save(f'/tmp/s{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
SEQ=${HW_SEQLENS:-1024,2048,4096,8192}
if want check; then
  ck=()
  env $H=1 $P=1 $L=1 timeout 60 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense \
    > "$OUT/check_P.txt" 2>&1 & ck+=($!)
  env $H=1 $P=1 $L=1 timeout 60 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense \
    --nondeterministic > "$OUT/check_P_nd.txt" 2>&1 & ck+=($!)
  env $H=1 $P=1 $L=1 timeout 60 /tmp/fa backward-bench --determinism 10 > "$OUT/det_P.txt" 2>&1 & ck+=($!)
  if want sanitize; then
    for tool in memcheck racecheck; do
      for pc in b:dense c:causal; do
        t=${pc%%:*}; c=${pc#*:}; flag=""; [[ $c = causal ]] && flag="--causal"
        env $H=1 $P=1 $L=1 timeout 60 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
          /tmp/fa run --q /tmp/s${t}_q.npy --k /tmp/s${t}_k.npy --v /tmp/s${t}_v.npy --grad-out /tmp/s${t}_do.npy --dtype float16 --device cuda $flag \
          --out /tmp/so_$tool$t.npy --dq /tmp/sdq_$tool$t.npy --dk /tmp/sdk_$tool$t.npy --dv /tmp/sdv_$tool$t.npy \
          > "$OUT/san_${tool}_$t$c.txt" 2>&1 & ck+=($!)
      done
    done
  fi
  for m in O P; do   # compile the timed kernels meanwhile
    env $(menv $m) timeout 60 /tmp/fa backward-bench --bench --head-dims 128 --dtypes bf16,fp16 --seqlens 1024,2048 --iterations 1 \
      > "$OUT/warm_$m.txt" 2>&1 & ck+=($!)
  done
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  summary+=("P forced check-dense: $(grep '^pinned' "$OUT/check_P.txt"); Hopper launches $(grep -c 'hopper-bwd' "$OUT/check_P.txt"), pp $(grep -c '_pp_' "$OUT/check_P.txt")")
  summary+=("P forced check-dense nondet: $(grep '^pinned' "$OUT/check_P_nd.txt"); Hopper launches $(grep -c 'hopper-bwd' "$OUT/check_P_nd.txt"), pp $(grep -c '_pp_' "$OUT/check_P_nd.txt")")
  summary+=("P forced: $(grep '^determinism:' "$OUT/det_P.txt"); Hopper launches $(grep -c 'hopper-bwd' "$OUT/det_P.txt"), pp $(grep -c '_pp_' "$OUT/det_P.txt")")
  for f in "$OUT"/san_*.txt; do
    [ -e "$f" ] || continue
    summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); Hopper launches $(grep -c 'hopper-bwd' $f), pp $(grep -c '_pp_' $f)")
  done
  printf '%s\n' "${summary[@]}"
fi
bench() {  # mode dtypes tag
  [ "$(el)" -lt "$budget" ] || { stamp "bench $1 $3 skipped (budget)"; return; }
  env $(menv $1) timeout 30 /tmp/fa backward-bench --bench --csv "$OUT/bench_$1_$3.csv" --head-dims 128 \
    --seqlens $SEQ --dtypes $2 > "$OUT/bench_$1_$3.txt" 2>&1
  stamp "bench $1 $3 exit $?"
}
bench O bf16 r1; bench P bf16 r1
# cuDNN right after the first round (the call's cap may cut the rest): bf16 and fp16.
if want torch && [ "$(el)" -lt "${HW_TORCH_BY:-90}" ]; then
  PYTHONUNBUFFERED=1 timeout 30 python3 scripts/bench_cuda_backward.py --ours "$OUT/bench_O_r1.csv" --out "$OUT/torch.csv" --dims 128 \
    --seqlens $SEQ --dtypes bf16,fp16 > "$OUT/torch.txt" 2>&1
  stamp "torch exit $?"
fi
want round2 && { bench P bf16 r2; bench O bf16 r2; }
want fp16 && { bench O fp16 f1; bench P fp16 f1; }
python3 - "$OUT" <<'PY' | tee "$OUT/summary_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p): return {}
    return {(r["dtype"], r["headdim"], r["seqlen"], r["causal"]): r for r in csv.DictReader(open(p))}
tr = load("torch.csv")
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
modes = ["O", "P"]
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
def mean(m, k):
    xs = [f(d, k) for d in runs[m] if k in d]
    xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
print("dtype D N causal | O P (mean of rounds) | FA2 cuDNN | O/cuDNN P/cuDNN | P/O | r1/r2 O P | P kernel")
for k in keys:
    v = [mean(m, k) for m in modes]; fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    rr = " ".join(f"{f(runs[m][0], k):.0f}/{f(runs[m][1], k):.0f}" for m in modes)
    kern = next((d[k].get("variant", "") for d in runs["P"] if k in d), "")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {fa2:.0f} {cu:.0f} | {v[0]/cu:.2f} {v[1]/cu:.2f} | "
          + f"{v[1]/v[0]:.3f} | {rr} | {'pp' if '_pp_' in kern else kern[:40]}")
PY
echo "=== summary"; printf '%s\n' "${summary[@]}"
stamp done
