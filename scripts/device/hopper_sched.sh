#!/usr/bin/env bash
# One device call for the Hopper TMA forward, session 2 (issue 9): the dynamic tile scheduler
# (`d` in a setting) and D = 256 on the TMA kernel. Per setting (FLASH_ATTENTION_HOPPER_TILES
# syntax): pinned-D oracle cases at D 64/128/256, then bf16 at N 512/2k/16k; the best setting
# per (D, causal) by geometric mean; with it: pinned-D cases, the random oracle sweep, the grid
# timed with the shipped defaults (old) and with the chosen setting (new), PyTorch SDPA flash +
# cuDNN beside; compute-sanitizer on the new kernels; SASS counts; ncu tensor-pipe use.
#   usage on the device: bash scripts/device/hopper_sched.sh SETTING...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=/tmp/hoplogs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s]"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee $LOG/gpu.txt
dims=${HOP_DIMS:-64,128,256}; seqlens=${HOP_SEQLENS:-512,1024,2048,4096,8192,16384}; dtypes=${HOP_DTYPES:-bf16,fp16}
: > $LOG/sweep.txt
for setting in "$@"; do
  c=$(FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_GRID=3 FLASH_ATTENTION_HOPPER_TILES=$setting timeout 60 /tmp/fa compile --check-dims $dims --check-cases 2 2>&1 | tail -1)
  echo "[$setting] $c" | tee -a $LOG/sweep.txt
  [[ $c == *" 0 failed"* ]] || continue
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$setting timeout 60 /tmp/fa compile --bench --bench-head-dims $dims \
    --bench-seqlens 512,2048,16384 --bench-dtypes bf16 2>&1 | grep "TFLOP/s" | sed "s|^|[$setting] |" >> $LOG/sweep.txt
done
el
best=$(python3 - $LOG/sweep.txt 2>$LOG/choice.txt <<'PY'
import re, sys, math, collections
res = collections.defaultdict(lambda: collections.defaultdict(list))
for line in open(sys.argv[1]):
    m = re.match(r"\[(\S+)\] \S+ D=(\d+) N=(\d+)( causal)? \S+ ms ([\d.]+) TFLOP/s", line)
    if m: res[(m.group(2), bool(m.group(4)))][m.group(1)].append((int(m.group(3)), float(m.group(5))))
parts = []
for (d, causal), by in sorted(res.items()):
    g = {s: math.exp(sum(math.log(t) for _, t in v) / len(v)) for s, v in by.items() if len(v) == 3}
    s = max(g, key=g.get)
    entries = dict(x.split(":") for x in s.split(","))
    entry = entries.get(d + ("c" if causal else ""), entries.get(d))
    print(f"D={d} causal={causal}: " + "; ".join(f"{k} -> " + "/".join(f"{t:.0f}" for _, t in sorted(by[k])) + f" (g {v:.0f})" for k, v in g.items()) + f" => {entry}", file=sys.stderr)
    parts.append(f"{d}{'c' if causal else ''}:{entry}")
print(",".join(parts))
PY
)
echo "chosen: $best"; cat $LOG/choice.txt
export FLASH_ATTENTION_HOPPER_TILES=$best
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-check timeout 90 /tmp/fa compile --check-dims $dims --check-cases ${HOP_CHECK:-6} > $LOG/check.txt 2>&1
echo "check exit $?: $(tail -1 $LOG/check.txt)"; echo "  TMA variants run: $(used /tmp/cache-check)"
# A persistent grid of 2 blocks: every block walks many tiles (hand-over, end, counter reset).
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_GRID=2 timeout 60 /tmp/fa compile --check-dims $dims --check-cases 4 > $LOG/check_grid2.txt 2>&1
echo "check (grid 2) exit $?: $(tail -1 $LOG/check_grid2.txt)"
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-verify timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases ${HOP_CASES:-60} > $LOG/verify.txt 2>&1
echo "verify exit $?: $(tail -1 $LOG/verify.txt)"; echo "  TMA variants run: $(used /tmp/cache-verify)"
el
bench() { timeout 100 /tmp/fa compile --bench --bench-csv "$1" --bench-head-dims "$dims" --bench-seqlens "$seqlens" --bench-dtypes "$dtypes" > "$2" 2>&1; echo "bench $1 exit $?"; }
(unset FLASH_ATTENTION_HOPPER_TILES; bench $OUT/old.csv $LOG/bench_old.txt)
FLASH_ATTENTION_HOPPER=1 bench $OUT/new.csv $LOG/bench_new.txt
el
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/bench_cuda.py --ours $OUT/new.csv --out $OUT/torch.csv --dims "$dims" \
  --seqlens "$seqlens" --dtypes "$dtypes" > $LOG/table.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el
