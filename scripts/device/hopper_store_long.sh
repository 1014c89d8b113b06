#!/usr/bin/env bash
# Does the TMA store of O (with 128-key stages and two Q buffers) also win past N = 2k at D = 128?
# Timing only: the store kernels are the ones the closing calls checked (N is a runtime value; the
# 2-block-grid sanitizer runs walked many tiles per block). Shipped vs store, interleaved twice,
# after one untimed warm-up run of each (NVRTC compiles there).
#   usage on the device: bash scripts/device/hopper_store_long.sh
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/hsl; mkdir -p "$RESULT" "$OUT"
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
STORE="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_STORE=1 FLASH_ATTENTION_HOPPER_TILES=128:128x2pq,128c:128x2dq"
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 4096,8192,16384 --bench-dtypes bf16,fp16 \
  --bench-csv "$OUT/$1.csv" > "$OUT/$1.txt" 2>&1; }
bench warm_base "X=1"; bench warm_store "$STORE"
for r in 1 2; do bench base$r "X=1"; bench store$r "$STORE"; done
python3 - "$OUT" <<'PY'
import csv, sys
d = sys.argv[1]
def load(n): return {(r["dtype"], r["seqlen"], r["causal"]): (float(r["tflops"]), r["variant"] if "variant" in r else "") for r in csv.DictReader(open(f"{d}/{n}.csv"))}
b1, b2, s1, s2 = (load(n) for n in ["base1", "base2", "store1", "store2"])
print("dtype N causal | shipped r1/r2 | store r1/r2 | store/shipped")
for k in sorted(b1):
    b = (b1[k][0] + b2[k][0]) / 2; s = (s1[k][0] + s2[k][0]) / 2
    print(f"{k[0]} {k[1]} {k[2]} | {b1[k][0]:.0f}/{b2[k][0]:.0f} | {s1[k][0]:.0f}/{s2[k][0]:.0f} | {s/b:.3f}")
PY
head -2 "$OUT/store1.csv"; head -2 "$OUT/base1.csv"
tar -czf "$RESULT/hsl.tgz" -C "$OUT" .
