#!/usr/bin/env bash
# Session 9, hopbwd16: precomputed wgmma descriptors in the Hopper backward's key/value kernels
# (FLASH_ATTENTION_HOPPER_BWD_DESC=1, descriptor precomputedDescriptors, name suffix _pd; tile D = 64/128 and
# the wide D = 256 kernel) beside the shipped kernels and cuDNN/FA2:
#   O = FLASH_ATTENTION_HOPPER_BWD_DESC=0 (the shipped descriptor builds), D = FLASH_ATTENTION_HOPPER_BWD_DESC=1
# Phase 1 (HW_SKIP word "check"; parallel, untimed, D forced with FLASH_ATTENTION_HOPPER_BWD=1): check-dense
# float64-oracle cases D 128/96/64 and 256/192, deterministic and --nondeterministic; --determinism 10 (bitwise);
# compute-sanitizer memcheck + racecheck on small problems (D = 128 GQA, D = 96 causal, D = 256 causal, and
# backward-bench --sanitize's D = 64/40 cases); launches of _pd_ kernels counted per log.
# Phase 2 (serial, timed; a timed step starts only before t = HW_BUDGET s, default 210): backward-bench --bench --nondeterministic bf16, D 64/128 N 512…16k and D 256 N
# HW_SEQ256 (default 1k,4k,16k), causal and not: r1 O D, then r2 D O (interleaved); cuDNN + FA2 through
# scripts/bench_cuda_backward.py in between; fp16 (O, D) only while t < HW_BUDGET. Summary table last
# ($OUT/summary.txt).
#   staging: .device-bwd2/bwd16-flash-attn.gz (static build of the hopbwd16 commit)
#   on the device (carry .device-bwd2/bwd16-flash-attn.gz): bash scripts/device/hopper_bwd16.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hb16w; mkdir -p $W
exec > >(tee "$OUT/log.txt") 2>&1
gunzip -c .device-bwd2/bwd16-flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
skip=" ${HW_SKIP:-} "; want() { [[ $skip != *" $1 "* ]]; }
budget=${HW_BUDGET:-210}   # a timed step starts only before t = budget s
H=FLASH_ATTENTION_HOPPER_BWD; L=FLASH_ATTENTION_HOPPER_BWD_LOG
menv() { case $1 in O) echo "FLASH_ATTENTION_HOPPER_BWD_DESC=0";; D) echo "FLASH_ATTENTION_HOPPER_BWD_DESC=1";; esac; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,power.draw --format=csv,noheader | tee $W/gpu.txt
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
summary=()
SEQ=${HW_SEQLENS:-512,1024,2048,4096,8192,16384}
SEQ256=${HW_SEQ256:-1024,4096,16384}
if want check; then
  python3 -c "