if command -v compute-sanitizer >/dev/null; then
  for tool in memcheck racecheck; do
    FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_HOPPER_TILES=${HOP_SAN_TILES:-128:128x2d,128c:128x2d,256:80x2p,256c:64x2d} FLASH_ATTENTION_CACHE_DIR=/tmp/cache-san \
      timeout 45 compute-sanitizer --tool $tool /tmp/fa compile --check-dims 128,256 --check-cases 1 > $LOG/san_$tool.txt 2>&1
    echo "sanitizer $tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tr '\n' ' ') $(tail -1 $LOG/san_$tool.txt)"
  done
  echo "  TMA variants run: $(used /tmp/cache-san)"
fi
el
for f in /tmp/fa-cache/*.cubin /tmp/cache-verify/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass: $(wc -l < $LOG/sass.txt) TMA cubins, with LDL/STL: $(grep -cv 'LDL=0 STL=0' $LOG/sass.txt)"
if command -v ncu >/dev/null; then
  ncu --query-metrics 2>/dev/null | grep -iE "pipe_tensor|tensor_op" > $LOG/ncu_metrics.txt
  m=""; for c in sm__pipe_tensor_op_gmma_cycles_active sm__pipe_tensor_op_hmma_cycles_active sm__inst_executed_pipe_tensor_op_gmma sm__pipe_tensor_cycles_active; do
    grep -q "^$c " $LOG/ncu_metrics.txt && m="$m,$c.avg.pct_of_peak_sustained_active"; done
  m="${m#,},sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum"
  echo "ncu metrics: $m"
  for hop in shipped new; do
    if [[ $hop == shipped ]]; then env=(env -u FLASH_ATTENTION_HOPPER_TILES); else env=(env FLASH_ATTENTION_HOPPER=1); fi
    "${env[@]}" timeout 60 ncu --clock-control none -k flash_attention_forward --launch-skip 3 --launch-count 1 --metrics "$m" \
      /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > $LOG/ncu_$hop.txt 2>&1
    echo "ncu $hop exit $?:"; grep -E "fwd_|flash_attention_forward|pct|duration|ERR" $LOG/ncu_$hop.txt | tr -s ' ' | head -8
  done
fi
el
cp $LOG/sweep.txt $OUT/
python3 - "$OUT" <<'PY' | tee $LOG/summary.txt
import csv, sys, os
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
old, new, t = load("old.csv"), load("new.csv"), load("torch.csv")
print("dtype D N c | old new cudnn fa2 | new/old new/cudnn best/cudnn")
for k in sorted(new):
    o = float(old[k]["tflops"]) if k in old else float("nan"); n = float(new[k]["tflops"])
    c = float(t.get(k, {}).get("cudnn", "nan") or "nan"); f = float(t.get(k, {}).get("flash", "nan") or "nan")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {o:.0f} {n:.0f} {c:.0f} {f:.0f} | {n/o:.2f} {n/c:.2f} {max(n,o)/c:.2f}")
PY
cp $LOG/summary.txt $OUT/; tar czf $OUT/logs.tar.gz -C /tmp hoplogs cache-check/*.cu 2>/dev/null; el
