#!/usr/bin/env bash
# Issue 6, session 5, call B (helper dec6): where the short-context points lose, and the fused
# append behind the first copies (FLASH_ATTENTION_DECODE_APPEND_BEHIND=on, its first form: the
# writer right after the q load; call C, decode_s5c.sh, timed the second form) checked and timed.
# Only the first 8 files under $OUT came back from the run (the tool's count limit): decode_s5c.sh
# tars its work folder instead.
#  - float64-oracle sweeps (verify --kvcache) with the append behind the copies forced on (seed 601
#    defaults otherwise, 602 with the tensor-core forms forced, 603 with PDL + clusters ≤ 16 forced),
#    compute-sanitizer memcheck on 3 forced cases — all in parallel with nothing timed;
#  - ncu (real clocks) at B = 1 and B = 8, 1k, Hk = 8: kernel durations (against the bench's CUDA
#    events: the launch-to-start gap) and source-level warp stall samples (SASS, per instruction);
#  - A/B of the append behind the copies (off with torch, on, off, on, off, on) at the short points;
#  - the in-kernel timeline (FLASH_ATTENTION_DECODE_TIMELINE) at B = 1, 1k, Hk = 8 (cluster, append
#    behind, no cluster) and B = 8, 1k, Hk = 32 (before / behind);
#  - B = 1, 1k, Hk = 8: cluster off (PDL combine) / 8 / 16, forced splits 8 / 16 / 32 without a
#    cluster, 8 warps, the 16-cluster with the append behind.
#   usage on the device: bash scripts/device/decode_s5b.sh [cases-per-seed]
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=$OUT/s5b; mkdir -p $W   # under $OUT: what ran comes back even if cut off
cases=${1:-10}
gunzip -c .device-dec4/fa6.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${DEC_SKIP:-} "
summary=()
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$W/gpu.txt"
t0=$(date +%s)
stamp() { echo "[t=$(( $(date +%s) - t0 ))s]"; }
nt() {  # name env... -- extra bench args   (contiguous, no torch)
  local name=$1; shift
  local envs=(); while [[ $# -gt 0 && $1 != -- ]]; do envs+=("$1"); shift; done; shift
  env "${envs[@]}" FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 60 /tmp/fa bench --decode --device cuda --no-torch "$@" \
    --csv "$W/b_$name.csv" > "$W/b_$name.txt" 2>&1
  echo "$name (exit $?): $(awk '$1=="bfloat16"{printf "%s/%s/%s %.1f  ", $2, $4, $3, $6*1000}' "$W/b_$name.txt")"
}
if [[ $skip != *" verify "* ]]; then
  B=FLASH_ATTENTION_DECODE_APPEND_BEHIND=on
  env $B timeout 70 /tmp/fa verify --kvcache --device cuda --seed 601 --cases "$cases" > "$W/verify_601.txt" 2>&1 &
  env $B FLASH_ATTENTION_DECODE_MMA=on timeout 70 /tmp/fa verify --kvcache --device cuda --seed 602 --cases "$cases" > "$W/verify_602.txt" 2>&1 &
  env $B FLASH_ATTENTION_DECODE_PDL=on FLASH_ATTENTION_DECODE_CLUSTER=16 timeout 70 /tmp/fa verify --kvcache --device cuda --seed 603 --cases "$cases" > "$W/verify_603.txt" 2>&1 &
  san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  env $B timeout 70 "$san" --tool memcheck --error-exitcode 9 /tmp/fa verify --kvcache --device cuda --seed 609 --cases 3 > "$W/sanitize.txt" 2>&1 &
  wait
  for seed in 601 602 603; do
    grep -E "FAILED|rror" "$W/verify_$seed.txt" | head -4 | cut -c1-400
    summary+=("verify --kvcache seed $seed (behind on): $(tail -1 "$W/verify_$seed.txt")")
  done
  summary+=("memcheck behind on (3 cases): $(grep 'ERROR SUMMARY' "$W/sanitize.txt" | tail -1)")
fi
stamp
if [[ $skip != *" ab "* ]]; then
  S="--batch 1,8,64 --kv-heads 8 --seqlens 1024"
  FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 90 /tmp/fa bench --decode --device cuda $S --csv "$W/torch1.csv" > "$W/torch1.txt" 2>&1
  echo "off1 + torch: $(awk '$1=="bfloat16"{printf "%s/%s/%s %.1f  ", $2, $4, $3, $6*1000}' "$W/torch1.txt")"; grep -E "torch|rror" "$W/torch1.txt" | head -8 | cut -c1-160
  nt on1 FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- $S
  S2="--batch 1,8 --kv-heads 8,32 --seqlens 1024,8192"
  nt off2 FLASH_ATTENTION_DECODE_APPEND_BEHIND=off -- $S2
  nt on2 FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- $S2
  nt off3 FLASH_ATTENTION_DECODE_APPEND_BEHIND=off -- $S
  nt on3 FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- $S
fi
stamp
if [[ $skip != *" timeline "* ]]; then
  # In-kernel timeline (scalar kernel; the runtime waits for each call, so the bench's own µs are
  # not the call's here): B = 1, 1k, Hk = 8 (16-split cluster) with the append before / behind the
  # copies, B = 8, 1k, Hk = 32 (the shipped scalar kernel there), B = 8, 1k, Hk = 8 on the scalar kernel.
  tl() { local name=$1; shift; rm -f "$W/tl_$name.txt"; nt tl_$name FLASH_ATTENTION_DECODE_TIMELINE="$W/tl_$name.txt" "$@" > /dev/null; }
  tl b1 FLASH_ATTENTION_DECODE_APPEND_BEHIND=off -- --batch 1 --kv-heads 8 --seqlens 1024
  tl b1_behind FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- --batch 1 --kv-heads 8 --seqlens 1024
  tl b1_nocl FLASH_ATTENTION_DECODE_CLUSTER=off -- --batch 1 --kv-heads 8 --seqlens 1024
  tl b8_hk32 FLASH_ATTENTION_DECODE_APPEND_BEHIND=off -- --batch 8 --kv-heads 32 --seqlens 1024
  tl b8_hk32_behind FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- --batch 8 --kv-heads 32 --seqlens 1024
  python3 - "$W" <<'EOF' || true
import sys, glob, os, statistics as st
names = ["entry", "seqlens", "issued", "q", "first_kv", "loop_done", "merge", "end"]
for path in sorted(glob.glob(os.path.join(sys.argv[1], "tl_*.txt"))):
    calls = {}
    for line in open(path):
        f = line.split()
        if len(f) < 11: continue
        calls.setdefault(int(f[0]), []).append([int(x) for x in f[3:11]] + [int(f[2])])
    if not calls: print("==", os.path.basename(path), "no stamps"); continue
    keys = sorted(calls)[2:] or sorted(calls)  # the first calls compile/warm
    ramp, span, stage_med, stage_max, at_med, at_max = [], [], {k: [] for k in range(1, 8)}, {k: [] for k in range(1, 8)}, {k: [] for k in range(8)}, {k: [] for k in range(8)}
    for c in keys:
        rows = calls[c]
        base = min(r[0] for r in rows)
        ramp.append((max(r[0] for r in rows) - base) / 1000)
        span.append((max(r[7] for r in rows) - base) / 1000)
        for k in range(8):
            vals = [(r[k] - base) / 1000 for r in rows if r[k]]
            if vals: at_med[k].append(st.median(vals)); at_max[k].append(max(vals))
        for k in range(1, 8):
            prev = [r for r in rows if r[k] and r[k - 1]]
            d = [(r[k] - r[k - 1]) / 1000 for r in prev]
            if d: stage_med[k].append(st.median(d)); stage_max[k].append(max(d))
    m = lambda v: st.median(v) if v else float("nan")
    print(f"== {os.path.basename(path)}: {len(keys)} calls x {len(calls[keys[0]])} CTAs; first->last CTA start {m(ramp):.2f} us, first start->last end {m(span):.2f} us (medians over calls)")
    print("   stamp        at (median CTA / latest CTA, us from first start)   step from previous stamp (median / max CTA)")
    for k in range(8):
        s = f"   {names[k]:10s}  {m(at_med[k]):6.2f} / {m(at_max[k]):6.2f}"
        if k: s += f"      {m(stage_med[k]):6.2f} / {m(stage_max[k]):6.2f}"
        print(s)
EOF
fi
stamp
if [[ $skip != *" ncu "* ]]; then
  ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu /opt/nvidia/nsight-compute/*/ncu 2>/dev/null | head -1)
  for b in 1 8; do
    for beh in off; do
      FLASH_ATTENTION_DECODE_APPEND_BEHIND=$beh FLASH_ATTENTION_BENCH_DECODE_LAYOUTS=contiguous timeout 40 "$ncu" --clock-control none -k regex:flash_decode_attention \
        --launch-skip 3 --launch-count 1 --section SourceCounters --section WarpStateStats --section LaunchStats --metrics gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed \
        -o "$W/ncu_b${b}_$beh" /tmp/fa bench --decode --device cuda --no-torch --batch $b --kv-heads 8 --seqlens 1024 --repeats 4 > "$W/ncu_b${b}_$beh.log" 2>&1
      "$ncu" -i "$W/ncu_b${b}_$beh.ncu-rep" --page details --print-units base > "$W/ncu_b${b}_$beh.txt" 2>&1
      "$ncu" -i "$W/ncu_b${b}_$beh.ncu-rep" --page source --csv --print-source sass > "$W/ncu_src_b${b}_$beh.csv" 2>&1
      echo "== ncu B=$b 1k behind=$beh: $(grep -E 'gpu__time_duration|Duration' "$W/ncu_b${b}_$beh.txt" | head -2 | tr -s ' ' | tr '\n' ' ')"
      grep -E "Stall|Warp Cycles Per Issued|Registers Per|Grid Size|Block Size|dram__throughput" "$W/ncu_b${b}_$beh.txt" | head -12 | tr -s ' ' | cut -c1-120
    done
  done
  # The top stalling SASS lines (samples per instruction), B = 1 and 8 with the shipped order.
  python3 - "$W" <<'EOF' || true
import csv, sys, glob, os
for path in sorted(glob.glob(os.path.join(sys.argv[1], "ncu_src_b*_off.csv")) + sorted(glob.glob(os.path.join(sys.argv[1], "ncu_src_b*_on.csv")))):
    try:
        rows = list(csv.reader(open(path)))
    except Exception as e:
        print(path, e); continue
    hdr = next((i for i, r in enumerate(rows) if any("Source" == c for c in r)), None)
    if hdr is None: print(path, "no header", rows[:2]); continue
    h = rows[hdr]; body = rows[hdr + 1:]
    si = h.index("Source")
    cand = [i for i, c in enumerate(h) if c.startswith("Warp Stall Sampling (All")]
    if not cand: print(path, "cols", h[:12]); continue
    wi = cand[0]
    def num(x):
        try: return float(x.replace(",", ""))
        except: return 0.0
    tot = sum(num(r[wi]) for r in body if len(r) > wi)
    top = sorted(((num(r[wi]), i, r[si]) for i, r in enumerate(body) if len(r) > wi), reverse=True)[:14]
    print("==", os.path.basename(path), "samples", tot)
    for s, i, src in top: print(f"  {100*s/max(tot,1):5.1f}%  #{i:4d}  {src[:90]}")
EOF
fi
if [[ $skip != *" knobs "* ]]; then
  P="--batch 1 --kv-heads 8 --seqlens 1024"
  nt cl_off FLASH_ATTENTION_DECODE_CLUSTER=off -- $P
  nt cl_8 FLASH_ATTENTION_DECODE_CLUSTER=8 -- $P
  nt cl_16 FLASH_ATTENTION_DECODE_CLUSTER=16 -- $P
  for n in 8 16 32; do nt sp$n FLASH_ATTENTION_DECODE_CLUSTER=off FLASH_ATTENTION_BENCH_DECODE_SPLITS=$n -- $P; done
  nt w8 FLASH_ATTENTION_DECODE_WARPS=8 -- $P
  nt cl16b FLASH_ATTENTION_DECODE_CLUSTER=16 FLASH_ATTENTION_DECODE_APPEND_BEHIND=on -- $P
fi
stamp
stamp
printf '%s\n' "${summary[@]}" | tee "$W/summary.txt"
