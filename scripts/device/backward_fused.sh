#!/usr/bin/env bash
# One device call for the fused-dQ (5-product) backward: a smoke run under a short timeout
# (a turn-counter deadlock shows here), oracle checks of the ordered and atomic modes,
# 50-rerun determinism and compute-sanitizer on the ordered mode, then bf16 grid timings of
# the three dQ modes (separate pass, ordered, atomic) beside PyTorch's flash and cuDNN backward.
#   usage on the device: bash scripts/device/backward_fused.sh [verify-cases]
# Environment: FUSED_DIMS (default 64,128), FUSED_SEQLENS, FUSED_DTYPES (bf16), FUSED_SKIP
# (words: check determinism sanitize bench torch).
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-60}
gunzip -c .device-bwd/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
skip=" ${FUSED_SKIP:-} "
dims=${FUSED_DIMS:-64,128}; seqlens=${FUSED_SEQLENS:-512,1024,2048,4096,8192,16384}; dtypes=${FUSED_DTYPES:-bf16}
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
timeout 150 /tmp/fa backward-bench --warm-bench --head-dims "$dims" --dtypes "$dtypes" --jobs 16 2>&1 | tail -3
FLASH_ATTENTION_BWD_DQ=ordered-early timeout 60 /tmp/fa backward-bench --warm-bench --head-dims "$dims" --dtypes "$dtypes" --jobs 16 2>&1 | tail -1
stamp warm
ok=1
for mode in ordered atomic; do
  FLASH_ATTENTION_BWD_DQ=$mode timeout 30 /tmp/fa backward-bench --sanitize > "$OUT/smoke_$mode.txt" 2>&1
  code=$?; echo "smoke $mode exit $code"; head -4 "$OUT/smoke_$mode.txt" | cut -c1-300
  summary+=("smoke $mode: exit $code"); [ $code = 0 ] || ok=0
done
stamp smoke
if [ $ok = 1 ] && [[ $skip != *" check "* ]]; then
  for mode in ordered atomic; do
    FLASH_ATTENTION_BWD_DQ=$mode timeout 120 /tmp/fa backward-bench --warm-verify "$cases" --check-dims 64,128 --check-cases 8 --jobs 16 > "$OUT/check_$mode.txt" 2>&1
    echo "check $mode exit $?"; grep -v "^warm" "$OUT/check_$mode.txt" | head -5 | cut -c1-400
    summary+=("$mode: $(grep '^pinned' "$OUT/check_$mode.txt")")
  done
  FLASH_ATTENTION_BWD_DQ=ordered timeout 150 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases "$cases" > "$OUT/verify_ordered.txt" 2>&1
  echo "verify ordered exit $?"; grep '^#' "$OUT/verify_ordered.txt" | head -4 | cut -c1-400
  summary+=("verify ordered: $(tail -1 "$OUT/verify_ordered.txt")")
  stamp check
fi
if [ $ok = 1 ] && [[ $skip != *" determinism "* ]]; then
  FLASH_ATTENTION_BWD_DQ=ordered timeout 100 /tmp/fa backward-bench --determinism 50 > "$OUT/determinism.txt" 2>&1; echo "determinism exit $?"
  cat "$OUT/determinism.txt"; summary+=("ordered $(tail -1 "$OUT/determinism.txt")")
  FLASH_ATTENTION_BWD_DQ=atomic timeout 40 /tmp/fa backward-bench --determinism 5 > "$OUT/determinism_atomic.txt" 2>&1
  summary+=("atomic (for the record) $(tail -1 "$OUT/determinism_atomic.txt")")
  stamp determinism
fi
if [ $ok = 1 ] && [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  for tool in memcheck racecheck; do
    FLASH_ATTENTION_BWD_DQ=ordered timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_backward --error-exitcode 9 /tmp/fa backward-bench --sanitize > "$OUT/sanitize_$tool.txt" 2>&1
    code=$?; echo "$tool exit $code"; grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Error|Hazard" "$OUT/sanitize_$tool.txt" | head -4
    summary+=("ordered $tool: exit $code, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/sanitize_$tool.txt" | tail -1)")
  done
  grep unwritten "$OUT/sanitize_memcheck.txt" | cut -c1-250
  stamp sanitize
fi
if [[ $skip != *" bench "* ]]; then
  modes="separate"; [ $ok = 1 ] && modes="separate ordered ordered-early atomic"
  for mode in $modes; do
    extra=""; [ $mode = atomic ] && extra="--nondeterministic"
    lens=$seqlens; [ $mode = ordered-early ] && lens=${EARLY_SEQLENS:-2048,16384}
    FLASH_ATTENTION_BWD_DQ=$mode timeout 150 /tmp/fa backward-bench --bench $extra --csv "$OUT/ours_$mode.csv" --head-dims "$dims" \
      --seqlens "$lens" --dtypes "$dtypes" > "$OUT/bench_$mode.txt" 2>&1
    echo "bench $mode exit $?"
  done
  stamp bench
fi
if [[ $skip != *" torch "* ]]; then
  PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_cuda_backward.py --ours "$OUT/ours_separate.csv" --out "$OUT/torch.csv" --dims "$dims" \
    --seqlens "$seqlens" --dtypes "$dtypes" > "$OUT/table_separate.txt" 2>"$OUT/torch_err.txt"
  echo "torch exit $?"; tail -3 "$OUT/torch_err.txt"
  stamp torch
fi
# One table: TFLOP/s of each dQ mode beside FA2 and cuDNN.
python3 - "$OUT" <<'PY' | tee "$OUT/fused_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(path, key=lambda r: (r["dtype"], r["headdim"], r["seqlen"], r["causal"])):
    if not os.path.exists(path): return {}
    return {key(r): r for r in csv.DictReader(open(path))}
modes = {m: load(f"{out}/ours_{m}.csv") for m in ("separate", "ordered", "ordered-early", "atomic")}
torch = load(f"{out}/torch.csv")
print("| dtype | D | N | causal | separate | ordered | ordered-early | atomic | FA2 | cuDNN | ordered/atomic | ordered/FA2 | atomic/FA2 |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
def f(r): return float(r["tflops"]) if r else float("nan")
for k in modes["separate"]:
    s, o, e, a = (f(modes[m].get(k)) for m in ("separate", "ordered", "ordered-early", "atomic"))
    t = torch.get(k)
    fa, cu = (float(t["flash"]), float(t["cudnn"])) if t else (float("nan"), float("nan"))
    print(f"| {k[0]} | {k[1]} | {k[2]} | {'yes' if k[3] == '1' else 'no'} | {s:.0f} | {o:.0f} | {e:.0f} | {a:.0f} | {fa:.0f} | {cu:.0f} | {o/a:.2f} | {o/fa:.2f} | {a/fa:.2f} |")
PY
printf '%s\n' "${summary[@]}"
# At most 8 files come back: the tables and CSVs, plus every log in one archive (written outside
# $OUT first: tar fails on a folder that changes under it).
(cd "$OUT" && tar czf /tmp/bwd-logs.tgz . ; find . -maxdepth 1 -type f ! -name fused_table.txt ! -name 'ours_*.csv' ! -name torch.csv -delete; mv /tmp/bwd-logs.tgz logs.tgz)
