#!/usr/bin/env bash
# Session 13, hopbwd17 call 3: bitwise reruns with ste forced (and with X + ste), then fp16 rounds 3-4 of O S X XS and
# bf16 rounds 5-6 (call 2's fp16 X/XS had two rounds only). Same binary as call 2 (a347d78).
#   run on one H100 (carry .device-hopbwd17): HW_BUDGET=165 bash .device-hopbwd17/c3.sh (this copy; 159 s wall on 2026-11-27).
#   Results: docs/performance.md, "Session 13: the Hopper backward at tile D = 128".
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb17c; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopbwd17/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
B=FLASH_ATTENTION_HOPPER_BWD
XK="${B}_DQBUF=2 ${B}_DQWRITERS=2 ${B}_EARLYDV=1 ${B}_LATEDK=1 ${B}_MASKBRANCH=1 ${B}_DESC=1"
menv() { case $1 in O) echo "X_=1";; S) echo "${B}_EPI=1";; X) echo "$XK";; XS) echo "$XK ${B}_EPI=1";; esac; }
ck=()
env $B=1 ${B}_EPI=1 ${B}_LOG=1 timeout 120 /tmp/fa backward-bench --determinism 10 > $W/det_S.txt 2>&1 & ck+=($!)
env $B=1 ${B}_EPI=1 ${B}_LOG=1 $XK timeout 120 /tmp/fa backward-bench --determinism 10 > $W/det_XS.txt 2>&1 & ck+=($!)
for m in O S X XS; do for dt in bf16 fp16; do
  env $(menv $m) timeout 120 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes $dt --seqlens 1024 --iterations 1 > $W/warm_${m}_$dt.txt 2>&1 & ck+=($!)
done; done
for pid in "${ck[@]}"; do wait $pid; done
for f in $W/det_*.txt; do echo "$(basename $f .txt): $(grep '^determinism:' $f | tail -1); hopper $(grep -c '^hopper-bwd' $f), ste $(grep -c '_ste_' $f)"; grep '_ste_' $f | awk '{print $2}' | sort | uniq -c; done
stamp "phase 1"
SEQ=1024,2048,4096,8192,16384
bench() { [ "$(el)" -lt "${HW_BUDGET:-150}" ] || { stamp "skip $1 $2 $3"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2_$3.csv --head-dims 128 --seqlens $SEQ --dtypes $2 > $W/b_$1_$2_$3.txt 2>&1; }
order() { case $1 in 3) echo S O XS X;; 4) echo X XS O S;; 5) echo O S X XS;; 6) echo XS X S O;; esac; }
for r in 3 4; do for m in $(order $r); do bench $m fp16 r$r; done; done; stamp "fp16 r3-4"
for r in 5 6; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r5-6"
python3 - $W <<'PY' | tee $W/table.txt
import csv, os, sys
W = sys.argv[1]
def load(p):
    return {(int(r["seqlen"]), int(r["causal"])): float(r["tflops"]) for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
for dt, rs in (("fp16", (3, 4)), ("bf16", (5, 6))):
    R = {(m, r): load(os.path.join(W, f"b_{m}_{dt}_r{r}.csv")) for m in ("O", "S", "X", "XS") for r in rs}
    print(f"== {dt} rounds {rs}: ratios vs O")
    for k in sorted(R[("O", rs[0])]):
        s = f"{k[0]:>5} {'causal' if k[1] else 'dense '} O " + "/".join(f"{R[('O', r)].get(k, float('nan')):.0f}" for r in rs) + " |"
        for m in ("S", "X", "XS"): s += f" {m} " + " ".join(f"{R[(m, r)].get(k, float('nan')) / R[('O', r)].get(k, float('nan')):.3f}" for r in rs) + " |"
        print(s)
PY
stamp done
( cd $W && tar czf "$OUT/hb17c3.tgz" *.txt *.csv 2>/dev/null )
