#!/usr/bin/env bash
# Session 6 (hopfwd5), Hopper forward: three consumer warpgroups at D = 64 (192-row tiles,
# FLASH_ATTENTION_HOPPER_WG=3, forced on with FLASH_ATTENTION_HOPPER=1), and where the N = 16k dip
# of D = 128 / 256 comes from, in one device call.
# Phase 1 (parallel, untimed): forced-on oracle checks (full grid; a 2-block grid where every block
# walks many tiles), a random verify sweep, compute-sanitizer memcheck + racecheck at a small size,
# one warm-up bench per (setting, dtype) so no timing includes NVRTC.
# Phase 2 (timed, one process at a time): D = 64, N = 512 ... 16k, bf16 + fp16, causal and not:
# shipped vs three warpgroups, interleaved twice; the shipped D = 128 / 256 kernels at 8k / 16k with
# the SM clock and power sampled every 20 ms; PyTorch SDPA cuDNN + flash (FA2) on the same points
# (clocks sampled too); ncu (--clock-control none) of the D = 128 kernel at 8k and 16k (L2 hit rate,
# device-memory bytes, SM clock) and of the D = 64 N = 512 kernels; SASS of the new cubins.
#   usage on the device: bash scripts/device/hopper_wg3.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
ON="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WG=3"
ALLN=512,1024,2048,4096,8192,16384

# Phase 1 (parallel, untimed).
( env $ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-check timeout 70 /tmp/fa compile --check-dims 64,128,256 --check-cases 3 > $LOG/check.txt 2>&1; echo "exit $?" >> $LOG/check.txt ) &
( env $ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-grid2 timeout 70 /tmp/fa compile --check-dims 64 --check-cases 4 > $LOG/check_grid2.txt 2>&1; echo "exit $?" >> $LOG/check_grid2.txt ) &
( env $ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-verify timeout 70 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 17 > $LOG/verify.txt 2>&1; echo "exit $?" >> $LOG/verify.txt ) &
for tool in memcheck racecheck; do
  ( env $ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 80 compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward \
      /tmp/fa compile --check-dims 64 --check-cases 1 > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
for t in bf16 fp16; do
  ( timeout 70 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,2048,4096 --bench-dtypes $t > $LOG/warm_base_$t.txt 2>&1 ) &
  ( env $ON timeout 70 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,2048,4096 --bench-dtypes $t > $LOG/warm_wg3_$t.txt 2>&1 ) &
done
( timeout 70 /tmp/fa compile --bench --bench-head-dims 128,256 --bench-seqlens 8192 --bench-dtypes bf16 > $LOG/warm_long.txt 2>&1 ) &
wait
el "phase 1 done"
echo "check (WG=3 forced, full grid): $(grep '^check:' $LOG/check.txt) $(tail -1 $LOG/check.txt); ran: $(used /tmp/c-check | tr ' ' '\n' | grep m192 | tr '\n' ' ')"
echo "check (WG=3 forced, 2-block grid): $(grep '^check:' $LOG/check_grid2.txt) $(tail -1 $LOG/check_grid2.txt); ran: $(used /tmp/c-grid2)"
echo "verify (WG=3 forced): $(tail -3 $LOG/verify.txt | tr '\n' ' '); ran m192: $(used /tmp/c-verify | tr ' ' '\n' | grep m192 | tr '\n' ' ')"
for tool in memcheck racecheck; do
  echo "sanitizer $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tail -1) / $(grep '^check:' $LOG/san_$tool.txt) $(tail -1 $LOG/san_$tool.txt); ran: $(used /tmp/c-$tool)"
done
grep -h "FAIL" $LOG/check*.txt $LOG/verify.txt $LOG/san_*.txt | head -5

# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 40 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens $ALLN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base$r "X=1"
  bench wg3_$r "$ON"
done
el "D=64 A/B done"
smi() { nvidia-smi --query-gpu=timestamp,clocks.sm,power.draw,temperature.gpu,clocks_event_reasons.active --format=csv,noheader -lms 20 > $LOG/smi_$1.txt 2>&1 & echo $!; }
P=$(smi long); timeout 40 /tmp/fa compile --bench --bench-head-dims 128,256 --bench-seqlens 8192,16384 --bench-dtypes bf16 --bench-csv $OUT/long.csv > $LOG/bench_long.txt 2>&1; kill $P
el "long done"
PYTHONUNBUFFERED=1 timeout 45 python3 scripts/bench_cuda.py --ours $OUT/base1.csv --out $OUT/torch64.csv --dims 64 --seqlens $ALLN > $LOG/torch64.txt 2>$LOG/torch64_err.txt; echo "torch64 exit $?"
P=$(smi torch); PYTHONUNBUFFERED=1 timeout 30 python3 scripts/bench_cuda.py --ours $OUT/long.csv --out $OUT/torchlong.csv --dims 128,256 --seqlens 8192,16384 --dtypes bf16 > $LOG/torchlong.txt 2>$LOG/torchlong_err.txt; echo "torchlong exit $?"; kill $P
el "torch done"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
b1, b2, w1, w2, t, lo, tl = (load(n + ".csv") for n in ("base1", "base2", "wg3_1", "wg3_2", "torch64", "long", "torchlong"))
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
print("dtype D N c | shipped r1/r2 | wg3 r1/r2 | cudnn fa2 | wg3/shipped | shipped/cudnn wg3/cudnn")
for k in sorted(b1):
    b = (v(b1, k) + v(b2, k)) / 2; w = (v(w1, k) + v(w2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(w1,k):.0f}/{v(w2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {w/b:.3f} | {b/c:.2f} {w/c:.2f}")
print("long points (shipped, bf16): dtype D N c | ours | cudnn fa2 | ours/cudnn")
for k in sorted(lo):
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(lo,k):.0f} | {v(tl,k,'cudnn'):.0f} {v(tl,k,'flash'):.0f} | {v(lo,k)/v(tl,k,'cudnn'):.2f}")
PY
for f in long torch; do
  awk -F', ' '{c[$2+0]++; s+=$2; p+=$3; n++} END {printf "smi %s: %d samples, SM clock mean %.0f MHz, power mean %.0f W; clocks:", FILENAME, n, s/n, p/n; for (k in c) if (c[k] > n/50) printf " %d MHz x%d", k, c[k]; print ""}' $LOG/smi_$f.txt
  echo "  reasons: $(awk -F', ' '{print $5}' $LOG/smi_$f.txt | sort | uniq -c | sort -rn | head -4 | tr -s ' ' | tr '\n' ';')"
done
el "tables done"
m=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,dram__bytes_read.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sector_hit_rate.pct,lts__throughput.avg.pct_of_peak_sustained_elapsed
nc() { env $2 timeout 40 ncu --clock-control none -k flash_attention_forward --launch-skip 5 --launch-count 1 --metrics $m "${@:3}" > $LOG/ncu_$1.txt 2>&1
  echo "ncu $1: $(grep -E 'duration|per_second|hmma|dram__|lts__' $LOG/ncu_$1.txt | awk '{print $1, $(NF-1), $NF}' | tr '\n' ';')"; }
left() { (( $(date +%s) - T0 < $1 )); }
for n in 8192 16384; do left 165 && nc d128_$n "X=1" /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens $n --bench-dtypes bf16; done
if left 150; then
  nc d64_512_base "X=1" /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16
  nc d64_512_wg3 "$ON" /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16
fi
el "ncu done"
for f in /tmp/fa-cache/*.cubin; do
  grep -q "m192n" "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") DEPBAR=$(grep -c 'WARPGROUP.DEPBAR' <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass (192-row cubins):"; cat $LOG/sass.txt
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
