#!/usr/bin/env bash
# Session 8 (hopfwd9), Hopper forward at the short causal points, one device call.
# Phase 1 (parallel, untimed), candidate forced (FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_DIAG=1:
#   the half-width diagonal softmax, descriptor halfDiagonalStep, suffix `hd`): pinned float64-oracle
#   cases (full and 2-block grid), dense forward + backward oracle cases (full and 2-block grid), a random
#   verify sweep, compute-sanitizer memcheck + racecheck (2-block grid); each prints the hd kernels it
#   reached; warm-ups fill the shared kernel cache.
# Phase 2: ncu (--clock-control none) of ours and of cuDNN's SDPA forward at causal D = 64, N = 512
#   and 1k (B = 16k/N, H = 32, bf16): launch shape (grid, block, registers, shared memory),
#   duration, tensor pipe, issue active, instructions, stall reasons; ours also with hd at 512.
# Phase 3 (timed, one process at a time): D = 64/128/256, N = 512/1k, bf16 + fp16, shipped / hd in
#   two interleaved rounds (the unmasked points run the same kernel in both columns: the spread);
#   PyTorch SDPA cuDNN + FA2 on the same points in the same call.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path .build-hopfwd9-static; gzip -c .../release/flash-attn > .device-hop/fwd9-flash-attn.gz
#   usage on the device: bash scripts/device/hopper_fwd9.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
gunzip -c .device-hop/fwd9-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | grep -E "hd_sm" | sort | uniq | tr '\n' ' '; }
K="FLASH_ATTENTION_HOPPER_DIAG=1"
F="FLASH_ATTENTION_HOPPER=1 $K"
# Phase 1: checks, candidate forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 120 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
job pinned "$F" /tmp/fa compile --check-dims 64,128,256 --check-cases 4
job pinned_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128,256 --check-cases 3
job dense "$F" $(dense 64,128,256 8)
job dense_g2 "$F FLASH_ATTENTION_HOPPER_GRID=2" $(dense 64,256 6)
job verify "$F" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 40 --seed 53
for tool in memcheck racecheck; do
  job san_$tool "$F FLASH_ATTENTION_HOPPER_GRID=2" compute-sanitizer --tool $tool --kernel-name kns=flash_attention_forward --error-exitcode 9 $(dense 64,128 2)
done
# Warm-ups into the shared cache (neither ncu nor the timed runs compile anything).
for t in bf16 fp16; do
  for cfg in "X=1" "$K"; do ( env $cfg timeout 100 /tmp/fa compile --bench --bench-head-dims 64,128,256 --bench-seqlens 512,1024 --bench-dtypes $t > /dev/null 2>&1 ) & done
done
wait
el "phase 1 done"
for n in pinned pinned_g2 dense dense_g2 verify san_memcheck san_racecheck; do
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); hd kernels ran: $(used /tmp/c-$n)"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/san_*.txt | head -5
# Phase 2: ncu. Our bench runs each (D, N) unmasked then causal, 23 launches each: skip 30 = the causal one.
cat > /tmp/sdpa_once.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
N = int(sys.argv[1]); D = 64; B, H = 16384 // N, 2048 // D
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2) for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("sdpa")
    F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,lts__t_sector_hit_rate.pct,sm__cycles_elapsed.avg.per_second,smsp__warps_active.avg.per_cycle_active
st="regex:smsp__average_warps_issue_stalled_.*_per_issue_active"
summ() {  # name file
  local f=$1
  echo "ncu $2: $(grep -m1 ' Context ' $f | sed 's/^ *//' | cut -c1-190)"
  echo "   $(grep -E 'gpu__time_duration|hmma|issue_active|inst_executed.sum|dram__throughput|dram__bytes_read|hit_rate|per_second|warps_active' $f | awk '{print $1"="$NF}' | sed 's/\.avg\.pct_of_peak_sustained_active//;s/sm__pipe_tensor_op_hmma_cycles_active/tensor/' | tr '\n' ' ')"
  echo "   launch: $(grep -E '^ *(Grid Size|Block Size|Registers Per Thread|Dynamic Shared Memory Per Block|Cluster Size|Threads|Waves Per SM) ' $f | tr -s ' ' | sed 's/^ //' | tr '\n' ';')"
  echo "   stalls: $(grep -E 'issue_stalled_.*per_issue_active' $f | awk '{print $1, $NF}' | sed 's/smsp__average_warps_issue_stalled_//;s/_per_issue_active//' | sort -k2 -g -r | head -6 | tr '\n' ';')"
}
for n in 512 1024; do
  cfgs="ours:X=1"; [ $n = 512 ] && cfgs="$cfgs hd:$K"
  for cfg in $cfgs; do
    name=${cfg%%:*}; envs=${cfg#*:}
    env $envs timeout 60 ncu --clock-control none -k regex:flash_attention_forward --launch-skip 30 --launch-count 1 --section LaunchStats --metrics $m,$st /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens $n --bench-dtypes bf16 > $LOG/ncu_${name}_$n.txt 2>&1
    summ $LOG/ncu_${name}_$n.txt "$name D=64 causal N=$n bf16"
  done
  timeout 90 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m,$st python3 /tmp/sdpa_once.py $n > $LOG/ncu_cudnn_$n.txt 2>&1
  summ $LOG/ncu_cudnn_$n.txt "cuDNN D=64 causal N=$n bf16"
done
el "ncu done"
# Phase 3 (timed, one process at a time).
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims 64,128,256 --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; }
for r in 1 2; do
  bench base_$r "X=1"; bench hd_$r "$K"
  el "round $r done"
done
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims 64,128,256 --seqlens 512,1024 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
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
t = load("torch")
b1, b2, o1, o2 = load("base_1"), load("base_2"), load("hd_1"), load("hd_2")
print("dtype D N c | shipped r1/r2 | hd r1/r2 | cudnn fa2 | hd/shipped | shipped/cudnn hd/cudnn | kernels")
for k in sorted(b1, key=lambda k: (k[3], k[0], k[1], k[2])):
    b = (v(b1, k) + v(b2, k)) / 2; o = (v(o1, k) + v(o2, k)) / 2; c = v(t, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {v(b1,k):.0f}/{v(b2,k):.0f} | {v(o1,k):.0f}/{v(o2,k):.0f} | {c:.0f} {v(t,k,'flash'):.0f} | {o/b:.3f} | {b/c:.2f} {o/c:.2f} | "
          + b1.get(k, {}).get("variant", "?")[-22:] + " " + o1.get(k, {}).get("variant", "?")[-22:])
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
el "end"
