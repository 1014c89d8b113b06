#!/usr/bin/env bash
# Session 7 part 2, hopbwd12 (built, never run on a GPU): the wide Hopper backward's (tile D = 256) one-stage form
# with Q in a ring of three 16 KB half tiles (FLASH_ATTENTION_HOPPER_BWD256_QRING=1, descriptor wideQRing, kernel
# name mark _qr_). The 16 KB come from the float32 copy of Pᵀ, dropped: warpgroup 1 computes dSᵀ from the 16-bit
# Pᵀ staged for dV. Half 0 of the next step's Q loads a step early; warpgroup 0 runs the first half of Sᵀ's
# k-loop on it. hopbwd10's ncu: ~14 % of the consumers' samples waited for Q at unmasked 2k (one stage).
# Modes: S = shipped defaults; R = ring where the rule picks one Q stage (causal; unmasked below 4k keys);
# R1 = ring with one stage forced everywhere; RU = R1 + arrival-order dQ forced (the non-deterministic checks).
# Phase 1 (HW_SKIP word "check"): R1 forced: float64-oracle check-dense D 192/256 deterministic (ordered dQ, two
# writers) and RU --nondeterministic (arrival order), launches counted; --determinism 10 bitwise; verify 30
# cases; compute-sanitizer memcheck + racecheck: R1 on D = 256 causal bf16 300 x 320 GQA 4/2 (up to 10 steps a CTA, the
# ring's three slots wrap) and memcheck on D = 232 fp16 257 x 200; RU on 4 non-deterministic check-dense D = 256 cases.
# Phase 2: non-deterministic calls (the issue's metric, --nondeterministic): bf16 D = 256 S R R1 (r1), cuDNN/FA2,
# fp16 S R R1 (f1), cuDNN/FA2, bf16 R1 R S (r2). Then (HW_SKIP word "det") one deterministic bf16 round SD RD.
# Summary table last; logs in one archive.
#   staging (here):  swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib \
#                      --scratch-path .build-hb12-static && mkdir -p .device/hb12 && \
#                    gzip -c .build-hb12-static/release/flash-attn > .device/hb12/fa.gz
#   on the device (carry .device/hb12):  bash scripts/device/hopper_bwd12.sh        (~170-200 s)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hb12w; mkdir -p $W
gunzip -c .device/hb12/fa.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
RG=FLASH_ATTENTION_HOPPER_BWD256_QRING; S=FLASH_ATTENTION_HOPPER_BWD256_STAGES; Q=FLASH_ATTENTION_HOPPER_BWD256_DQ
menv() { case $1 in S|SD) echo "";; R|RD) echo "$RG=1";; R1) echo "$RG=1 $S=1";; RU) echo "$RG=1 $S=1 $Q=unordered";; esac; }
mflag() { case $1 in SD|RD) echo "";; *) echo "--nondeterministic";; esac; }
MK='hbwd_dkdv.*d256.*_qr_'
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee $W/gpu.txt
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
python3 -c "
import numpy as np
r = np.random.default_rng(17)
for tag, sq, sk, d in (('a', 300, 320, 256), ('b', 257, 200, 232)):
    for n, s in (('q', (1, sq, 4, d)), ('k', (1, sk, 2, d)), ('v', (1, sk, 2, d)), ('do', (1, sq, 4, d))):
        np.save(f'/tmp/san{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
sargs() { echo "run --q /tmp/san$1_q.npy --k /tmp/san$1_k.npy --v /tmp/san$1_v.npy --grad-out /tmp/san$1_do.npy --dtype $2 --device cuda $3 --dq /tmp/s_dq$4.npy --dk /tmp/s_dk$4.npy --dv /tmp/s_dv$4.npy --out /tmp/s_o$4.npy"; }
if want check; then
  ck=()
  env FLASH_ATTENTION_HOPPER_BWD=1 $(menv R1) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 192,256 --check-cases 12 --check-dense --seed 23 > $W/check_R1.txt 2>&1 & ck+=($!)
  env FLASH_ATTENTION_HOPPER_BWD=1 $(menv RU) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
    --check-dims 192,256 --check-cases 12 --check-dense --nondeterministic --seed 23 > $W/check_RU.txt 2>&1 & ck+=($!)
  env $(menv R1) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 /tmp/fa backward-bench --determinism 10 > $W/det_R1.txt 2>&1 & ck+=($!)
  env $(menv R1) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 30 --seed 29 \
    > $W/verify_R1.txt 2>&1 & ck+=($!)
  for tool in memcheck racecheck; do
    env $(menv R1) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 /tmp/fa $(sargs a bfloat16 --causal aR1$tool) > $W/san_${tool}_R1_d256c.txt 2>&1 & ck+=($!)
    # `run` makes deterministic calls (ordered dQ): arrival order is reached through non-deterministic check-dense cases.
    env FLASH_ATTENTION_HOPPER_BWD=1 $(menv RU) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool $tool \
      --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 256 \
      --check-cases 2 --check-dense --nondeterministic --seed 9 > $W/san_${tool}_RU_dense.txt 2>&1 & ck+=($!)
  done
  env $(menv R1) FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 170 "$san" --tool memcheck --kernel-name kns=flash_attention_backward_hopper \
    --error-exitcode 9 /tmp/fa $(sargs b float16 "" bR1) > $W/san_memcheck_R1_d232.txt 2>&1 & ck+=($!)
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  for m in R1 RU; do
    summary+=("check-dense $m forced: $(grep '^pinned' $W/check_$m.txt); ring launches $(grep -c "$MK" $W/check_$m.txt) of $(grep -c 'hopper-bwd' $W/check_$m.txt) Hopper launches ($(grep -c "$MK.*dqunordered" $W/check_$m.txt) arrival order)")
  done
  summary+=("R1: $(grep '^determinism:' $W/det_R1.txt) ($(grep -c "$MK" $W/det_R1.txt) ring launches)")
  summary+=("verify, R1 (seed 29, 30 cases): $(tail -2 $W/verify_R1.txt | tr '\n' ' '); ring launches $(grep -c "$MK" $W/verify_R1.txt)")
  for f in $W/san_*.txt; do
    summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); ring launches $(grep -c "$MK" $f); 'Error' lines $(grep -c 'Error' $f)")
  done
  printf '%s\n' "${summary[@]}"