import numpy as np
r = np.random.default_rng(16)
for tag, (sq, sk, h, hk, d) in {'b': (200, 260, 4, 2, 128), 'c': (330, 300, 2, 1, 96), 'w': (150, 190, 2, 1, 256)}.items():
    for n, s in (('q', (1, sq, h, d)), ('k', (1, sk, hk, d)), ('v', (1, sk, hk, d)), ('do', (1, sq, h, d))):
        np.save(f'/tmp/s{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
  ck=()
  for nd in "" --nondeterministic; do
    env $H=1 $(menv D) $L=1 timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96,64 --check-cases 8 --check-dense \
      $nd --seed 61 > $W/check_D$nd.txt 2>&1 & ck+=($!)
    env $H=1 $(menv D) $L=1 timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 256,192 --check-cases 6 --check-dense \
      $nd --seed 62 > $W/check_D256$nd.txt 2>&1 & ck+=($!)
  done
  env $H=1 $(menv D) $L=1 timeout 110 /tmp/fa backward-bench --determinism 10 > $W/det_D.txt 2>&1 & ck+=($!)
  sanrun() {  # tool tag flag
    env $H=1 $(menv D) $L=1 timeout 100 "$san" --tool $1 --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa run --q /tmp/s$2_q.npy --k /tmp/s$2_k.npy --v /tmp/s$2_v.npy --grad-out /tmp/s$2_do.npy --dtype float16 --device cuda $3 \
      --out /tmp/so_$1$2.npy --dq /tmp/sdq_$1$2.npy --dk /tmp/sdk_$1$2.npy --dv /tmp/sdv_$1$2.npy > $W/san_$1_$2.txt 2>&1
  }
  for tool in memcheck racecheck; do
    sanrun $tool b "" & ck+=($!)
    sanrun $tool c --causal & ck+=($!)
    sanrun $tool w --causal & ck+=($!)
    env $H=1 $(menv D) $L=1 timeout 100 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
      /tmp/fa backward-bench --sanitize > $W/san_${tool}_small.txt 2>&1 & ck+=($!)
  done
  for m in O D; do   # compile the timed kernels meanwhile
    env $(menv $m) timeout 90 /tmp/fa backward-bench --bench --nondeterministic --head-dims 64,128,256 --dtypes bf16,fp16 --seqlens 1024,2048 \
      --iterations 1 > $W/warm_$m.txt 2>&1 & ck+=($!)
  done
  for pid in "${ck[@]}"; do wait $pid; done
  stamp "phase 1"
  cnt() { echo "Hopper launches $(grep -c 'hopper-bwd' $1), _pd_ $(grep -c '_pd_' $1) (d64 $(grep -c 'd64_m128n128s2.*_pd_' $1), d128 $(grep -c 'd128_m64n128s2.*_pd_' $1), d256 $(grep -c 'd256_.*_pd_' $1))"; }
  for f in $W/check_D*.txt; do summary+=("$(basename $f .txt) forced: $(grep '^pinned' $f); $(cnt $f)"); done
  summary+=("determinism D: $(grep '^determinism:' $W/det_D.txt); $(cnt $W/det_D.txt)")
  for f in $W/san_*.txt; do summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $(cnt $f)"); done
  printf '%s\n' "${summary[@]}"
fi
bench() {  # mode dtype tag
  [ "$(el)" -lt "$budget" ] || { stamp "bench $1 $3 skipped (budget)"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/bench_$1_$3.csv --head-dims 64,128 \
    --seqlens $SEQ --dtypes $2 > $W/bench_$1_$3.txt 2>&1
  env $(menv $1) timeout 30 /tmp/fa backward-bench --bench --nondeterministic --csv $W/bench256_$1_$3.csv --head-dims 256 \
    --seqlens $SEQ256 --dtypes $2 > $W/bench256_$1_$3.txt 2>&1
  stamp "bench $1 $3 exit $?"
}
bench O bf16 r1; bench D bf16 r1
if want torch; then
  ( cd scripts && PYTHONUNBUFFERED=1 timeout 70 python3 bench_cuda_backward.py --out $W/torch.csv --dims 64,128 --seqlens $SEQ --dtypes bf16 \
      > $W/torch.txt 2>&1
    PYTHONUNBUFFERED=1 timeout 30 python3 bench_cuda_backward.py --out $W/torch256.csv --dims 256 --seqlens $SEQ256 --dtypes bf16 \
      > $W/torch256.txt 2>&1 )
  stamp "torch exit $?"
fi
bench D bf16 r2; bench O bf16 r2
want fp16 && { bench O fp16 f1; bench D fp16 f1; }
python3 - $W <<'PY' > $W/summary_table.txt
import csv, math, os, sys
out = sys.argv[1]
def load(*names):
    rows = {}
    for name in names:
        p = os.path.join(out, name)
        if os.path.exists(p):
            rows.update({(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"])): r for r in csv.DictReader(open(p))})
    return rows
tr = load("torch.csv", "torch256.csv")
f = lambda d, k, c="tflops": float(d.get(k, {}).get(c) or "nan")
runs = {m: {t: load(f"bench_{m}_{t}.csv", f"bench256_{m}_{t}.csv") for t in ("r1", "r2", "f1")} for m in ("O", "D")}
keys = sorted({k for m in runs for t in runs[m] for k in runs[m][t]})
print("dtype D N causal | O r1/r2 | D r1/r2 | D/O r1 r2 | FA2 cuDNN | O/cuDNN D/cuDNN (means)")
gains = {"r1": [], "r2": []}; by = {}
for k in keys:
    o = [f(runs["O"][t], k) for t in ("r1", "r2", "f1")]; d = [f(runs["D"][t], k) for t in ("r1", "r2", "f1")]
    ratio = [d[i] / o[i] if o[i] == o[i] and d[i] == d[i] else float("nan") for i in range(3)]
    for i, t in enumerate(("r1", "r2")):
        if ratio[i] == ratio[i]: gains[t].append(ratio[i]); by.setdefault((t, k[1], k[3]), []).append(ratio[i])
    om = [x for x in o if x == x]; dm = [x for x in d if x == x]
    om = sum(om) / len(om) if om else float("nan"); dm = sum(dm) / len(dm) if dm else float("nan")
    fa2, cu = f(tr, k, "flash"), f(tr, k, "cudnn")
    if k[0] == "fp16":
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {o[2]:.0f} | {d[2]:.0f} | {ratio[2]:.3f} | - - | -")
        continue
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {o[0]:.0f}/{o[1]:.0f} | {d[0]:.0f}/{d[1]:.0f} | {ratio[0]:.3f} {ratio[1]:.3f} | {fa2:.0f} {cu:.0f} | {om / cu:.2f} {dm / cu:.2f}")
gm = lambda xs: math.exp(sum(math.log(x) for x in xs) / len(xs))
for (t, D, c), xs in sorted(by.items()):
    print(f"  D/O {t} D={D} causal={c}: geomean {gm(xs):.4f}, min {min(xs):.3f} ({len(xs)} points)")
for t, xs in gains.items():
    if xs: print(f"geometric mean D/O {t}: {math.exp(sum(math.log(x) for x in xs) / len(xs)):.4f} over {len(xs)} points, min {min(xs):.3f}, max {max(xs):.3f}")
PY
stamp done
( cd $W && tar czf "$OUT/hb16_logs.tgz" --exclude='*.npy' . )
{ cat $W/gpu.txt; cat $W/summary_table.txt; echo "=== checks"; printf '%s\n' "${summary[@]}"; } > "$OUT/summary.txt"
cat "$OUT/summary.txt"
