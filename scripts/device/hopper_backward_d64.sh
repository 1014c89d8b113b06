#!/usr/bin/env bash
# One short device call (≤ 110 s on a warm H100) for tile D = 64 of the Hopper backward with two
# dQ buffers and a writer each (barriers in the alignment pad: 232,432 of 232,448 B), which only
# FLASH_ATTENTION_HOPPER_BWD_DQBUF=2 turns on. With it forced at D = 64 (FLASH_ATTENTION_HOPPER_BWD=1):
# pinned float64-oracle cases, bitwise reruns, memcheck + racecheck over a multi-step chain; then
# the bf16 D = 64 timing A/B (DQBUF=1 vs 2, N = 2k, 8k, 16k, causal and not) beside FA2 and cuDNN
# (SDPA, same call), two rounds of ours (1, 2, torch, 2, 1) when time allows.
#   usage on the device: bash scripts/device/hopper_backward_d64.sh   (logs under $OUT)
# Expects $D64_DIR/flash-attn.gz and $D64_DIR/libflashattention.so (D64_DIR defaults to .device-me).
# HW_SKIP (words: check sanitize bench torch round2) leaves steps out.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
dir=${D64_DIR:-.device-me}
gunzip -c "$dir/flash-attn.gz" > /tmp/fa_d64 && chmod +x /tmp/fa_d64 || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
export FLASH_ATTENTION_LIB=$PWD/$dir/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
H=FLASH_ATTENTION_HOPPER_BWD; B=FLASH_ATTENTION_HOPPER_BWD_DQBUF; L=FLASH_ATTENTION_HOPPER_BWD_LOG
seqlens=2048,8192,16384
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
w2='hopper-bwd hbwd_dkdv_[a-z0-9]*_d64_.*dqbuf2_w2'   # a tile D = 64 two-writer launch (LOG=1 lines)
summary=()

# Sanitizer problem: fp16 D = 64, B = 1, 1000 queries x 1024 keys, H = 4, Hk = 2 (8 key blocks, each
# walking 8 query blocks of 128 for 2 heads: 16 steps, an 8-block turn chain), dense and causal.
want sanitize && python3 -c "
import numpy as np
r = np.random.default_rng(5)
for n, s in (('q', (1, 1000, 4, 64)), ('k', (1, 1024, 2, 64)), ('v', (1, 1024, 2, 64)), ('do', (1, 1000, 4, 64))):
    np.save('/tmp/d64_' + n + '.npy', r.standard_normal(s).astype(np.float16))
"
sargs="run --q /tmp/d64_q.npy --k /tmp/d64_k.npy --v /tmp/d64_v.npy --grad-out /tmp/d64_do.npy --dtype float16 --device cuda"
sargs+=" --out /tmp/d64_o.npy --dq /tmp/d64_dq.npy --dk /tmp/d64_dk.npy --dv /tmp/d64_dv.npy"

# Everything that is not a timing runs beside each other: the checks, the sanitizers, and one
# short bench per mode that compiles the timed kernels.
ck=()
want check && { env $H=1 $B=2 $L=1 timeout 60 /tmp/fa_d64 backward-bench --warm-verify 0 --jobs 8 --check-dims 64 --check-cases 16 \
    > "$OUT/check.txt" 2>&1 & ck+=($!); }
want check && { env $H=1 $B=2 $L=1 timeout 60 /tmp/fa_d64 backward-bench --determinism 10 > "$OUT/determinism.txt" 2>&1 & ck+=($!); }
for tool in memcheck racecheck; do
  want sanitize || break
  for c in dense causal; do
    flag=""; [[ $c = causal ]] && flag="--causal"
    env $H=1 $B=2 $L=1 timeout 60 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa_d64 $sargs $flag > "$OUT/san_${tool}_$c.txt" 2>&1 & ck+=($!)
  done
done
for b in 1 2; do
  want bench || break
  env $B=$b timeout 60 /tmp/fa_d64 backward-bench --bench --head-dims 64 --seqlens 2048 --dtypes bf16 --iterations 1 \
    > "$OUT/warm_$b.txt" 2>&1 & ck+=($!)
