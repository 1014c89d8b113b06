#!/usr/bin/env bash
# Session 8, hopbwd15: the persistent key/value grid (FLASH_ATTENTION_HOPPER_BWD_PERSIST=1, descriptor
# persistentTiles, name suffix _pt; arrival-order dQ, non-deterministic calls only; tile D = 128 unmasked (early dV) only) beside the
# shipped non-deterministic defaults and cuDNN:
#   O  = shipped defaults (ordered dQ, two buffers / two writers from 2k keys, early dV + late dK unmasked)
#   U  = FLASH_ATTENTION_HOPPER_BWD_DQ=unordered: arrival-order adds on the one-tile-per-CTA grid (PT's baseline)
#   PT = FLASH_ATTENTION_HOPPER_BWD_PERSIST=1: min(tiles, SMs) CTAs walk the tiles head-major with a static
#        stride; the next tile's first Q/dO stage and then its K/V load run under the previous tile's tail
# Phase 1 (HW_SKIP word "check"): PT forced (FLASH_ATTENTION_HOPPER_BWD=1) check-dense D 128/96 --nondeterministic
# (only its unmasked cases take PT: the form needs the early dV), once as launched and once with FLASH_ATTENTION_HOPPER_GRID=3
# (each CTA walks many tiles); memcheck + racecheck of PT (grid 2) through 2 non-deterministic check-dense cases at D = 128;
# launches counted (_pt_ names).
# Phase 2: backward-bench --bench --nondeterministic D = 128, N = 1k…16k: r1 O U PT bf16, cuDNN bf16+fp16 (torch
# SDPA cuDNN backward, same method as hopper_bwd13.sh), f1 O PT fp16, r2 PT U O bf16 (interleaved). Budget guard
# HW_BUDGET (default 105 s: no bench starts after it). Summary table last.
#   staging: .device-bwd2/bwd15-flash-attn.gz (built from the hopbwd15 commit)
#   on the device (carry .device-bwd2/bwd15-flash-attn.gz): bash scripts/device/hopper_bwd15.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hb15w; mkdir -p $W
gunzip -c .device-bwd2/bwd15-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
budget=${HW_BUDGET:-105}
H=FLASH_ATTENTION_HOPPER_BWD; Q=FLASH_ATTENTION_HOPPER_BWD_DQ; L=FLASH_ATTENTION_HOPPER_BWD_LOG
menv() { case $1 in O) echo "$Q=ordered";; U) echo "$Q=unordered";; PT) echo "FLASH_ATTENTION_HOPPER_BWD_PERSIST=1";; esac; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader | tee $W/gpu.txt
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
SEQ=${HW_SEQLENS:-1024,2048,4096,8192,16384}
if want check; then
  ck=()
  env $H=1 $(menv PT) $L=1 timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense \
    --nondeterministic --seed 41 > $W/check_PT_nd.txt 2>&1 & ck+=($!)
  # FLASH_ATTENTION_HOPPER_GRID=3: three CTAs, so each walks many tiles (the phases across tiles, the K/V hand-over)
  env $H=1 $(menv PT) $L=1 FLASH_ATTENTION_HOPPER_GRID=3 timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 \
    --check-cases 12 --check-dense --nondeterministic --seed 41 > $W/check_PT_nd_grid3.txt 2>&1 & ck+=($!)
  for tool in memcheck racecheck; do
    env $H=1 $(menv PT) $L=1 FLASH_ATTENTION_HOPPER_GRID=2 timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa backward-bench --warm-verify 0 --check-dims 128 --check-cases 2 --check-dense --nondeterministic --seed 9 \
      > $W/san_${tool}_PT.txt 2>&1 & ck+=($!)
  done
  for m in O U PT; do
    env $(menv $m) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes bf16,fp16 --seqlens 1024,2048 \
      --iterations 1 > $W/warm_$m.txt 2>&1 & ck+=($!)
  done
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  cnt() { echo "Hopper launches $(grep -c 'hopper-bwd' $1), persistent $(grep -c '_pt_' $1), unordered $(grep -c 'dqunordered' $1)"; }
  summary+=("PT forced check-dense nondet D 128/96: $(grep '^pinned' $W/check_PT_nd.txt); $(cnt $W/check_PT_nd.txt)")
  summary+=("PT forced check-dense nondet D 128/96 grid 3: $(grep '^pinned' $W/check_PT_nd_grid3.txt); $(cnt $W/check_PT_nd_grid3.txt)")
  for f in $W/san_*.txt; do summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $(cnt $f)"); done
  printf '%s\n' "${summary[@]}"
fi
bench() {  # mode dtype tag
  [ "$(el)" -lt "$budget" ] || { stamp "bench $1 $3 skipped (budget)"; return; }
  env $(menv $1) timeout 40 /tmp/fa backward-bench --bench --nondeterministic --csv $W/bench_$1_$3.csv --head-dims 128 \
    --seqlens $SEQ --dtypes $2 > $W/bench_$1_$3.txt 2>&1
  stamp "bench $1 $3 exit $?"
}
for m in O U PT; do bench $m bf16 r1; done
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
            del q, k, v, do, out; torch.cuda.empty_cache()
with open(sys.argv[1], "w", newline="") as f:
    w = csv.DictWriter(f, fieldnames=list(rows[0])); w.writeheader(); w.writerows(rows)
PY
  stamp "torch exit $?"
fi
want fp16 && for m in O PT; do bench $m fp16 f1; done
want round2 && for m in PT U O; do bench $m bf16 r2; done
python3 - $W <<'PY' | tee $W/summary_table.txt
import csv, os, sys
out = sys.argv[1]
def load(name):
    p = os.path.join(out, name)
    if not os.path.exists(p): return {}
    return {(r["dtype"], r["headdim"], r["seqlen"], r["causal"]): r for r in csv.DictReader(open(p))}
tr = load("torch.csv")
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
modes = ["O", "U", "PT"]
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
def mean(m, k):
    xs = [f(d, k) for d in runs[m] if k in d]; xs = [x for x in xs if x == x]
    return sum(xs) / len(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
print("dtype D N causal | " + " ".join(modes) + " (mean of rounds) | cuDNN | " + " ".join(f"{m}/cuDNN" for m in modes) + " | "
      + " ".join(f"{m}/O" for m in modes[1:]))
for k in keys:
    v = [mean(m, k) for m in modes]; cu = f(tr, k, "cudnn")
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {cu:.0f} | " + " ".join(f"{x / cu:.2f}" for x in v)
          + " | " + " ".join(f"{x / v[0]:.3f}" for x in v[1:]))
PY
echo "=== checks"; printf '%s\n' "${summary[@]}"
stamp done
( cd $W && tar czf "$OUT/hb15_logs.tgz" --exclude='*.npy' . ); cp $W/summary_table.txt "$OUT/"
