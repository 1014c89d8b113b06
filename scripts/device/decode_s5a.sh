#!/usr/bin/env bash
# Issue 6, session 5, call A (helper dec5): measure first, and check the new pieces.
#  - float64-oracle sweeps (verify --kvcache) with the programmatic dependent launch of the
#    combine kernel forced on (FLASH_ATTENTION_DECODE_PDL=on; with the tensor-core forms forced
#    too), one on the defaults (plan cache on); compute-sanitizer memcheck with PDL on;
#  - ncu per kernel (real clocks) at B = 1, Hk = 8, 32k: durations, DRAM %, occupancy;
#  - contiguous grid, no torch: PDL off with the pure-read ceiling (FLASH_ATTENTION_BENCH_DECODE_READ=1),
#    PDL on, then both again at B = 1, 8 with Hk = 8 (a second round against drift);
#  - split sweep at B = 1, Hk = 8, 8k / 32k / 128k (FLASH_ATTENTION_BENCH_DECODE_SPLITS, PDL on);
#  - host cost per call (FLASH_ATTENTION_BENCH_DECODE_HOST=1), plan cache on and off;
#  - the grid beside torch (contiguous + paged) with PDL on, and B = 1 at 128k.
#   usage on the device: bash scripts/device/decode_s5a.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s5a; mkdir -p $W
cases=${1:-12}
gunzip -c .device-dec4/fa5.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$W/gpu.txt"
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s]"; }
G="--batch 1,8,64 --kv-heads 8,32 --seqlens 1024,8192,32768"
nt() {  # name env... -- extra bench args   (contiguous, no torch)
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 120 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "== $name (exit $?)"
}
# Warm the kernel cache (and check PDL launches at all) before the parallel sweeps.
nt warm FLASH_ATTENTION_DECODE_PDL=on -- --batch 1 --kv-heads 8 --seqlens 8192 --repeats 3
grep -E "contiguous|rror" "$W/b_warm.txt" | head -3
stamp
if [[ $skip != *" verify "* ]]; then
  for seed in 501 502; do FLASH_ATTENTION_DECODE_PDL=on timeout 100 /tmp/fa verify --kvcache --device cuda --seed $seed --cases "$cases" > "$W/verify_$seed.txt" 2>&1 & done
  timeout 100 /tmp/fa verify --kvcache --device cuda --seed 503 --cases "$cases" > "$W/verify_503.txt" 2>&1 &
  FLASH_ATTENTION_DECODE_PDL=on FLASH_ATTENTION_DECODE_MMA=on timeout 100 /tmp/fa verify --kvcache --device cuda --seed 504 --cases "$cases" > "$W/verify_504.txt" 2>&1 &
  wait
  for seed in 501 502 503 504; do
    grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed: $(tail -1 "$W/verify_$seed.txt")")
  done
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  FLASH_ATTENTION_DECODE_PDL=on timeout 70 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 509 --cases 3 > "$W/sanitize.txt" 2>&1
  code=$?; summary+=("memcheck PDL=on (3 cases): exit $code, $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
fi
stamp
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  M=gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes_read.sum,sm__warps_active.avg.pct_of_peak_sustained_active,launch__grid_size,launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_shared_mem,sm__cycles_active.avg
  for s in 32768; do
    FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 60 "$ncu" --clock-control none -k regex:flash_decode --launch-skip 4 --launch-count 2 --metrics $M \
      /tmp/fa bench --decode --device cuda --no-torch --batch 1 --kv-heads 8 --seqlens $s --repeats 3 > "$W/ncu_$s.txt" 2>&1
    echo "== ncu B=1 Hk=8 $s"; grep -E "flash_decode|duration|dram__|warps_active|grid_size|registers|occupancy|cycles_active" "$W/ncu_$s.txt" | head -24 | cut -c1-120
  done
fi
stamp
if [[ $skip != *" ab "* ]]; then
  nt off1 FLASH_ATTENTION_DECODE_PDL=off FLASH_ATTENTION_BENCH_DECODE_READ=1 -- $G
  nt on1 FLASH_ATTENTION_DECODE_PDL=on -- $G
  S="--batch 1,8 --kv-heads 8 --seqlens 1024,8192,32768"
  nt off2 FLASH_ATTENTION_DECODE_PDL=off -- $S
  nt on2 FLASH_ATTENTION_DECODE_PDL=on -- $S
  nt off128 FLASH_ATTENTION_DECODE_PDL=off FLASH_ATTENTION_BENCH_DECODE_READ=1 -- --batch 1 --kv-heads 8,32 --seqlens 131072
  nt on128 FLASH_ATTENTION_DECODE_PDL=on -- --batch 1 --kv-heads 8,32 --seqlens 131072
  grep -h "read ceiling" "$W/b_off1.txt" "$W/b_off128.txt"
  echo "== A/B µs (B Hk ctx: off1 on1)"
  paste <(awk '$1=="bfloat16"{print $2, $4, $3, $6*1000}' "$W/b_off1.txt") <(awk '$1=="bfloat16"{print $6*1000}' "$W/b_on1.txt")
  echo "== A/B round 2 (B Hk ctx: off2 on2)"
  paste <(awk '$1=="bfloat16"{print $2, $4, $3, $6*1000}' "$W/b_off2.txt") <(awk '$1=="bfloat16"{print $6*1000}' "$W/b_on2.txt")
  paste <(awk '$1=="bfloat16"{print $2, $4, $3, $6*1000}' "$W/b_off128.txt") <(awk '$1=="bfloat16"{print $6*1000}' "$W/b_on128.txt")
fi
stamp
if [[ $skip != *" sweep "* ]]; then
  echo "== split sweep, B = 1, Hk = 8, PDL on (µs at 8k 32k 128k)"
  for n in 16 33 49 66 99 128; do
    nt sp$n FLASH_ATTENTION_DECODE_PDL=on FLASH_ATTENTION_BENCH_DECODE_SPLITS=$n -- --batch 1 --kv-heads 8 --seqlens 8192,32768,131072
    echo "splits $n: $(awk '$1=="bfloat16"{printf "%s ", $6*1000}' "$W/b_sp$n.txt")"
  done
fi
stamp
if [[ $skip != *" host "* ]]; then
  for pc in on off; do
    FLASH_ATTENTION_DECODE_PLAN_CACHE=$pc FLASH_ATTENTION_DECODE_PDL=on FLASH_ATTENTION_BENCH_DECODE_HOST=1 FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous \
      timeout 60 /tmp/fa bench --decode --device cuda --no-torch --batch 1,8,64 --kv-heads 8 --seqlens 1024,32768 > "$W/host_$pc.txt" 2>&1
    echo "== host, plan cache $pc"; grep -E "^host|rror" "$W/host_$pc.txt"
  done
fi
stamp
if [[ $skip != *" grid "* ]]; then
  FLASH_ATTENTION_DECODE_PDL=on timeout 200 /tmp/fa bench --decode --device cuda $G --csv "$W/grid.csv" > "$W/grid.txt" 2>&1
  echo "== grid + torch, PDL on (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid.txt"
  FLASH_ATTENTION_DECODE_PDL=on timeout 90 /tmp/fa bench --decode --device cuda --batch 1 --kv-heads 8,32 --seqlens 131072 --csv "$W/grid128k.csv" > "$W/grid128k.txt" 2>&1
  echo "== grid 128k + torch, PDL on (exit $?)"; grep -E "contiguous|paged|rror" "$W/grid128k.txt"
fi
stamp
printf '%s\n' "${summary[@]}" | tee "$W/summary.txt"
tar czf "$OUT/s5a.tgz" -C $W .
