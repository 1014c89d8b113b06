#!/usr/bin/env bash
# Session 5, Hopper forward at short N: the next tile's L2 prefetch (FLASH_ATTENTION_HOPPER_L2=1)
# in one device call. Phase 1 runs untimed work in parallel (16 CPU cores): forced-on oracle
# checks (full grid and a 2-block grid, where every block walks many tiles and the dynamic
# scheduler's one-tile-early indices), a random verify sweep, compute-sanitizer memcheck and
# racecheck, and one warm-up bench per (D, dtype, setting) so that every kernel is compiled
# before anything is timed. Phase 2 times N = 512 / 1k (D 64/128/256, bf16 + fp16, causal and
# not): shipped vs L2 prefetch, interleaved twice, D = 64 with 3 K/V stages + L2 once, then
# PyTorch SDPA cuDNN + flash (FA2) in the same call; ncu at D = 128 N = 512 (shipped and L2,
# unmasked and causal); SASS of the L2 cubins.
#   usage on the device: bash scripts/device/hopper_l2.sh
# (The FLASH_ATTENTION_HOPPER_L2 knob and the L2-prefetch variant were removed in session 6: this
# script records how session 5 measured them and no longer changes the kernels it runs.)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
L2ON="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_L2=1"
S3="64:128x3pq,64c:128x3dq"

# Phase 1 (parallel, untimed).
( env $L2ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-check timeout 100 /tmp/fa compile --check-dims 64,128,256 --check-cases 4 > $LOG/check.txt 2>&1; echo "exit $?" >> $LOG/check.txt ) &
( env $L2ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-grid2 timeout 100 /tmp/fa compile --check-dims 64,128,256 --check-cases 3 > $LOG/check_grid2.txt 2>&1; echo "exit $?" >> $LOG/check_grid2.txt ) &
( env $L2ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-verify timeout 100 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 5 > $LOG/verify.txt 2>&1; echo "exit $?" >> $LOG/verify.txt ) &
for tool in memcheck racecheck; do
  ( env $L2ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 110 compute-sanitizer --tool $tool /tmp/fa compile --check-dims 64,128,256 --check-cases 1 > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
for D in 64 128 256; do for t in bf16 fp16; do
  ( FLASH_ATTENTION_HOPPER_L2=0 timeout 100 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens 512,1024 --bench-dtypes $t > $LOG/warm_base_${D}_$t.txt 2>&1 ) &
  ( env $L2ON timeout 100 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens 512,1024 --bench-dtypes $t > $LOG/warm_l2_${D}_$t.txt 2>&1 ) &
done; done
( env $L2ON FLASH_ATTENTION_HOPPER_TILES=$S3 timeout 100 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 > $LOG/warm_s3.txt 2>&1 ) &
wait
el "phase 1 done"
echo "check (L2 forced, full grid): $(grep '^check:' $LOG/check.txt) $(tail -1 $LOG/check.txt); ran: $(used /tmp/c-check)"
echo "check (L2 forced, 2-block grid): $(grep '^check:' $LOG/check_grid2.txt) $(tail -1 $LOG/check_grid2.txt); ran: $(used /tmp/c-grid2)"
echo "verify (L2 forced): $(tail -3 $LOG/verify.txt | tr '\n' ' '); ran: $(used /tmp/c-verify)"
for tool in memcheck racecheck; do
  echo "sanitizer $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tail -1) / $(grep '^check:' $LOG/san_$tool.txt) $(tail -1 $LOG/san_$tool.txt); ran: $(used /tmp/c-$tool)"
done
grep -h "FAIL" $LOG/check*.txt $LOG/verify.txt $LOG/san_*.txt | head -5

# Phase 2 (timed, one process at a time).
bench() { timeout 60 /tmp/fa compile --bench --bench-head-dims ${2:-64,128,256} --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  FLASH_ATTENTION_HOPPER_L2=0 bench base$r
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_L2=1 bench l2$r
done
FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_L2=1 FLASH_ATTENTION_HOPPER_TILES=$S3 bench s3 64
el "bench done"
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda.py --ours $OUT/base1.csv --out $OUT/torch.csv --dims 64,128,256 --seqlens 512,1024 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
b1, b2, l1, l2, s3, t = (load(n + ".csv") for n in ("base1", "base2", "l21", "l22", "s3", "torch"))
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
print("dtype D N c | base r1/r2 | l2 r1/r2 | s3 | cudnn fa2 | l2/base base/cudnn l2/cudnn")
for k in sorted(b1):
    b = max(v(b1, k), v(b2, k)); l = max(v(l1, k), v(l2, k)); c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(l1,k):.0f}/{v(l2,k):.0f} | {v(s3,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | "
          f"{(v(l1,k)+v(l2,k))/(v(b1,k)+v(b2,k)):.3f} {(v(b1,k)+v(b2,k))/2/c:.2f} {(v(l1,k)+v(l2,k))/2/c:.2f}")
PY
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,lts__throughput.avg.pct_of_peak_sustained_elapsed,regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio
for s in base l2; do for skip in 5 28; do
  tag=${s}_$([[ $skip == 5 ]] && echo plain || echo causal)
  env FLASH_ATTENTION_HOPPER_L2=$([[ $s == l2 ]] && echo 1 || echo 0) timeout 40 ncu --clock-control none -k flash_attention_forward --launch-skip $skip --launch-count 1 \
    --section WarpStateStats --metrics $m /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 512 --bench-dtypes bf16 > $LOG/ncu_$tag.txt 2>&1
  echo "ncu $tag: $(grep -E 'hmma|duration|dram__|lts__|sm__throughput' $LOG/ncu_$tag.txt | tr -s ' ' | tr '\n' ';')"
  echo "  stalls (top 6 per issue): $(grep -E 'issue_stalled' $LOG/ncu_$tag.txt | awk '{print $NF, $1}' | sort -rn | head -6 | sed 's/smsp__average_warps_issue_stalled_//; s/_per_issue_active.ratio//' | tr '\n' ';')"
done; done
el "ncu done"
for f in /tmp/fa-cache/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s") UTMAPF=$(grep -c UTMAPF <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass: $(wc -l < $LOG/sass.txt) TMA cubins; L2 ones: $(grep l2_ $LOG/sass.txt | tr '\n' ' ')"
el "end"
