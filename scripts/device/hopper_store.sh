#!/usr/bin/env bash
# Session 5 (hopfwd4), Hopper forward at short N: the TMA store of O
# (FLASH_ATTENTION_HOPPER_STORE=1; O staged by stmatrix in a tile of its own, one bulk tensor store
# per warpgroup and 64-column block) in one device call. Phase 1 runs untimed work in parallel:
# forced-on oracle checks (full grid, and a 2-block grid where every block walks many tiles),
# a random verify sweep, compute-sanitizer memcheck + racecheck at a small size, and one warm-up
# bench per (D, dtype, setting) so no timing includes NVRTC. Phase 2 times D = 64 / 128 at
# N = 512 / 1k / 2k, bf16 + fp16, causal and not: shipped vs store, interleaved twice, and the
# store with 128-key two-buffer tiles at D = 128 (where the shipped 176-key ring leaves no room
# for the staging tile), then PyTorch SDPA cuDNN + flash (FA2) in the same call; SASS of the
# store cubins.
#   usage on the device: bash scripts/device/hopper_store.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
ON="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_STORE=1"
T128="FLASH_ATTENTION_HOPPER_TILES=128:128x2pq,128c:128x2dq"
SEQ=512,1024,2048

# Phase 1 (parallel, untimed).
( env $ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-check timeout 45 /tmp/fa compile --check-dims 64,128,256 --check-cases 3 > $LOG/check.txt 2>&1; echo "exit $?" >> $LOG/check.txt ) &
( env $ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-grid2 timeout 45 /tmp/fa compile --check-dims 64,128 --check-cases 3 > $LOG/check_grid2.txt 2>&1; echo "exit $?" >> $LOG/check_grid2.txt ) &
( env $ON FLASH_ATTENTION_CACHE_DIR=/tmp/c-verify timeout 45 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 13 > $LOG/verify.txt 2>&1; echo "exit $?" >> $LOG/verify.txt ) &
for tool in memcheck racecheck; do
  ( env $ON FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 50 compute-sanitizer --tool $tool /tmp/fa compile --check-dims 64,128 --check-cases 1 > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
for D in 64 128; do for t in bf16 fp16; do
  ( timeout 45 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $SEQ --bench-dtypes $t > $LOG/warm_base_${D}_$t.txt 2>&1 ) &
  ( env $ON timeout 45 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $SEQ --bench-dtypes $t > $LOG/warm_store_${D}_$t.txt 2>&1 ) &
done; done
for t in bf16 fp16; do
  ( env $ON $T128 timeout 45 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens $SEQ --bench-dtypes $t > $LOG/warm_s128_$t.txt 2>&1 ) &
done
wait
el "phase 1 done"
echo "check (store forced, full grid): $(grep '^check:' $LOG/check.txt) $(tail -1 $LOG/check.txt); ran: $(used /tmp/c-check)"
echo "check (store forced, 2-block grid): $(grep '^check:' $LOG/check_grid2.txt) $(tail -1 $LOG/check_grid2.txt); ran: $(used /tmp/c-grid2)"
echo "verify (store forced): $(tail -3 $LOG/verify.txt | tr '\n' ' '); ran: $(used /tmp/c-verify)"
for tool in memcheck racecheck; do
  echo "sanitizer $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tail -1) / $(grep '^check:' $LOG/san_$tool.txt) $(tail -1 $LOG/san_$tool.txt); ran: $(used /tmp/c-$tool)"
done
grep -h "FAIL" $LOG/check*.txt $LOG/verify.txt $LOG/san_*.txt | head -5

# Phase 2 (timed, one process at a time).
bench() { timeout 30 /tmp/fa compile --bench --bench-head-dims ${2:-64,128} --bench-seqlens $SEQ --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base$r
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_STORE=1 bench store$r
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_STORE=1 FLASH_ATTENTION_HOPPER_TILES=128:128x2pq,128c:128x2dq bench s128_$r 128
done
el "bench done"
PYTHONUNBUFFERED=1 timeout 40 python3 scripts/bench_cuda.py --ours $OUT/base1.csv --out $OUT/torch.csv --dims 64,128 --seqlens $SEQ > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
b1, b2, s1, s2, x1, x2, t = (load(n + ".csv") for n in ("base1", "base2", "store1", "store2", "s128_1", "s128_2", "torch"))
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
print("dtype D N c | base r1/r2 | store r1/r2 | s128 r1/r2 | cudnn fa2 | store/base s128/base | base/cudnn store/cudnn")
for k in sorted(b1):
    c = v(t, k, "cudnn"); b = (v(b1, k) + v(b2, k)) / 2; s = (v(s1, k) + v(s2, k)) / 2; x = (v(x1, k) + v(x2, k)) / 2
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(s1,k):.0f}/{v(s2,k):.0f} | {v(x1,k):.0f}/{v(x2,k):.0f} | "
          f"{c:.0f} {v(t,k,'flash'):.0f} | {s/b:.3f} {x/b:.3f} | {b/c:.2f} {s/c:.2f}")
PY
for f in /tmp/fa-cache/*.cubin; do
  grep -q "tmaws[a-z0-9]*so_" "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s") UTMASTG=$(grep -c UTMASTG <<<"$s") STSM=$(grep -c STSM <<<"$s") DEPBAR=$(grep -c 'WARPGROUP.DEPBAR' <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass (store cubins):"; cat $LOG/sass.txt
el "end"
