#!/usr/bin/env bash
# One device call: tile shapes × dQ modes for the CUDA backward at D = 64 and 128 (bf16,
# N = 2k and 16k, causal and not), the best shape per (D, mode) by summed TFLOP/s, then the
# bf16 grid of each mode with its best shapes beside PyTorch's flash and cuDNN backward, and
# oracle / determinism / sanitizer checks of the picked shapes.
#   usage on the device: bash scripts/device/backward_sweep.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
# Candidate shapes per D: (dQ pass blockM x blockN, warps / dK-dV pass blockN x blockM, warps)
declare -A cands=(
  [64]="128x128w8/128x64w8 64x128w4/64x64w4 128x128w8/64x64w4"
  [128]="128x128w8/128x64w8 64x64w4/64x64w4 128x128w8/64x64w4"
)
for D in 64 128; do for c in ${cands[$D]}; do
  FLASH_ATTENTION_BWD_TILES="$D:$c" timeout 60 /tmp/fa backward-bench --warm-bench --head-dims $D --dtypes bf16 --jobs 16 | tail -1
done; done
stamp warm
declare -A best bestsum
for D in 64 128; do for mode in separate ordered atomic; do
  bestsum[$D$mode]=0
  for c in ${cands[$D]}; do
    extra=""; [ $mode = atomic ] && extra="--nondeterministic"
    sum=$(FLASH_ATTENTION_BWD_DQ=$mode FLASH_ATTENTION_BWD_TILES="$D:$c" timeout 60 /tmp/fa backward-bench --bench $extra --head-dims $D \
      --seqlens 2048,16384 --dtypes bf16 --iterations 5 2>&1 | tee -a "$OUT/sweep.txt" | awk '/TFLOP/ {s += $(NF-1)} END {printf "%.0f", s}')
    echo "sweep D=$D $mode $c: $sum" | tee -a "$OUT/sweep_summary.txt"
    if [ "${sum:-0}" -gt "${bestsum[$D$mode]}" ]; then bestsum[$D$mode]=$sum; best[$D$mode]=$c; fi
  done
done; done
stamp sweep
for mode in separate ordered atomic; do
  tiles="64:${best[64$mode]},128:${best[128$mode]}"; echo "picked $mode: $tiles" | tee -a "$OUT/sweep_summary.txt"
  extra=""; [ $mode = atomic ] && extra="--nondeterministic"
  FLASH_ATTENTION_BWD_DQ=$mode FLASH_ATTENTION_BWD_TILES="$tiles" timeout 120 /tmp/fa backward-bench --bench $extra --csv "$OUT/ours_$mode.csv" \
    --head-dims 64,128 --dtypes bf16 > "$OUT/bench_$mode.txt" 2>&1; echo "grid $mode exit $?"
done
stamp grid
PYTHONUNBUFFERED=1 timeout 120 python3 scripts/bench_cuda_backward.py --ours "$OUT/ours_separate.csv" --out "$OUT/torch.csv" --dims 64,128 \
  --dtypes bf16 > "$OUT/table_separate.txt" 2>"$OUT/torch_err.txt"; echo "torch exit $?"
stamp torch
for mode in ordered atomic; do
  tiles="64:${best[64$mode]},128:${best[128$mode]}"
  FLASH_ATTENTION_BWD_DQ=$mode FLASH_ATTENTION_BWD_TILES="$tiles" timeout 90 /tmp/fa backward-bench --warm-verify 40 --check-dims 64,128 --check-cases 8 > "$OUT/check_$mode.txt" 2>&1
  echo "check $mode ($tiles): $(grep '^pinned' "$OUT/check_$mode.txt")" | tee -a "$OUT/sweep_summary.txt"; grep "^check" "$OUT/check_$mode.txt" | head -3 | cut -c1-300
done
tiles="64:${best[64ordered]},128:${best[128ordered]}"
FLASH_ATTENTION_BWD_DQ=ordered FLASH_ATTENTION_BWD_TILES="$tiles" timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 40 > "$OUT/verify_ordered.txt" 2>&1
echo "verify ordered: $(tail -1 "$OUT/verify_ordered.txt")" | tee -a "$OUT/sweep_summary.txt"
tiles="64:${best[64ordered]},128:${best[128ordered]}"
FLASH_ATTENTION_BWD_DQ=ordered FLASH_ATTENTION_BWD_TILES="$tiles" timeout 60 /tmp/fa backward-bench --determinism 50 > "$OUT/determinism.txt" 2>&1
echo "ordered $(tail -1 "$OUT/determinism.txt")" | tee -a "$OUT/sweep_summary.txt"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for mt in ordered:memcheck ordered:racecheck atomic:memcheck; do mode=${mt%:*}; tool=${mt#*:}; {
  tiles="64:${best[64$mode]},128:${best[128$mode]}"
  FLASH_ATTENTION_BWD_DQ=$mode FLASH_ATTENTION_BWD_TILES="$tiles" timeout 90 "$san" --tool $tool --kernel-name kns=flash_attention_backward --error-exitcode 9 \
    /tmp/fa backward-bench --sanitize > "$OUT/sanitize_${mode}_$tool.txt" 2>&1
  echo "$mode $tool: exit $?, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize_${mode}_$tool.txt" | tail -1)" | tee -a "$OUT/sweep_summary.txt"
}; done
stamp checks
python3 - "$OUT" <<'PY' | tee "$OUT/grid_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(path):
    if not os.path.exists(path): return {}
    return {(r["dtype"], r["headdim"], r["seqlen"], r["causal"]): r for r in csv.DictReader(open(path))}
modes = {m: load(f"{out}/ours_{m}.csv") for m in ("separate", "ordered", "atomic")}
torch = load(f"{out}/torch.csv")
print("| dtype | D | N | causal | separate | ordered | atomic | FA2 | cuDNN | ordered/atomic | separate/FA2 | ordered/FA2 | atomic/FA2 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def f(r): return float(r["tflops"]) if r else float("nan")
for k in modes["separate"]:
    s, o, a = (f(modes[m].get(k)) for m in ("separate", "ordered", "atomic"))
    t = torch.get(k)
    fa, cu = (float(t["flash"]), float(t["cudnn"])) if t else (float("nan"), float("nan"))
    print(f"| {k[0]} | {k[1]} | {k[2]} | {'yes' if k[3] == '1' else 'no'} | {s:.0f} | {o:.0f} | {a:.0f} | {fa:.0f} | {cu:.0f} | {o/a:.2f} | {s/fa:.2f} | {o/fa:.2f} | {a/fa:.2f} |")
PY
cat "$OUT/sweep_summary.txt"
(cd "$OUT" && tar czf /tmp/bwd-logs.tgz . ; find . -maxdepth 1 -type f ! -name grid_table.txt ! -name sweep_summary.txt ! -name 'ours_*.csv' ! -name torch.csv -delete; mv /tmp/bwd-logs.tgz logs.tgz)
