#!/usr/bin/env bash
# Short exploratory device call for the CUDA decode path: where the time of a small decode step
# goes (nsys kernel trace of ours and torch at B = 1, 1k, Hk = 8), and split settings / the
# fused combine at B = 1, 8, 64 with Hk = 8 (no torch). Logs under $OUT; summary last.
#   usage on the device: bash scripts/device/decode_probe.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-kv/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
t0=$(date +%s)
nsys=$(command -v nsys || ls /usr/local/cuda*/bin/nsys /opt/nvidia/nsight-systems/*/bin/nsys 2>/dev/null | head -1)
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
echo "nsys=$nsys ncu=$ncu"
B="/tmp/fa bench --decode --device cuda"
# Warm the kernel cache (compiles) once, small.
$B --no-torch --batch 1 --seqlens 1024 --kv-heads 8 > /dev/null 2>&1
if [[ -n $nsys ]]; then
  for cfg in "1 1024 8" "1 8192 8" "64 1024 8"; do
    set -- $cfg
    timeout 120 "$nsys" profile -t cuda -o /tmp/prof_$1_$2 --force-overwrite true $B --batch $1 --seqlens $2 --kv-heads $3 --repeats 10 > /tmp/nsys_$1_$2.log 2>&1
    "$nsys" stats -q --report cuda_gpu_trace --format csv -o /tmp/trace_$1_$2 /tmp/prof_$1_$2.nsys-rep > /dev/null 2>&1
    f=$(ls /tmp/trace_$1_$2*.csv | head -1)
    # Kernel rows only: start ns, duration ns, grid, name.
    awk -F, 'NR==1{for(i=1;i<=NF;i++){h[$i]=i}; next} {print $h["\"Start (ns)\""]","$h["\"Duration (ns)\""]","$h["\"GrdX\""]","$h["\"GrdY\""]","$h["\"Name\""]}' "$f" \
      | grep -v -i "memset\|memcpy" > "$OUT/trace_$1_$2.csv"
    "$nsys" stats -q --report cuda_gpu_kern_sum --format csv /tmp/prof_$1_$2.nsys-rep 2>/dev/null | cut -c1-220 > "$OUT/kernsum_$1_$2.csv"
    echo "== nsys B=$1 ctx=$2 Hk=$3"; cat "$OUT/kernsum_$1_$2.csv" | head -12
    grep -E "cuda|torch" /tmp/nsys_$1_$2.log | grep -v "^$" | head -6
  done
fi
echo "[t=$(( $(date +%s) - t0 ))s]"
for setting in default 8,64 8,128 16,64 fused; do
  envs=()
  [[ $setting == fused ]] && envs=(FLASH_ATTENTION_DECODE_COMBINE=fused)
  [[ $setting == *,* ]] && envs=(FLASH_ATTENTION_DECODE_SPLITS=$setting)
  env "${envs[@]}" timeout 100 $B --no-torch --batch 1,8,64 --seqlens 1024,8192,32768 --kv-heads 8 \
    --csv "$OUT/probe_${setting/,/_}.csv" > /tmp/probe_${setting/,/_}.txt 2>&1
  echo "== $setting"; grep contiguous /tmp/probe_${setting/,/_}.txt
done
echo "[t=$(( $(date +%s) - t0 ))s]"
