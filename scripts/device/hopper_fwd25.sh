#!/usr/bin/env bash
# Session 13 (hopfwd25), Hopper forward, one device call (hopper_fwd23.sh with the overlapped lean order).
# Candidate: the lean cuDNN step order with each warpgroup's products under its own row maximum
# (`overlappedExponentialTurn`, FLASH_ATTENTION_HOPPER_EXPOVERLAP=1 -> suffix `xo`, =2 -> `xoa`, on rows with the lean
# order; FLASH_ATTENTION_HOPPER_EXPTURN=lean puts that on every row): after the hand-over, S of the next step and P·V of
# this one issued back to back, wait_group 1 (S), mask + row maximum under P·V, wait P·V, [turn] exponentials, O·α, P.
# `xoa` also hands the turn over only after P's packing.
# Phase 1 (parallel, untimed), `xo` forced (and a subset with `xoa`): pinned float64 oracle D = 64,128 (full grid and
#   FLASH_ATTENTION_HOPPER_GRID=2), dense oracle, `verify`, the torch float64 reference on odd causal / unmasked shapes,
#   compute-sanitizer memcheck + racecheck (2-block grid); each job lists the `xo` / `xoa` kernels it reached.
# Phase 2 (timed, one process at a time): D = 64,128, N = 512, 768, 1k, 1.5k, causal + unmasked, bf16 + fp16: shipped vs
#   xl (EXPTURN=lean; at causal D = 64 the shipped kernel, a null A/B) vs xo vs xoa in HW_ROUNDS interleaved rounds
#   (default 4), then PyTorch SDPA cuDNN + FA2. $OUT/table.txt.
# Phase 3: one ncu line per form at causal D = 64 N = 512 bf16 (duration, issue active, tensor pipe, instructions) + cuDNN.
#   usage on the device: bash scripts/device/hopper_fwd25.sh   (carry .device-hopfwd25/flash-attn.gz; timeout_s 450)
#   knobs: HW_SETS, HW_SN, HW_DIMS, HW_ROUNDS, HW_FN / HW_FN2 (the forced forms of the checks), HW_SUFFIX (kernels listed),
#   HW_CHECK_LIST (a subset of the check jobs by name), HW_SKIP_CHECKS / HW_SKIP_NCU / HW_SKIP_TORCH, HW_BUDGET.
# Results (H100, 158.1 s wall, HW_BUDGET=260): every check green (pinned 48 + 24 + 8, dense 48 + 24, verify 30, torch 127 + 48,
#   memcheck 0, racecheck 0; xoa: 24, 24, 48, racecheck 0); xo / shipped 0.94-0.97 at causal D = 64 512-1k, 1.009-1.023 at causal
#   D = 128 1k, 1.000-1.016 unmasked D = 64 512-1k; ncu causal D = 64 512: xo 151.3 us / 36.9 % / 49.7 M (shipped xl 144.8 / 37.5 % /
#   48.0 M). docs/performance.md, "Session 13: the lean cuDNN order with each warpgroup's products under its own row maximum".
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c ${HW_BIN:-.device-hopfwd25/flash-attn.gz} > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
BUDGET=${HW_BUDGET:-200}
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
SUF=${HW_SUFFIX:-xoa?}
ndk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*tmaws[a-z0-9]*${SUF}_sm_90a" | sort -u; }
FN="${HW_FN:-FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_EXPTURN=lean FLASH_ATTENTION_HOPPER_EXPOVERLAP=1}"
FN2="${HW_FN2:-FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_EXPTURN=lean FLASH_ATTENTION_HOPPER_EXPOVERLAP=2}"
SN=${HW_SN:-512,768,1024,1536}
DIMS=${HW_DIMS:-64,128}
mkdir -p /tmp/npy
# Targeted causal shapes against a float64 reference (torch on the GPU): inputs rounded to the storage type
# first; pass = no NaN, rows that see no key give O = 0 and LSE = +inf, O's norm-wise error <= 2x that of naive
# attention in the same precision (+1e-6), LSE's max error <= 3x naive's (+1e-4). Modes: oracle [g2], sanitize TOOL.
cat > /tmp/oracle25.py <<'PY'
import os, subprocess, sys, numpy as np, torch
mode = sys.argv[1]
dev = "cuda"
def make(B, sq, sk, H, Hk, D, dt, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    q, k, v = (torch.randn(B, n, h, D, generator=g) for n, h in ((sq, H), (sk, Hk), (sk, Hk)))
    q, k, v = (x.to(dt).float() for x in (q, k, v))
    return q, k, v
def ref(q, k, v, causal, dt=None):
    B, sq, H, D = q.shape; sk, Hk = k.shape[1], k.shape[2]
    f = torch.float64 if dt is None else torch.float32
    qq, kk, vv = (x.to(dev, f).transpose(1, 2) for x in (q, k, v))
    kk = kk.repeat_interleave(H // Hk, 1); vv = vv.repeat_interleave(H // Hk, 1)
    s = (qq @ kk.transpose(-1, -2)) / (D ** 0.5)
    i = torch.arange(sq, device=dev)[:, None]; j = torch.arange(sk, device=dev)[None, :]
    vis = (j <= i + sk - sq) if causal else torch.ones(sq, sk, dtype=torch.bool, device=dev)
    s = s.masked_fill(~vis, float("-inf"))
    m = s.amax(-1, keepdim=True); none = torch.isinf(m) & (m < 0)
    p = torch.exp(s - torch.where(none, torch.zeros_like(m), m))
    l = p.sum(-1, keepdim=True)
    lse = torch.where(none, torch.full_like(m, float("inf")), m + torch.log(l)).squeeze(-1)
    if dt is not None: p = (p / torch.where(none, torch.ones_like(l), l)).to(dt).float(); o = (p @ vv).to(dt).float()
    else: o = p @ vv / torch.where(none, torch.ones_like(l), l)
    return o.transpose(1, 2).cpu().double(), lse.cpu().double(), none.squeeze(-1).cpu()
def run(q, k, v, dtn, tag, env=None, prefix=(), causal=True):
    tag = f"{os.getpid()}_{tag}"  # jobs run side by side
    for n, x in (("q", q), ("k", k), ("v", v)): np.save(f"/tmp/npy/{tag}_{n}.npy", x.numpy().astype(np.float32))
    cmd = list(prefix) + ["/tmp/fa", "run", "--device", "cuda"] + (["--causal"] if causal else []) + ["--dtype", dtn, "--q", f"/tmp/npy/{tag}_q.npy", "--k", f"/tmp/npy/{tag}_k.npy",
           "--v", f"/tmp/npy/{tag}_v.npy", "--out", f"/tmp/npy/{tag}_o.npy", "--lse", f"/tmp/npy/{tag}_l.npy"]
    r = subprocess.run(cmd, capture_output=True, text=True, env=env)
    return r, (f"/tmp/npy/{tag}_o.npy", f"/tmp/npy/{tag}_l.npy")
if mode == "oracle":
    g2 = len(sys.argv) > 2
    shapes = [(512, 512), (1024, 1024), (640, 640), (777, 777), (512, 576), (576, 512), (300, 700), (700, 300), (128, 128), (130, 130), (64, 200), (200, 64), (129, 1000), (640, 512)]
    if g2: shapes = [(512, 512), (777, 777), (576, 512), (300, 700), (640, 512), (129, 1000)]
    cases = [(D, dt, c) for D in (64, 128) for dt in ("bfloat16", "float16") for c in (True, False)] + ([] if g2 else [(48, "bfloat16", True), (48, "float16", False), (96, "bfloat16", True)])
    passed = failed = 0
    for D, dtn, causal in cases:
        dt = torch.bfloat16 if dtn == "bfloat16" else torch.float16
        for n, (sq, sk) in enumerate(shapes):
            if D in (48, 96) and n % 3: continue
            q, k, v = make(2, sq, sk, 4, 2, D, dt, 1000 * D + n)
            r, (po, pl) = run(q, k, v, dtn, f"o{'g' if g2 else ''}{D}{dtn}{n}{int(causal)}", causal=causal)
            if r.returncode != 0: failed += 1; print(f"FAIL run D={D} {dtn} causal={int(causal)} Sq={sq} Sk={sk}: {r.stderr[-300:]}"); continue
            o = torch.from_numpy(np.load(po)).double(); l = torch.from_numpy(np.load(pl)).double()
            ro, rl, none = ref(q, k, v, causal); no, nl, _ = ref(q, k, v, causal, dt)
            vis = ~none
            err = ((o - ro).norm() / ro.norm()).item(); nerr = ((no - ro).norm() / ro.norm()).item()
            lerr = (l[vis] - rl[vis]).abs().max().item() if vis.any() else 0.0
            nlerr = (nl[vis] - rl[vis]).abs().max().item() if vis.any() else 0.0
            nonefine = bool((o.transpose(1, 2)[none] == 0).all()) and bool(torch.isinf(l[none]).all())
            ok = not torch.isnan(o).any() and err <= 2 * nerr + 1e-6 and lerr <= 3 * nlerr + 1e-4 and nonefine
            passed += ok; failed += not ok
            if not ok or n < 2: print(f"{'PASS' if ok else 'FAIL'} D={D} {dtn} causal={int(causal)} Sq={sq} Sk={sk}: out {err:.2e} (naive {nerr:.2e}) lse {lerr:.2e} (naive {nlerr:.2e}) no-key rows {int(none.sum())} ok={nonefine}")
    print(f"oracle{' g2' if g2 else ''}: {passed} passed, {failed} failed")
else:
    tool = sys.argv[2]; bad = 0
    for D, dtn, sq, sk in ((64, "bfloat16", 512, 512), (64, "float16", 640, 512), (64, "float16", 512, 640), (128, "bfloat16", 512, 512), (128, "float16", 777, 640)):
        dt = torch.bfloat16 if dtn == "bfloat16" else torch.float16
        q, k, v = make(1, sq, sk, 4, 2, D, dt, 7 + D)
        r, _ = run(q, k, v, dtn, f"s{tool}{D}{sq}{sk}", prefix=("compute-sanitizer", "--tool", tool, "--kernel-name", "kns=flash_attention_forward", "--error-exitcode", "9"))
        summ = [x for x in r.stdout.splitlines() if "SUMMARY" in x]
        print(f"{tool} D={D} {dtn} Sq={sq} Sk={sk}: exit {r.returncode} {summ[-1] if summ else r.stdout[-200:]}")
        bad += r.returncode != 0
    print(f"sanitize {tool}: {'clean' if bad == 0 else f'{bad} FAILED'}")
PY
# Phase 1: checks, the lean order forced.
job() { local name=$1 envs=$2; shift 2; [ -n "${HW_CHECK_LIST:-}" ] && [[ " $HW_CHECK_LIST " != *" $name "* ]] && return 0; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 110 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense; }
CHECKS="pinned pinned_g2 pinned_wide dense dense_g2 verify oracle oracle_g2 memcheck racecheck pinned2_g2 dense2 oracle2_g2 racecheck2"
if [ -z "${HW_SKIP_CHECKS:-}" ]; then
job pinned "$FN" /tmp/fa compile --check-dims 64,128 --check-cases 12
job pinned_g2 "$FN FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128 --check-cases 6
job pinned_wide "$FN" /tmp/fa compile --check-dims 256 --check-cases 4
job dense "$FN" $(dense 64,128 12)
job dense_g2 "$FN FLASH_ATTENTION_HOPPER_GRID=2" $(dense 64,128 6)
job verify "$FN" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --cases 30 --seed 93 --lengths 128,320,512,640,777 --max-work 20000000
job oracle "$FN" python3 /tmp/oracle25.py oracle
job oracle_g2 "$FN FLASH_ATTENTION_HOPPER_GRID=2" python3 /tmp/oracle25.py oracle g2
job memcheck "$FN FLASH_ATTENTION_HOPPER_GRID=2" python3 /tmp/oracle25.py sanitize memcheck
job racecheck "$FN FLASH_ATTENTION_HOPPER_GRID=2" python3 /tmp/oracle25.py sanitize racecheck
# The same order with the turn handed over after P's packing (xoa): a subset.
job pinned2_g2 "$FN2 FLASH_ATTENTION_HOPPER_GRID=2" /tmp/fa compile --check-dims 64,128 --check-cases 6
job dense2 "$FN2" $(dense 64,128 6)
job oracle2_g2 "$FN2 FLASH_ATTENTION_HOPPER_GRID=2" python3 /tmp/oracle25.py oracle g2
job racecheck2 "$FN2 FLASH_ATTENTION_HOPPER_GRID=2" python3 /tmp/oracle25.py sanitize racecheck
fi
SETS="${HW_SETS:-base:X=1 xl:FLASH_ATTENTION_HOPPER_EXPTURN=lean xo:FLASH_ATTENTION_HOPPER_EXPTURN=lean,FLASH_ATTENTION_HOPPER_EXPOVERLAP=1 xoa:FLASH_ATTENTION_HOPPER_EXPTURN=lean,FLASH_ATTENTION_HOPPER_EXPOVERLAP=2} ${HW_EXTRA:-}"
envs_of() { echo "${1#*:}" | tr ',' ' '; }
# Warm-ups into the shared cache (the timed runs compile nothing): one process per (dtype, D, setting).
for t in bf16 fp16; do
  for D in ${DIMS//,/ }; do
    for set in $SETS; do ( env $(envs_of $set) timeout 60 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens ${SN%%,*} --bench-dtypes $t > /dev/null 2>&1; env $(envs_of $set) timeout 60 /tmp/fa compile --bench --bench-head-dims $D --bench-seqlens ${SN#*,} --bench-dtypes $t > /dev/null 2>&1 ) & done
  done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for n in $CHECKS; do
  [ -f $LOG/$n.txt ] || continue
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|^oracle|^sanitize|ERROR SUMMARY|RACECHECK SUMMARY' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); $SUF kernels reached: $(ndk /tmp/c-$n | wc -l)"
  ndk /tmp/c-$n | sed "s/^/    /"
done
grep -h "FAIL" $LOG/pinned*.txt $LOG/dense*.txt $LOG/verify.txt $LOG/oracle*.txt $LOG/memcheck.txt $LOG/racecheck*.txt 2>/dev/null | head -12
grep -h "check:\|memcheck D\|racecheck D" $LOG/memcheck.txt $LOG/racecheck*.txt 2>/dev/null
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims $DIMS --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; echo "bench $1 exit $?"; }
for r in $(seq 1 ${HW_ROUNDS:-4}); do
  if [ $r -gt 3 ] && [ $(( $(date +%s) - T0 )) -ge $BUDGET ]; then el "round $r skipped (budget)"; break; fi
  for set in $SETS; do bench ${set%%:*}_$r "$(envs_of $set)"; done
  el "round $r done"
done
[ -z "${HW_SKIP_TORCH:-}" ] && PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims $DIMS --seqlens $SN --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
# Phase 3: one ncu line per form at causal D = 64 N = 512 bf16 (launch 30 of the bench: 23 unmasked, then causal).
if [ -z "${HW_SKIP_NCU:-}" ]; then
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
NM=gpu__time_duration.sum,sm__inst_issued.avg.pct_of_peak_sustained_active,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,smsp__inst_executed.sum
for set in $SETS; do
  env $(envs_of $set) timeout 60 "$ncu" --clock-control none -k regex:flash_attention_forward --launch-skip 30 --launch-count 1 --metrics $NM \
    /tmp/fa compile --bench --bench-head-dims 64 --bench-seqlens 512 --bench-dtypes bf16 > $LOG/ncu_${set%%:*}.txt 2>&1
done
cat > /tmp/sdpa_once.py <<'PY2'
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
B, N, H, D = 32, 512, 32, 64
q, k, v = (torch.randn(B, N, H, D, device="cuda", dtype=torch.bfloat16).transpose(1, 2) for _ in range(3))
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    for _ in range(3): F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.synchronize()
    torch.cuda.nvtx.range_push("sdpa")
    F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.cuda.nvtx.range_pop()
    torch.cuda.synchronize()
PY2
timeout 60 "$ncu" --clock-control none --nvtx --nvtx-include "sdpa/" -k regex:fprop --metrics $NM python3 /tmp/sdpa_once.py > $LOG/ncu_cudnn.txt 2>&1
for n in $(for set in $SETS; do echo ${set%%:*}; done) cudnn; do
  echo "ncu $n: $(grep -E 'N=512 causal|cudnn_' $LOG/ncu_$n.txt | grep -m1 -oE '(fwd_[a-z0-9_]*|cudnn_[a-z0-9_]*)') $(grep -E 'gpu__time_duration.sum|sm__inst_issued|hmma_cycles|smsp__inst_executed.sum' $LOG/ncu_$n.txt | awk '{print $1"="$NF}' | tr '\n' ' ')" | tee -a $OUT/ncu.txt
done
el "ncu done"
fi
python3 - "$OUT" <<'PY' > $OUT/table.txt
import csv, math, os, re, sys
out = sys.argv[1]
def load(n):
    p = os.path.join(out, n + ".csv"); d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
    return d
def v(d, k, f="tflops"):
    try: return float(d[k][f])
    except Exception: return float("nan")
def gm(xs):
    xs = [x for x in xs if x > 0 and not math.isnan(x)]
    return math.exp(sum(map(math.log, xs)) / len(xs)) if xs else float("nan")
t = load("torch")
R = [r for r in range(1, 9) if os.path.exists(os.path.join(out, f"base_{r}.csv"))]
B = {r: load(f"base_{r}") for r in R}
sets = sorted({m.group(1) for m in (re.match(r"^([a-z0-9]+)_1\.csv$", n) for n in os.listdir(out)) if m and m.group(1) not in ("base", "torch")})
keys = sorted(B[1], key=lambda k: (k[3], k[1], k[2], k[0]))
print(f"{len(R)} interleaved rounds; ratio = setting / shipped TFLOPS, same round")
for s in sets:
    S = {r: load(f"{s}_{r}") for r in R if os.path.exists(os.path.join(out, f"{s}_{r}.csv"))}
    Rs = sorted(S)
    print(f"\n== {s} / shipped per (D, causal, N range): geomean per round | all rounds | points >= 1.0 in every round")
    for D in sorted({k[1] for k in keys}):
        for c in (1, 0):
            for lo, hi in ((512, 1024), (1536, 2048)):
                ks = [k for k in keys if k[1] == D and k[3] == c and lo <= k[2] <= hi]
                if not ks: continue
                per = [gm([v(S[r], k) / v(B[r], k) for k in ks]) for r in Rs]
                wins = [f"{k[0]}{k[2]}" for k in ks if all(v(S[r], k) >= v(B[r], k) for r in Rs)]
                print(f"D={D} {'causal' if c else 'unmasked':8} N {lo}-{hi} | {' '.join(f'{x:.4f}' for x in per)} | {gm([v(S[r], k) / v(B[r], k) for k in ks for r in Rs]):.4f} | {len(wins)}/{len(ks)} {' '.join(wins)}")
    print(f"-- {s} per point: dtype D N causal | ratio per round | mean-of-rounds ratio | shipped/cudnn {s}/cudnn | shipped kernel -> {s} kernel")
    for k in keys:
        bm = sum(v(B[r], k) for r in Rs) / len(Rs); sm = sum(v(S[r], k) for r in Rs) / len(Rs); c = v(t, k, "cudnn")
        print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {' '.join(f'{v(S[r], k) / v(B[r], k):.3f}' for r in Rs)} | {sm / bm:.3f} | {bm / c:.3f} {sm / c:.3f} | {B[Rs[0]].get(k, {}).get('variant', '?')} -> {S[Rs[0]].get(k, {}).get('variant', '?')}")
print("\n-- shipped TFLOPS per round, cuDNN, FA2")
for k in keys:
    print(f"{k[0]} {k[1]} {k[2]} {k[3]} | {'/'.join(f'{v(B[r], k):.0f}' for r in R)} | {v(t, k, 'cudnn'):.0f} {v(t, k, 'flash'):.0f}")
PY
tar -czf $OUT/logs.tgz -C $OUT logs && rm -rf $LOG
(cd $OUT && tar -czf csv.tgz *.csv && rm -f *.csv)
el "end"
cat $OUT/table.txt; cat $OUT/ncu.txt
