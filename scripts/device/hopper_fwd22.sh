#!/usr/bin/env bash
# Session 12 (hopfwd22), Hopper forward, one device call. Candidate (descriptor queryHalves = 4, suffix `q4`, knob
# FLASH_ATTENTION_HOPPER_QHALVES128=1): at tile D = 128 the two Q buffers' 64 KB as four 16 KB per-warpgroup halves
# (64-row Q boxes, a full/free barrier pair each; tile c: warpgroup 0 fill 2c, warpgroup 1 fill 2c + 1, fill f in half
# f mod 4), so a warpgroup's next rows wait only for its own last S of the tile before and warpgroup 0's first S for
# 16 KB of Q (warpgroup 1's half follows the first K). O keeps its staging tile. Rows: causal D = 128 up to 2k
# (`…pdq2sohdxd` -> `…pdsohdxdq4`) and unmasked up to 1k (`…pq2so` -> `…psoq4`); the other D = 128 rows keep their kernel.
# Phase 0: a 25-s smoke run. Phase 1 (parallel, untimed), the form forced (FLASH_ATTENTION_HOPPER=1 QHALVES128=1): pinned
#   float64 oracle D = 128 (full grid and GRID=2), dense oracle D = 128/96 (full and GRID=2), a verify sweep over
#   128...2048 keys, a torch float64 reference on odd shapes (Sq = Sk, Sq != Sk, rows that see no key; causal and not,
#   D = 128 and 96; full and GRID=2), compute-sanitizer memcheck + racecheck on causal 640x640 and 512x512 (GRID=2);
#   each job lists the q4 kernels it reached.
# Phase 2 (timed, one process at a time): D = 128, N = 512, 1k, 2k, causal + unmasked, bf16 + fp16: shipped / q4 in
#   HW_ROUNDS interleaved rounds (default 4), then PyTorch SDPA cuDNN + FA2. $OUT/table.txt.
#   staging (here): swift build -c release --product flash-attn --static-swift-stdlib -Xswiftc -static-stdlib
#     --scratch-path /work/.build-hopfwd22; gzip -c .../release/flash-attn > /work/main/.device-hopfwd22/flash-attn.gz
#   usage on the device: bash .device-hopfwd22/hopper_fwd22.sh   (carry .device-hopfwd22; timeout_s <= 330)
# Result (1 call, H100, 75 s): every check green; q4 / shipped 0.976-0.986 causal 512-1k, 0.989-1.002 causal 2k,
#   0.987-0.998 unmasked (23 of 24 rounds below 1.0): off by default.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=$OUT/logs; mkdir -p $LOG
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c ${HW_BIN:-.device-hopfwd22/flash-attn.gz} > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
BUDGET=${HW_BUDGET:-190}
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
hk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*q4_sm_90a" | sort -u; }
SN=${HW_SEQLENS:-512,1024,2048}
mkdir -p /tmp/npy
python3 -c "
import numpy as np
r = np.random.default_rng(19)
for n in 'qkv': np.save('/tmp/w_' + n + '.npy', (r.standard_normal((1, 640, 2, 128)) * 0.5).astype(np.float32))
"
cat > /tmp/oracle22.py <<'PY'
import os, subprocess, sys, numpy as np, torch
mode = sys.argv[1]
dev = "cuda"
def make(B, sq, sk, H, Hk, D, dt, seed):
    g = torch.Generator(device="cpu").manual_seed(seed)
    q, k, v = (torch.randn(B, n, h, D, generator=g) for n, h in ((sq, H), (sk, Hk), (sk, Hk)))
    return tuple(x.to(dt).float() for x in (q, k, v))
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
def run(q, k, v, dtn, tag, prefix=(), causal=True):
    tag = f"{os.getpid()}_{tag}"
    for n, x in (("q", q), ("k", k), ("v", v)): np.save(f"/tmp/npy/{tag}_{n}.npy", x.numpy().astype(np.float32))
    cmd = list(prefix) + ["/tmp/fa", "run", "--device", "cuda"] + (["--causal"] if causal else []) + ["--dtype", dtn, "--q", f"/tmp/npy/{tag}_q.npy", "--k", f"/tmp/npy/{tag}_k.npy",
           "--v", f"/tmp/npy/{tag}_v.npy", "--out", f"/tmp/npy/{tag}_o.npy", "--lse", f"/tmp/npy/{tag}_l.npy"]
    r = subprocess.run(cmd, capture_output=True, text=True)
    return r, (f"/tmp/npy/{tag}_o.npy", f"/tmp/npy/{tag}_l.npy")
