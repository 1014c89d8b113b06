#!/usr/bin/env bash
# Session 7 (hopfwd7), confirming call: the new table row (causal D = 128 from N = 4k: 176-key steps
# beside the dynamic scheduler with late tile addresses) as shipped, against the row before it
# (FLASH_ATTENTION_HOPPER_LATE=0 skips the new row: 128-key steps, the same kernels as before).
# Phase 1 (parallel, untimed): the shipped table's pinned float64-oracle cases and dense forward +
# backward cases (D 64/128/256), warm-ups. Phase 2 (timed): D = 128 N = 2k...16k, new / before, two
# interleaved rounds, bf16 + fp16; PyTorch SDPA cuDNN + FA2; ncu --clock-control none on one causal
# 16k launch of each (tensor pipe, issue slots, instructions, duration).
#   usage on the device: bash scripts/device/hopper_fwd7b.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/fwd7-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
OLD="FLASH_ATTENTION_HOPPER_LATE=0"
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 90 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
job pinned "X=1" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job dense "X=1" /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims 64,128,256 --check-cases 6 --check-dense
for t in bf16 fp16; do
  for cfg in "X=1" "$OLD"; do ( env $cfg timeout 90 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 4096 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
wait
el "phase 1 done"
for n in pinned dense; do echo "$n: $(grep -E '^check:|passed, [0-9]+ failed' $LOG/$n.txt | tail -1) $(tail -1 $LOG/$n.txt)"; done
grep -h "FAIL" $LOG/pinned.txt $LOG/dense.txt | head -5
LN=2048,4096,8192,16384
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens $LN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do bench new_$r "X=1"; bench old_$r "$OLD"; done
el "bench done"
PYTHONUNBUFFERED=1 timeout 50 python3 scripts/bench_cuda.py --ours $OUT/new_1.csv --out $OUT/torch.csv --dims 128 --seqlens $LN > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
# ncu: the causal 16k launches of one bench point (23 unmasked launches first, then 23 causal).
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,sm__cycles_elapsed.avg.per_second
nc() { env $2 timeout 40 ncu --clock-control none -k flash_attention_forward --launch-skip 30 --launch-count 1 --metrics $m /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > $LOG/ncu_$1.txt 2>&1
  echo "ncu $1: $(grep -E 'duration|hmma|issue_active|inst_executed|per_second' $LOG/ncu_$1.txt | awk '{print $1, $(NF-1), $NF}' | tr '\n' ';')"; }
nc new "X=1"; nc old "$OLD"
el "ncu done"
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
n1, n2, o1, o2, t = (load(x) for x in ("new_1", "new_2", "old_1", "old_2", "torch"))
print("dtype D N c | new r1/r2 | before r1/r2 | cudnn fa2 | new/before | new/cudnn before/cudnn | kernels")
for k in sorted(n1):
    a = (v(n1, k) + v(n2, k)) / 2; b = (v(o1, k) + v(o2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(n1,k):.0f}/{v(n2,k):.0f} | {v(o1,k):.0f}/{v(o2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {a/b:.3f} | {a/c:.2f} {b/c:.2f} | {n1[k].get('variant','')} {o1.get(k, {}).get('variant','')}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
