#!/usr/bin/env bash
# hopfwd22 call 1: where the shipped causal D = 128 N = 512 forward waits, beside cuDNN (bf16, B 32, H 16).
# ncu --set full --import-source yes --clock-control none: ours causal (launch 30 of the D = 128 512 bf16 bench: 23
# unmasked launches come first) and unmasked (launch 7), SASS source page as CSV; cuDNN through SDPA in an NVTX range.
# Then a short interleaved timing of the existing knobs at D = 128 512/1k (2 rounds).
#   usage on the device: bash .device-hopfwd22/ncu22.sh   (this file, carried with .device-hopfwd22/flash-attn.gz; ~90 s)
# Result (H100, session 12): causal ours 107.5 us / cuDNN 103.2 us, same bytes, DRAM 71.9 / 75.1 %; the consumers' largest
#   data wait is the K of a tile's later steps (9.9 % of samples), the next Q 5.2 % (docs/performance.md, session 12).
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/n22; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd22/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
B="/tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 512 --bench-dtypes bf16"
timeout 60 $B > "$W/warm.txt" 2>&1; stamp "warm-up exit $?"
for part in "c128 30" "u128 7"; do
  set -- $part
  timeout 90 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_forward --launch-skip $2 --launch-count 1 \
    -o $W/$1 -f $B > $W/$1.log 2>&1
  stamp "$1 exit $?"
  "$ncu" -i $W/$1.ncu-rep --page details > $W/$1_details.txt 2>&1
  timeout 60 "$ncu" -i $W/$1.ncu-rep --page source --csv --print-source sass > $W/$1_sass.csv 2>&1
  stamp "$1 export: $(wc -l < $W/$1_sass.csv) lines; kernel $(grep -m1 -o 'fwd_[a-z0-9_]*' $W/$1.log $W/$1_details.txt | head -1)"
done
cat > /tmp/sdpa_once.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
causal = sys.argv[1] == "1"
B, N, H, D = 32, 512, 16, 128
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2) for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("sdpa")
    F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY
for c in 1 0; do
  timeout 90 "$ncu" --clock-control none --nvtx --nvtx-include "sdpa/" --set full -o $W/cudnn$c -f python3 /tmp/sdpa_once.py $c > $W/cudnn$c.log 2>&1
  stamp "cudnn causal=$c exit $?"
  "$ncu" -i $W/cudnn$c.ncu-rep --page details > $W/cudnn${c}_details.txt 2>&1
done
for f in c128 u128 cudnn1 cudnn0; do
  echo "== $f"; grep -E '^  [a-zA-Z_].*\(|Duration|Compute \(SM\) Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc Active|Executed Instructions  |Registers Per|Dynamic Shared|Block Size|Grid Size|Active Warps Per|Warp Cycles Per Issued' $W/${f}_details.txt | head -16
done
# The existing knobs, interleaved, D = 128 512 + 1k, bf16 + fp16 (both masks), 2 rounds.
SETS="base:X=1 er:FLASH_ATTENTION_HOPPER_EARLYRESCALE=1 desc0:FLASH_ATTENTION_HOPPER_DESC=0 diag0:FLASH_ATTENTION_HOPPER_DIAG=0 store0:FLASH_ATTENTION_HOPPER_STORE=0 qbuf1:FLASH_ATTENTION_HOPPER_QBUF=1"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
for set in $SETS; do ( env $(envs_of $set) timeout 60 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 > /dev/null 2>&1 ) & done
wait $(jobs -p); stamp "knob warm-ups done"
for r in 1 2; do for set in $SETS; do env $(envs_of $set) timeout 60 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 512,1024 --bench-dtypes bf16,fp16 --bench-csv $W/k_${set%%:*}_$r.csv > $W/k_${set%%:*}_$r.txt 2>&1; done; stamp "knob round $r"; done
head -3 $W/k_base_1.csv
python3 - $W <<'PY'
import csv, glob, os, sys
w = sys.argv[1]; rows = {}
for f in sorted(glob.glob(f"{w}/k_*.csv")):
    s, r = os.path.basename(f)[2:-4].rsplit("_", 1)
    for x in csv.DictReader(open(f)):
        key = tuple(x.get(k, "") for k in ("dtype", "headdim", "seqlen", "causal"))
        t = x["tflops"]
        rows.setdefault(key, {}).setdefault(s, {})[r] = float(t) if t else float("nan")
        if r == "1": print(s, key, x.get("variant", ""))
for key, d in sorted(rows.items()):
    b = d.get("base", {})
    print(key, x.get("variant","") if False else "", "base", " ".join(f"{b.get(r, 0):.0f}" for r in "12"), " | ", "  ".join(f"{s} " + " ".join(f"{d[s][r] / b[r]:.3f}" for r in "12" if r in d[s] and r in b) for s in d if s != "base"))
PY
( cd $W && tar czf "$OUT/ncu22.tgz" *.txt *.csv *.log )
ls -la "$OUT"; stamp end
