#!/usr/bin/env bash
# Session 13 part 2 (hopfwd26): a knob sweep of the short forward on the new defaults (HEAD 334e251), one device call.
# Phase 1 (parallel, untimed): every (set, dtype, D, N) bench once, so the timed runs compile nothing.
# Phase 2 (timed, one process at a time): HW_ROUNDS interleaved rounds of `compile --bench` per set (its own head dims; the
#   process order rotated by one set each round), then PyTorch SDPA cuDNN / FA2 (scripts/bench_cuda.py).
# Phase 3 (if the budget allows): each set with a point >= shipped in every round through the pinned float64 oracle
#   (GRID=2) and the torch float64 oracle (g2), forced with FLASH_ATTENTION_HOPPER=1.
# Set syntax: name|dims|VAR=value+VAR=value (a '+' between assignments: FLASH_ATTENTION_HOPPER_TILES takes commas).
#   usage on the device: bash .device-hopfwd26/sweep26.sh   (carry .device-hopfwd26 with flash-attn.gz; timeout_s 330)
# The call (fresh H100, 199 s wall, 115 counted seconds at 50 %): 4 rounds of 18 s, checks of 6 sets all green;
#   u64s3 / shipped 1.032-1.047 at unmasked D = 64 512 in every round (docs/performance.md, Session 13, part 2).
set -uo pipefail
OUT=${OUT:-/tmp/out}; LOG=$OUT/logs; CSV=/tmp/csv26; mkdir -p $LOG $CSV
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd26/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache26
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
H=FLASH_ATTENTION_HOPPER
SETS=${HW_SETS:-"base|64,128,256|X=1
c64s3|64|${H}_TILES=64c:128x3dq+${H}_STORE=1
u64s3|64|${H}_TILES=64:128x3dq+${H}_EMPTYWG=1
xo|64,128|${H}_EMPTYWG=0+${H}_EXPTURN=lean+${H}_EXPOVERLAP=1
xoa|128|${H}_EXPTURN=lean+${H}_EXPOVERLAP=2
q4|128|${H}_QHALVES128=1
vw|64,128|${H}_VALUEWAIT=1
dyn128|128|${H}_TILES=128:128x2dq
qh256|256|${H}_QHALVES=1"}
NAMES=($(echo "$SETS" | cut -d'|' -f1)); NS=${#NAMES[@]}
dims_of() { echo "$SETS" | awk -F'|' -v n=$1 '$1==n{print $2}'; }
envs_of() { echo "$SETS" | awk -F'|' -v n=$1 '$1==n{print $3}' | tr '+' ' '; }
sn_of() { case "$(dims_of $1)" in *64*) echo 512,1024,2048;; *) echo 512,1024;; esac; }
for n in "${NAMES[@]}"; do echo "set $n: dims $(dims_of $n) N $(sn_of $n) env $(envs_of $n)"; done
# Phase 1: warm-ups, one process per (set, dtype, D, N), 16 at a time.
for n in "${NAMES[@]}"; do for t in bf16 fp16; do for D in $(dims_of $n | tr ',' ' '); do for N in $(sn_of $n | tr ',' ' '); do
  echo "env $(envs_of $n) timeout 100 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens $N --bench-dtypes $t"
done; done; done; done > /tmp/warm.txt
echo "$(wc -l < /tmp/warm.txt) warm-up processes"
xargs -P 16 -I{} bash -c '{} > /dev/null 2>&1 || echo "warm-up failed: {}"' < /tmp/warm.txt
el "phase 1 done"
# Phase 2.
ROUNDS=${HW_ROUNDS:-4}
for r in $(seq 1 $ROUNDS); do
  for i in $(seq 0 $((NS - 1))); do
    n=${NAMES[$(( (i + r - 1) % NS ))]}
    env $(envs_of $n) timeout 60 /tmp/fa compile --bench --bench-head-dims $(dims_of $n) --bench-seqlens $(sn_of $n) --bench-dtypes bf16,fp16 \
      --bench-csv $CSV/${n}_$r.csv > $LOG/${n}_$r.txt 2>&1 || echo "bench $n round $r exit $?"
  done
  el "round $r done (order from ${NAMES[$(( (r - 1) % NS ))]})"
done
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda.py --ours $CSV/base_1.csv --out $CSV/torch.csv --dims 64,128,256 --seqlens 512,1024,2048 \
  --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
