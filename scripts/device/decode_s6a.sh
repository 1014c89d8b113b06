#!/usr/bin/env bash
# Issue 6, session 6, call A (helper dec7, exploration): the pushed cluster merge
# (FLASH_ATTENTION_DECODE_CLUSTER_MERGE=push) and the early cache-row load
# (FLASH_ATTENTION_DECODE_ROW_EARLY=on) checked and timed; the pure-read ceiling in its forms.
#  - verify --kvcache: seed 701 (push + early row, clusters forced ≤ 16 on every split call),
#    702 (push + early row, default plans), 703 (push, clusters ≤ 8 forced, paged and odd shapes);
#    compute-sanitizer memcheck on 3 cases (push + early row, clusters ≤ 16 forced); in parallel;
#  - A/B, contiguous, no torch, two alternating rounds: base / push / early / both at
#    B 1, 8 × Hk 8, 32 × 1k, 8k;
#  - in-kernel timeline at B = 1, 1k, Hk = 8: base and both;
#  - FLASH_ATTENTION_BENCH_DECODE_READ=all (ldg and bulk-copy reads, memset flush and clean flush)
#    at B 1, 8, 64 × 1k, 8k, 32k, Hk = 8; our calls after the clean flush at the same points.
#   usage on the device: bash scripts/device/decode_s6a.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/s6a; mkdir -p $W
cases=${1:-8}
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
P=FLASH_ATTENTION_DECODE_CLUSTER_MERGE=push
E=FLASH_ATTENTION_DECODE_ROW_EARLY=on
env $P $E FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 70 /tmp/fa verify --kvcache --device cuda --seed 701 --cases "$cases" > "$W/verify_701.txt" 2>&1 &
env $P $E timeout 70 /tmp/fa verify --kvcache --device cuda --seed 702 --cases "$cases" > "$W/verify_702.txt" 2>&1 &
env $P FLASH_ATTENTION_DECODE_CLUSTER=8 timeout 70 /tmp/fa verify --kvcache --device cuda --seed 703 --cases "$cases" > "$W/verify_703.txt" 2>&1 &
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
env $P $E FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 70 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 709 --cases 3 > "$W/sanitize.txt" 2>&1 &
wait
for seed in 701 702 703; do
  grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
  summary+=("verify --kvcache seed $seed: $(tail -1 "$W/verify_$seed.txt")")
done
summary+=("memcheck push+early, cluster 16 forced (3 cases): $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
stamp
S="--batch 1,8 --kv-heads 8,32 --seqlens 1024,8192"
for r in 1 2; do
  nt base$r -- $S
  nt push$r $P -- $S
  nt early$r $E -- $S
  nt both$r $P $E -- $S
done
stamp
for v in base both; do
  rm -f "$W/tl_$v.txt"
  if [[ $v == both ]]; then envs=($P $E); else envs=(FLASH_ATTENTION_DECODE_ROW_EARLY=off); fi
  nt tl_$v "${envs[@]}" FLASH_ATTENTION_DECODE_TIMELINE="$W/tl_$v.txt" -- --batch 1 --kv-heads 8 --seqlens 1024 > /dev/null
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
R="--batch 1,8,64 --kv-heads 8 --seqlens 1024,8192,32768"
FLASH_ATTENTION_BENCH_DECODE_READ=all FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 120 /tmp/fa bench --decode --device cuda --no-torch $R \
  --csv "$W/read_all.csv" > "$W/read_all.txt" 2>&1
echo "read forms (exit $?):"; grep -E "^read forms|^read ceiling" "$W/read_all.txt"
nt clean FLASH_ATTENTION_BENCH_DECODE_FLUSH=clean -- $R
echo "(memset flush, same points: $(row "$W/read_all.txt"))"
stamp
printf '%s\n' "${summary[@]}"
tar czf "$OUT/s6a.tgz" -C $W .
