#!/usr/bin/env bash
# The closing device call of session 5 (≤ ~7 min on a fresh H100): everything the session changed,
# on the integrated tree.
#   A. final_session.sh's checks (check, random fwd+bwd oracle sweep, pinned D with the Hopper
#      forward forced and with the defaults, the KV-cache oracle sweep: decode PDL + plan cache),
#      beside the Python subsets on CUDA tensors (strided, varlen, KV cache) and test_large.py.
#   B. backward-bench --check-dense (dense, causal every other case) at D = 64 / 128 with the
#      defaults — the forward's TMA store of O (unmasked D 64/128 and, new, causal D 128 up to 2k)
#      and the backward's early dV / late dK — listing the forward kernels reached and counting
#      the warp-specialised backward launches; then the same with the Hopper backward forced.
#   C. compute-sanitizer memcheck + racecheck: the Hopper backward (final_session.sh) and the
#      forward's store kernels on a 2-block grid (every block walks many tiles).
#   D. The forward grid (D 64/128/256, N 512…16k, bf16/fp16, causal and not) beside PyTorch SDPA
#      cuDNN and flash; then, if time is left, the backward grid beside cuDNN.
#   usage on the device: bash scripts/device/final_s5.sh
# Expects .device-me/flash-attn.gz and .device-me/libflashattention.so.
set -uo pipefail
# Everything is written under /tmp/fs5 and packed into $OUT/final_s5.tgz after the checks and at
# the end (the run tool returns only a few files, and a timed-out run still returns the first pack).
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs5; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s5.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort -u | tr '\n' ' '; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$LOG/gpu.txt"
# A
(
  export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-py
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
  timeout 200 python3 -m pytest -q -p no:cacheprovider python/tests/test_strided.py python/tests/test_varlen.py \
    python/tests/test_kvcache.py > "$OUT/py/subset.txt" 2>&1
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 150 python3 -m pytest -q -s -p no:cacheprovider python/tests/test_large.py > "$OUT/py/large.txt" 2>&1
) &
py=$!
FINAL_SKIP="pytest large sanitize" FINAL_CASES=30 FINAL_PINNED=16 FINAL_KV_CASES=30 \
  bash scripts/device/final_session.sh > "$LOG/final_a.txt" 2>&1
stamp "A: swift checks"
# B
FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense \
  timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,128 --check-cases 12 --check-dense > "$LOG/dense.txt" 2>&1
dense_rc=$?
FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense-bwd \
  timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,128 --check-cases 12 --check-dense --seed 5 > "$LOG/dense_bwd.txt" 2>&1
dense_bwd_rc=$?
stamp "B: check-dense"
wait $py
stamp "A: python"
# C
FINAL_SKIP="check verify pinned kvcache pytest large" bash scripts/device/final_session.sh > "$LOG/final_b.txt" 2>&1
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
for tool in memcheck racecheck; do
  FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-san-$tool timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
    --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 128 --check-cases 2 --check-dense > "$LOG/san_fwd_$tool.txt" 2>&1
  echo "exit $?" >> "$LOG/san_fwd_$tool.txt"
done
stamp "C: sanitizers"
echo "=== python (CUDA tensors)"
echo "subset: $(tail -1 "$OUT/py/subset.txt")"
echo "large: $(tail -1 "$OUT/py/large.txt"); Hopper backward launches: $(grep -c 'hopper-bwd' "$OUT/py/large.txt")"
echo "=== swift checks"; sed -n '/=== summary/,$p' "$LOG/final_a.txt" | grep -v "TMA variants"
echo "=== check-dense, defaults: exit $dense_rc: $(tail -1 "$LOG/dense.txt"); hbwd launches $(grep -c 'hbwd_dkdv' "$LOG/dense.txt") (edv_ldk $(grep -c 'edv_ldk' "$LOG/dense.txt"))"
echo "  forward kernels with the O store reached: $(used /tmp/c-dense | tr ' ' '\n' | grep 'so_sm' | tr '\n' ' ')"
echo "=== check-dense, Hopper backward forced: exit $dense_bwd_rc: $(tail -1 "$LOG/dense_bwd.txt"); hbwd launches $(grep -c 'hbwd_dkdv' "$LOG/dense_bwd.txt")"
echo "=== sanitizers"; sed -n '/=== summary/,$p' "$LOG/final_b.txt" | grep -E "memcheck|racecheck"
for tool in memcheck racecheck; do
  echo "forward $tool (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/san_fwd_$tool.txt" | tail -1) $(tail -1 "$LOG/san_fwd_$tool.txt"); $(tail -2 "$LOG/san_fwd_$tool.txt" | head -1); store kernels: $(used /tmp/c-san-$tool | tr ' ' '\n' | grep -c 'so_sm')"
done
pack
# D
timeout 150 /tmp/fa compile --bench --bench-csv "$OUT/fwd.csv" --bench-head-dims 64,128,256 --bench-seqlens 512,1024,2048,4096,8192,16384 \
  --bench-dtypes bf16,fp16 > "$LOG/bench_fwd.txt" 2>&1; echo "forward bench exit $?" >> "$LOG/bench_fwd.txt"
PYTHONUNBUFFERED=1 timeout 200 python3 scripts/bench_cuda.py --ours "$OUT/fwd.csv" --out "$OUT/fwd_torch.csv" --dims 64,128,256 \
  --seqlens 512,1024,2048,4096,8192,16384 --dtypes bf16,fp16 > "$OUT/fwd_table.txt" 2>"$LOG/fwd_torch_err.txt"; echo "torch exit $?" >> "$OUT/fwd_table.txt"
stamp "D: forward grid"
if (( $(date +%s) - t0 < ${FINAL_BWD_DEADLINE:-290} )); then
  timeout 100 /tmp/fa backward-bench --bench --csv "$OUT/bwd.csv" --head-dims 64,128,256 --seqlens 512,1024,2048,4096,8192,16384 \
    --dtypes bf16,fp16 > "$LOG/bench_bwd.txt" 2>&1; echo "backward bench exit $?" >> "$LOG/bench_bwd.txt"
  PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda_backward.py --ours "$OUT/bwd.csv" --out "$OUT/bwd_torch.csv" --dims 64,128,256 \
    --seqlens 512,1024,2048,4096,8192,16384 --dtypes bf16,fp16 > "$OUT/bwd_table.txt" 2>"$LOG/bwd_torch_err.txt"; echo "torch exit $?" >> "$OUT/bwd_table.txt"
  stamp "D: backward grid"
else
  echo "backward grid skipped (time)"
fi
echo "=== forward grid"; tail -80 "$OUT/fwd_table.txt"
[[ -f "$OUT/bwd_table.txt" ]] && { echo "=== backward grid"; tail -80 "$OUT/bwd_table.txt"; }
stamp "end"
pack
