#!/usr/bin/env bash
# Issue 6, session 4, call C: the keys-as-M tensor-core decode kernel with coalesced copies
# (each warp copy instruction reads whole key rows), then the shipped grid beside torch.
#  - float64-oracle sweeps: defaults; FLASH_ATTENTION_DECODE_MMA=on (keys as M up to 8 rows);
#    memcheck with it forced;
#  - Hk = 8 contiguous (no torch): the defaults (keys form for GQA on non-tiny grids), the scalar
#    kernel (MMA=off), the rows-as-M form on the same problems (MMA=gqa-m16), 1024-key splits,
#    two stages; ncu of the default at B = 8, 8k;
#  - the decode grid (Hk = 8, 32; B = 1, 8, 64 x 1k, 8k, 32k; contiguous and paged 16/256) and
#    B = 1 at 128k beside torch, with the tensor-core mode that won B = 8, 8k + B = 64, 1k +
#    B = 8, 32k above (printed as "grid mode").
#   usage on the device: bash scripts/device/decode_s4c.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
cases=${1:-12}
gunzip -c .device-dec4/fa-c.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s)
grid=(--batch 1,8,64 --kv-heads 8 --seqlens 1024,8192,32768)
if [[ $skip != *" verify "* ]]; then
  for seed in 101 102; do timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 & done
  for seed in 103 104 105; do FLASH_ATTENTION_DECODE_MMA=on timeout 80 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$OUT/verify_$seed.txt" 2>&1 & done
  wait
  for seed in 101 102 103 104 105; do
    grep -E "FAILED|rror" "$OUT/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$OUT/verify_$seed.txt")")
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" sanitize "* ]]; then
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  FLASH_ATTENTION_DECODE_MMA=on timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 108 --cases 4 > "$OUT/sanitize_on.txt" 2>&1
  code=$?; summary+=("memcheck MMA=on (4 cases): exit $code, $(grep 'ERROR SUMMARY' "$OUT/sanitize_on.txt" | tail -1)")
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
run() {  # name env... -- extra bench args
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$OUT/b_$name.csv" > "$OUT/b_$name.txt" 2>&1
  echo "== $name (exit $?)"; grep -E "contiguous|rror" "$OUT/b_$name.txt" | cut -c1-60
}
# Sum of ms at B = 8 8k, B = 8 32k, B = 64 1k in a run's output.
score() { awk '$1=="bfloat16" && (($2==8 && ($3==8192 || $3==32768)) || ($2==64 && $3==1024)) {s+=$6} END {printf "%.4f", s}' "$OUT/b_$1.txt"; }
mode=
if [[ $skip != *" sweep "* ]]; then
  run def -- "${grid[@]}"
  run scalar FLASH_ATTENTION_DECODE_MMA=off -- "${grid[@]}"
  run m16 FLASH_ATTENTION_DECODE_MMA=gqa-m16 -- "${grid[@]}"
  run k_1024 FLASH_ATTENTION_DECODE_SPLITS=8,1024 -- --batch 8,64 --kv-heads 8 --seqlens 1024,8192,32768
  run st2 FLASH_ATTENTION_DECODE_STAGES=2 -- --batch 8,64 --kv-heads 8 --seqlens 1024,8192,32768
  d=$(score def); s=$(score scalar); m=$(score m16)
  echo "scores (ms, B=8 8k + B=8 32k + B=64 1k): keys $d, scalar $s, rows-as-M $m"
  mode=$(awk -v d=$d -v s=$s -v m=$m 'BEGIN { if (d <= s && d <= m) print ""; else if (m <= s) print "gqa-m16"; else print "off" }')
fi
echo "grid mode: FLASH_ATTENTION_DECODE_MMA=${mode:-<unset: defaults>}"
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  m=smsp__inst_executed.sum,gpu__time_duration.sum,smsp__issue_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread,sm__warps_active.avg.pct_of_peak_sustained_active
  FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 45 "$ncu" --kernel-name flash_decode_attention --launch-skip 3 --launch-count 1 --metrics $m \
    /tmp/fa bench --decode --device cuda --no-torch --batch 8 --kv-heads 8 --seqlens 8192 --repeats 3 > "$OUT/ncu_8_8192.txt" 2>&1
  echo "== ncu B=8 8k Hk=8 defaults"; grep -E "duration|inst_exec|issue_active|dram__|registers|warps_active" "$OUT/ncu_8_8192.txt" | head -8
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
if [[ $skip != *" grid "* ]]; then
  menv=(); [[ -n $mode ]] && menv=(FLASH_ATTENTION_DECODE_MMA=$mode)
  env "${menv[@]}" timeout 200 /tmp/fa bench --decode --device cuda --batch 1,8,64 --kv-heads 8,32 --seqlens 1024,8192,32768 --csv "$OUT/grid.csv" > "$OUT/grid.txt" 2>&1
  echo "== grid + torch (exit $?)"; grep -E "contiguous|paged|rror" "$OUT/grid.txt"
  env "${menv[@]}" timeout 90 /tmp/fa bench --decode --device cuda --batch 1 --kv-heads 8,32 --seqlens 131072 --csv "$OUT/grid128k.csv" > "$OUT/grid128k.txt" 2>&1
  echo "== grid 128k + torch (exit $?)"; grep -E "contiguous|paged|rror" "$OUT/grid128k.txt"
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
printf '%s\n' "${summary[@]}"