if mode == "oracle":
    g2 = len(sys.argv) > 2
    shapes = [(512, 512), (1024, 1024), (640, 640), (777, 777), (512, 576), (576, 512), (300, 700), (700, 300), (130, 130), (64, 200), (200, 64), (129, 1000), (2048, 2048)]
    if g2: shapes = [(512, 512), (777, 777), (576, 512), (300, 700), (700, 300), (129, 1000)]
    cases = [(128, dt, True) for dt in ("bfloat16", "float16")] + [(128, "bfloat16", False), (96, "float16", True), (96, "bfloat16", False)]
    passed = failed = 0
    for D, dtn, causal in cases:
        dt = torch.bfloat16 if dtn == "bfloat16" else torch.float16
        for n, (sq, sk) in enumerate(shapes):
            if (D == 96 or not causal) and n % 3: continue
            q, k, v = make(1 if sq * sk > 2e6 else 2, sq, sk, 4, 2, D, dt, 1000 * D + n)
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
PY
FORMS="q4:1"
F() { echo "FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_QHALVES128=$1"; }
# Phase 0: smoke (a hang or failure drops the form).
LIVE=""
for f in $FORMS; do
  name=${f%%:*}; k=${f#*:}
  env $(F $k) FLASH_ATTENTION_CACHE_DIR=/tmp/c-smoke_$name timeout 25 /tmp/fa run --q /tmp/w_q.npy --k /tmp/w_k.npy --v /tmp/w_v.npy --out /tmp/w_o_smoke.npy --causal --dtype bfloat16 --device cuda > $LOG/smoke_$name.txt 2>&1
  rc=$?; el "smoke $name exit $rc: $(hk /tmp/c-smoke_$name | tr '\n' ' ')"
  [ $rc -eq 0 ] && LIVE="$LIVE $f"
done
# Phase 1: checks, each live form forced.
job() { local name=$1 envs=$2; shift 2; ( env $envs FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name timeout 120 "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
dense() { echo /tmp/fa backward-bench --warm-verify 0 --jobs 4 --check-dims $1 --check-cases $2 --check-dense --seed $3; }
runw() { echo /tmp/fa run --q /tmp/w_q.npy --k /tmp/w_k.npy --v /tmp/w_v.npy --out /tmp/w_o_$1.npy --causal --dtype $2 --device cuda; }
sanw() { echo "$san" --tool $1 --kernel-name kns=flash_attention_forward --error-exitcode 9 $(runw $2 $3); }
python3 -c "
import numpy as np
r = np.random.default_rng(23)
for n in 'qkv': np.save('/tmp/x_' + n + '.npy', (r.standard_normal((1, 512, 2, 128)) * 0.5).astype(np.float32))
"
sanx() { echo "$san" --tool $1 --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/x_q.npy --k /tmp/x_k.npy --v /tmp/x_v.npy --out /tmp/x_o_$2.npy --causal --dtype $3 --device cuda; }
CHECKS=""
if [ -z "${HW_SKIP_CHECKS:-}" ]; then
for f in $LIVE; do
  n=${f%%:*}; k=${f#*:}; E=$(F $k); G="$E FLASH_ATTENTION_HOPPER_GRID=2"
  CHECKS="$CHECKS ${n}_pinned ${n}_pinned_g2 ${n}_dense ${n}_dense_g2 ${n}_verify ${n}_oracle ${n}_oracle_g2 ${n}_mem640 ${n}_mem512 ${n}_race640 ${n}_race512"
  job ${n}_pinned "$E" /tmp/fa compile --check-dims 128 --check-cases 8
  job ${n}_pinned_g2 "$G" /tmp/fa compile --check-dims 128 --check-cases 6
  job ${n}_dense "$E" $(dense 128,96 8 2201)
  job ${n}_dense_g2 "$G" $(dense 128,96 6 2202)
  job ${n}_verify "$E" /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward --lengths 128,300,512,777,1024,1500,2048 --max-work 30000000 --cases 30 --seed 2222
  job ${n}_oracle "$E" python3 /tmp/oracle22.py oracle
  job ${n}_oracle_g2 "$G" python3 /tmp/oracle22.py oracle g2
  job ${n}_mem640 "$G" $(sanw memcheck m$n bfloat16)
  job ${n}_mem512 "$G" $(sanx memcheck m$n float16)
  job ${n}_race640 "$G" $(sanw racecheck r$n float16)
  job ${n}_race512 "$G" $(sanx racecheck r$n bfloat16)
done
fi
SETS="base:X=1"
for f in $LIVE; do SETS="$SETS ${f%%:*}:FLASH_ATTENTION_HOPPER_QHALVES128=${f#*:}"; done
envs_of() { echo "${1#*:}" | tr ',' ' '; }
for t in bf16 fp16; do
  for set in $SETS; do ( env $(envs_of $set) timeout 90 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens $SN --bench-dtypes $t > /dev/null 2>&1 ) & done
done
# Not a bare `wait`: it would also wait for the tee behind `exec > >(tee ...)`, which never ends.
wait $(jobs -p)
el "phase 1 done"
for n in $CHECKS; do
  [ -f $LOG/$n.txt ] || continue
  echo "$n: $(grep -E '^check:|passed|ERROR SUMMARY|RACECHECK SUMMARY|^oracle' $LOG/$n.txt | tail -2 | tr '\n' ' ') $(tail -1 $LOG/$n.txt); q-half kernels reached: $(hk /tmp/c-$n | wc -l)"
  hk /tmp/c-$n | sed "s/^/    /"
done
grep -h "FAIL" $LOG/*_pinned*.txt $LOG/*_dense*.txt $LOG/*_verify*.txt $LOG/*_oracle*.txt $LOG/*_mem*.txt $LOG/*_race*.txt 2>/dev/null | head -8
# Phase 2 (timed, one process at a time).
bench() { env $2 timeout 60 /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens $SN --bench-dtypes bf16,fp16 --bench-csv $OUT/$1.csv > $LOG/bench_$1.txt 2>&1; echo "bench $1 exit $?"; }
for r in $(seq 1 ${HW_ROUNDS:-4}); do
  if [ $r -gt 3 ] && [ $(( $(date +%s) - T0 )) -ge $BUDGET ]; then el "round $r skipped (budget)"; break; fi
  for set in $SETS; do bench ${set%%:*}_$r "$(envs_of $set)"; done
  el "round $r done"
done
[ -z "${HW_SKIP_TORCH:-}" ] && PYTHONUNBUFFERED=1 timeout 60 python3 scripts/bench_cuda.py --ours $OUT/base_1.csv --out $OUT/torch.csv --dims 128 --seqlens $SN --dtypes bf16,fp16 --iters 10 --warmup 2 > $LOG/torch.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el "torch done"
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
t = load("torch")
R = [r for r in range(1, 9) if os.path.exists(os.path.join(out, f"base_{r}.csv"))]
B = {r: load(f"base_{r}") for r in R}
sets = sorted({m.group(1) for m in (re.match(r"^([a-z0-9]+)_1\.csv$", n) for n in os.listdir(out)) if m and m.group(1) not in ("base", "torch")})
keys = sorted(B[1], key=lambda k: (-k[3], k[1], k[2], k[0]))
print(f"{len(R)} interleaved rounds; ratio = setting / shipped TFLOPS, same round")
for s in sets:
    S = {r: load(f"{s}_{r}") for r in R if os.path.exists(os.path.join(out, f"{s}_{r}.csv"))}
    Rs = sorted(S)
    print(f"\n-- {s} per point: dtype D N causal | ratio per round | mean-of-rounds ratio | shipped/cudnn {s}/cudnn | shipped kernel -> {s} kernel")
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
cat $OUT/table.txt
