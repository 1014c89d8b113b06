#!/usr/bin/env bash
# One device call for the Hopper TMA warp-specialised backward (FLASH_ATTENTION_HOPPER_BWD=1):
# float64-oracle cases pinned to head dims it takes, determinism, compute-sanitizer memcheck and
# racecheck on its kernels, then bf16/fp16 timings new vs old (FLASH_ATTENTION_HOPPER_BWD=0)
# beside PyTorch's flash (FA2) and cuDNN backward. Logs under $OUT; summary last.
#   usage on the device: bash scripts/device/hopper_backward.sh
# Environment: HB_SKIP (words: check determinism sanitize bench torch), HB_SEQLENS, HB_DTYPES,
# HB_DIMS (bench head dims, default 128), HB_CASES (pinned cases per head dim and type),
# HB_DET (the determinism line to report, default "D=128 float16 none"), HB_SAN_PROBLEMS=1
# (sanitize `backward-bench --sanitize`'s problems instead of pinned cases: D = 64 causal
# Sq = Sk = 130 GQA 4/2 is a multi-step call of tile D = 64), HB_FAST=1 (determinism and the
# grid's compiles run in the background beside the checks, so a call stays short).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HB_SKIP:-} "
seqlens=${HB_SEQLENS:-512,2048,8192,16384}; dtypes=${HB_DTYPES:-bf16}; dims=${HB_DIMS:-128}
det=${HB_DET:-D=128 float16 none}
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
bg=()
if [[ ${HB_FAST:-0} = 1 ]]; then
  # CPU-side compiles of the grid's 3-pass kernels, and the determinism reruns (bitwise, so
  # sharing the GPU is harmless), beside the oracle checks; both finish before any timing.
  timeout 150 /tmp/fa backward-bench --warm-bench --head-dims "$dims" --dtypes "$dtypes" --jobs 8 > "$OUT/warm.txt" 2>&1 & bg+=($!)
  if [[ $skip != *" determinism "* ]]; then
    FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 timeout 150 /tmp/fa backward-bench --determinism 20 > "$OUT/determinism.txt" 2>&1 & bg+=($!)
    skip="$skip determinism "; det_bg=1
  fi
fi
if [[ $skip != *" check "* ]]; then
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 timeout 120 /tmp/fa backward-bench --warm-verify 0 --jobs 8 --check-dims "${HB_CHECK_DIMS:-128,96}" --check-cases "${HB_CASES:-16}" > "$OUT/check.txt" 2>&1
  code=$?; echo "check exit $code"; [ $code = 124 ] && skip="$skip determinism sanitize bench torch "; grep "^check" "$OUT/check.txt" | head -6 | cut -c1-400
  summary+=("$(grep '^pinned' "$OUT/check.txt"); Hopper backward launches: $(grep -c '^hopper-bwd' "$OUT/check.txt")")
  stamp check
fi
if [[ $skip != *" determinism "* ]]; then
  FLASH_ATTENTION_HOPPER_BWD=1 timeout 60 /tmp/fa backward-bench --determinism 30 > "$OUT/determinism.txt" 2>&1
  echo "determinism exit $?"; grep "$det" "$OUT/determinism.txt"
  summary+=("$(grep "$det" "$OUT/determinism.txt")")
  if [[ " ${HB_BENCH_MODES:-} " == *" 2 "* ]]; then
    FLASH_ATTENTION_HOPPER_BWD_DQBUF=2 FLASH_ATTENTION_HOPPER_BWD=1 timeout 60 /tmp/fa backward-bench --determinism 30 > "$OUT/determinism2.txt" 2>&1
    summary+=("dqbuf2: $(grep 'D=128 float16 none' "$OUT/determinism2.txt")")
    FLASH_ATTENTION_HOPPER_BWD_DQBUF=2 FLASH_ATTENTION_HOPPER_BWD=1 timeout 60 /tmp/fa backward-bench --check-dims 128 --check-cases 8 > "$OUT/check2.txt" 2>&1
    summary+=("dqbuf2: $(grep '^pinned' "$OUT/check2.txt")")
  fi
  stamp determinism
