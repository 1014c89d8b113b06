#!/usr/bin/env bash
# Issue 6, session 6, call B (helper dec7, confirming): the pushed cluster merge as the default.
#  - verify --kvcache: seeds 711, 712 (defaults: push), 713 (clusters ≤ 16 forced on every split
#    call), 714 (tensor-core forms + PDL forced: unchanged paths, regression); compute-sanitizer
#    memcheck on 4 cases with clusters ≤ 16 forced; in parallel;
#  - before/after beside torch in this call: the two cluster points (B = 1, 1k, Hk = 8 and 32)
#    with the pull merge (FLASH_ATTENTION_DECODE_CLUSTER_MERGE=pull, the previous default) + torch,
#    then the full grid (B 1, 8, 64 × Hk 8, 32 × 1k, 8k, 32k; contiguous + paged 16/256) + torch
#    on the defaults, and B = 1 × 128k + torch; a last pull/push pair at the cluster points;
#  - clusters of 16 forced with the push merge at B = 1, 8k / 32k, Hk = 8 (the cut that lost in
#    session 5 step 6 with the pull merge), beside the defaults.
#   usage on the device: bash scripts/device/decode_s6b.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s6b; mkdir -p $W
cases=${1:-10}
gunzip -c .device-dec5/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
summary=()
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s]"; }
row() { awk '$1=="bfloat16"{printf "%s/%s/%s %.2f  ", $2, $4, $3, $6*1000}' "$1"; }
nt() {  # name env... -- bench args   (contiguous, no torch)
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 60 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "$name (exit $?): $(row "$W/b_$name.txt")"
}
timeout 80 /tmp/fa verify --kvcache --device cuda --seed 711 --cases "$cases" > "$W/verify_711.txt" 2>&1 &
timeout 80 /tmp/fa verify --kvcache --device cuda --seed 712 --cases "$cases" > "$W/verify_712.txt" 2>&1 &
FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 80 /tmp/fa verify --kvcache --device cuda --seed 713 --cases "$cases" > "$W/verify_713.txt" 2>&1 &
FLASH_ATTENTION_DECODE_MMA=on FLASH_ATTENTION_DECODE_PDL=on timeout 80 /tmp/fa verify --kvcache --device cuda --seed 714 --cases "$cases" > "$W/verify_714.txt" 2>&1 &
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 80 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 719 --cases 4 > "$W/sanitize.txt" 2>&1 &
wait
for seed in 711 712 713 714; do
  grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
  summary+=("verify --kvcache seed $seed: $(tail -1 "$W/verify_$seed.txt")")
done
summary+=("memcheck, clusters ≤ 16 forced (4 cases): $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
stamp
FLASH_ATTENTION_DECODE_CLUSTER_MERGE=pull FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 60 /tmp/fa bench --decode --device cuda \
  --batch 1 --kv-heads 8,32 --seqlens 1024 --csv "$W/pull_torch.csv" > "$W/pull_torch.txt" 2>&1
echo "== pull (previous default) + torch (exit $?)"; grep -E "contiguous|rror" "$W/pull_torch.txt"
timeout 300 /tmp/fa bench --decode --device cuda --batch 1,8,64 --kv-heads 8,32 --seqlens 1024,8192,32768 --csv "$W/grid.csv" > "$W/grid.txt" 2>&1
echo "== grid + torch, defaults (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid.txt"
stamp
timeout 120 /tmp/fa bench --decode --device cuda --batch 1 --kv-heads 8,32 --seqlens 131072 --csv "$W/grid128k.csv" > "$W/grid128k.txt" 2>&1
echo "== 128k + torch (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid128k.txt"
stamp
nt pull FLASH_ATTENTION_DECODE_CLUSTER_MERGE=pull -- --batch 1 --kv-heads 8,32 --seqlens 1024
nt push FLASH_ATTENTION_DECODE_CLUSTER_MERGE=push -- --batch 1 --kv-heads 8,32 --seqlens 1024
nt c16push FLASH_ATTENTION_DECODE_CLUSTER=16 -- --batch 1 --kv-heads 8 --seqlens 8192,32768
nt c16pull FLASH_ATTENTION_DECODE_CLUSTER=16 FLASH_ATTENTION_DECODE_CLUSTER_MERGE=pull -- --batch 1 --kv-heads 8 --seqlens 8192,32768
nt default -- --batch 1 --kv-heads 8 --seqlens 8192,32768
stamp
printf '%s\n' "${summary[@]}" | tee "$W/summary.txt"
tar czf "$OUT/s6b.tgz" -C $W .
