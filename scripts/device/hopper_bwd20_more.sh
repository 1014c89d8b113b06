#!/usr/bin/env bash
# Session 14, hopbwd20: the optional confirmation call (NOT RUN: the helper's device time went to call 1). Four more
# interleaved rounds, bf16 + fp16, of the tile D = 128 sets that call 1 (hopper_bwd20.sh) left open at unmasked 8k/16k
# and causal 16k, where the shipped kernel's own rounds swing by 3-10 %: O128 = shipped, T1 = BWD_EPI=1,
# T2 = BWD_DQ=unordered, T3 = EARLYDV LATEDK MASKBRANCH DESC EPI =1, T6 = BWD_DQ=unordered + BWD_EPI=1. Their kernels
# passed call 1's checks (check-dense, torch float64 oracle, memcheck/racecheck: docs/performance.md, "Session 14: a knob
# sweep of the backward near-misses"), so this call only times: a warm-up pass (compiles), then 4 rounds x 2 dtypes x
# 5 sets of `backward-bench --bench --nondeterministic --head-dims 128 --seqlens 8192,16384`, PyTorch cuDNN after round 2.
#   staging: as hopper_bwd20.sh (.device-hopbwd20/flash-attn.gz); run on one H100 (carry .device-hopbwd20):
#   HW_BUDGET=120 bash .device-hopbwd20/c2.sh   (estimate from call 1: ~2 s a process, ~110 s wall)
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb20b; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopbwd20/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
B=FLASH_ATTENTION_HOPPER_BWD
menv() { case $1 in
  O128) echo "X_=1";; T1) echo "${B}_EPI=1";; T2) echo "${B}_DQ=unordered";;
  T3) echo "${B}_EARLYDV=1 ${B}_LATEDK=1 ${B}_MASKBRANCH=1 ${B}_DESC=1 ${B}_EPI=1";; T6) echo "${B}_DQ=unordered ${B}_EPI=1";;
esac; }
SEQ=8192,16384; L=(O128 T1 T2 T3 T6)
ck=()
for m in "${L[@]}"; do for dt in bf16 fp16; do
  env $(menv $m) timeout 120 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes $dt --seqlens $SEQ --iterations 1 > $W/warm_${m}_$dt.txt 2>&1 & ck+=($!)
done; done
for pid in "${ck[@]}"; do wait $pid; done
stamp warm
bench() { [ "$(el)" -lt "${HW_BUDGET:-120}" ] || { stamp "skip $1 $2 $3"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2_$3.csv --head-dims 128 --seqlens $SEQ --dtypes $2 > $W/b_$1_$2_$3.txt 2>&1; }
order() { local r=$1 i j n=5 out=(); for ((i = 0; i < n; i++)); do j=$(( (i + r) % n )); [ $((r % 2)) = 0 ] && j=$(( n - 1 - j )); out+=("${L[$j]}"); done; echo "${out[@]}"; }
round() { stamp "round $2 $1: $(order $2)"; for m in $(order $2); do bench $m $1 r$2; done; }
round bf16 3; round fp16 3; round bf16 4; round fp16 4
( cd scripts && PYTHONUNBUFFERED=1 timeout 40 python3 bench_cuda_backward.py --out $W/torch.csv --dims 128 --seqlens $SEQ --dtypes bf16,fp16 > $W/torch.txt 2>&1 ); stamp torch
round bf16 5; round fp16 5; round bf16 6; round fp16 6
python3 - $W <<'PY' | tee $W/table.txt
import csv, os, sys
W = sys.argv[1]
def load(p):
    return {(int(r["seqlen"]), int(r["causal"])): float(r["tflops"]) for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
tr = {}
if os.path.exists(os.path.join(W, "torch.csv")):
    for r in csv.DictReader(open(os.path.join(W, "torch.csv"))): tr[(r["dtype"], int(r["seqlen"]), int(r["causal"]))] = float(r["cudnn"])
modes, rounds = ["O128", "T1", "T2", "T3", "T6"], (3, 4, 5, 6)
for dt in ("bf16", "fp16"):
    R = {(m, r): load(os.path.join(W, f"b_{m}_{dt}_r{r}.csv")) for m in modes for r in rounds}
    print(f"== D=128 {dt}: O TFLOPS per round (r3..r6); ratio vs O per round; cuDNN")
    for k in sorted(R[("O128", 3)]):
        f = lambda m, r: R[(m, r)].get(k, float("nan"))
        s = f"{k[0]:>5} {'causal' if k[1] else 'dense '} O " + "/".join(f"{f('O128', r):.0f}" for r in rounds) + " |"
        for m in modes[1:]: s += f" {m} " + " ".join(f"{f(m, r) / f('O128', r):.3f}" for r in rounds) + " |"
        print(s + f" cuDNN {tr.get((dt, k[0], k[1]), float('nan')):.0f}")
PY
stamp done
( cd $W && tar czf "$OUT/hb20c2.tgz" *.txt *.csv 2>/dev/null )
