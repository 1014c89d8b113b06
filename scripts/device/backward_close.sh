#!/usr/bin/env bash
# Session 5, one device call for the CUDA backward (issue 4): a gate on the new code, an A/B of
# the session-5 changes and of causal tile shapes at the weak points (bf16, same process order
# for every variant), the picks exported for the rest of the call, then the oracle sweep,
# determinism and sanitizers on the picks, then the whole bf16 + fp16 grid beside PyTorch's
# flash (FA2) and cuDNN backward. Logs go to few files in $OUT; the summary is printed last.
#   usage on the device: bash scripts/device/backward_close.sh [verify-cases]
# Environment: BWD_AB=0 skips the A/B (the defaults are measured then). The A/B stops starting
# variants 170 s into the call. BWD_REPEAT="64:8192,16384" times those points a second time.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
# Logs are written to $W; only the progress log comes to $OUT as it goes (a call cut short by
# its time limit still returns it), the tables and an archive of $W at the end.
W=/tmp/bwd; rm -rf "$W"; mkdir -p "$W"
cases=${1:-100}
gunzip -c .device-bwd/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
t0=$(date +%s); now() { echo $(( $(date +%s) - t0 )); }
LOG="$OUT/session.log"; AB="$W/ab.txt"; summary=()
say() { echo "[t=$(now)s] $*" | tee -a "$LOG"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader | tee -a "$LOG"
wide="64u:128x128w8/128x64w8,128u:128x128w8/128x64w8"   # the two-warpgroup rows (unmasked > 4k keys)

# Warm the default kernels of the grid (warm-bench plans with seqlenK = 0, i.e. the narrow rows;
# the wide unmasked rows are warmed through the override that names their shapes).
warm() {  # env-assignments dims types
  env $1 timeout 60 /tmp/fa backward-bench --warm-bench --head-dims "$2" --dtypes "$3" --jobs 16 2>&1 | tail -1 | sed "s|^|$1: |" >> "$LOG"
}
warm2() {  # the kernels of an environment: as planned by warm-bench, and its wide unmasked rows
  local e="$1" e2
  if [[ $e == *FLASH_ATTENTION_BWD_TILES=* ]]; then e2="${e/FLASH_ATTENTION_BWD_TILES=/FLASH_ATTENTION_BWD_TILES=$wide,}"
  else e2="$e FLASH_ATTENTION_BWD_TILES=$wide"; fi
  warm "$e" "$2" "$3" & warm "$e2" "$2" "$3" & wait
}
warm2 "X=0" 64,128,256 bf16,fp16
say warm

# Gate: pinned oracle cases with the new code; on a failure the rest runs the session-4 code.
timeout 90 /tmp/fa backward-bench --warm-verify 0 --check-dims 64,128,256 --check-cases 4 --jobs 16 > "$W/gate.txt" 2>&1
gate=$(grep '^pinned' "$W/gate.txt" | tail -1); say "gate: $gate"
off=""; tiles=""
if ! echo "$gate" | grep -q " 0 failed"; then
  grep "^check" "$W/gate.txt" | head -5 | cut -c1-400 | tee -a "$LOG"
  off=all; say "gate failed: FLASH_ATTENTION_BWD_OFF=all for the rest"
fi
summary+=("gate (new code, pinned D = 64/128/256): $gate")

# A/B at the weak points: bf16, D = 64 (2k/8k/16k), D = 128 (16k), D = 256 (8k/16k), causal and not.
declare -A env_of=(
  [new]="X=0"
  [old]="FLASH_ATTENTION_BWD_OFF=all"
  [no_order]="FLASH_ATTENTION_BWD_OFF=order"
  [no_overlap]="FLASH_ATTENTION_BWD_OFF=overlap"
  [no_edge]="FLASH_ATTENTION_BWD_OFF=edge"
  [no_chunk]="FLASH_ATTENTION_BWD_OFF=chunk"
  [wide64c]="FLASH_ATTENTION_BWD_TILES=64c:128x128w8/128x64w8"
  [wide128c]="FLASH_ATTENTION_BWD_TILES=128c:128x128w8/128x64w8"
)   # (a variant's TILES name only causal rows: unmasked problems keep the default rows)
declare -A dims_of=([new]=64,128,256 [old]=64,128,256 [no_order]=64,256 [no_overlap]=64,128 [no_edge]=64,256 [no_chunk]=64,128,256
                    [wide64c]=64 [wide128c]=128)
order="new old wide64c no_chunk no_order wide128c no_edge no_overlap"
if [ "${BWD_AB:-1}" = 1 ] && [ "$off" = "" ]; then
  for v in $order; do [ $v = new ] || warm2 "${env_of[$v]}" "${dims_of[$v]}" bf16 & done; wait
  say "A/B warm"
  for v in $order; do
    [ "$(now)" -lt 170 ] || { say "A/B cut at $v (time)"; break; }
    for D in ${dims_of[$v]//,/ }; do
      case $D in 64) N=2048,8192,16384 ;; 128) N=2048,16384 ;; 256) N=8192,16384 ;; esac
      env ${env_of[$v]} timeout 60 /tmp/fa backward-bench --bench --head-dims $D --seqlens $N --dtypes bf16 --iterations 7 \
        --csv "$W/ab_${v}_$D.csv" 2>&1 | grep TFLOP | sed "s/^/$v /" | tee -a "$AB" >> "$LOG"
    done
  done
  say "A/B done"
  # Picks: the variant with the larger sum over the causal weak points (changes as a set, tiles per D).
  picks=$(python3 - "$W" <<'PY'
import csv, glob, os, sys
out = sys.argv[1]
t = {}
for path in glob.glob(f"{out}/ab_*_*.csv"):
    v = os.path.basename(path)[3:-4].rsplit("_", 1)[0]
    for r in csv.DictReader(open(path)):
        t[(v, int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = float(r["tflops"])
def score(v, D, causal_only=True):
    ks = [k for k in t if k[0] == "new" and k[1] == D and (k[3] == 1 or not causal_only)]
    if not ks or any((v,) + k[1:] not in t for k in ks): return None
    return sum(t[(v,) + k[1:]] for k in ks)
off = []
for v, name in (("no_order", "order"), ("no_overlap", "overlap"), ("no_edge", "edge"), ("no_chunk", "chunk")):
    dims = [D for D in (64, 128, 256) if score(v, D, False) is not None]
    if dims and sum(score(v, D, False) for D in dims) > 1.01 * sum(score("new", D, False) for D in dims): off.append(name)
old_dims = [D for D in (64, 128, 256) if score("old", D, False) is not None]
if old_dims and sum(score("old", D, False) for D in old_dims) > 1.01 * sum(score("new", D, False) for D in old_dims): off = ["all"]
tiles = []
if (score("wide64c", 64) or 0) > 1.01 * (score("new", 64) or 0): tiles.append("64c:128x128w8/128x64w8")
if (score("wide128c", 128) or 0) > 1.01 * (score("new", 128) or 0): tiles.append("128c:128x128w8/128x64w8")
print((",".join(off) or "-") + " " + (",".join(tiles) or "-"))
for v in ("new", "old", "no_chunk", "no_order", "no_overlap", "no_edge", "wide64c", "wide128c"):
    print("#", v, " ".join(f"D{D}:{score(v, D) or 0:.0f}/{score(v, D, False) or 0:.0f}" for D in (64, 128, 256)), file=sys.stderr)
PY
  2>>"$AB")
  off=${picks%% *}; tiles=${picks#* }; [ "$off" = - ] && off=""; [ "$tiles" = - ] && tiles=""
  grep "^#" "$AB" | tee -a "$LOG"
fi
[ -n "$tiles" ] && export FLASH_ATTENTION_BWD_TILES="$tiles"
[ -n "$off" ] && export FLASH_ATTENTION_BWD_OFF="$off"
say "picks: FLASH_ATTENTION_BWD_OFF='${off}' FLASH_ATTENTION_BWD_TILES='$tiles'"
summary+=("picks: FLASH_ATTENTION_BWD_OFF='${off}' FLASH_ATTENTION_BWD_TILES='$tiles'")
# Kernels of the picks for the grid (new ones only if a pick changed them).
if [ -n "$tiles$off" ]; then warm2 "X=0 ${tiles:+FLASH_ATTENTION_BWD_TILES=$tiles}" 64,128,256 bf16,fp16; say "warm picks"; fi

# Correctness of the picks.
timeout 120 /tmp/fa backward-bench --warm-verify "$cases" --check-dims 64,128,192,256 --jobs 16 > "$W/checks.txt" 2>&1
timeout 150 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases "$cases" > "$W/verify.txt" 2>&1
summary+=("verify ($cases random cases): $(tail -1 "$W/verify.txt")" "$(grep '^pinned' "$W/checks.txt" | tail -1)")
say "verify: $(tail -1 "$W/verify.txt")"
timeout 90 /tmp/fa backward-bench --determinism 50 > "$W/determinism.txt" 2>&1
summary+=("$(tail -1 "$W/determinism.txt")"); say "determinism: $(tail -1 "$W/determinism.txt")"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for tool in memcheck racecheck; do
  timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_backward --error-exitcode 9 /tmp/fa backward-bench --sanitize \
    > "$W/sanitize_$tool.txt" 2>&1
  code=$?; summary+=("$tool: exit $code, $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$W/sanitize_$tool.txt" | tail -1)")
  say "$tool exit $code"
done

# The grid: ours, then PyTorch's flash (FA2) and cuDNN, same machine, same call.
timeout 150 /tmp/fa backward-bench --bench --csv "$W/ours.csv" --head-dims 64,128,256 --dtypes bf16,fp16 > "$W/bench.txt" 2>&1
say "bench exit $?"
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_cuda_backward.py --ours "$W/ours.csv" --out "$W/torch.csv" \
  > "$W/table.txt" 2>"$W/torch_err.txt"
say "torch exit $?"
python3 - "$W" <<'PY' | tee "$OUT/grid.md"
import csv, sys
out = sys.argv[1]
rows = list(csv.DictReader(open(f"{out}/torch.csv")))
print("| dtype | D | N | causal | ours | FA2 (SDPA flash) | cuDNN | ours/FA2 | ours/cuDNN |")
print("|---|---|---|---|---|---|---|---|---|")
below = []
for r in rows:
    o, f, c = float(r["ours"]), float(r["flash"]), float(r["cudnn"])
    print(f"| {r['dtype']} | {r['headdim']} | {r['seqlen']} | {'yes' if r['causal'] == '1' else 'no'} | {o:.0f} | {f:.0f} | {c:.0f} | {o/f:.2f} | {o/c:.2f} |")
    if not o >= f: below.append(f"{r['dtype']} D={r['headdim']} N={r['seqlen']}{' causal' if r['causal'] == '1' else ''} {o/f:.2f}")
print(f"\n{len(rows) - len(below)}/{len(rows)} points >= 1.0x FA2; below: {', '.join(below) or 'none'}")
PY
tail -1 "$W/table.txt"
# A second sample of the closest points (BWD_REPEAT="D:N,N"), ours then PyTorch's, for the noise.
if [ -n "${BWD_REPEAT:-}" ]; then
  rd=${BWD_REPEAT%%:*}; rn=${BWD_REPEAT#*:}
  timeout 60 /tmp/fa backward-bench --bench --csv "$W/ours_repeat.csv" --head-dims $rd --seqlens $rn --dtypes bf16,fp16 > "$W/bench_repeat.txt" 2>&1
  PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda_backward.py --ours "$W/ours_repeat.csv" --out "$W/torch_repeat.csv" \
    --dims $rd --seqlens $rn > "$W/table_repeat.txt" 2>>"$W/torch_err.txt"
  echo "repeat:" | tee -a "$LOG"; tee -a "$LOG" < "$W/table_repeat.txt"
fi
printf '%s\n' "${summary[@]}" | tee -a "$LOG"
# At most 8 files come back: the progress log, the grid, the CSVs, the A/B log and an archive.
cp "$W/ours.csv" "$W/torch.csv" "$AB" "$OUT/" 2>/dev/null; cp "$W/torch_repeat.csv" "$OUT/" 2>/dev/null
tar czf "$OUT/logs.tgz" -C "$W" .
