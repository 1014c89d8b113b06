#!/usr/bin/env bash
# Session 8, hopbwd13: the tile D = 128 Hopper backward with L and D read into registers ahead of the wgmma
# waits (S = FLASH_ATTENTION_HOPPER_BWD_STATS=1, kernel mark _es_; causal/plain order: L only) and, in the late
# dK forms (unmasked), the staged dQ_partial's proxy fence behind dK's completion (SF = S +
# FLASH_ATTENTION_HOPPER_BWD_LATEFENCE=1, mark _lf_). hopper_bwd13_measure.sh (ncu, bf16 1k/8k unmasked): the
# first exp FFMA and the first dSᵀ FADD waited on the L/D shared-memory loads (~8 % of stall samples), the fence
# after the dQ staging ~3.7 %.
# Phase 1 (HW_SKIP word "check"): SF forced with FLASH_ATTENTION_HOPPER_BWD=1: float64-oracle check-dense D 128/96
# deterministic and --nondeterministic, --determinism 10 bitwise, verify 30 random cases, compute-sanitizer
# memcheck + racecheck on fp16 D = 128 200 x 260 GQA 4/2 (unmasked: es+lf; racecheck also with two dQ buffers)
# and D = 96 causal 330 x 300 GQA 2/1 (es); launches of the new forms counted.
# Phase 2: backward-bench --bench --nondeterministic D = 128, N = 512…16k, causal and not: O = defaults, S, SF;
# bf16 r1 (O S SF), PyTorch SDPA cuDNN bf16+fp16 (cuDNN only: the device allotment; same method as
# scripts/bench_cuda_backward.py, bench_common.time_ms, median of 10 after 2), fp16 f1 (O SF), bf16 r2 (SF O).
#   staging (here): build flash-attn static from a clean archive, gzip -c … > .device-bwd2/flash-attn.gz
#   on the device (carry .device-bwd2/flash-attn.gz): bash scripts/device/hopper_bwd13.sh   (~150-170 s)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hb13w; mkdir -p $W
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
budget=${HW_BUDGET:-150}   # a bench step starts only before t = budget s
H=FLASH_ATTENTION_HOPPER_BWD; ST=FLASH_ATTENTION_HOPPER_BWD_STATS; LF=FLASH_ATTENTION_HOPPER_BWD_LATEFENCE; L=FLASH_ATTENTION_HOPPER_BWD_LOG
menv() { case $1 in O) echo "$ST=0 $LF=0";; S) echo "$ST=1 $LF=0";; SF) echo "$ST=1 $LF=1";; esac; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader | tee $W/gpu.txt
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
python3 -c "
import numpy as np
r = np.random.default_rng(13)
for tag, (sq, sk, h, hk, d) in {'b': (200, 260, 4, 2, 128), 'c': (330, 300, 2, 1, 96)}.items():
    for n, s in (('q', (1, sq, h, d)), ('k', (1, sk, hk, d)), ('v', (1, sk, hk, d)), ('do', (1, sq, h, d))):
        np.save(f'/tmp/s{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
SEQ=${HW_SEQLENS:-512,1024,2048,4096,8192,16384}
if want check; then
  ck=()
  env $H=1 $(menv SF) $L=1 timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense \
    --seed 31 > $W/check_SF.txt 2>&1 & ck+=($!)
  env $H=1 $(menv SF) $L=1 timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense \
    --nondeterministic --seed 31 > $W/check_SF_nd.txt 2>&1 & ck+=($!)
  env $(menv SF) $L=1 timeout 100 /tmp/fa backward-bench --determinism 10 > $W/det_SF.txt 2>&1 & ck+=($!)
  env $(menv S) $L=1 timeout 100 /tmp/fa backward-bench --determinism 10 > $W/det_S.txt 2>&1 & ck+=($!)
  env $(menv SF) $L=1 timeout 160 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 30 --seed 37 > $W/verify_SF.txt 2>&1 & ck+=($!)
  sanrun() {  # tool tag flag extra-env
    env $H=1 $(menv SF) $L=1 $4 timeout 120 "$san" --tool $1 --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa run --q /tmp/s$2_q.npy --k /tmp/s$2_k.npy --v /tmp/s$2_v.npy --grad-out /tmp/s$2_do.npy --dtype float16 --device cuda $3 \
      --out /tmp/so_$1$2$5.npy --dq /tmp/sdq_$1$2$5.npy --dk /tmp/sdk_$1$2$5.npy --dv /tmp/sdv_$1$2$5.npy > $W/san_$1_$2$5.txt 2>&1
  }
  for tool in memcheck racecheck; do
    sanrun $tool b "" "" "" & ck+=($!)
    sanrun $tool c --causal "" "" & ck+=($!)
  done
  sanrun racecheck b "" FLASH_ATTENTION_HOPPER_BWD_DQBUF=2 _buf2 & ck+=($!)
  for m in O S SF; do   # compile the timed kernels meanwhile
    env $(menv $m) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes bf16,fp16 --seqlens 1024,2048 \
      --iterations 1 > $W/warm_$m.txt 2>&1 & ck+=($!)
  done
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  cnt() { echo "Hopper launches $(grep -c 'hopper-bwd' $1), es $(grep -c '_es_' $1), es+lf $(grep -c '_es_lf_' $1)"; }
  summary+=("SF forced check-dense det: $(grep '^pinned' $W/check_SF.txt); $(cnt $W/check_SF.txt)")
  summary+=("SF forced check-dense nondet: $(grep '^pinned' $W/check_SF_nd.txt); $(cnt $W/check_SF_nd.txt)")
  summary+=("SF: $(grep '^determinism:' $W/det_SF.txt); $(cnt $W/det_SF.txt)")
  summary+=("S: $(grep '^determinism:' $W/det_S.txt); $(cnt $W/det_S.txt)")
  summary+=("verify SF (seed 37, 30 cases): $(tail -2 $W/verify_SF.txt | tr '\n' ' '); $(cnt $W/verify_SF.txt)")
  for f in $W/san_*.txt; do
    summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $(cnt $f)")
  done
  printf '%s\n' "${summary[@]}"
fi
bench() {  # mode dtype tag
  [ "$(el)" -lt "$budget" ] || { stamp "bench $1 $3 skipped (budget)"; return; }
  env $(menv $1) timeout 40 /tmp/fa backward-bench --bench --nondeterministic --csv $W/bench_$1_$3.csv --head-dims 128 \
    --seqlens $SEQ --dtypes $2 > $W/bench_$1_$3.txt 2>&1
  stamp "bench $1 $3 exit $?"
}
bench O bf16 r1; bench S bf16 r1; bench SF bf16 r1
if want torch; then
  PYTHONUNBUFFERED=1 PYTHONPATH=scripts timeout 60 python3 - $W/torch.csv $SEQ > $W/torch.txt 2>&1 <<'PY'
import csv, sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from bench_common import time_ms
rows = []
for dname in ("bf16", "fp16"):
    dtype = torch.bfloat16 if dname == "bf16" else torch.float16
    for N in [int(x) for x in sys.argv[2].split(",")]:
        D = 128; B, H = 16384 // N, 2048 // D
        for causal in (0, 1):
            flops = 2.5 * 4 * B * H * N * N * D * (0.5 if causal else 1)
            q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=dtype).transpose(1, 2).requires_grad_() for _ in range(3))
            do = torch.randn(B, H, N, D, device="cuda", dtype=dtype)
            with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
                out = F.scaled_dot_product_attention(q, k, v, is_causal=bool(causal))
                ms = time_ms(lambda: torch.autograd.grad(out, (q, k, v), do, retain_graph=True), 2, 10)
            rows.append({"dtype": dname, "headdim": D, "seqlen": N, "causal": causal, "flash": "nan", "cudnn": flops / (ms * 1e-3) / 1e12})
            print(rows[-1], flush=True)
            del q, k, v, do, out; torch.cuda.empty_cache()
