#!/usr/bin/env bash
# Session 8 (hopfwd11), Hopper forward, one device call — built in session 8, NEVER RUN ON A GPU before
# this script's first call. Candidate FLASH_ATTENTION_HOPPER_WGSTEPS=1 (descriptor warpgroupStepCount,
# name suffix `ws1`; causal rows of at most 64-key steps with the TMA store of O: tile D = 256 up to 2k
# keys, `okv` to 1k, `oq` at 2k; the direct-store row beyond spills 8 B with it, so N = 4k runs the
# shipped kernel in both columns): each consumer warpgroup runs its
# own count of key steps. The steps go from the highest key block down, so a tile's first step is its
# diagonal block; at 64-key steps with 128-row tiles, consumer warpgroup 0 (tile rows 0-63) sees none of
# that block wherever the key and query ends line up, yet the shipped kernel issues its S product and
# P·V (all masked). With ws1 warpgroup 0 starts at the second step (the first step's stage and the
# loop's first index are per-warpgroup values: no wgmma under a branch); for the skipped step it still
# takes and hands over its turn (named barriers 1, 2) and arrives on the step's K-free and V-free
# mbarriers, after its first issued step's turn. Prediction: causal D = 256 N = 512 +3-6 %, 1k +2-3 %,
# less beyond (the skipped step is 1 of N/64 per warpgroup 0's tile).
# Phase 1 (parallel, untimed), candidate forced (FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_WGSTEPS=1):
#   pinned float64-oracle cases D = 256 (full grid and a 2-block grid: every block walks many tiles, so
#   the ring's phases and the turns carry across tiles with skipped steps), dense forward + backward
#   oracle cases (full and 2-block grid), a random verify sweep, compute-sanitizer memcheck + racecheck
#   (2-block grid); each prints the ws1 kernels it reached (saved in $OUT/summary.txt).
# Phase 2 (timed, one process at a time): D = 256, N = 512...4k (causal and not: the unmasked points run
#   the same kernel in both columns, the spread), bf16 + fp16, shipped / ws1 in two interleaved rounds;
#   PyTorch SDPA cuDNN + FA2 on the same points in the same call.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path /work/.build-hopfwd11-static (from a git-archive copy); gzip -c .../release/flash-attn
#     > .device-hop/fwd11-flash-attn.gz
#   usage on the device: bash scripts/device/hopper_fwd11.sh   (carry .device-hop/fwd11-flash-attn.gz;
#   about 110-150 s: allow timeout_s 240)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hop/fwd11-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "ws1_sm" | sort | uniq | tr '\n' ' '; }
K="FLASH_ATTENTION_HOPPER_WGSTEPS=1"
F="FLASH_ATTENTION_HOPPER=1 $K"
# Phase 1: checks, candidate forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 60 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
if [ -z "${HW_SKIP_CHECKS:-}" ]; then
job pinned "$F" /tmp/fa compile --check-dims 256 --check-cases 4
job pinned_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 256 --check-cases 4
job dense "$F" $(dense 256 8)
job dense_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" $(dense 256 8)
job verify "$F" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 61
for tool in memcheck racecheck; do
  job san_$tool "$F FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 256 3)
done
fi
# Warm-ups into the shared cache (the timed runs compile nothing): one process per (dtype, setting).
for t in bf16 fp16; do
  for cfg in "X=1" "$K"; do ( env $cfg timeout 60 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens 512,1024,2048,4096 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for n in pinned pinned_g2 dense dense_g2 verify san_memcheck san_racecheck; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); ws1 kernels ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt | head -5
# Phase 2 (timed, one process at a time).
SN=512,1024,2048,4096
bench() { env $2 timeout 40 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base256_$r "X=1"; bench ws_$r "$K"
  el "round $r done"
done
PYTHONUNBUFFERED=1 timeout 30 python3 scripts/bench_cuda.py --ours $OUT/base256_1.csv --out $OUT/torch256.csv --dims 256 --seqlens $SN > $LOG/torch256.txt 2>$LOG/torch256_err.txt; echo "torch256 exit $?"
el "torch done"
python3 - "$OUT" <<'PY'
import csv, os, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n + ".csv"); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
t = load("torch256")
b1, b2, w1, w2 = load("base256_1"), load("base256_2"), load("ws_1"), load("ws_2")
print("dtype D N c | shipped r1/r2 | ws1 r1/r2 | cudnn fa2 | ws1/shipped | shipped/cudnn ws1/cudnn | kernels")
for k in sorted(b1):
    b = (v(b1, k) + v(b2, k)) / 2; w = (v(w1, k) + v(w2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(w1,k):.0f}/{v(w2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {w/b:.3f} | {b/c:.2f} {w/c:.2f} | "
          + b1.get(k, {}).get("variant", "?") + " " + w1.get(k, {}).get("variant", "?"))
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
