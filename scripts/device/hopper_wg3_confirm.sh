#!/usr/bin/env bash
# Session 6 (hopfwd5), confirming call for three consumer warpgroups at D = 64 (unmasked rows of
# KernelHeuristics.hopperTable, checkedOnGPU: false until this passes; FLASH_ATTENTION_HOPPER=1
# takes them). Phase 1 (parallel, untimed): dense float64-oracle cases (forward + backward,
# every other one causal) reaching the table's 192-row kernels, on the full grid and a 2-block
# grid; the same with the N >= 2k row's kernel forced on short problems (TILES=64:128x2p, no
# store); pinned random cases and a random verify sweep with the table; compute-sanitizer memcheck
# + racecheck of the forward kernels on a 2-block grid for both kernels; warm-ups. Phase 2: D = 64,
# N = 512 ... 16k, bf16 + fp16: the new table vs FLASH_ATTENTION_HOPPER_WG=2 (the table before),
# two interleaved rounds, PyTorch SDPA cuDNN + FA2 in the same call.
#   usage on the device: bash scripts/device/hopper_wg3_confirm.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep m192 | sort | uniq | tr '\n' ' '; }
NEW="FLASH_ATTENTION_HOPPER=1"
LONG="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WG=3 FLASH_ATTENTION_HOPPER_TILES=64:128x2p FLASH_ATTENTION_HOPPER_STORE=0"
ALLN=512,1024,2048,4096,8192,16384
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 110 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims 64 --check-cases $1 --check-dense; }
job dense "$NEW" $(dense 8)
job dense_g2 "$NEW FLASH_ATTENTION_HOPPER_GRID=2" $(dense 6)
job long "$LONG" $(dense 8)
job long_g2 "$LONG FLASH_ATTENTION_HOPPER_GRID=2" $(dense 6)
job pinned "$NEW" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job verify "$NEW" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 23
for tool in memcheck racecheck; do
  job san_${tool} "$NEW FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 2)
  job san_${tool}_long "$LONG FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 2)
done
for t in bf16 fp16; do
  job warm_new_$t "$NEW" /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,2048 --bench-dtypes $t
  job warm_old_$t "FLASH_ATTENTION_HOPPER_WG=2" /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512,2048,4096 --bench-dtypes $t
done
wait
el "phase 1 done"
for n in dense dense_g2 long long_g2 pinned verify san_memcheck san_memcheck_long san_racecheck san_racecheck_long; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); m192 ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/dense*.txt $LOG/long*.txt $LOG/pinned.txt $LOG/verify.txt $LOG/san_*.txt | head -5
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 40 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens $ALLN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do bench new$r "$NEW"; bench old$r "FLASH_ATTENTION_HOPPER_WG=2"; done
el "bench done"
PYTHONUNBUFFERED=1 timeout 45 python3 scripts/bench_cuda.py --ours $OUT/new1.csv --out $OUT/torch64.csv --dims 64 --seqlens $ALLN > $LOG/torch64.txt 2>$LOG/torch64_err.txt; echo "torch exit $?"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
n1, n2, o1, o2, t = (load(n + ".csv") for n in ("new1", "new2", "old1", "old2", "torch64"))
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
print("dtype D N c | new r1/r2 | old r1/r2 | cudnn fa2 | new/old | new/cudnn old/cudnn | kernel")
for k in sorted(n1):
    a = (v(n1, k) + v(n2, k)) / 2; b = (v(o1, k) + v(o2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(n1,k):.0f}/{v(n2,k):.0f} | {v(o1,k):.0f}/{v(o2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {a/b:.3f} | {a/c:.2f} {b/c:.2f} | {n1[k].get('variant', '')}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
