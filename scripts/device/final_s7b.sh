#!/usr/bin/env bash
# The closing grids of session 7 (one device call, ≤ ~6 min): the forward grid (D 64/128/256, N 512…16k,
# bf16/fp16, causal and not) and the backward grid in non-deterministic calls (the reference library's
# default, and what cuDNN and FA2 compute), each beside PyTorch SDPA cuDNN and flash (FA2) timed in the
# same call. Then two A/B runs of ours for this session's backward defaults: the same grid with the fast
# preprocess/conversion off (FLASH_ATTENTION_HOPPER_BWD_FASTPASS=0, N ≤ 8k; at 512 keys that is also the
# old 3-pass route for tile D ≤ 128), and D = 256 in deterministic calls (key-block-order dQ, against the
# arrival order non-deterministic calls now take from 1k/2k keys). Run right after final_s7.sh.
#   usage on the device: bash scripts/device/final_s7b.sh
# Expects .device-me/flash-attn.gz.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs7b; mkdir -p "$RESULT" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s7b.tgz" -C "$OUT" . ; }
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
timeout 120 /tmp/fa backward-bench --bench --nondeterministic --csv "$OUT/bwd.csv" --head-dims 64,128,256 --seqlens $seq \
  --dtypes bf16,fp16 > "$LOG/bench_bwd.txt" 2>&1; echo "backward bench exit $?" >> "$LOG/bench_bwd.txt"
stamp "backward ours"
PYTHONUNBUFFERED=1 timeout 100 python3 scripts/bench_cuda_backward.py --ours "$OUT/bwd.csv" --out "$OUT/bwd_torch.csv" --dims 64,128,256 \
  --seqlens $seq --dtypes bf16,fp16 > "$OUT/bwd_table.txt" 2>"$LOG/bwd_torch_err.txt"; echo "torch exit $?" >> "$OUT/bwd_table.txt"
stamp "backward torch"
pack
FLASH_ATTENTION_HOPPER_BWD_FASTPASS=0 timeout 100 /tmp/fa backward-bench --bench --nondeterministic --csv "$OUT/bwd_nofast.csv" \
  --head-dims 64,128,256 --seqlens 512,1024,2048,4096,8192 --dtypes bf16,fp16 > "$LOG/bench_bwd_nofast.txt" 2>&1
echo "no fast passes exit $?" >> "$LOG/bench_bwd_nofast.txt"
timeout 60 /tmp/fa backward-bench --bench --csv "$OUT/bwd_det256.csv" --head-dims 256 --seqlens $seq --dtypes bf16,fp16 \
  > "$LOG/bench_bwd_det256.txt" 2>&1; echo "deterministic D=256 exit $?" >> "$LOG/bench_bwd_det256.txt"
timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv "$OUT/bwd_r2_256.csv" --head-dims 256 --seqlens $seq --dtypes bf16 \
  > "$LOG/bench_bwd_r2_256.txt" 2>&1; echo "round 2 D=256 exit $?" >> "$LOG/bench_bwd_r2_256.txt"
stamp "backward A/B"
echo "=== forward grid"; tail -80 "$OUT/fwd_table.txt"
echo "=== backward grid (non-deterministic calls)"; tail -80 "$OUT/bwd_table.txt"
stamp "end"
pack