python3 - $CSV "$(echo "${NAMES[@]}")" <<'PY' > $OUT/table.txt
import csv, math, os, sys
d, names = sys.argv[1], sys.argv[2].split()
def load(n):
    p = os.path.join(d, n + ".csv"); r = {}
    if os.path.exists(p):
        for x in csv.DictReader(open(p)): r[(x["dtype"], int(x["headdim"]), int(x["seqlen"]), int(x["causal"]))] = x
    return r
R = sorted(int(f[5:-4]) for f in os.listdir(d) if f.startswith("base_") and f.endswith(".csv"))
B = {r: load(f"base_{r}") for r in R}; T = load("torch")
def v(x, k, f="tflops"):
    try: return float(x[k][f])
    except Exception: return float("nan")
keys = sorted(B[R[0]], key=lambda k: (k[1], -k[3], k[2], k[0]))
print(f"{len(R)} interleaved rounds; ratio = set / shipped TFLOP/s in the same round; cuDNN from the same call")
print("-- shipped per round | cuDNN FA2 | shipped/cuDNN (mean of rounds) | shipped kernel")
for k in keys:
    bm = sum(v(B[r], k) for r in R) / len(R)
    print(f"{k[0]} D={k[1]} N={k[2]} c={k[3]} | {'/'.join(f'{v(B[r], k):.0f}' for r in R)} | {v(T, k, 'cudnn'):.0f} {v(T, k, 'flash'):.0f} | {bm / v(T, k, 'cudnn'):.3f} | {B[R[0]][k].get('variant', '?')}")
wins = set()
for s in names[1:]:
    S = {r: load(f"{s}_{r}") for r in R}
    print(f"\n== {s}: point | ratio per round | min max | set/cuDNN | set kernel   (* = >= 1.0 in every round)")
    for k in keys:
        rs = [v(S[r], k) / v(B[r], k) for r in R if k in S[r] and k in B[r]]
        if not rs: continue
        sm = sum(v(S[r], k) for r in R if k in S[r]) / len(rs)
        same = S[R[0]][k].get("variant") == B[R[0]][k].get("variant")
        star = "*" if all(x >= 1.0 for x in rs) and not same else " "
        if star == "*": wins.add(s)
        print(f"{star} {k[0]} D={k[1]} N={k[2]} c={k[3]} | {' '.join(f'{x:.3f}' for x in rs)} | {min(rs):.3f} {max(rs):.3f} | {sm / v(T, k, 'cudnn'):.3f} | {'(same kernel)' if same else S[R[0]][k].get('variant', '?')}")
print("\nWINNERS " + " ".join(sorted(wins)))
PY
cat $OUT/table.txt
# Phase 3: checks of the sets with an every-round point (forced), if the budget allows.
W=$(grep '^WINNERS' $OUT/table.txt | cut -d' ' -f2-)
if [ -n "$W" ] && [ $(( $(date +%s) - T0 )) -lt ${HW_CHECK_BY:-200} ]; then
  for n in $W; do
    dd=$(dims_of $n); cd=$(echo $dd | sed 's/,\?256//; s/^,//'); [ -z "$cd" ] && cd=256
    ( env $(envs_of $n) $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-p-$n timeout 100 /tmp/fa compile --check-dims $dd --check-cases 6 > $LOG/check_pinned_$n.txt 2>&1; echo "exit $?" >> $LOG/check_pinned_$n.txt ) &
    if [ "$dd" != "256" ]; then
      ( env $(envs_of $n) $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-o-$n timeout 100 python3 scripts/device/torch_fwd_oracle.py oracle g2 > $LOG/check_oracle_$n.txt 2>&1; echo "exit $?" >> $LOG/check_oracle_$n.txt ) &
    fi
  done
  wait $(jobs -p)
  for f in $LOG/check_*.txt; do
    n=$(basename $f .txt); c=/tmp/c-${n#check_}; c=${c/pinned_/p-}; c=${c/oracle_/o-}
    echo "$n: $(grep -E '^check:|^oracle' $f | tail -1) $(tail -1 $f); kernels: $(grep -h '^// FlashAttention forward' $c/*.cu 2>/dev/null | grep -oE 'fwd_[a-z0-9_]*tmaws[a-z0-9]*_sm_90a' | sort -u | tr '\n' ' ')"
    grep -h FAIL $f | head -3
  done | tee $OUT/checks.txt
else
  echo "checks skipped (winners: '${W}', elapsed $(( $(date +%s) - T0 )) s)"
fi
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
tar -czf $OUT/csv.tgz -C $CSV .
el "end"
