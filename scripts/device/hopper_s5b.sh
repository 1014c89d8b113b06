#!/usr/bin/env bash
# Session 5, second call: short-N tile shapes with deeper K/V rings, forced on through
# FLASH_ATTENTION_HOPPER_TILES (CAND): D = 64 128x3pq / causal 128x3dq (3 stages), D = 128
# 96x3pq / 96x3dq, D = 256 48x2pq / 48x2dq (two Q buffers beside 48-key stages). Phase 1
# (parallel, untimed): forced oracle checks (full and 2-block grid), random verify, memcheck +
# racecheck, warm-up benches. Phase 2: shipped vs CAND at N = 512 / 1k / 2k, interleaved
# twice, PyTorch SDPA cuDNN + flash in the same call; ncu D = 64 N = 512 causal; SASS.
#   usage on the device: bash scripts/device/hopper_s5b.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
CAND="64:128x3pq,64c:128x3dq,128:96x3pq,128c:96x3dq,256:48x2pq,256c:48x2dq"
ON="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$CAND"
SEQ=512,1024,2048

# Phase 1 (parallel, untimed).
( env $ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-check timeout 90 /tmp/fa compile --check-dims 64,128,256 --check-cases 4 > $LOG/check.txt 2>&1; echo "exit $?" >> $LOG/check.txt ) &
( env $ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-grid2 timeout 90 /tmp/fa compile --check-dims 64,128,256 --check-cases 3 > $LOG/check_grid2.txt 2>&1; echo "exit $?" >> $LOG/check_grid2.txt ) &
( env $ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-verify timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 24 --seed 9 > $LOG/verify.txt 2>&1; echo "exit $?" >> $LOG/verify.txt ) &
for tool in memcheck racecheck; do
  ( env $ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 100 compute-sanitizer --tool $tool /tmp/fa compile --check-dims 64,128,256 --check-cases 1 > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
for D in 64 128 256; do for t in bf16 fp16; do
  ( timeout 90 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $SEQ --bench-dtypes $t > $LOG/warm_base_${D}_$t.txt 2>&1 ) &
  ( env $ON timeout 90 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $SEQ --bench-dtypes $t > $LOG/warm_cand_${D}_$t.txt 2>&1 ) &
done; done
wait
el "phase 1 done"
echo "check (CAND forced, full grid): $(grep '^check:' $LOG/check.txt) $(tail -1 $LOG/check.txt); ran: $(used /tmp/c-check)"
echo "check (CAND forced, 2-block grid): $(grep '^check:' $LOG/check_grid2.txt) $(tail -1 $LOG/check_grid2.txt); ran: $(used /tmp/c-grid2)"
echo "verify (CAND forced): $(tail -3 $LOG/verify.txt | tr '\n' ' '); ran: $(used /tmp/c-verify)"
for tool in memcheck racecheck; do
  echo "sanitizer $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tail -1) / $(grep '^check:' $LOG/san_$tool.txt) $(tail -1 $LOG/san_$tool.txt); ran: $(used /tmp/c-$tool)"
done
grep -h "FAIL" $LOG/check*.txt $LOG/verify.txt $LOG/san_*.txt | head -5

# Phase 2 (timed, one process at a time).
bench() { timeout 60 /tmp/fa compile --bench --bench-head-dims 64,128,256 --bench-seqlens $SEQ --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base$r
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$CAND bench cand$r
done
el "bench done"
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda.py --ours $OUT/base1.csv --out $OUT/torch.csv --dims 64,128,256 --seqlens $SEQ > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
b1, b2, c1, c2, t = (load(n + ".csv") for n in ("base1", "base2", "cand1", "cand2", "torch"))
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
print("dtype D N c | base r1/r2 | cand r1/r2 | cudnn fa2 | cand/base base/cudnn cand/cudnn")
for k in sorted(b1):
    c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(c1,k):.0f}/{v(c2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | "
          f"{(v(c1,k)+v(c2,k))/(v(b1,k)+v(b2,k)):.3f} {(v(b1,k)+v(b2,k))/2/c:.2f} {(v(c1,k)+v(c2,k))/2/c:.2f}")
PY
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed
for s in base cand; do
  tag=${s}_d64_causal
  env FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$([[ $s == cand ]] && echo $CAND || echo none) timeout 40 ncu --clock-control none -k flash_attention_forward --launch-skip 28 --launch-count 1 \
    --metrics $m /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16 > $LOG/ncu_$tag.txt 2>&1
  echo "ncu $tag: $(grep -E 'hmma|duration|dram__|lts__|sm__throughput' $LOG/ncu_$tag.txt | tr -s ' ' | tr '\n' ';')"
done
el "ncu done"
for f in /tmp/fa-cache/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass: $(wc -l < $LOG/sass.txt) TMA cubins, with LDL/STL or no HGMMA: $(grep -vE 'LDL=0 STL=0' $LOG/sass.txt; grep 'HGMMA=0 ' $LOG/sass.txt | tr '\n' ' ')"
el "end"
