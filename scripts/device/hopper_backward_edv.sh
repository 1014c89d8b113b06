#!/usr/bin/env bash
# One device call for the Hopper backward's product order (issue 9's backward bar, session 5):
#   S = shipped; E = dV's product issued right after the exponentials, ahead of dSᵀ
#   (FLASH_ATTENTION_HOPPER_BWD_EARLYDV=1); L = E plus dK's product behind dQ's, so dQ_partial is
#   staged while dK runs (FLASH_ATTENTION_HOPPER_BWD_LATEDK=1); P = pipelined Sᵀ (existing knob).
# E and L exist at tile D = 128 only (D 65…128; tile D = 64 keeps its order).
# Phase 1 (beside the compiles): E and L forced through the float64 oracle (--check-dense, D 128/96),
# bitwise reruns, a random verify sweep, memcheck + racecheck on multi-step problems. Phase 2: bf16
# D = 128 N = 1k…16k in every mode (two interleaved rounds if time allows), fp16 S/E/L, PyTorch
# SDPA cuDNN and flash in the same call, ncu tensor-pipe utilisation at D = 128 8k.
#   usage on the device: bash scripts/device/hopper_backward_edv.sh   (logs under $OUT)
# Expects .device-bwd2/flash-attn.gz. HW_BUDGET (s, default 200) bounds the optional steps.
# (Run once, 2026-11-26, before E + L became the unmasked default; the modes now set both knobs.)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
budget=${HW_BUDGET:-200}
H=FLASH_ATTENTION_HOPPER_BWD; E=FLASH_ATTENTION_HOPPER_BWD_EARLYDV; L=FLASH_ATTENTION_HOPPER_BWD_LATEDK; P=FLASH_ATTENTION_HOPPER_BWD_PIPE
menv() { case $1 in S) echo "$E=0 $L=0";; E) echo "$E=1 $L=0";; L) echo "$E=1 $L=1";; P) echo "$P=1 $E=0 $L=0";; esac; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
summary=()
python3 -c "
import numpy as np
r = np.random.default_rng(5)
for d in (96, 128):
    for n, s in (('q', (1, 1000, 4, d)), ('k', (1, 1024, 2, d)), ('v', (1, 1024, 2, d)), ('do', (1, 1000, 4, d))):
        np.save(f'/tmp/san{d}_{n}.npy', r.standard_normal(s).astype(np.float16))
for n in ('q', 'k', 'v', 'do'): np.save('/tmp/nc_' + n + '.npy', r.standard_normal((1, 8192, 16, 128)).astype(np.float16))
"
sargs() { echo "run --q /tmp/san$1_q.npy --k /tmp/san$1_k.npy --v /tmp/san$1_v.npy --grad-out /tmp/san$1_do.npy --dtype $2 --device cuda $3 --dq /tmp/s_dq$1$4.npy --dk /tmp/s_dk$1$4.npy --dv /tmp/s_dv$1$4.npy --out /tmp/s_o$1$4.npy"; }

# Phase 1: compiles (a short bench per mode) beside the checks.
ck=()
for m in S E L P; do
  env $(menv $m) timeout 150 /tmp/fa backward-bench --bench --head-dims 128 --seqlens 1024,2048 --dtypes bf16,fp16 --iterations 1 \
    > "$OUT/warm_$m.txt" 2>&1 & ck+=($!)
done
for m in E L; do
  env $H=1 $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 8 \
    --check-dims 128,96 --check-cases 12 --check-dense > "$OUT/check_$m.txt" 2>&1 & ck+=($!)
  env $H=1 $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --determinism 10 > "$OUT/det_$m.txt" 2>&1 & ck+=($!)
done
( env $H=1 $(menv L) timeout 60 /tmp/fa backward-bench --warm-verify 30 --seed 11 --jobs 8 > "$OUT/verify_warm.txt" 2>&1
  env $H=1 $(menv L) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 30 --seed 11 \
    > "$OUT/verify_L.txt" 2>&1 ) & ck+=($!)
# Sanitizers: 1000 queries x 1024 keys, GQA 4/2 (16 query blocks per key block, 8-block dQ turn chains),
# D = 128 causal (two writers, fp16) and D = 96 unmasked (tile 128, one writer, bf16), E and L forced.
for m in E L; do
  for tool in memcheck racecheck; do
    env $H=1 $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 /tmp/fa $(sargs 128 float16 --causal ${m}${tool}) > "$OUT/san_${tool}_${m}_d128c.txt" 2>&1 & ck+=($!)
    env $H=1 $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 /tmp/fa $(sargs 96 bfloat16 "" ${m}${tool}) > "$OUT/san_${tool}_${m}_d96.txt" 2>&1 & ck+=($!)
  done
