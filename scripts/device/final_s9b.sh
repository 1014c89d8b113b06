#!/usr/bin/env bash
# The closing grids of session 9 (one device call): the forward grid (D 64/128/256, N 512…16k, bf16/fp16,
# causal and not) and the backward grid in non-deterministic calls, each beside PyTorch SDPA cuDNN and
# flash (FA2) timed in the same call, in TWO rounds (ours, torch, ours, torch): the long points move
# ±5–10 % between runs under the card's 700 W cap, so each point reports both rounds and their mean.
# Then the A/B runs of this session's defaults (FINAL_AB: a file of lines "name|env|fwd or bwd|dims|seqlens").
#   (session 9: FINAL_AB=scripts/device/final_s9_ab.txt times session 8's kernels, this session's options off, on both grids)
#   usage on the device: bash scripts/device/final_s9b.sh      Expects .device-me/flash-attn.gz.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs9b; mkdir -p "$RESULT" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s9b.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-grid
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$LOG/gpu.txt"
seq=512,1024,2048,4096,8192,16384
for r in 1 2; do
  timeout 170 /tmp/fa compile --bench --bench-csv "$OUT/fwd_r$r.csv" --bench-head-dims 64,128,256 --bench-seqlens $seq \
    --bench-dtypes bf16,fp16 > "$LOG/bench_fwd_r$r.txt" 2>&1; echo "forward bench exit $?" >> "$LOG/bench_fwd_r$r.txt"
  stamp "forward ours r$r"
  PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_cuda.py --ours "$OUT/fwd_r$r.csv" --out "$OUT/fwd_torch_r$r.csv" --dims 64,128,256 \
    --seqlens $seq --dtypes bf16,fp16 > "$OUT/fwd_table_r$r.txt" 2>"$LOG/fwd_torch_err_r$r.txt"; echo "torch exit $?" >> "$OUT/fwd_table_r$r.txt"
  stamp "forward torch r$r"
  pack
done
for r in 1 2; do
  timeout 120 /tmp/fa backward-bench --bench --nondeterministic --csv "$OUT/bwd_r$r.csv" --head-dims 64,128,256 --seqlens $seq \
    --dtypes bf16,fp16 > "$LOG/bench_bwd_r$r.txt" 2>&1; echo "backward bench exit $?" >> "$LOG/bench_bwd_r$r.txt"
  stamp "backward ours r$r"
  PYTHONUNBUFFERED=1 timeout 100 python3 scripts/bench_cuda_backward.py --ours "$OUT/bwd_r$r.csv" --out "$OUT/bwd_torch_r$r.csv" --dims 64,128,256 \
    --seqlens $seq --dtypes bf16,fp16 > "$OUT/bwd_table_r$r.txt" 2>"$LOG/bwd_torch_err_r$r.txt"; echo "torch exit $?" >> "$OUT/bwd_table_r$r.txt"
  stamp "backward torch r$r"
  pack
done
# A/B of this session's defaults: ours with the default off, beside the grid's rounds.
if [ -n "${FINAL_AB:-}" ] && [ -f "$FINAL_AB" ]; then
  while IFS='|' read -r name envs pass dims seqs; do
    [ -z "$name" ] && continue
    if [ "$pass" = fwd ]; then
      env $envs timeout 90 /tmp/fa compile --bench --bench-csv "$OUT/ab_$name.csv" --bench-head-dims $dims --bench-seqlens $seqs \
        --bench-dtypes bf16,fp16 > "$LOG/ab_$name.txt" 2>&1
    else
      env $envs timeout 90 /tmp/fa backward-bench --bench --nondeterministic --csv "$OUT/ab_$name.csv" --head-dims $dims --seqlens $seqs \
        --dtypes bf16,fp16 > "$LOG/ab_$name.txt" 2>&1
    fi
    echo "ab $name exit $?" >> "$LOG/ab_$name.txt"
    stamp "A/B $name"
  done < "$FINAL_AB"
fi
python3 scripts/device/grid_rounds.py "$OUT" > "$OUT/grid_summary.txt" 2>&1
cat "$OUT/grid_summary.txt"
stamp "end"
pack
