#!/usr/bin/env bash
# Device call 2 of the Hopper forward session 3 (issue 9): the two-Q-buffer rows shipped in the
# table (call 1, hopper_q2.sh, chose them) and the overlapped epilogue (a tile's last P·V and its
# stores under the next tile's first S; FLASH_ATTENTION_HOPPER_OVERLAP=1, off by default).
#   overlap forced: pinned oracle cases at D 64/128/256 on a 2-block grid and the full grid,
#                   compute-sanitizer memcheck + racecheck (2-block grid)
#   shipped table:  pinned cases, random verify sweep
#   grid, bf16 + fp16, 16k tokens, hidden 2048: old (FLASH_ATTENTION_HOPPER_QBUF=1, session-2
#   table; D 64/128 only: D 256 has no two-buffer row), new (shipped), new + overlap, beside
#   PyTorch SDPA cuDNN + flash (FA2) in the same call; ncu on D = 128 16k; SASS counts.
#   usage on the device: bash scripts/device/hopper_s3_confirm.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=/tmp/hoplogs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s]"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee $LOG/gpu.txt
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
dims=64,128,256; seqlens=512,1024,2048,4096,8192,16384
# Pre-compile the grid's kernels (old, new, overlap) in parallel while the checks run.
( for env in "FLASH_ATTENTION_HOPPER_QBUF=1" "X=1" "FLASH_ATTENTION_HOPPER_OVERLAP=1"; do
    env $env timeout 120 /tmp/fa compile --arch sm_90a --jobs 6 --filter tmaws > /dev/null 2>&1; done ) &
for g in 2 0; do
  if [[ $g == 0 ]]; then genv=(env -u FLASH_ATTENTION_HOPPER_GRID); else genv=(env FLASH_ATTENTION_HOPPER_GRID=$g); fi
  "${genv[@]}" FLASH_ATTENTION_HOPPER_OVERLAP=1 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-ovl timeout 60 /tmp/fa compile --check-dims $dims --check-cases 3 > $LOG/check_ovl_$g.txt 2>&1
  echo "check overlap grid ${g/0/full} exit $?: $(tail -1 $LOG/check_ovl_$g.txt)"
done
echo "  TMA variants run: $(used /tmp/cache-ovl)"
FLASH_ATTENTION_CACHE_DIR=/tmp/cache-ship timeout 90 /tmp/fa compile --check-dims $dims --check-cases 4 > $LOG/check_ship.txt 2>&1
echo "check shipped exit $?: $(tail -1 $LOG/check_ship.txt)"
FLASH_ATTENTION_CACHE_DIR=/tmp/cache-ship timeout 90 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 11 > $LOG/verify_ship.txt 2>&1
echo "verify shipped exit $?: $(tail -1 $LOG/verify_ship.txt)"
echo "  TMA variants run: $(used /tmp/cache-ship)"
el
for tool in memcheck racecheck; do
  FLASH_ATTENTION_HOPPER_OVERLAP=1 FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/cache-ovl \
    timeout 75 compute-sanitizer --tool $tool /tmp/fa compile --check-dims $dims --check-cases 1 > $LOG/san_$tool.txt 2>&1
  echo "sanitizer $tool (overlap, grid 2) exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tr '\n' ' ') $(grep '^check' $LOG/san_$tool.txt | tail -1)"
done
wait; el
bench() { local name=$1 d=$2; shift 2; "$@" timeout 120 /tmp/fa compile --bench --bench-csv $OUT/$name.csv --bench-head-dims $d \
  --bench-seqlens $seqlens --bench-dtypes bf16,fp16 > $LOG/bench_$name.txt 2>&1; echo "bench $name exit $?"; }
bench old 64,128 env FLASH_ATTENTION_HOPPER_QBUF=1
bench new $dims env
bench ovl $dims env FLASH_ATTENTION_HOPPER_OVERLAP=1
el
PYTHONUNBUFFERED=1 timeout 150 python3 scripts/bench_cuda.py --ours $OUT/new.csv --out $OUT/torch.csv --dims $dims > $LOG/table.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el
m=sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum
for t in new ovl; do
  if [[ $t == new ]]; then env=(env); else env=(env FLASH_ATTENTION_HOPPER_OVERLAP=1); fi
  "${env[@]}" timeout 60 ncu --clock-control none -k flash_attention_forward --launch-skip 3 --launch-count 1 --metrics $m \
    /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > $LOG/ncu_$t.txt 2>&1
  echo "ncu D=128 16k bf16 [$t]: $(grep -E 'hmma|duration|sm__throughput' $LOG/ncu_$t.txt | tr -s ' ' | tr '\n' ';')"
done
el
for f in /tmp/fa-cache/*.cubin /tmp/cache-*/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass: $(wc -l < $LOG/sass.txt) TMA cubins, without HGMMA: $(grep -c 'HGMMA=0 ' $LOG/sass.txt), with LDL/STL: $(grep -v 'LDL=0 STL=0' $LOG/sass.txt | tr '\n' ' ')"
tar czf $OUT/logs.tar.gz -C /tmp hoplogs
python3 - "$OUT" <<'PY' | tee $OUT/summary.txt
import csv, sys, os
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
o, n, v, t = load("old.csv"), load("new.csv"), load("ovl.csv"), load("torch.csv")
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
print("dt D N c | old new ovl cudnn fa2 | new/old new/cud ovl/cud ovl/new best/fa2")
for k in sorted(n):
    a, b, c, cu, fa = f(o, k), f(n, k), f(v, k), f(t, k, "cudnn"), f(t, k, "flash")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {a:.0f} {b:.0f} {c:.0f} {cu:.0f} {fa:.0f} | {b/a:.2f} {b/cu:.2f} {c/cu:.2f} {c/b:.2f} {max(b,c)/fa:.2f}")
PY
el
