#!/usr/bin/env bash
# Session 11, for the next session: where the shipped forward waits at the two widest gaps left, per SASS line.
# ncu --set full --import-source yes (--clock-control none), bf16, one launch inside the bench, of
#  (a) causal D = 64 N = 512 (`…pdq2hder`: 0.89x cuDNN, not memory-bound, issues at 41 % against cuDNN's 46 %)
#  (b) causal D = 256 N = 512 (`…sookvxdervtob`: 0.92x cuDNN, 67.5 % of the DRAM peak against 72.7 %; long
#      scoreboard 6.0 stalls per issue against cuDNN's 2.9)
# and exports each report's SASS source page (stall samples per instruction) as CSV, plus the details page.
#   usage on the device: bash scripts/device/ncu_s11b.sh   (carry .device-me/flash-attn.gz; ~60 s)
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/n11b; mkdir -p "$W" "$OUT"
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
timeout 100 /tmp/fa compile --bench --bench-head-dims 64,256 --bench-seqlens 512 --bench-dtypes bf16 > "$W/warm.txt" 2>&1
stamp "warm-up exit $?"
# The bench runs each D unmasked then causal, 23 launches each: causal D = 64 is launch 30, causal D = 256 launch 76.
for part in "c64 30" "c256 76"; do
  set -- $part
  timeout 120 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_forward --launch-skip $2 --launch-count 1 \
    -o $W/$1 -f /tmp/fa compile --bench --bench-head-dims 64,256 --bench-seqlens 512 --bench-dtypes bf16 > $W/$1.log 2>&1
  stamp "$1 exit $?"
  "$ncu" -i $W/$1.ncu-rep --page details > $W/$1_details.txt 2>&1
  timeout 60 "$ncu" -i $W/$1.ncu-rep --page source --csv --print-source sass > $W/$1_sass.csv 2>&1
  stamp "$1 export: $(wc -l < $W/$1_sass.csv) lines; kernel $(grep -m1 -o 'fwd_[a-z0-9_]*' $W/$1.log)"
  grep -E 'Duration|Compute \(SM\) Throughput|Memory Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc Active' $W/$1_details.txt | head -8
done
( cd $W && tar czf "$OUT/ncu_s11b.tgz" *.txt *.csv *.log )
ls -la "$OUT"
