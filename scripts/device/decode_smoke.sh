#!/usr/bin/env bash
# Quick check of a decode-kernel change on the device: two oracle seeds (defaults; append kernel
# + fused combine) and the contiguous B = 1, 8 Hk = 8 points against the scalar kernel, no torch.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-kv/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
t0=$(date +%s)
timeout 60 /tmp/fa verify --kvcache --device cuda --seed 21 --cases ${1:-10} > "$OUT/verify_a.txt" 2>&1 &
FLASH_ATTENTION_DECODE_APPEND=kernel FLASH_ATTENTION_DECODE_COMBINE=fused timeout 60 /tmp/fa verify --kvcache --device cuda --seed 22 --cases ${1:-10} > "$OUT/verify_b.txt" 2>&1 &
wait
echo "[t=$(( $(date +%s) - t0 ))s]"
for f in a b; do grep -E "FAILED|rror" "$OUT/verify_$f.txt" | head -6 | cut -c1-300; tail -1 "$OUT/verify_$f.txt"; done
for v in default scalar; do
  envs=(X=1); [[ $v == scalar ]] && envs+=(FLASH_ATTENTION_DECODE_MMA=off)
  env "${envs[@]}" timeout 40 /tmp/fa bench --decode --device cuda --no-torch --batch 1,8,64 --kv-heads 8 --seqlens 1024,8192,32768 > "$OUT/smoke_$v.txt" 2>&1
  echo "== $v"; grep -E "contiguous|rror" "$OUT/smoke_$v.txt"
done
echo "[t=$(( $(date +%s) - t0 ))s]"
