#!/usr/bin/env bash
# Issue 6, session 5, call C (helper dec6): the fused append off the copies' path in its second form
# (new rows prefetched into L1 behind the first copies, the cache writes after the main loop;
# FLASH_ATTENTION_DECODE_APPEND_BEHIND=on) checked and timed beside the shipped order and torch.
#  - verify --kvcache forced on: seed 611 (defaults otherwise), 612 (tensor-core forms forced),
#    613 (clusters ≤ 16 + PDL forced); compute-sanitizer memcheck on 3 forced cases; in parallel;
#  - the short points beside torch (off with torch, then on / off / on / off, contiguous);
#  - the in-kernel timeline at B = 1, 1k, Hk = 8, off and on.
#   usage on the device: bash scripts/device/decode_s5c.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s5c; mkdir -p $W
cases=${1:-8}
gunzip -c .device-dec4/fa6c.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
summary=()
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s]"; }
row() { awk '$1=="bfloat16"{printf "%s/%s/%s %.1f  ", $2, $4, $3, $6*1000}' "$1"; }
nt() {  # name env... -- bench args   (contiguous, no torch)
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 60 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "$name (exit $?): $(row "$W/b_$name.txt")"
}
B=FLASH_ATTENTION_DECODE_APPEND_BEHIND=on
env $B timeout 60 /tmp/fa verify --kvcache --device cuda --seed 611 --cases "$cases" > "$W/verify_611.txt" 2>&1 &
env $B FLASH_ATTENTION_DECODE_MMA=on timeout 60 /tmp/fa verify --kvcache --device cuda --seed 612 --cases "$cases" > "$W/verify_612.txt" 2>&1 &
env $B FLASH_ATTENTION_DECODE_PDL=on FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 60 /tmp/fa verify --kvcache --device cuda --seed 613 --cases "$cases" > "$W/verify_613.txt" 2>&1 &
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
env $B timeout 60 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 619 --cases 3 > "$W/sanitize.txt" 2>&1 &
wait
for seed in 611 612 613; do
  grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
  summary+=("verify --kvcache seed $seed (behind on): $(tail -1 "$W/verify_$seed.txt")")
done
summary+=("memcheck behind on (3 cases): $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
stamp
S="--batch 1,8,64 --kv-heads 8 --seqlens 1024"
FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 /tmp/fa bench --decode --device cuda $S --csv "$W/torch.csv" > "$W/torch.txt" 2>&1
echo "off0 + torch: $(row "$W/torch.txt")"; grep -E "^bfloat16" "$W/torch.txt" | tr -s ' ' | cut -c1-160
S2="--batch 1,8,64 --kv-heads 8,32 --seqlens 1024,8192"
for r in 1 2; do
  nt on$r FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- $S2
  nt off$r FLASH_ATTENTION_DECODE_APPEND_BEHIND=off -- $S2
done
stamp
for beh in off on; do
  rm -f "$W/tl_$beh.txt"
  nt tl_$beh FLASH_ATTENTION_DECODE_TIMELINE="$W/tl_$beh.txt" FLASH_ATTENTION_DECODE_APPEND_BEHIND=$beh -- --batch 1 --kv-heads 8 --seqlens 1024 > /dev/null
done
python3 - "$W" <<'PY' || true
import sys, glob, os, statistics as st
names = ["entry", "seqlens", "issued", "q", "first_kv", "loop_done", "merge", "end"]
for path in sorted(glob.glob(os.path.join(sys.argv[1], "tl_*.txt"))):
    calls = {}
    for line in open(path):
        f = line.split()
        if len(f) < 11: continue
        calls.setdefault(int(f[0]), []).append([int(x) for x in f[3:11]] + [int(f[2]), int(f[1])])
    if not calls: print("==", os.path.basename(path), "no stamps"); continue
    keys = sorted(calls)[2:] or sorted(calls)
    m = lambda v: st.median(v) if v else float("nan")
    span = [(max(r[7] for r in calls[c]) - min(r[0] for r in calls[c])) / 1000 for c in keys]
    print(f"== {os.path.basename(path)}: first start->last end {m(span):.2f} us; per split (cta % 16), median over calls and heads, us from the call's first start:")
    for k in range(8):
        per = []
        for sp in range(16):
            v = [(r[k] - min(x[0] for x in calls[c])) / 1000 for c in keys for r in calls[c] if r[9] % 16 == sp and r[k]]
            per.append(m(v))
        print(f"   {names[k]:10s} " + " ".join(f"{x:5.2f}" for x in per))
PY
stamp
printf '%s\n' "${summary[@]}"
tar czf "$OUT/s5c.tgz" -C $W .