fi
bench() {  # mode dtypes tag
  env $(menv $1) timeout 90 /tmp/fa backward-bench --bench $(mflag $1) --csv $W/bench_$1_$3.csv --head-dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes $2 > $W/bench_$1_$3.txt 2>&1
  stamp "bench $1 $3 exit $?"
}
if want bench; then
  for m in ${HW_R1:-S R R1}; do bench $m bf16 r1; done
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours $W/bench_S_r1.csv --out $W/torch_bf16.csv --dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes bf16 > $W/torch_bf16.txt 2>&1; stamp "torch bf16"
  for m in ${HW_F1:-S R R1}; do bench $m fp16 f1; done
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours $W/bench_S_f1.csv --out $W/torch_fp16.csv --dims 256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes fp16 > $W/torch_fp16.txt 2>&1; stamp "torch fp16"
  for m in ${HW_R2:-R1 R S}; do bench $m bf16 r2; done
fi
if want det; then for m in SD RD; do bench $m bf16 r1; done; fi
python3 - $W "S R R1" "SD RD" <<'PY' | tee $W/summary_table.txt
import csv, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r.get("dtype"), r.get("headdim"), r.get("seqlen"), r.get("causal")): r for r in csv.DictReader(open(path))}
tr = {**load("torch_bf16.csv"), **load("torch_fp16.csv")}
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
for title, base, modes in (("non-deterministic calls", "S", sys.argv[2].split()), ("deterministic calls (one bf16 round)", "SD", sys.argv[3].split())):
    runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
    modes = [m for m in modes if any(runs[m])]
    if base not in modes: continue
    def mean(m, k):
        xs = [f(d, k) for d in runs[m] if k in d]; xs = [x for x in xs if x == x]
        return sum(xs) / len(xs) if xs else float("nan")
    keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), int(k[2]), k[3]))
    print(f"== {title}")
    print("dtype D N causal | " + " ".join(modes) + " (mean of rounds) | FA2 cuDNN | " + " ".join(f"{m}/cuDNN" for m in modes)
          + " | " + " ".join(f"{m}/{base}" for m in modes if m != base) + " | r1/r2 " + " ".join(modes))
    for k in keys:
        v = [mean(m, k) for m in modes]; fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn"); s = mean(base, k)
        rr = " ".join(f"{f(runs[m][0], k):.0f}/{f(runs[m][1], k):.0f}" for m in modes)
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | " + " ".join(f"{x:.0f}" for x in v) + f" | {fa2:.0f} {cu:.0f} | "
              + " ".join(f"{x / cu:.2f}" for x in v) + " | " + " ".join(f"{mean(m, k) / s:.2f}" for m in modes if m != base) + f" | {rr}")
PY
echo "=== checks"; printf '%s\n' "${summary[@]}"
stamp done
( cd $W && tar czf "$OUT/hb12_logs.tgz" --exclude='*.npy' . ); cp $W/summary_table.txt "$OUT/"
