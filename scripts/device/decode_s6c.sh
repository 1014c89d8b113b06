#!/usr/bin/env bash
# Issue 6, session 6 part 2 (helper dec8), call A: the keys-as-M streaming form
# (FLASH_ATTENTION_DECODE_STREAM=on: a producer warp's cp.async.bulk ring feeding the consumer warps).
#  1. correctness with it forced (in parallel): verify --kvcache against the float64 oracle on the
#     random cases that plan it (indices picked on the host, STREAM_CASES below: contiguous, D 64/128,
#     ≤ 8 rows per KV head) with FLASH_ATTENTION_DECODE_MMA=on, plus two whole seeds (stream + MMA=on,
#     stream on the default rule); compute-sanitizer memcheck on 3 stream cases;
#  2. A/B shipped vs streaming, contiguous, Hk = 8 (and Hk = 32, B = 8, 1k with MMA=on): shipped + torch,
#     then streaming, shipped, streaming (two alternating rounds, no torch), at B = 8 / 64 × 1k / 8k,
#     B = 64 × 32k, B = 1 × 8k / 32k / 128k (stream needs MMA=on there: tiny grids keep the scalar kernel);
#     B = 8, 1k also with 2 splits and two ring shapes.
#   usage on the device: bash scripts/device/decode_s6c.sh "<seed:index ...>"
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s6c; mkdir -p $W
STREAM_CASES=${1:-}
gunzip -c .device-dec4/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
export FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous
ST="FLASH_ATTENTION_DECODE_STREAM=on"
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
# Compile the stream kernels once before the parallel runs share the cache.
env $ST timeout 60 /tmp/fa bench --decode --device cuda --no-torch --batch 8 --kv-heads 8 --seqlens 1024 > $W/warm.txt 2>&1 || true
stamp warm
(
  n=0; pass=0
  for sc in $STREAM_CASES; do
    s=${sc%%:*}; i=${sc##*:}
    env $ST FLASH_ATTENTION_DECODE_MMA=on timeout 30 /tmp/fa verify --kvcache --device cuda --seed $s --index $i > $W/vi_${s}_$i.txt 2>&1
    rc=$?; n=$((n+1)); [[ $rc == 0 ]] && pass=$((pass+1)) || echo "FAILED $s:$i rc=$rc: $(tail -3 $W/vi_${s}_$i.txt | tr '\n' ' ' | cut -c1-300)"
  done
  echo "stream cases (seed:index, MMA=on + STREAM=on): $pass/$n passed" > $W/vi_summary.txt
) &
env $ST FLASH_ATTENTION_DECODE_MMA=on timeout 70 /tmp/fa verify --kvcache --device cuda --seed 801 --cases 8 > $W/verify_801.txt 2>&1 &
env $ST timeout 70 /tmp/fa verify --kvcache --device cuda --seed 802 --cases 8 > $W/verify_802.txt 2>&1 &
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
(
  k=0
  for sc in $STREAM_CASES; do
    k=$((k+1)); [[ $k -gt 3 ]] && break
    s=${sc%%:*}; i=${sc##*:}
    env $ST FLASH_ATTENTION_DECODE_MMA=on timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed $s --index $i > $W/san_$k.txt 2>&1
    echo "memcheck $s:$i exit $?: $(grep 'ERROR SUMMARY' $W/san_$k.txt | tail -1)" >> $W/san_summary.txt
  done
) &
wait
stamp checks
cat $W/vi_summary.txt
for s in 801 802; do echo "verify seed $s: $(tail -1 $W/verify_$s.txt)"; grep -E "FAILED" $W/verify_$s.txt | head -3 | cut -c1-300; done
cat $W/san_summary.txt 2>/dev/null
# name env... -- bench args
b() {
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" timeout 100 /tmp/fa bench --decode --device cuda "$@" --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "$name (exit $?)"
}
P1="--batch 8,64 --kv-heads 8 --seqlens 1024,8192"
b torch1 X=1 -- $P1
b stream1 $ST -- --no-torch $P1
b ship2 X=1 -- --no-torch $P1
b stream2 $ST -- --no-torch $P1
b torch_l X=1 -- --batch 64 --kv-heads 8 --seqlens 32768
b stream_l $ST -- --no-torch --batch 64 --kv-heads 8 --seqlens 32768
stamp bigpoints
b torch_b1 X=1 -- --batch 1 --kv-heads 8 --seqlens 8192,32768,131072
b stream_b1 $ST FLASH_ATTENTION_DECODE_MMA=on -- --no-torch --batch 1 --kv-heads 8 --seqlens 8192,32768,131072
b torch_h32 X=1 -- --batch 8 --kv-heads 32 --seqlens 1024
b stream_h32 $ST FLASH_ATTENTION_DECODE_MMA=on -- --no-torch --batch 8 --kv-heads 32 --seqlens 1024
b stream_sp2 $ST FLASH_ATTENTION_BENCH_DECODE_SPLITS=2 -- --no-torch --batch 8 --kv-heads 8 --seqlens 1024
b stream_4x12 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=4x12 -- --no-torch --batch 8 --kv-heads 8 --seqlens 1024
b stream_8x8 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=8x8 -- --no-torch --batch 8,64 --kv-heads 8 --seqlens 1024
b stream_4x6 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=4x6 -- --no-torch --batch 64 --kv-heads 8 --seqlens 1024,8192
stamp timing
echo "== µs per call (contiguous bf16): file B context Hk ours [torch] [diff]"
for f in $W/b_*.csv; do
  awk -F, -v n=$(basename $f .csv) 'NR>1 && $8=="contiguous" {k=$3" "$4" "$6; if ($1 ~ /torch/) {t[k]=$10*1000; d[k]=$17} else {o[k]=$10*1000; order[++m]=k}}
    END {for (i=1;i<=m;i++) {k=order[i]; printf "%-12s %-14s %8.1f", n, k, o[k]; if (k in t) printf "  torch %8.1f  %.3fx  diff %s", t[k], t[k]/o[k], d[k]; printf "\n"}}' $f
done | tee $W/summary.txt
grep -h "rror" $W/b_*.txt | head -5
tar czf "$OUT/s6c.tgz" -C $W .
