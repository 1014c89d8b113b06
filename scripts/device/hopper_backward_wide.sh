#!/usr/bin/env bash
# One device call for the wide Hopper backward (tile D = 256, D = 129…256; issue 9's backward bar
# at its widest gap). Modes: O = the 3-pass wgmma kernels (FLASH_ATTENTION_HOPPER_BWD256=0, the
# route before the wide kernel), N2 = the wide warp-specialised kernel with two Q stages and two
# dQ staging rounds (FLASH_ATTENTION_HOPPER_BWD256=1 ..._STAGES=2; since call 2 the second round is
# staged during the next step's first product), N1 = one Q stage, one 64 KB staging (the default
# since call 1: no knob). Call 1 (2026-11-27 00:44) ran HW_MODES="O N2 N1" with the in-step N2;
# call 2 runs HW_MODES="O N1 N2" HW_FP16=1; call 3 (the shipped rule: two stages unmasked from 4k)
# HW_SKIP=check HW_MODES="O D" HW_NCU_MODE=N2 HW_BUDGET=70 (D = no knob).
# Phase 1 (checks first): float64-oracle pinned dense cases at D 192/256 with the Hopper backward
# forced (both forms, launches counted), bitwise reruns, a random verify sweep with the wide kernel
# on, memcheck + racecheck (--kernel-name kns=flash_attention_backward_hopper) on small multi-step
# problems. Phase 2: bf16 D = 256 grid in O/N2/N1 beside PyTorch SDPA cuDNN and FA2 in the same
# call, ncu tensor-pipe utilisation of the wide kernel (--clock-control none); with HW_FP16=1 also
# the fp16 grid. HW_SKIP (words: check sanitize bench torch ncu) leaves steps out; HW_MODES picks
# the timed modes (default "O N2 N1"); HW_BUDGET (s, default 170) bounds the optional steps.
#   usage on the device: bash scripts/device/hopper_backward_wide.sh   (logs under $OUT)
# Expects .device-bwd2/flash-attn.gz.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
budget=${HW_BUDGET:-170}
modes=${HW_MODES:-"O N2 N1"}
H=FLASH_ATTENTION_HOPPER_BWD; W=FLASH_ATTENTION_HOPPER_BWD256; S=FLASH_ATTENTION_HOPPER_BWD256_STAGES
menv() { case $1 in O) echo "$W=0";; N2) echo "$W=1 $S=2";; N1) echo "$W=1 $S=1";; D) echo "";; esac; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
summary=()
python3 -c "
import numpy as np
r = np.random.default_rng(7)
for tag, sq, sk, d in (('a', 300, 320, 256), ('b', 257, 200, 232)):
    for n, s in (('q', (1, sq, 4, d)), ('k', (1, sk, 2, d)), ('v', (1, sk, 2, d)), ('do', (1, sq, 4, d))):
        np.save(f'/tmp/san{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
for n in ('q', 'k', 'v', 'do'): np.save('/tmp/nc_' + n + '.npy', r.standard_normal((1, 8192, 8, 256)).astype(np.float16))
"
sargs() { echo "run --q /tmp/san$1_q.npy --k /tmp/san$1_k.npy --v /tmp/san$1_v.npy --grad-out /tmp/san$1_do.npy --dtype $2 --device cuda $3 --dq /tmp/s_dq$4.npy --dk /tmp/s_dk$4.npy --dv /tmp/s_dv$4.npy --out /tmp/s_o$4.npy"; }

if want check; then
  ck=()
  for m in N2 N1; do
    env $H=1 $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
      --check-dims 192,256 --check-cases 12 --check-dense > "$OUT/check_$m.txt" 2>&1 & ck+=($!)
    env $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --determinism 10 > "$OUT/det_$m.txt" 2>&1 & ck+=($!)
  done
  # The random sweep with no knob (the shipped routes, the wide kernel for D = 129…256).
  ( env $(menv D) timeout 60 /tmp/fa backward-bench --warm-verify 40 --seed ${HW_SEED:-11} --jobs 8 > "$OUT/verify_warm.txt" 2>&1
    env $(menv D) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 120 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 40 --seed ${HW_SEED:-11} \
      > "$OUT/verify_D.txt" 2>&1 ) & ck+=($!)
  if want sanitize; then
    # 300 queries x 320 keys GQA 4/2 at D = 256 (5 key blocks, 5 query blocks x 2 heads: 10 steps, 5-block
    # turn chains), causal bf16; 257 x 200 at D = 232 (tile 256, zero-filled columns), unmasked fp16.
    for m in N2 N1; do
      for tool in memcheck racecheck; do
        env $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
          --error-exitcode 9 /tmp/fa $(sargs a bfloat16 --causal a$m$tool) > "$OUT/san_${tool}_${m}_d256c.txt" 2>&1 & ck+=($!)
        env $(menv $m) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
          --error-exitcode 9 /tmp/fa $(sargs b float16 "" b$m$tool) > "$OUT/san_${tool}_${m}_d232.txt" 2>&1 & ck+=($!)
      done
    done
  fi
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  for m in N2 N1; do
    summary+=("$m forced: $(grep '^pinned' "$OUT/check_$m.txt"); wide launches $(grep -c 'hbwd_dkdv.*d256' "$OUT/check_$m.txt") of $(grep -c 'hopper-bwd' "$OUT/check_$m.txt") Hopper launches")
    summary+=("$m: $(grep '^determinism:' "$OUT/det_$m.txt") ($(grep -c 'hbwd_dkdv.*d256' "$OUT/det_$m.txt") wide launches); $(grep 'D=256' "$OUT/det_$m.txt" | head -1)")
  done
  summary+=("verify, no knob (seed ${HW_SEED:-11}, 40 cases): $(tail -2 "$OUT/verify_D.txt" | tr '\n' ' '); wide launches $(grep -c 'hbwd_dkdv.*d256' "$OUT/verify_D.txt")")
  for f in "$OUT"/san_*.txt; do
    [ -e "$f" ] || continue
    summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); wide launches $(grep -c 'hbwd_dkdv.*d256' $f); exit $(grep -c 'Error' $f)")
  done
  printf '%s\n' "${summary[@]}"
