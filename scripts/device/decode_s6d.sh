#!/usr/bin/env bash
# Issue 6, session 6 part 2 (helper dec8), call B (short, confirming): the streaming form with several
# producer warps (call A: one producer warp issued its 32 row copies per tile one after another, ~7 GB/s
# per SM, 1.4-3x slower than the shipped forms).
#  1. verify --kvcache on the stream cases (seed:index list, MMA=on + STREAM=on) and memcheck on 2 of them;
#  2. A/B at B = 8 / 64 × 1k / 8k, Hk = 8: shipped + torch, stream (default shape: 4 producers), shipped,
#     stream again; producer counts 2 / 8 at B = 8, 1k and B = 64, 8k.
#   usage on the device: bash scripts/device/decode_s6d.sh "<seed:index ...>"
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s6d; mkdir -p $W
STREAM_CASES=${1:-}
gunzip -c .device-dec4/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
export FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous
ST="FLASH_ATTENTION_DECODE_STREAM=on"
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
env $ST timeout 60 /tmp/fa bench --decode --device cuda --no-torch --batch 8 --kv-heads 8 --seqlens 1024 > $W/warm.txt 2>&1 || true
(
  n=0; pass=0
  for sc in $STREAM_CASES; do
    s=${sc%%:*}; i=${sc##*:}
    env $ST FLASH_ATTENTION_DECODE_MMA=on timeout 30 /tmp/fa verify --kvcache --device cuda --seed $s --index $i > $W/vi_${s}_$i.txt 2>&1
    rc=$?; n=$((n+1)); [[ $rc == 0 ]] && pass=$((pass+1)) || echo "FAILED $s:$i rc=$rc: $(tail -3 $W/vi_${s}_$i.txt | tr '\n' ' ' | cut -c1-300)"
  done
  echo "stream cases (seed:index, MMA=on + STREAM=on): $pass/$n passed" > $W/vi_summary.txt
) &
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
(
  for sc in $(echo $STREAM_CASES | tr ' ' '\n' | tail -2); do
    s=${sc%%:*}; i=${sc##*:}
    env $ST FLASH_ATTENTION_DECODE_MMA=on timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed $s --index $i > $W/san_$i.txt 2>&1
    echo "memcheck $s:$i exit $?: $(grep 'ERROR SUMMARY' $W/san_$i.txt | tail -1)" >> $W/san_summary.txt
  done
) &
wait
stamp checks
cat $W/vi_summary.txt $W/san_summary.txt
b() {
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" timeout 60 /tmp/fa bench --decode --device cuda "$@" --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "$name (exit $?)"
}
P1="--batch 8,64 --kv-heads 8 --seqlens 1024,8192"
b torch1 X=1 -- $P1
b stream1 $ST -- --no-torch $P1
b ship2 X=1 -- --no-torch $P1
b stream2 $ST -- --no-torch $P1
b p2 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=4x12x2 -- --no-torch --batch 64 --kv-heads 8 --seqlens 8192
b p8 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=4x12x8 -- --no-torch --batch 64 --kv-heads 8 --seqlens 8192
b u2 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=8x23x2 -- --no-torch --batch 8 --kv-heads 8 --seqlens 1024
b u8 $ST FLASH_ATTENTION_DECODE_STREAM_SHAPE=8x23x8 -- --no-torch --batch 8 --kv-heads 8 --seqlens 1024
stamp timing
echo "== µs per call (contiguous bf16): file B context Hk ours [torch] [diff]"
for f in $W/b_*.csv; do
  awk -F, -v n=$(basename $f .csv) 'NR>1 && $8=="contiguous" {k=$3" "$4" "$6; if ($1 ~ /torch/) {t[k]=$10*1000; d[k]=$17} else {o[k]=$10*1000; order[++m]=k}}
    END {for (i=1;i<=m;i++) {k=order[i]; printf "%-12s %-14s %8.1f", n, k, o[k]; if (k in t) printf "  torch %8.1f  %.3fx  diff %s", t[k], t[k]/o[k], d[k]; printf "\n"}}' $f
done | tee $W/summary.txt
grep -h "rror" $W/b_*.txt | head -5
tar czf "$OUT/s6d.tgz" -C $W .
