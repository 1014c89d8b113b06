#!/usr/bin/env bash
# The closing grids of session 6 (one device call, ≤ ~8 min): the forward grid (D 64/128/256, N 512…16k,
# bf16/fp16, causal and not) and the backward grid, each beside PyTorch SDPA cuDNN and flash (FA2)
# timed in the same call. Run right after final_s6.sh on the same machine (its kernels are not
# cached here: the benches warm up before timing).
#   usage on the device: bash scripts/device/final_s6b.sh
# Expects .device-me/flash-attn.gz.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs6b; mkdir -p "$RESULT" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s6b.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-grid
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$LOG/gpu.txt"
seq=512,1024,2048,4096,8192,16384
timeout 170 /tmp/fa compile --bench --bench-csv "$OUT/fwd.csv" --bench-head-dims 64,128,256 --bench-seqlens $seq \
  --bench-dtypes bf16,fp16 > "$LOG/bench_fwd.txt" 2>&1; echo "forward bench exit $?" >> "$LOG/bench_fwd.txt"
stamp "forward ours"
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_cuda.py --ours "$OUT/fwd.csv" --out "$OUT/fwd_torch.csv" --dims 64,128,256 \
  --seqlens $seq --dtypes bf16,fp16 > "$OUT/fwd_table.txt" 2>"$LOG/fwd_torch_err.txt"; echo "torch exit $?" >> "$OUT/fwd_table.txt"
stamp "forward torch"
pack
timeout 110 /tmp/fa backward-bench --bench --csv "$OUT/bwd.csv" --head-dims 64,128,256 --seqlens $seq \
  --dtypes bf16,fp16 > "$LOG/bench_bwd.txt" 2>&1; echo "backward bench exit $?" >> "$LOG/bench_bwd.txt"
stamp "backward ours"
PYTHONUNBUFFERED=1 timeout 100 python3 scripts/bench_cuda_backward.py --ours "$OUT/bwd.csv" --out "$OUT/bwd_torch.csv" --dims 64,128,256 \
  --seqlens $seq --dtypes bf16,fp16 > "$OUT/bwd_table.txt" 2>"$LOG/bwd_torch_err.txt"; echo "torch exit $?" >> "$OUT/bwd_table.txt"
stamp "backward torch"
echo "=== forward grid"; tail -80 "$OUT/fwd_table.txt"
echo "=== backward grid"; tail -80 "$OUT/bwd_table.txt"
stamp "end"
pack