fi
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  for tool in ${HB_SANITIZERS:-memcheck racecheck}; do
    if [[ ${HB_SAN_PROBLEMS:-0} = 1 ]]; then sargs=(--sanitize); else sargs=(--check-dims 128 --check-cases "${HB_SAN_CASES:-3}"); fi
    FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 timeout 90 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa backward-bench "${sargs[@]}" > "$OUT/sanitize_$tool.txt" 2>&1
    code=$?; echo "$tool exit $code"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|pinned|^sanitize|^hopper-bwd" "$OUT/sanitize_$tool.txt" | head -10
    summary+=("$tool: exit $code, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize_$tool.txt" | tail -1), Hopper launches $(grep -c '^hopper-bwd' "$OUT/sanitize_$tool.txt")")
  done
  stamp sanitize
fi
if (( ${#bg[@]} )); then
  wait "${bg[@]}"; head -3 "$OUT/warm.txt"
  if [[ ${det_bg:-0} = 1 ]]; then
    grep "determinism" "$OUT/determinism.txt"; summary+=("$(grep "$det" "$OUT/determinism.txt"); Hopper launches in the reruns: $(grep -c '^hopper-bwd' "$OUT/determinism.txt")")
  fi
  stamp background
fi
if [[ $skip != *" bench "* ]]; then
  # 1: the Hopper backward, 0: the 3-pass backward, 2: Hopper with two dQ buffers (bf16),
  # U: Hopper with dQ added in arrival order (bf16, non-deterministic calls).
  for mode in ${HB_BENCH_MODES:-1 0}; do
    case $mode in
      1|0) env=(FLASH_ATTENTION_HOPPER_BWD=$mode); types=$dtypes; extra=() ;;
      2) env=(FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_DQBUF=2); types=bf16; extra=() ;;
      U) env=(FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_DQ=unordered); types=bf16; extra=(--nondeterministic) ;;
    esac
    env "${env[@]}" timeout 90 /tmp/fa backward-bench --bench "${extra[@]}" --csv "$OUT/bench$mode.csv" --head-dims "$dims" \
      --seqlens "$seqlens" --dtypes "$types" > "$OUT/bench$mode.txt" 2>&1
    echo "bench $mode exit $?"; stamp "bench $mode"
  done
  stamp bench
fi
if [[ $skip != *" torch "* ]]; then
  PYTHONUNBUFFERED=1 timeout 120 python3 scripts/bench_cuda_backward.py --ours "$OUT/bench1.csv" --out "$OUT/torch.csv" --dims "$dims" \
    --seqlens "$seqlens" --dtypes "${HB_TORCH_DTYPES:-$dtypes}" > "$OUT/table.txt" 2>"$OUT/torch_err.txt"
  echo "torch exit $?"
  stamp torch
fi
# new | old | FA2 | cuDNN per point (TFLOP/s), from the three CSVs.
python3 - "$OUT" <<'EOF' | tee "$OUT/summary_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(name):
    rows = {}
    path = os.path.join(out, name)
    if not os.path.exists(path): return rows
    for r in csv.DictReader(open(path)):
        rows[(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal"))] = r
    return rows
new, old, torch_rows, unordered, buf2 = load("bench1.csv"), load("bench0.csv"), load("torch.csv"), load("benchU.csv"), load("bench2.csv")
print("dtype D N causal | new old FA2 cuDNN dqbuf2 unordered | new/old new/FA2 new/cuDNN")
for key in sorted(new, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3])):
    n = float(new[key]["tflops"]); o = float(old[key]["tflops"]) if key in old else float("nan")
    t = torch_rows.get(key, {})
    fa2 = float(t.get("flash") or "nan"); cu = float(t.get("cudnn") or "nan")
    u = float(unordered[key]["tflops"]) if key in unordered else float("nan")
    b2 = float(buf2[key]["tflops"]) if key in buf2 else float("nan")
    print(f"{key[0]} {key[1]} {key[2]} {key[3]} | {n:.0f} {o:.0f} {fa2:.0f} {cu:.0f} {b2:.0f} {u:.0f} | {n/o:.2f} {n/fa2:.2f} {n/cu:.2f}")
EOF
printf '%s\n' "${summary[@]}"
(cd "$OUT" && tar czf /tmp/hb-logs.tgz . ; find . -maxdepth 1 -type f ! -name summary_table.txt ! -name table.txt ! -name torch.csv ! -name 'bench?.csv' ! -name summary_table.txt -delete; mv /tmp/hb-logs.tgz logs.tgz)
