#!/usr/bin/env bash
# Bring-up of the sm_90a wgmma path: oracle sweep with each V-descriptor convention, then the
# bf16 grid with the one that passes, beside PyTorch. Logs in $OUT.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_WGMMA=1
good=""
for swap in 0 1; do
  FLASH_ATTENTION_WGMMA_V_SWAP=$swap /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases "${CASES:-60}" > "$OUT/verify_swap$swap.txt" 2>&1
  echo "swap=$swap: $(tail -1 "$OUT/verify_swap$swap.txt")"; grep '^#' "$OUT/verify_swap$swap.txt" | head -3 | cut -c1-400
  if tail -1 "$OUT/verify_swap$swap.txt" | grep -q " 0 failed"; then good=$swap; break; fi
done
/tmp/fa compile --custom "d=128,n=128,w=8,wgmma,kearly" > /dev/null 2>&1
for f in /tmp/fa-cache/*.cubin; do grep -q wgmma "${f%.cubin}.cu" && echo "$(sed -n 2p "${f%.cubin}.cu" | cut -c1-80) HGMMA=$(cuobjdump -sass "$f" | grep -c HGMMA) LDL=$(cuobjdump -sass "$f" | grep -c LDL)"; done | head -4
[ -n "$good" ] || exit 0
FLASH_ATTENTION_WGMMA_V_SWAP=$good /tmp/fa compile --bench --bench-csv "$OUT/ours.csv" --bench-dtypes bf16 > "$OUT/bench.txt" 2>&1; echo "bench exit $?"
PYTHONUNBUFFERED=1 python3 scripts/bench_cuda.py --ours "$OUT/ours.csv" --out "$OUT/torch.csv" --dtypes bf16 > "$OUT/table.txt" 2>/dev/null; cat "$OUT/table.txt"