with open(sys.argv[1], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
PY
  stamp "torch exit $?"
fi
want fp16 && { bench O fp16 f1; bench SF fp16 f1; }
want round2 && { bench SF bf16 r2; bench O bf16 r2; }
python3 - $W <<'PY' | tee $W/summary_table.txt
import csv, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p): return {}
    return {(r["dtype"], r["headdim"], r["seqlen"], r["causal"]): r for r in csv.DictReader(open(p))}
tr = load("torch.csv")
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
modes = ["O", "S", "SF"]
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
def mean(m, k):
    xs = [f(d, k) for d in runs[m] if k in d]; xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
print("dtype D N causal | O S SF (mean of rounds) | FA2 cuDNN | O/cuDNN S/cuDNN SF/cuDNN | S/O SF/O | r1/r2 O S SF")
for k in keys:
    v = [mean(m, k) for m in modes]; fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    rr = " ".join(f"{f(runs[m][0], k):.0f}/{f(runs[m][1], k):.0f}" for m in modes)
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {fa2:.0f} {cu:.0f} | "
          + " ".join(f"{x / cu:.2f}" for x in v) + f" | {v[1] / v[0]:.3f} {v[2] / v[0]:.3f} | {rr}")
PY
echo "=== checks"; printf '%s\n' "${summary[@]}"
stamp done
( cd $W && tar czf "$OUT/hb13_logs.tgz" --exclude='*.npy' . ); cp $W/summary_table.txt "$OUT/"
