#!/usr/bin/env bash
# One device call for the Hopper TMA warp-specialised forward (issue 9): SASS of its variants,
# pinned-D oracle cases and the random oracle sweep with it switched on, then the reference
# grid timed with it off (the wgmma loop), with it on, and PyTorch SDPA flash + cuDNN beside.
#   usage on the device: bash scripts/device/hopper_session.sh
# Environment: HOP_DIMS, HOP_SEQLENS, HOP_DTYPES narrow the grid; HOP_CASES verify cases;
# HOP_SKIP words (sass check verify old new torch sanitize); HOP_TILES sets FLASH_ATTENTION_HOPPER_TILES.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
[[ -n "${HOP_TILES:-}" ]] && export FLASH_ATTENTION_HOPPER_TILES=$HOP_TILES
skip=" ${HOP_SKIP:-} "
dims=${HOP_DIMS:-64,128}; seqlens=${HOP_SEQLENS:-512,1024,2048,4096,8192,16384}; dtypes=${HOP_DTYPES:-bf16,fp16}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
if [[ $skip != *" sass "* ]]; then
  FLASH_ATTENTION_HOPPER=1 timeout 120 /tmp/fa compile --filter tmaws --jobs 4 > "$OUT/compile.txt" 2>&1; echo "compile exit $?"; tail -3 "$OUT/compile.txt"
  for f in /tmp/fa-cache/*.cubin; do
    s=$(cuobjdump -sass "$f" 2>/dev/null); cuobjdump -sass "$f" > "${f%.cubin}.sass" 2>/dev/null
    echo "$(sed -n 1p "${f%.cubin}.cu" | grep -o 'fwd_[a-z0-9_]*') LDL=$(grep -c 'LDL' <<<"$s") STL=$(grep -c 'STL' <<<"$s") HGMMA=$(grep -c 'HGMMA' <<<"$s") UTMALDG=$(grep -c 'UTMALDG' <<<"$s") SYNCS=$(grep -c 'SYNCS' <<<"$s")"
  done | tee "$OUT/sass.txt"
  cp /tmp/fa-cache/*.sass "$OUT/" 2>/dev/null
fi
if [[ $skip != *" check "* ]]; then
  FLASH_ATTENTION_HOPPER=1 timeout 120 /tmp/fa compile --check-dims 64,128 --check-cases ${HOP_CHECK:-10} > "$OUT/check.txt" 2>&1
  echo "check exit $?  (tmaws cases failing: $(grep -c 'FAIL \[.*tmaws' "$OUT/check.txt"))"; tail -4 "$OUT/check.txt"
fi
if [[ $skip != *" verify "* ]]; then
  FLASH_ATTENTION_HOPPER=1 timeout 200 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases ${HOP_CASES:-100} > "$OUT/verify.txt" 2>&1
  echo "verify exit $?"; tail -2 "$OUT/verify.txt"
fi
bench() { timeout 240 /tmp/fa compile --bench --bench-csv "$1" --bench-head-dims "$dims" --bench-seqlens "$seqlens" --bench-dtypes "$dtypes" > "$2" 2>&1; echo "bench $1 exit $?"; }
[[ $skip != *" old "* ]] && bench "$OUT/old.csv" "$OUT/bench_old.txt"
[[ $skip != *" new "* ]] && FLASH_ATTENTION_HOPPER=1 bench "$OUT/new.csv" "$OUT/bench_new.txt"
if [[ $skip != *" torch "* ]]; then
  PYTHONUNBUFFERED=1 timeout 300 python3 scripts/bench_cuda.py --ours "$OUT/new.csv" --out "$OUT/torch.csv" --dims "$dims" \
    --seqlens "$seqlens" --dtypes "$dtypes" > "$OUT/table.txt" 2>"$OUT/torch_err.txt"
  echo "torch exit $?"
fi
if [[ $skip != *" sanitize "* ]] && command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    FLASH_ATTENTION_HOPPER=1 timeout ${HOP_SAN_TIMEOUT:-90} compute-sanitizer --tool $tool /tmp/fa compile --check-dims ${HOP_SAN_DIMS:-64} --check-cases ${HOP_SAN_CASES:-1} > "$OUT/san_$tool.txt" 2>&1
    echo "sanitizer $tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$OUT/san_$tool.txt" | tail -1)"
  done
fi
if [[ " ${HOP_NCU:-} " == *" on "* ]] && command -v ncu >/dev/null; then
  ncu --query-metrics 2>/dev/null | grep -iE "pipe_tensor" > "$OUT/ncu_metrics.txt"
  for hop in 0 1; do
    FLASH_ATTENTION_HOPPER=$hop timeout 150 ncu --clock-control none -k flash_attention_forward --launch-skip 3 --launch-count 1 \
      --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum \
      /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > "$OUT/ncu_$hop.txt" 2>&1
    echo "ncu hopper=$hop exit $?"; grep -E "gmma|throughput|duration|ERR|rror" "$OUT/ncu_$hop.txt" | head -5
  done
fi
# Summary: old (wgmma) vs new (TMA warp-specialised) vs cuDNN per point.
python3 - "$OUT" <<'PY'
import csv, sys, os
out = sys.argv[1]
def load(name):
    d = {}
    p = os.path.join(out, name)
    if os.path.exists(p):
        for r in csv.DictReader(open(p)):
            d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
old, new, torch_ = load("old.csv"), load("new.csv"), load("torch.csv")
print("dtype D N causal | old new | cudnn fa2 | new/old new/cudnn")
for k in sorted(new or old):
    o = float(old[k]["tflops"]) if k in old else float("nan")
    n = float(new[k]["tflops"]) if k in new else float("nan")
    t = torch_.get(k, {})
    c = float(t.get("cudnn", "nan") or "nan"); f = float(t.get("flash", "nan") or "nan")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {o:.0f} {n:.0f} | {c:.0f} {f:.0f} | {n/o:.2f} {n/c:.2f}")
PY
