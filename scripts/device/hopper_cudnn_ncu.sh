#!/usr/bin/env bash
# What cuDNN's SDPA forward does at the short points (H100, bf16, D = 128, N = 512, B = 32,
# H = 16, causal and not): its launch shape (grid, block, cluster, registers, shared memory) and
# the same ncu counters as ours (tensor pipe, device-memory and L2 throughput, bytes read), with
# `--clock-control none`. The profiled call is the one inside an NVTX range, so no kernel name
# has to be known in advance.
#   usage on the device: bash scripts/device/hopper_cudnn_ncu.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
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
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,dram__bytes_write.sum,lts__throughput.avg.pct_of_peak_sustained_elapsed,lts__t_sector_hit_rate.pct
for c in 0 1; do
  timeout 60 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m python3 /tmp/sdpa_once.py $c > $OUT/ncu_cudnn_causal$c.txt 2>&1
  echo "cuDNN D=128 N=512 causal=$c: $(grep -m2 "Context" $OUT/ncu_cudnn_causal$c.txt | cut -c1-220)"
  grep -E 'duration|hmma|dram__|lts__|Grid Size|Block Size|Cluster|Registers|Shared Memory|Threads|Waves' $OUT/ncu_cudnn_causal$c.txt | tr -s ' ' | sed 's/^/   /'
done