done
for pid in "${ck[@]}"; do wait $pid; done
stamp "phase 1"
for m in E L; do
  summary+=("$m forced: $(grep '^pinned' "$OUT/check_$m.txt"); hbwd_dkdv launches $(grep -c 'hbwd_dkdv' "$OUT/check_$m.txt"), of them $m form $(grep -c "hbwd_dkdv.*edv" "$OUT/check_$m.txt")")
  summary+=("$m forced: $(grep '^determinism:' "$OUT/det_$m.txt") ($(grep -c 'hbwd_dkdv.*edv' "$OUT/det_$m.txt") $m launches)")
done
summary+=("verify L forced (seed 11): $(tail -2 "$OUT/verify_L.txt" | tr '\n' ' '); edv launches $(grep -c 'hbwd_dkdv.*edv' "$OUT/verify_L.txt")")
for f in "$OUT"/san_*.txt; do
  summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); edv launches $(grep -c 'hbwd_dkdv.*edv' $f)")
done
printf '%s\n' "${summary[@]}"

# Phase 2: timings (nothing else on the GPU).
bench() {  # mode dtypes tag
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --csv "$OUT/bench_$1_$3.csv" --head-dims 128 \
    --seqlens 1024,2048,4096,8192,16384 --dtypes $2 > "$OUT/bench_$1_$3.txt" 2>&1
  stamp "bench $1 $3 exit $?"
}
for m in S E L P; do bench $m bf16 r1; done
PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda_backward.py --ours "$OUT/bench_S_r1.csv" --out "$OUT/torch_bf16.csv" --dims 128 \
  --seqlens 1024,2048,4096,8192,16384 --dtypes bf16 > "$OUT/torch_bf16.txt" 2>&1
stamp "torch bf16"
for m in S E L; do bench $m fp16 f1; done
PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda_backward.py --ours "$OUT/bench_S_f1.csv" --out "$OUT/torch_fp16.csv" --dims 128 \
  --seqlens 1024,2048,4096,8192,16384 --dtypes fp16 > "$OUT/torch_fp16.txt" 2>&1
stamp "torch fp16"
# ncu: D = 128 unmasked 8k fp16 (B = 1, H = 16), the key/value kernel (second Hopper launch).
nargs="run --q /tmp/nc_q.npy --k /tmp/nc_k.npy --v /tmp/nc_v.npy --grad-out /tmp/nc_do.npy --dtype float16 --device cuda --dq /tmp/nc_dq.npy --dk /tmp/nc_dk.npy --dv /tmp/nc_dv.npy --out /tmp/nc_o.npy"
for m in S E L; do
  [ "$(el)" -lt $((budget - 30)) ] || { stamp "ncu $m skipped (budget)"; continue; }
  env $(menv $m) timeout 40 "$ncu" --clock-control none --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
    --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum,smsp__warps_issue_stalled_barrier.avg,smsp__issue_active.avg.pct_of_peak_sustained_active \
    /tmp/fa $nargs > "$OUT/ncu_$m.txt" 2>&1
  stamp "ncu $m exit $?"
done
for m in S E L P; do
  [ "$(el)" -lt $((budget - 25)) ] || { stamp "round 2 $m skipped (budget)"; continue; }
  bench $m bf16 r2
done
python3 - "$OUT" <<'PY' | tee "$OUT/summary_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal")): r for r in csv.DictReader(open(path))}
tr = {**load("torch_bf16.csv"), **load("torch_fp16.csv")}
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
modes = "SELP"
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
def best(m, k):
    xs = [f(d, k) for d in runs[m] if k in d]
    xs = [x for x in xs if x == x]
    return max(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
print("dtype D N causal | S E L P (max of rounds) | FA2 cuDNN | S/cuDNN E/cuDNN L/cuDNN P/cuDNN | r1/r2 S E L P")
for k in keys:
    v = [best(m, k) for m in modes]; fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    rr = " ".join(f"{f(runs[m][0], k):.0f}/{f(runs[m][1], k):.0f}" for m in modes)
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {fa2:.0f} {cu:.0f} | "
          + " ".join(f"{x / cu:.2f}" for x in v) + f" | {rr}")
PY
for m in S E L; do echo "ncu $m: $(grep -E 'hmma|duration|barrier|issue_active' "$OUT/ncu_$m.txt" 2>/dev/null | awk '{print $1, $(NF)}' | tr '\n' ' ')"; done
echo "=== summary"; printf '%s\n' "${summary[@]}"
stamp done
