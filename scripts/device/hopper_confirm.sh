#!/usr/bin/env bash
# Second device call for the Hopper TMA forward, session 2: the shipped defaults (dynamic
# scheduler for causal D = 128/256, D = 256 on the TMA kernel, 192-key steps for long D = 64)
# against the oracle (pinned-D cases, random sweep), compute-sanitizer on the dynamic kernels
# with a 2-block grid (every block walks many tiles), an interleaved A/B of the D = 64 rows,
# the shipped grid beside PyTorch SDPA flash + cuDNN, and ncu on the causal D = 128 kernels.
#   usage on the device: bash scripts/device/hopper_confirm.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=/tmp/hoplogs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s]"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
dyn="64:128x2d,64c:128x2d,128:128x2d,128c:128x2d,256:64x2d,256c:64x2d"
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_HOPPER_TILES=$dyn FLASH_ATTENTION_CACHE_DIR=/tmp/cache-dyn \
  timeout 60 /tmp/fa compile --check-dims 64,128,256 --check-cases 2 > $LOG/check_dyn.txt 2>&1
echo "check dynamic-only, grid 2: $(tail -1 $LOG/check_dyn.txt); ran: $(used /tmp/cache-dyn)"
for tool in memcheck racecheck; do
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_HOPPER_TILES=$dyn FLASH_ATTENTION_CACHE_DIR=/tmp/cache-dyn \
    timeout 60 compute-sanitizer --tool $tool /tmp/fa compile --check-dims 64,128,256 --check-cases 2 > $LOG/san_$tool.txt 2>&1
  echo "sanitizer $tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tail -1) / $(grep '^check:' $LOG/san_$tool.txt)"
done
el
FLASH_ATTENTION_CACHE_DIR=/tmp/cache-check timeout 90 /tmp/fa compile --check-dims 64,128,256 --check-cases 6 > $LOG/check.txt 2>&1
echo "shipped check exit $?: $(tail -1 $LOG/check.txt); ran: $(used /tmp/cache-check)"
FLASH_ATTENTION_CACHE_DIR=/tmp/cache-verify timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 60 --seed 7 > $LOG/verify.txt 2>&1
echo "shipped verify exit $?: $(tail -1 $LOG/verify.txt); ran: $(used /tmp/cache-verify)"
el
# Interleaved A/B of the D = 64 rows (each setting twice).
ab() { FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$1 timeout 60 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 2048,4096,8192,16384 \
  --bench-dtypes bf16,fp16 2>&1 | grep TFLOP/s | sed "s|^|[$1] |" >> $LOG/ab.txt; }
: > $LOG/ab.txt
for r in 1 2; do ab "64:128x2p,64c:128x2"; ab "64:192x2p,64c:192x2d"; ab "64:128x2p,64c:128x2d"; done
python3 - $LOG/ab.txt <<'PY' | tee $LOG/ab_summary.txt
import re, sys, collections
r = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"\[(\S+)\] (\S+) D=64 N=(\d+)( causal)? \S+ ms ([\d.]+) TFLOP/s", line)
    if m: r[(m.group(2), int(m.group(3)), bool(m.group(4)), m.group(1))].append(float(m.group(5)))
keys = sorted({k[:3] for k in r})
sets = ["64:128x2p,64c:128x2", "64:192x2p,64c:192x2d", "64:128x2p,64c:128x2d"]
print("dtype N causal | " + " | ".join(["128x2(p)", "192x2p/d", "128x2d"]))
for k in keys:
    print(f"{k[0]} {k[1]} {int(k[2])} | " + " | ".join("/".join(f"{v:.0f}" for v in r.get(k + (s,), [])) for s in sets))
PY
el
timeout 100 /tmp/fa compile --bench --bench-csv $OUT/shipped.csv --bench-head-dims 64,128,256 --bench-seqlens 512,1024,2048,4096,8192,16384 \
  --bench-dtypes bf16,fp16 > $LOG/bench_shipped.txt 2>&1; echo "bench exit $?"
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/bench_cuda.py --ours $OUT/shipped.csv --out $OUT/torch.csv --dims 64,128,256 > $LOG/table.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el
m=sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum
for t in shipped "128c:128x2"; do
  FLASH_ATTENTION_HOPPER_TILES=$([[ $t == shipped ]] || echo $t) timeout 60 ncu --clock-control none -k flash_attention_forward --launch-skip 26 --launch-count 1 --metrics $m \
    /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > $LOG/ncu_causal_${t//[:,]/_}.txt 2>&1
  echo "ncu causal [$t]: $(grep -E '\(1|hmma|duration|sm__throughput' $LOG/ncu_causal_${t//[:,]/_}.txt | tr -s ' ' | tr '\n' ';')"
done
el
for f in /tmp/fa-cache/*.cubin /tmp/cache-*/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass: $(wc -l < $LOG/sass.txt) TMA cubins, with LDL/STL: $(grep -v 'LDL=0 STL=0' $LOG/sass.txt | tr '\n' ' ')"
tar czf $OUT/logs.tar.gz -C /tmp hoplogs
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
s, t = load("shipped.csv"), load("torch.csv")
print("dtype D N c | shipped cudnn fa2 | /cudnn /fa2")
for k in sorted(s):
    v = float(s[k]["tflops"]); c = float(t.get(k, {}).get("cudnn") or "nan"); f = float(t.get(k, {}).get("flash") or "nan")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v:.0f} {c:.0f} {f:.0f} | {v/c:.2f} {v/f:.2f}")
PY
el
