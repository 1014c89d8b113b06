#!/usr/bin/env bash
# Session 13, hopfwd24 call 1: where the shipped UNMASKED short forward waits, beside cuDNN (bf16):
#   D = 128 N = 1k (B 16, H 16; ours …tmaws2pq2so) and D = 64 N = 512 (B 32, H 32; ours three warpgroups …pq2soxder).
# ncu --set full --import-source yes --clock-control none, one launch each (launch 7 of the bench = unmasked), SASS
# source pages as CSV; cuDNN through SDPA in an NVTX range. Then a 2-round interleaved A/B of the existing knobs that
# touch unmasked short rows (scripts/device/hopper_fwd23.sh phase 2, no checks), cuDNN/FA2 in the same call.
#   usage on the device: bash .device-hopfwd24/ncu24.sh   (carry .device-hopfwd24; this file was .device-hopfwd24/ncu24.sh)
# Result (H100, session 13, 122 s wall on a fresh machine): D = 128 1k ours 225.3 us / cuDNN 229.9 us, D = 64 512 ours
#   181.8 us / cuDNN 179.0 us (docs/performance.md, "Session 13: empty warpgroups"). The `dyn` set did not run: envs_of
#   turns the comma of its value into a space (TILES=64:128x2dq,128:128x2dq), so the bench got `128:128x2dq` as its command.
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/n24; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopfwd24/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
( timeout 60 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 1024 --bench-dtypes bf16 > "$W/warm128.txt" 2>&1 ) &
( timeout 60 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16 > "$W/warm64.txt" 2>&1 ) &
cat > /tmp/sdpa_once.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
D, N = int(sys.argv[1]), int(sys.argv[2]); B, H = 16384 // N, 2048 // D
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2) for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=False)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("sdpa")
    F.scaled_dot_product_attention(q, k, v, is_causal=False)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY
wait $(jobs -p); stamp "warm-ups done"
for part in "u128 128 1024" "u64 64 512"; do
  set -- $part
  timeout 90 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_forward --launch-skip 7 --launch-count 1 \
    -o $W/$1 -f /tmp/fa compile --bench --bench-head-dims $2 --bench-seqlens $3 --bench-dtypes bf16 > $W/$1.log 2>&1
  stamp "$1 exit $?"
  timeout 90 "$ncu" --clock-control none --set full --import-source yes --nvtx --nvtx-include "sdpa/" -k regex:fprop --launch-count 1 \
    -o $W/cudnn$2 -f python3 /tmp/sdpa_once.py $2 $3 > $W/cudnn$2.log 2>&1
  stamp "cudnn$2 exit $?"
done
for f in u128 cudnn128 u64 cudnn64; do
  "$ncu" -i $W/$f.ncu-rep --page details > $W/${f}_details.txt 2>&1
  timeout 60 "$ncu" -i $W/$f.ncu-rep --page source --csv --print-source sass > $W/${f}_sass.csv 2>&1
  echo "== $f $(grep -m1 -oE '(fwd_[a-z0-9_]*|cudnn_[a-z0-9_]*)' $W/${f}_details.txt) sass lines $(wc -l < $W/${f}_sass.csv)"
  grep -E 'Duration|Compute \(SM\) Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc Active|Executed Instructions  |Registers Per|Dynamic Shared|Block Size|Grid Size|Warp Cycles Per Issued|L2 Hit Rate  |SM Frequency' $W/${f}_details.txt | head -16
done
( cd $W && tar czf "$OUT/ncu24.tgz" *.txt *.csv *.log )
stamp "ncu done"
# 2-round A/B of the existing knobs (no checks, no ncu), bf16 + fp16, D 64/128, N 512/1k/2k, cuDNN/FA2 after.
mkdir -p $OUT/ab
OUT=$OUT/ab HW_BIN=.device-hopfwd24/flash-attn.gz HW_SKIP_CHECKS=1 HW_SKIP_NCU=1 HW_ROUNDS=2 HW_BUDGET=60 HW_SN=512,1024,2048 \
  HW_SETS="base:X=1 desc1:FLASH_ATTENTION_HOPPER_DESC=1 er0:FLASH_ATTENTION_HOPPER_EARLYRESCALE=0,FLASH_ATTENTION_HOPPER_DESC=0 ovl:FLASH_ATTENTION_HOPPER_OVERLAP=1 wg2:FLASH_ATTENTION_HOPPER_WG=2 dyn:FLASH_ATTENTION_HOPPER_TILES=64:128x2dq,128:128x2dq st3:FLASH_ATTENTION_HOPPER_TILES=64:128x3pq ps:FLASH_ATTENTION_HOPPER_PRODUCERSLEEP=1" \
  timeout 300 bash scripts/device/hopper_fwd23.sh > $W/ab_stdout.txt 2>&1
stamp "ab exit $?"
grep -E "unmasked|^(bf16|fp16) (64|128) [0-9]+ 0 " $OUT/ab/table.txt | head -120
ls -la "$OUT" "$OUT/ab"; stamp end
