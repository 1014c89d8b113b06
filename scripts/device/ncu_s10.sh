#!/usr/bin/env bash
# Session 10, for the next session: where the 128-key D = 256 forward (`vt`, separateValueTurn) spends its time
# against the 80/64-key kernels it replaced or lost to, and against cuDNN (ncu --clock-control none, bf16).
#  (a) unmasked D = 256 N = 8k: shipped 80-key 2-stage vs `vt` forced (FLASH_ATTENTION_HOPPER_WIDE256=2), which
#      reads 0.95-0.99x shipped with 20 % fewer instructions per key; cuDNN.
#  (b) causal D = 256 N = 8k: `vt` (the default) vs the 64-key kernel it replaced (WIDE256=0): +4-9 %.
#  (c) causal D = 256 N = 512: `vt` (0.89x cuDNN, the widest gap left) vs cuDNN.
#  (d) NCU_PARTS=d (a second call): N = 512 at D = 64 / 128, causal and not, ours (defaults) vs cuDNN, to see
#      whether the short points are device-memory-bound at every D, as (c) shows at D = 256.
#   usage on the device: bash scripts/device/ncu_s10.sh   (carry .device-me/flash-attn.gz; NCU_PARTS=abc default)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/logs"; LOG=$OUT/logs
exec > >(tee "$OUT/summary.txt") 2>&1
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
PARTS=${NCU_PARTS:-abc}
for cfg in X=1 FLASH_ATTENTION_HOPPER_WIDE256=2 FLASH_ATTENTION_HOPPER_WIDE256=0; do
  [ "$PARTS" = d ] && continue
  ( env $cfg timeout 100 /tmp/fa compile --bench --bench-head-dims 256 --bench-seqlens 512,8192 --bench-dtypes bf16 > /dev/null 2>&1 ) &
done
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
if [ "$PARTS" != d ]; then
ours u256s X=1 256 8192 7 "ours shipped 80-key, unmasked D=256 N=8k"
ours u256vt FLASH_ATTENTION_HOPPER_WIDE256=2 256 8192 7 "ours vt forced, unmasked D=256 N=8k"
timeout 90 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m,$st python3 /tmp/sdpa_once.py 8192 256 0 > $LOG/ncu_cudnn256_8k_0.txt 2>&1
summ $LOG/ncu_cudnn256_8k_0.txt "cuDNN unmasked D=256 N=8k"
el "(a) done"
ours c256vt X=1 256 8192 30 "ours vt (default), causal D=256 N=8k"
ours c256old FLASH_ATTENTION_HOPPER_WIDE256=0 256 8192 30 "ours 64-key (WIDE256=0), causal D=256 N=8k"
el "(b) done"
ours c256vt512 X=1 256 512 30 "ours vt (default), causal D=256 N=512"
ours c256old512 FLASH_ATTENTION_HOPPER_WIDE256=0 256 512 30 "ours 64-key (WIDE256=0), causal D=256 N=512"
timeout 90 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m,$st python3 /tmp/sdpa_once.py 512 256 1 > $LOG/ncu_cudnn256_512_1.txt 2>&1
summ $LOG/ncu_cudnn256_512_1.txt "cuDNN causal D=256 N=512"
el "(c) done"
else
  ( timeout 100 /tmp/fa compile --bench --bench-head-dims 64,128 --bench-seqlens 512 --bench-dtypes bf16 > /dev/null 2>&1 )
  # The bench runs D = 64 (unmasked, causal), then D = 128: 23 launches each.
  ours u64 X=1 64,128 512 7 "ours unmasked D=64 N=512"
  ours c64 X=1 64,128 512 30 "ours causal D=64 N=512"
  ours u128 X=1 64,128 512 53 "ours unmasked D=128 N=512"
  ours c128 X=1 64,128 512 76 "ours causal D=128 N=512"
  for D in 64 128; do for c in 0 1; do
    timeout 90 ncu --clock-control none --nvtx --nvtx-include "sdpa/" --section LaunchStats --metrics $m,$st python3 /tmp/sdpa_once.py 512 $D $c > $LOG/ncu_cudnn${D}_512_$c.txt 2>&1
    summ $LOG/ncu_cudnn${D}_512_$c.txt "cuDNN causal=$c D=$D N=512"
  done; done
  el "(d) done"
fi
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
