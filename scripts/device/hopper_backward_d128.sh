#!/usr/bin/env bash
# Session 6, lead: do the tile D = 64 backward defaults of session 6 (head groups of 4 on unmasked
# problems from 4k keys, the mask evaluated on edge steps only on causal ones) also pay at tile
# D = 128, where they were checked (check-dense forced 48/48) but never timed?
# Phase 1: compute-sanitizer memcheck + racecheck with the Hopper backward, head groups of 4 and the
# mask branch forced at D = 128 (check-dense, 4 cases). Phase 2: backward-bench at D = 128,
# N = 512…16k, causal and not: O = defaults, G2/G4/G8 = FLASH_ATTENTION_HOPPER_BWD_GROUP, B = the mask
# branch, BG4 = both (bf16 twice, interleaved; fp16 once), then PyTorch SDPA cuDNN/FA2 on the same grid.
# Its one run (2026-11-27) had the sanitizer lines without `env` (exit 127: they did not run); fixed since.
#   usage on the device: bash scripts/device/hopper_backward_d128.sh   (expects .device-me/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hd128; mkdir -p $W
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
G=FLASH_ATTENTION_HOPPER_BWD_GROUP; MB=FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH
menv() { case $1 in O) echo "";; B) echo "$MB=1";; BG*) echo "$MB=1 $G=${1#BG}";; G*) echo "$G=${1#G}";; esac; }
for tool in memcheck racecheck; do
  env FLASH_ATTENTION_HOPPER_BWD=1 $G=4 $MB=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
    --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 128 --check-cases 4 --check-dense --seed 13 > $W/san_$tool.txt 2>&1
  echo "$tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $W/san_$tool.txt | tail -1); launches g4 $(grep -c 'hbwd_dkdv.*_g4' $W/san_$tool.txt); $(grep -E 'passed|failed' $W/san_$tool.txt | tail -1)" | tee -a $W/summary.txt
done
stamp sanitizers
bench() {  # mode dtypes tag
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --csv "$W/bench_$1_$3.csv" --head-dims 128 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes $2 > "$W/bench_$1_$3.txt" 2>&1
  stamp "bench $1 $3 exit $?"
}
for m in O G4 B BG4 G2 G8; do bench $m bf16 r1; done
for m in BG4 B G4 O; do bench $m bf16 r2; done
for m in O G4 B BG4; do bench $m fp16 f1; done
PYTHONUNBUFFERED=1 timeout 80 python3 scripts/bench_cuda_backward.py --ours "$W/bench_O_r1.csv" --out "$W/torch.csv" --dims 128 \
  --seqlens 512,1024,2048,4096,8192,16384 --dtypes bf16,fp16 > "$W/torch.txt" 2>&1
stamp torch
python3 - "$W" <<'PY' | tee "$W/table.txt"
import csv, os, sys
w = sys.argv[1]
def load(n):
    p = os.path.join(w, n)
    return {(r["dtype"], r["seqlen"], r["causal"]): float(r["tflops"]) for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
tr = {(r["dtype"], r["seqlen"], r["causal"]): r for r in csv.DictReader(open(os.path.join(w, "torch.csv")))} if os.path.exists(os.path.join(w, "torch.csv")) else {}
modes = ["O", "G2", "G4", "G8", "B", "BG4"]
runs = {m: [load(f"bench_{m}_{t}.csv") for t in ("r1", "r2", "f1")] for m in modes}
def mean(m, k):
    xs = [d[k] for d in runs[m] if k in d]
    return sum(xs) / len(xs) if xs else float("nan")
keys = sorted({k for m in modes for d in runs[m] for k in d}, key=lambda k: (k[0], int(k[1]), k[2]))
print("dtype N causal | " + " ".join(modes) + " (mean of rounds) | cuDNN | O/cuDNN | " + " ".join(f"{m}/O" for m in modes[1:]))
for k in keys:
    v = {m: mean(m, k) for m in modes}
    cu = float(tr[k]["cudnn"]) if k in tr else float("nan")
    print(f"{k[0]} {k[1]:>5} {k[2]} | " + " ".join(f"{v[m]:6.1f}" for m in modes) + f" | {cu:6.1f} | {v['O']/cu:.2f} | " + " ".join(f"{v[m]/v['O']:.3f}" for m in modes[1:]))
PY
tar czf "$OUT/hd128.tgz" -C $W .