done
for pid in "${ck[@]}"; do wait $pid; done
stamp checks
want check && summary+=("oracle (DQBUF=2 forced): $(grep '^pinned' "$OUT/check.txt"); d64 w2 launches $(grep -c "$w2" "$OUT/check.txt")")
want check && summary+=("$(grep 'D=64' "$OUT/determinism.txt"); $(grep '^determinism:' "$OUT/determinism.txt"); d64 w2 launches $(grep -c "$w2" "$OUT/determinism.txt")")
for f in "$OUT"/san_*.txt; do
  [ -f "$f" ] && summary+=("$(basename "$f" .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$f" | tail -1); d64 w2 launches $(grep -c "$w2" "$f")")
done

# Timings: bf16 D = 64, 16k tokens per batch, hidden 2048 (median of 10 after warm-up); nothing else runs.
bench() {  # bench <dqbuf> <round>
  env $B=$1 $L=1 timeout 40 /tmp/fa_d64 backward-bench --bench --csv "$OUT/bench$1_$2.csv" --head-dims 64 --seqlens $seqlens \
    --dtypes bf16 > "$OUT/bench$1_$2.txt" 2>&1
  stamp "bench DQBUF=$1 round $2 exit $?"
}
want bench && { bench 1 a; bench 2 a; }
if want torch; then
  PYTHONUNBUFFERED=1 timeout 45 python3 scripts/bench_cuda_backward.py --ours "$OUT/bench1_a.csv" --out "$OUT/torch.csv" --dims 64 \
    --seqlens $seqlens --dtypes bf16 > "$OUT/torch.txt" 2>"$OUT/torch_err.txt"
  stamp "torch exit $?"
fi
if want bench && want round2 && [ "$(el)" -lt 85 ]; then bench 2 b; bench 1 b; fi

python3 - "$OUT" <<'PY' > "$OUT/summary_table.txt"
import csv, os, sys
out = sys.argv[1]
def load(name):
    path = os.path.join(out, name)
    if not os.path.exists(path): return {}
    return {(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"])): r for r in csv.DictReader(open(path))}
def tf(rows, k, col="tflops"):
    try: return float(rows.get(k, {}).get(col) or "nan")
    except ValueError: return float("nan")
runs = {m: load(f"bench{m}.csv") for m in ("1_a", "1_b", "2_a", "2_b")}
torch = load("torch.csv")
def best(m, k):
    xs = [tf(runs[f"{m}_{r}"], k) for r in "ab"]; xs = [x for x in xs if x == x]
    return max(xs) if xs else float("nan")
keys = sorted(set().union(*[set(r) for r in runs.values()]), key=lambda k: (k[2], k[3]))
print("bf16 D=64 TFLOP/s | N causal | DQBUF=1 (a b) | DQBUF=2 w2 (a b) | best2/best1 | FA2 cuDNN | best1/cuDNN best2/cuDNN")
ratios = []
for k in keys:
    a1, b1, a2, b2 = (tf(runs[m], k) for m in ("1_a", "1_b", "2_a", "2_b"))
    o1, o2 = best("1", k), best("2", k); fa2, cu = tf(torch, k, "flash"), tf(torch, k, "cudnn")
    ratios.append((k, o2 / o1))
    print(f"{k[2]:>5} {k[3]} | {a1:.0f} {b1:.0f} | {a2:.0f} {b2:.0f} | {o2/o1:.3f} | {fa2:.0f} {cu:.0f} | {o1/cu:.2f} {o2/cu:.2f}")
ok = [r for _, r in ratios if r == r]
if ok:
    print(f"DECIDE two buffers at tile D = 64: best2/best1 min {min(ok):.3f} max {max(ok):.3f}; "
          + "; ".join(f"N={k[2]}{' causal' if k[3] else ''} {r:.3f}" for k, r in ratios))
PY
for f in "$OUT"/bench?_?.txt; do
  [ -f "$f" ] && summary+=("$(basename "$f" .txt): launches d64 w2 $(grep -c "$w2" "$f"), d64 one-buffer $(grep 'hopper-bwd hbwd_dkdv_[a-z0-9]*_d64_' "$f" | grep -vc dqbuf2)")
done
echo "=== checks (t=$(el)s)"; printf '%s\n' "${summary[@]}"
echo "=== timing A/B (the table that decides)"; cat "$OUT/summary_table.txt"
(cd "$OUT" && tar czf /tmp/d64-logs.tgz . && mv /tmp/d64-logs.tgz logs.tgz)
