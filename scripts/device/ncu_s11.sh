#!/usr/bin/env bash
# Session 11: ncu (--clock-control none, bf16) of this session's forward forms.
#  (a) the narrow diagonal products (hopfwd16: 0.73-0.93x the shipped kernels, slower the longer the tile with the
#      loop's SASS unchanged): causal D = 128 N = 1k shipped (`sohdxd`) vs FLASH_ATTENTION_HOPPER_NARROWDIAG=2
#      (S only) and =1 (S and P.V): tensor / issue activity, stalls, warps active.
#  (b) causal D = 256 N = 512: the shipped form now (`ob`, warpgroup 0's O in its own buffer) vs OWNO=0 vs cuDNN:
#      device-memory throughput (session 10: 65 % ours, 74 % cuDNN).
#  (c) causal D = 64 N = 512: the defaults vs two blocks per SM (FLASH_ATTENTION_HOPPER_TWOBLOCKS=1, hopfwd18: 0.81x,
#      32-key steps at 96 registers) vs cuDNN: warps active, issue activity, stalls, for the next two-block shape.
#   usage on the device: bash scripts/device/ncu_s11.sh   (carry .device-me/flash-attn.gz; ~60 s)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/logs"; LOG=$OUT/logs
exec > >(tee "$OUT/summary.txt") 2>&1
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
( timeout 100 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 1024 --bench-dtypes bf16 > /dev/null 2>&1 ) &
for cfg in FLASH_ATTENTION_HOPPER_NARROWDIAG=1 FLASH_ATTENTION_HOPPER_NARROWDIAG=2; do
  ( env $cfg timeout 100 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 1024 --bench-dtypes bf16 > /dev/null 2>&1 ) &
done
( timeout 100 /tmp/fa compile --bench --bench-head-dims 64,256 --bench-seqlens 512 --bench-dtypes bf16 > /dev/null 2>&1 ) &
( FLASH_ATTENTION_HOPPER_OWNO=0 timeout 100 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens 512 --bench-dtypes bf16 > /dev/null 2>&1 ) &
( FLASH_ATTENTION_HOPPER_TWOBLOCKS=1 timeout 100 /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16 > /dev/null 2>&1 ) &
[ -n "$(jobs -p)" ] && wait $(jobs -p)  # a bare wait would also wait for the tee
el "warm-ups done"
cat > /tmp/sdpa_once.py <<'PY'
import sys, torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
N, D, causal = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3] == "1"; B, H = 16384 // N, 2048 // D
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2) for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("sdpa")
    F.scaled_dot_product_attention(q, k, v, is_causal=causal)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY
m=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__issue_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct,sm__cycles_elapsed.avg.per_second,smsp__warps_active.avg.per_cycle_active
st="regex:smsp__average_warps_issue_stalled_.*_per_issue_active"
summ() {  # file name
  local f=$1
  echo "ncu $2: $(grep -m1 -oE '(flash_attention_forward|cudnn[a-zA-Z0-9_]*)[^ (]*' $f | head -1 | cut -c1-120)"
  echo "   $(grep -E 'gpu__time_duration|hmma|issue_active|inst_executed.sum|dram__throughput|dram__bytes_(read|write)|hit_rate|per_second|warps_active' $f | awk '{print $1"="$NF}' | sed 's/\.avg\.pct_of_peak_sustained_active//;s/sm__pipe_tensor_op_hmma_cycles_active/tensor/' | tr '\n' ' ')"
  echo "   launch: $(grep -E '^ *(Grid Size|Block Size|Registers Per Thread|Dynamic Shared Memory Per Block|Cluster Size|Waves Per SM) ' $f | tr -s ' ' | sed 's/^ //' | tr '\n' ';')"
  echo "   stalls: $(grep -E 'issue_stalled_.*per_issue_active' $f | awk '{print $1, $NF}' | sed 's/smsp__average_warps_issue_stalled_//;s/_per_issue_active//' | sort -k2 -g -r | head -8 | tr '\n' ';')"
}
# Our bench runs each (D, N) unmasked then causal, 23 launches each (3 warm-ups + 20 timed).
ours() {  # name envs D N skip label
  env $2 timeout 60 ncu --clock-control none -k regex:flash_attention_forward --launch-skip $5 --launch-count 1 --section LaunchStats \
    --metrics $m,$st /tmp/fa compile --bench --bench-head-dims $3 --bench-seqlens $4 --bench-dtypes bf16 > $LOG/ncu_$1.txt 2>&1
  summ $LOG/ncu_$1.txt "$6"
}
ours c128s X=1 128 1024 30 "ours shipped (sohdxd), causal D=128 N=1k"
ours c128nd2 FLASH_ATTENTION_HOPPER_NARROWDIAG=2 128 1024 30 "ours narrow S (nd), causal D=128 N=1k"
ours c128nd1 FLASH_ATTENTION_HOPPER_NARROWDIAG=1 128 1024 30 "ours narrow S + P.V (ndnv), causal D=128 N=1k"
el "(a) done"
ours c256ob X=1 256 512 30 "ours shipped (ob), causal D=256 N=512"
ours c256okv FLASH_ATTENTION_HOPPER_OWNO=0 256 512 30 "ours OWNO=0 (okv), causal D=256 N=512"
timeout 90 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m,$st python3 /tmp/sdpa_once.py 512 256 1 > $LOG/ncu_cudnn256_512_1.txt 2>&1
summ $LOG/ncu_cudnn256_512_1.txt "cuDNN causal D=256 N=512"
el "(b) done"
  ours c64 X=1 64 512 30 "ours defaults, causal D=64 N=512"
  ours c64two FLASH_ATTENTION_HOPPER_TWOBLOCKS=1 64 512 30 "ours two blocks per SM (TWOBLOCKS=1), causal D=64 N=512"
  timeout 90 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m,$st python3 /tmp/sdpa_once.py 512 64 1 > $LOG/ncu_cudnn64_512_1.txt 2>&1
  summ $LOG/ncu_cudnn64_512_1.txt "cuDNN causal D=64 N=512"
  el "(c) done"
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