fi

# Phase 2: timings (nothing else on the GPU).
bench() {  # mode dtypes tag
  env $(menv $1) timeout 90 /tmp/fa backward-bench --bench --csv "$OUT/bench_$1_$3.csv" --head-dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes $2 > "$OUT/bench_$1_$3.txt" 2>&1
  stamp "bench $1 $3 exit $?"
}
if want bench; then
  for m in $modes; do bench $m bf16 r1; done
fi
if want torch; then
  ours=$(ls "$OUT"/bench_*_r1.csv 2>/dev/null | tail -1)
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours "$ours" --out "$OUT/torch_bf16.csv" --dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes bf16 > "$OUT/torch_bf16.txt" 2>&1
  stamp "torch bf16"
fi
if want ncu && [ "$(el)" -lt $((budget - 30)) ]; then
  # The wide kernel (second Hopper launch: preprocess, key/value, convert), D = 256 N = 8k fp16 unmasked (B = 1, H = 8).
  nargs="run --q /tmp/nc_q.npy --k /tmp/nc_k.npy --v /tmp/nc_v.npy --grad-out /tmp/nc_do.npy --dtype float16 --device cuda --dq /tmp/nc_dq.npy --dk /tmp/nc_dk.npy --dv /tmp/nc_dv.npy --out /tmp/nc_o.npy"
  env $(menv ${HW_NCU_MODE:-D}) timeout 40 "$ncu" --clock-control none --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
    --metrics sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum,smsp__warps_issue_stalled_barrier.avg,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__warps_issue_stalled_long_scoreboard.avg,smsp__warps_issue_stalled_wait.avg \
    /tmp/fa $nargs > "$OUT/ncu.txt" 2>&1
  stamp "ncu ${HW_NCU_MODE:-D} exit $?"
fi
if [ "${HW_FP16:-0}" = 1 ] && want bench; then
  for m in $modes; do [ "$(el)" -lt $((budget - 20)) ] && bench $m fp16 f1; done
  ours=$(ls "$OUT"/bench_*_f1.csv 2>/dev/null | tail -1)
  [ "$(el)" -lt $((budget - 25)) ] && { PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours "$ours" \
    --out "$OUT/torch_fp16.csv" --dims 256 --seqlens 512,1024,2048,4096,8192,16384 --dtypes fp16 > "$OUT/torch_fp16.txt" 2>&1; stamp "torch fp16"; }
fi
if want bench; then
  for m in $modes; do
    [ "$(el)" -lt $((budget - 20)) ] || { stamp "round 2 $m skipped (budget)"; continue; }
    bench $m bf16 r2
  done
fi
python3 - "$OUT" "$modes" <<'PY' | tee "$OUT/summary_table.txt"
import csv, os, sys
out, modes = sys.argv[1], sys.argv[2].split()
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal")): r for r in csv.DictReader(open(path))}
tr = {**load("torch_bf16.csv"), **load("torch_fp16.csv")}
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
def best(m, k):
    xs = [f(d, k) for d in runs[m] if k in d]
    xs = [x for x in xs if x == x]
    return max(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
print("dtype D N causal | " + " ".join(modes) + " (max of rounds) | FA2 cuDNN | " + " ".join(f"{m}/cuDNN" for m in modes)
      + " | " + " ".join(f"{m}/O" for m in modes if m != "O") + " | r1/r2 " + " ".join(modes))
for k in keys:
    v = [best(m, k) for m in modes]; fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    o = best("O", k) if "O" in modes else float("nan")
    rr = " ".join(f"{f(runs[m][0], k):.0f}/{f(runs[m][1], k):.0f}" for m in modes)
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {fa2:.0f} {cu:.0f} | "
          + " ".join(f"{x / cu:.2f}" for x in v) + " | " + " ".join(f"{best(m, k) / o:.2f}" for m in modes if m != "O") + f" | {rr}")
PY
echo "ncu ${HW_NCU_MODE:-D}: $(grep -E 'hmma|duration|barrier|issue_active|scoreboard|stalled_wait' "$OUT/ncu.txt" 2>/dev/null | awk '{print $1, $(NF)}' | tr '\n' ' ')"
echo "=== summary"; printf '%s\n' "${summary[@]}"
stamp done
# Everything in one archive (the reply brings back a limited number of files).
( cd "$OUT" && tar czf /tmp/hbwd_wide_logs.tgz --exclude='*.npy' . && find . -maxdepth 1 -type f ! -name summary_table.txt -delete && mv /tmp/hbwd_wide_logs.tgz . )
