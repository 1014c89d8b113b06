#!/usr/bin/env bash
# One device call for the Hopper TMA forward (issue 9): a tile/persistence sweep (pinned-D
# oracle cases per setting, then bf16 D 64/128 at N 512/2k/16k), the best setting per
# (D, causal) by geometric mean, then with that setting: pinned-D cases and the random oracle
# sweep (which kernels ran is listed from their own cache dirs), the grid timed with the TMA
# kernel off (old: the wgmma loop) and on (new), PyTorch SDPA flash + cuDNN beside, SASS counts.
#   usage on the device: bash scripts/device/hopper_final.sh SETTING...   (SETTING as FLASH_ATTENTION_HOPPER_TILES)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
dims=${HOP_DIMS:-64,128}; seqlens=${HOP_SEQLENS:-512,1024,2048,4096,8192,16384}; dtypes=${HOP_DTYPES:-bf16,fp16}
: > "$OUT/sweep.txt"
for setting in "$@"; do
  c=$(FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$setting timeout 60 /tmp/fa compile --check-dims 64,128 --check-cases 2 2>&1 | tail -1)
  echo "[$setting] $c" | tee -a "$OUT/sweep.txt"
  [[ $c == *" 0 failed"* ]] || continue
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$setting timeout 90 /tmp/fa compile --bench --bench-head-dims 64,128 \
    --bench-seqlens 512,2048,16384 --bench-dtypes bf16 2>&1 | grep "TFLOP/s" | sed "s|^|[$setting] |" >> "$OUT/sweep.txt"
done
best=$(python3 - "$OUT/sweep.txt" <<'PY'
import re, sys, math, collections
res = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    m = re.match(r"\[(\S+)\] \S+ D=(\d+) N=(\d+)( causal)? \S+ ms ([\d.]+) TFLOP/s", line)
    if m: res[(m.group(2), bool(m.group(4)))][m.group(1)].append(float(m.group(5)))
parts = []
for (d, causal), by in sorted(res.items()):
    g = {s: math.exp(sum(map(math.log, v)) / len(v)) for s, v in by.items() if len(v) == 3}
    s = max(g, key=g.get)
    entry = dict(x.split(":") for x in s.split(","))[d]
    print(f"D={d} causal={causal}: " + ", ".join(f"{k}={v:.0f}" for k, v in g.items()) + f" -> {entry}", file=sys.stderr)
    parts.append(f"{d}{'c' if causal else ''}:{entry}")
print(",".join(parts))
PY
)
echo "chosen: $best"; grep -v TFLOP "$OUT/sweep.txt" | tail -8
export FLASH_ATTENTION_HOPPER_TILES=$best
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-check timeout 90 /tmp/fa compile --check-dims 64,128 --check-cases ${HOP_CHECK:-6} > "$OUT/check.txt" 2>&1
echo "check exit $?: $(tail -1 "$OUT/check.txt"); TMA variants run: $(used /tmp/cache-check)"
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-verify timeout 150 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases ${HOP_CASES:-60} > "$OUT/verify.txt" 2>&1
echo "verify exit $?: $(tail -1 "$OUT/verify.txt"); TMA variants run: $(used /tmp/cache-verify)"
bench() { timeout 150 /tmp/fa compile --bench --bench-csv "$1" --bench-head-dims "$dims" --bench-seqlens "$seqlens" --bench-dtypes "$dtypes" > "$2" 2>&1; echo "bench $1 exit $?"; }
FLASH_ATTENTION_HOPPER=0 bench "$OUT/old.csv" "$OUT/bench_old.txt"
FLASH_ATTENTION_HOPPER=1 bench "$OUT/new.csv" "$OUT/bench_new.txt"
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_cuda.py --ours "$OUT/new.csv" --out "$OUT/torch.csv" --dims "$dims" \
  --seqlens "$seqlens" --dtypes "$dtypes" > "$OUT/table.txt" 2>"$OUT/torch_err.txt"; echo "torch exit $?"
for f in /tmp/fa-cache/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(sed -n 2p "${f%.cubin}.cu" | grep -o 'fwd_[a-z0-9_]*') LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s")"
done | sort -u > "$OUT/sass.txt"; cat "$OUT/sass.txt" | head -12
if [[ -n "${HOP_NCU:-}" ]] && command -v ncu >/dev/null; then
  for hop in 0 1; do
    FLASH_ATTENTION_HOPPER=$hop timeout 60 ncu --clock-control none -k flash_attention_forward --launch-skip 3 --launch-count 1 \
      --metrics sm__pipe_tensor_op_gmma_cycles_active.avg.pct_of_peak_sustained_active,gpu__time_duration.sum \
      /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > "$OUT/ncu_$hop.txt" 2>&1
    echo "ncu hopper=$hop: $(grep -E 'gmma|duration' "$OUT/ncu_$hop.txt" | tr -s ' ' | tr '\n' ';')"
  done
fi
python3 - "$OUT" <<'PY'
import csv, sys, os
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
old, new, t = load("old.csv"), load("new.csv"), load("torch.csv")
print("dtype D N c | old new cudnn fa2 | new/old new/cudnn")
for k in sorted(new):
    o = float(old[k]["tflops"]) if k in old else float("nan"); n = float(new[k]["tflops"])
    c = float(t.get(k, {}).get("cudnn", "nan") or "nan"); f = float(t.get(k, {}).get("flash", "nan") or "nan")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {o:.0f} {n:.0f} {c:.0f} {f:.0f} | {n/o:.2f} {n/c:.2f}")
PY
