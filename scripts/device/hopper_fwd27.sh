#!/usr/bin/env bash
# Session 14 (hopfwd27): a knob sweep of the mid/long forward near-misses on HEAD b287d57, one device call.
# Phase 1 (parallel, untimed): every (set, group, dtype) bench once, so the timed runs compile nothing.
# Phase 2 (timed, one process at a time): HW_ROUNDS interleaved rounds of `compile --bench`, each set's groups (D@N list) one
#   process each; the set order rotated by one each round; then PyTorch SDPA cuDNN / FA2 (scripts/bench_cuda.py).
# Phase 3 (time guard HW_CHECK_BY): each set with a point >= shipped in every round (a kernel other than shipped) through the
#   pinned float64 oracle (GRID=2), the torch float64 oracle (g2) and its long-shape list (FA27_LONG=1, 2048-4200 rows, GRID=2),
#   forced with FLASH_ATTENTION_HOPPER=1.
# Set syntax: name|D@N,N;D@N|VAR=value+VAR=value.
#   usage on the device: bash scripts/device/hopper_fwd27.sh   (carry .device-hopfwd27 with flash-attn.gz; timeout_s 320)
# The call (fresh H100, 303 s wall, 173 counted seconds at 50 %; run as .device-hopfwd27/sweep27.sh with the long oracle then in a
#   copy of torch_fwd_oracle.py, now its `oracle long`): 4 rounds of 27 s, 7 winners; their checks ran all at once (pinned 7/7
#   green, memcheck + racecheck 0 on 10 shapes) and the torch oracles hit their 120 / 150 s timeouts with no failure so far:
#   check fewer sets at a time (HW_CHECK_SETS). Results: docs/performance.md, "Session 14: a knob sweep of the mid/long forward".
set -uo pipefail
OUT=${OUT:-/tmp/out}; LOG=$OUT/logs; CSV=/tmp/csv27; mkdir -p $LOG $CSV/c /tmp/npy
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd27/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache27
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
H=FLASH_ATTENTION_HOPPER
L64="64@2048,4096,8192,16384"
SETS=${HW_SETS:-"base|$L64;128,256@1024,2048|X=1
s3|$L64|${H}_TILES=64:128x3p,64c:128x3dq
so|$L64|${H}_STORE=1
ew|$L64|${H}_EMPTYWG=dyn
hd|$L64;128@2048|${H}_DIAG=1
xoa|$L64;128@1024,2048|${H}_EXPTURN=lean+${H}_EXPOVERLAP=2
xo|128@1024,2048|${H}_EXPTURN=lean+${H}_EXPOVERLAP=1
vw|128@1024,2048|${H}_VALUEWAIT=1
q4|128@1024,2048|${H}_QHALVES128=1
wg2|64@2048,4096,8192|${H}_WG=2+${H}_TILES=64c:128x2dq+${H}_EXPTURN=lean+${H}_STORE=1+${H}_DIAG=1
qh256|256@1024|${H}_QHALVES=1"}
NAMES=($(echo "$SETS" | cut -d'|' -f1)); NS=${#NAMES[@]}
groups_of() { echo "$SETS" | awk -F'|' -v n=$1 '$1==n{print $2}' | tr ';' ' '; }
envs_of() { echo "$SETS" | awk -F'|' -v n=$1 '$1==n{print $3}' | tr '+' ' '; }
for n in "${NAMES[@]}"; do echo "set $n: $(groups_of $n) env $(envs_of $n)"; done
# Phase 1: warm-ups, one process per (set, group, dtype), 16 at a time.
for n in "${NAMES[@]}"; do for t in bf16 fp16; do for g in $(groups_of $n); do
  echo "env $(envs_of $n) timeout 100 /tmp/fa compile --bench --bench-head-dims ${g%@*} --bench-seqlens ${g#*@} --bench-dtypes $t"
done; done; done > /tmp/warm.txt
echo "$(wc -l < /tmp/warm.txt) warm-up processes"
xargs -P 16 -I{} bash -c '{} > /dev/null 2>&1 || echo "warm-up failed: {}"' < /tmp/warm.txt
el "phase 1 done"
# Phase 2.
ROUNDS=${HW_ROUNDS:-4}
for r in $(seq 1 $ROUNDS); do
  for i in $(seq 0 $((NS - 1))); do
    n=${NAMES[$(( (i + r - 1) % NS ))]}; k=0
    for g in $(groups_of $n); do k=$((k + 1))
      env $(envs_of $n) timeout 60 /tmp/fa compile --bench --bench-head-dims ${g%@*} --bench-seqlens ${g#*@} --bench-dtypes bf16,fp16 \
        --bench-csv $CSV/${n}_${r}_g$k.csv > $LOG/${n}_${r}_g$k.txt 2>&1 || echo "bench $n round $r group $g exit $?"
    done
    { head -1 $CSV/${n}_${r}_g1.csv; for f in $CSV/${n}_${r}_g*.csv; do tail -n +2 $f; done; } > $CSV/${n}_$r.csv; rm -f $CSV/${n}_${r}_g*.csv
  done
  el "round $r done (order from ${NAMES[$(( (r - 1) % NS ))]})"
done
nvidia-smi --query-gpu=clocks.sm,power.draw,temperature.gpu --format=csv,noheader
[ -n "${HW_SKIP_TORCH:-}" ] || PYTHONUNBUFFERED=1 timeout 120 python3 scripts/bench_cuda.py --ours $CSV/base_1.csv --out $CSV/torch.csv --dims 64,128,256 \
  --seqlens ${HW_TORCH_SEQLENS:-1024,2048,4096,8192,16384} --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
cat > /tmp/table.py <<'PY'
import csv, os, sys
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
wins = set(); winpts = {}
for s in names[1:]:
    S = {r: load(f"{s}_{r}") for r in R}
    stars = set()
    print(f"\n== {s}: point | ratio per round | min max | set/cuDNN | set kernel   (* = >= 1.0 in every round)")
    for k in keys:
        rs = [v(S[r], k) / v(B[r], k) for r in R if k in S[r] and k in B[r]]
        if not rs: continue
        sm = sum(v(S[r], k) for r in R if k in S[r]) / len(rs)
        same = S[R[0]][k].get("variant") == B[R[0]][k].get("variant")
        star = "*" if all(x >= 1.0 for x in rs) and not same else " "
        if star == "*": stars.add(k)
        print(f"{star} {k[0]} D={k[1]} N={k[2]} c={k[3]} | {' '.join(f'{x:.3f}' for x in rs)} | {min(rs):.3f} {max(rs):.3f} | {sm / v(T, k, 'cudnn'):.3f} | {'(same kernel)' if same else S[R[0]][k].get('variant', '?')}")
    both = [k for k in stars if k[0] == "bf16" and ("fp16",) + k[1:] in stars]
    if both: wins.add(s); winpts[s] = both
print("\n(winners: a point >= 1.0 in every round in both dtypes, a kernel other than shipped)")
print("WINNERS " + " ".join(sorted(wins)))
for s in sorted(wins): print(f"WINPTS {s} " + " ".join(sorted({f"{k[1]}:{k[3]}:{k[2]}" for k in winpts[s]})))
PY
python3 - $CSV "$(echo "${NAMES[@]}")" < /tmp/table.py > $OUT/table.txt
cat $OUT/table.txt
# Phase 3: checks of the winners (forced), in parallel, if the time guard allows: pinned float64 oracle, torch float64 oracle (g2 and
# the long shapes), memcheck + racecheck through `flash-attn run` on a 2-block grid at each winning point's shape (B 1, 2 heads).
W=$(grep '^WINNERS' $OUT/table.txt | cut -d' ' -f2-)
W=${HW_CHECK_SETS:-$W}
if [ -n "${W// /}" ] && [ $(( $(date +%s) - T0 )) -lt ${HW_CHECK_BY:-200} ]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  for n in $W; do
    dd=$(groups_of $n | tr ' ' '\n' | cut -d@ -f1 | tr ',' '\n' | sort -u | tr '\n' ',' | sed 's/,$//')
    ( env $(envs_of $n) $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-p-$n timeout 120 /tmp/fa compile --check-dims $dd --check-cases 6 > $LOG/check_pinned_$n.txt 2>&1; echo "exit $?" >> $LOG/check_pinned_$n.txt ) &
    if [ "$dd" != "256" ]; then
      ( env $(envs_of $n) $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-o-$n timeout 120 python3 scripts/device/torch_fwd_oracle.py oracle g2 > $LOG/check_oracle_$n.txt 2>&1; echo "exit $?" >> $LOG/check_oracle_$n.txt ) &
      ( env $(envs_of $n) $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-l-$n timeout 150 python3 scripts/device/torch_fwd_oracle.py oracle long > $LOG/check_long_$n.txt 2>&1; echo "exit $?" >> $LOG/check_long_$n.txt ) &
    fi
    # Sanitizers: one shape per winning (D, causal) and length class (fp16, B 1, 2 heads).
    for pt in $(grep "^WINPTS $n " $OUT/table.txt | cut -d' ' -f3-); do
      D=${pt%%:*}; c=${pt#*:}; c=${c%%:*}; N=${pt##*:}
      case $D in 64) S=2100;; 128) [ $N -le 1024 ] && S=1000 || S=2000;; *) S=1000;; esac
      tag=${n}_d${D}c${c}n$S
      [ -f /tmp/npy/s_${tag}_q.npy ] || python3 -c "
import numpy as np; r = np.random.default_rng($S + $D)
for x in 'qkv': np.save('/tmp/npy/s_${tag}_' + x + '.npy', (r.standard_normal((1, $S, 2, $D)) * 0.5).astype(np.float32))"
      for tool in memcheck racecheck; do
        ( env $(envs_of $n) $H=1 ${H}_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s-${tool}_$tag timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
            --error-exitcode 9 /tmp/fa run --q /tmp/npy/s_${tag}_q.npy --k /tmp/npy/s_${tag}_k.npy --v /tmp/npy/s_${tag}_v.npy --out /tmp/npy/s_${tag}_${tool}_o.npy \
            --dtype float16 --device cuda $([ $c = 1 ] && echo --causal) > $LOG/check_s-${tool}_$tag.txt 2>&1; echo "exit $?" >> $LOG/check_s-${tool}_$tag.txt ) &
      done
    done
  done
  wait $(jobs -p)
  for f in $LOG/check_*.txt; do
    b=$(basename $f .txt); b=${b#check_}
    case $b in s-*) c=/tmp/c-$b;; *) kind=${b%%_*}; c=/tmp/c-${kind:0:1}-${b#*_};; esac
    echo "$b: $(grep -E '^check:|^oracle|ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); kernels: $(grep -h '^// FlashAttention forward' $c/*.cu 2>/dev/null | grep -oE 'fwd_[a-z0-9_]*tmaws[a-z0-9]*_sm_90a' | sort -u | tr '\n' ' ')"
    grep -h FAIL $f | head -3
  done | tee $OUT/checks.txt
  el "checks done"
  # Phase 4: confirmation rounds, the winners against shipped only (same groups, order rotated).
  if [ $(( $(date +%s) - T0 )) -lt ${HW_CONFIRM_BY:-270} ]; then
    C=(base $W); NC=${#C[@]}
    for r in $(seq 11 $((10 + ${HW_CONFIRM_ROUNDS:-4}))); do
      for i in $(seq 0 $((NC - 1))); do
        n=${C[$(( (i + r) % NC ))]}; k=0
        for g in $(groups_of $n); do k=$((k + 1))
          env $(envs_of $n) timeout 60 /tmp/fa compile --bench --bench-head-dims ${g%@*} --bench-seqlens ${g#*@} --bench-dtypes bf16,fp16 \
            --bench-csv $CSV/c/${n}_${r}_g$k.csv > $LOG/c_${n}_${r}_g$k.txt 2>&1 || echo "confirm $n round $r group $g exit $?"
        done
        { head -1 $CSV/c/${n}_${r}_g1.csv; for f in $CSV/c/${n}_${r}_g*.csv; do tail -n +2 $f; done; } > $CSV/c/${n}_$r.csv; rm -f $CSV/c/${n}_${r}_g*.csv
      done
      el "confirm round $r done"
    done
  else
    echo "confirmation skipped (elapsed $(( $(date +%s) - T0 )) s)"
  fi
else
  echo "checks skipped (winners: '${W}', elapsed $(( $(date +%s) - T0 )) s)"
fi
if ls $CSV/c/base_*.csv > /dev/null 2>&1; then
  cp $CSV/torch.csv $CSV/c/torch.csv
  python3 - $CSV/c "base $W" < /tmp/table.py > $OUT/table_confirm.txt; cat $OUT/table_confirm.txt
fi
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
tar -czf $OUT/csv.tgz -C $CSV .
el "end"
