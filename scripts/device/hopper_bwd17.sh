#!/usr/bin/env bash
# Session 13, hopbwd17 call 2: the staged dK/dV epilogue at tile D = 128 (FLASH_ATTENTION_HOPPER_BWD_EPI=1, suffix ste).
# Phase 1 (parallel, untimed; ste forced with FLASH_ATTENTION_HOPPER_BWD=1): check-dense D 128/96 deterministic and
#   --nondeterministic (also with the knob set X below); a torch float64 oracle on odd shapes (causal Sq != Sk, rows
#   that see no key, GQA) at D = 128/96 bf16/fp16; compute-sanitizer memcheck + racecheck; _ste_ launches counted.
# Phase 2 (timed, one process at a time; bench start guard HW_BUDGET): backward-bench --bench --nondeterministic
#   D = 128, N = 1k..16k, O = shipped, S = ste, X = existing knobs (DQBUF=2 DQWRITERS=2 EARLYDV=1 LATEDK=1 MASKBRANCH=1 DESC=1),
#   XS = X + ste; bf16 4 rounds of O S X XS (order rotated), PyTorch cuDNN/FA2 bf16 + fp16, fp16 2 rounds O S X XS and
#   2 more of O S; then (while t < HW_NCU_BY) ncu of the shipped kernel at unmasked 1k / causal 16k and of ste at 1k.
#   staging: .device-hopbwd17/flash-attn.gz (static build of a347d78); run on one H100 (carry .device-hopbwd17):
#   HW_BUDGET=360 HW_NCU_BY=420 bash .device-hopbwd17/c2.sh   (this copy; 326 s wall on 2026-11-27)
#   Results: docs/performance.md, "Session 13: the Hopper backward at tile D = 128".
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb17b; mkdir -p "$W" "$OUT" /tmp/npy
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopbwd17/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B=FLASH_ATTENTION_HOPPER_BWD
XK="${B}_DQBUF=2 ${B}_DQWRITERS=2 ${B}_EARLYDV=1 ${B}_LATEDK=1 ${B}_MASKBRANCH=1 ${B}_DESC=1"
menv() { case $1 in O) echo "X_=1";; S) echo "${B}_EPI=1";; X) echo "$XK";; XS) echo "$XK ${B}_EPI=1";; esac; }
FS="$B=1 ${B}_EPI=1 ${B}_LOG=1"
cnt() { echo "hopper $(grep -c '^hopper-bwd' $1), ste $(grep -c '_ste_' $1)"; }
cat > /tmp/oracle.py <<'PY'
import os, subprocess, sys, numpy as np, torch
prefix = sys.argv[2:] if len(sys.argv) > 2 else []
mode = sys.argv[1]
dev = "cuda"
def grads(q, k, v, do, causal, f):
    B, sq, H, D = q.shape; sk, Hk = k.shape[1], k.shape[2]
    qq, kk, vv, dd = (x.to(dev, f).detach().requires_grad_() for x in (q, k, v, do))
    Q, K, V = qq.transpose(1, 2), kk.transpose(1, 2).repeat_interleave(H // Hk, 1), vv.transpose(1, 2).repeat_interleave(H // Hk, 1)
    s = (Q @ K.transpose(-1, -2)) * (D ** -0.5)
    i = torch.arange(sq, device=dev)[:, None]; j = torch.arange(sk, device=dev)[None, :]
    vis = (j <= i + sk - sq) if causal else torch.ones(sq, sk, dtype=torch.bool, device=dev)
    none = ~vis.any(-1)
    s = s.masked_fill(~vis, float("-inf")).masked_fill(none[:, None], 0.0)
    p = torch.softmax(s.float() if f != torch.float64 else s, -1).to(f)
    p = p.masked_fill(none[:, None], 0.0)
    o = (p @ V).transpose(1, 2)
    o.backward(dd)
    return [x.grad.double().cpu() for x in (qq, kk, vv)]
shapes = [(1000, 1024, 4, 2), (777, 777, 2, 2), (300, 700, 2, 1), (700, 300, 2, 1), (129, 1000, 2, 2), (640, 512, 4, 1), (130, 130, 2, 2), (64, 200, 2, 1), (200, 64, 2, 1), (1100, 1500, 2, 2)]
passed = failed = 0
for D in (128, 96):
    for dtn in ("bfloat16", "float16"):
        dt = torch.bfloat16 if dtn == "bfloat16" else torch.float16
        for causal in (True, False):
            for n, (sq, sk, H, Hk) in enumerate(shapes):
                if mode == "quick" and n % 3: continue
                g = torch.Generator(device="cpu").manual_seed(1000 * n + D + causal)
                q, k, v, do = (torch.randn(1, a, h, D, generator=g).to(dt).float() for a, h in ((sq, H), (sk, Hk), (sk, Hk), (sq, H)))
                tag = f"{os.getpid()}_{n}"
                for nm, x in (("q", q), ("k", k), ("v", v), ("do", do)): np.save(f"/tmp/npy/{tag}_{nm}.npy", x.numpy())
                cmd = prefix + ["/tmp/fa", "run", "--device", "cuda", "--dtype", dtn] + (["--causal"] if causal else []) + \
                    [f"--{a}" for a in ()] + ["--q", f"/tmp/npy/{tag}_q.npy", "--k", f"/tmp/npy/{tag}_k.npy", "--v", f"/tmp/npy/{tag}_v.npy",
                     "--grad-out", f"/tmp/npy/{tag}_do.npy", "--out", f"/tmp/npy/{tag}_o.npy", "--dq", f"/tmp/npy/{tag}_dq.npy",
                     "--dk", f"/tmp/npy/{tag}_dk.npy", "--dv", f"/tmp/npy/{tag}_dv.npy"]
                r = subprocess.run(cmd, capture_output=True, text=True)
                print(r.stdout.strip().replace("\n", " | ")[:0], end="")
                for line in (r.stdout + r.stderr).splitlines():
                    if line.startswith("hopper-bwd"): print(line)
                if r.returncode != 0:
                    failed += 1; print("FAIL run", D, dtn, causal, sq, sk, r.stderr[-300:]); continue
                ref = grads(q, k, v, do, causal, torch.float64)
                naive = grads(q, k, v, do, causal, dt)
                ours = [torch.from_numpy(np.load(f"/tmp/npy/{tag}_{nm}.npy")).double() for nm in ("dq", "dk", "dv")]
                ok = True; msg = []
                for nm, a, b, c in zip(("dq", "dk", "dv"), ours, naive, ref):
                    ea = (a - c).norm().item() / max(c.norm().item(), 1e-12); eb = (b - c).norm().item() / max(c.norm().item(), 1e-12)
                    good = np.isfinite(ea) and ea <= 2 * eb + 1e-6
                    ok &= good; msg.append(f"{nm} {ea:.2e}/{eb:.2e}")
                if causal and sq > sk:
                    z = ours[0][0, : sq - sk].abs().max().item(); ok &= z == 0.0; msg.append(f"no-key rows dq max {z}")
                passed += ok; failed += not ok
                if not ok or n == 0: print("PASS" if ok else "FAIL", D, dtn, "causal" if causal else "dense", sq, sk, H, Hk, " ".join(msg))
print(f"oracle: {passed} passed, {failed} failed")
PY
python3 -c "
import numpy as np
r = np.random.default_rng(17)
for tag, (sq, sk, h, hk, d) in {'b': (200, 260, 4, 2, 128), 'c': (330, 300, 2, 1, 96), 'm': (1000, 1024, 4, 2, 128)}.items():
    for n, s in (('q', (1, sq, h, d)), ('k', (1, sk, hk, d)), ('v', (1, sk, hk, d)), ('do', (1, sq, h, d))):
        np.save(f'/tmp/s{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
ck=()
for nd in "" --nondeterministic; do
  env $FS timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense $nd --seed 71 > $W/check_S$nd.txt 2>&1 & ck+=($!)
  env $FS $XK timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense $nd --seed 72 > $W/check_XS$nd.txt 2>&1 & ck+=($!)
done
( env $FS python3 /tmp/oracle.py full > $W/oracle_S.txt 2>&1 ) & ck+=($!)
( env $FS $XK python3 /tmp/oracle.py quick > $W/oracle_XS.txt 2>&1 ) & ck+=($!)
sanrun() {  # tool tag flags envs
  env $FS $4 timeout 150 "$san" --tool $1 --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa run --q /tmp/s$2_q.npy --k /tmp/s$2_k.npy --v /tmp/s$2_v.npy --grad-out /tmp/s$2_do.npy --dtype float16 --device cuda $3 \
    --out /tmp/so_$1$2.npy --dq /tmp/sdq_$1$2.npy --dk /tmp/sdk_$1$2.npy --dv /tmp/sdv_$1$2.npy > $W/san_$1_$2$5.txt 2>&1
}
for tool in memcheck racecheck; do
  sanrun $tool b "" "" "" & ck+=($!)
  sanrun $tool c --causal "" "" & ck+=($!)
  sanrun $tool m --causal "$XK" _x & ck+=($!)
done
for m in O S X XS; do for dt in bf16 fp16; do
  env $(menv $m) timeout 120 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes $dt --seqlens 1024 --iterations 1 > $W/warm_${m}_$dt.txt 2>&1 & ck+=($!)
done; done
for pid in "${ck[@]}"; do wait $pid; done
stamp "phase 1"
summary=()
for f in $W/check_*.txt; do summary+=("$(basename $f .txt): $(grep '^pinned' $f | tail -1); $(cnt $f)"); done
for f in $W/oracle_*.txt; do summary+=("$(basename $f .txt): $(grep '^oracle:' $f); $(cnt $f)"); done
for f in $W/san_*.txt; do summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $(cnt $f)"); done
printf '%s\n' "${summary[@]}"
SEQ=${HW_SEQ:-1024,2048,4096,8192,16384}
bench() { [ "$(el)" -lt "${HW_BUDGET:-360}" ] || { stamp "skip $1 $2 $3"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2_$3.csv --head-dims 128 --seqlens $SEQ --dtypes $2 > $W/b_$1_$2_$3.txt 2>&1; }
order() { case $1 in 1) echo O S X XS;; 2) echo XS X S O;; 3) echo S O XS X;; 4) echo X XS O S;; esac; }
for r in 1 2; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r1-2"
( cd scripts && PYTHONUNBUFFERED=1 timeout 90 python3 bench_cuda_backward.py --out $W/torch.csv --dims 128 --seqlens $SEQ --dtypes bf16,fp16 > $W/torch.txt 2>&1 ); stamp torch
for r in 3 4; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r3-4"
for r in 1 2; do for m in $(order $r); do bench $m fp16 r$r; done; done; stamp "fp16 r1-2"
for r in 3 4; do for m in $(order $r); do case $m in O|S) bench $m fp16 r$r;; esac; done; done; stamp "fp16 r3-4 (O S)"
python3 - $W <<'PY' | tee $W/table.txt
import csv, os, sys, math
W = sys.argv[1]
def load(p):
    return {(int(r["seqlen"]), int(r["causal"])): r for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
tr = {}
if os.path.exists(os.path.join(W, "torch.csv")):
    for r in csv.DictReader(open(os.path.join(W, "torch.csv"))): tr[(r["dtype"], int(r["seqlen"]), int(r["causal"]))] = r
modes = ["O", "S", "X", "XS"]
for dt in ("bf16", "fp16"):
    R = {(m, r): load(os.path.join(W, f"b_{m}_{dt}_r{r}.csv")) for m in modes for r in (1, 2, 3, 4)}
    print(f"== {dt}: per round ratios vs O (r1 r2 r3 r4); O mean; cuDNN; O/cuDNN S/cuDNN X/cuDNN XS/cuDNN")
    for k in sorted(R[("O", 1)]):
        f = lambda m, r: float(R[(m, r)].get(k, {}).get("tflops") or "nan")
        mean = lambda m: (lambda xs: sum(xs) / len(xs) if xs else float("nan"))([f(m, r) for r in (1, 2, 3, 4) if f(m, r) == f(m, r)])
        cu = float(tr.get((dt, k[0], k[1]), {}).get("cudnn") or "nan")
        s = f"{k[0]:>5} {'causal' if k[1] else 'dense '} O {mean('O'):.0f} |"
        for m in modes[1:]: s += f" {m} " + " ".join(f"{f(m, r) / f('O', r):.3f}" for r in (1, 2, 3, 4)) + " |"
        s += f" cuDNN {cu:.0f} | " + " ".join(f"{mean(m) / cu:.3f}" for m in modes)
        print(s)
    for m in modes: print(" ", m, sorted({R[(m, 1)].get(k, {}).get("variant", "?").split("+")[1] if "+" in R[(m, 1)].get(k, {}).get("variant", "") else "?" for k in R[(m, 1)]}))
PY
# Optional: ncu of the shipped key/value kernel (call 1's profiles of ours failed), while time is left.
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(13)
for n in ('q', 'k', 'v', 'do'):
    a = r.standard_normal((16384, 16, 128), dtype=np.float32).astype(np.float16)
    for N in (1024, 16384): np.save(f'/tmp/m{N}_{n}.npy', a.reshape(16384 // N, N, 16, 128))
"
args() { echo "run --q /tmp/m$1_q.npy --k /tmp/m$1_k.npy --v /tmp/m$1_v.npy --grad-out /tmp/m$1_do.npy --dtype bfloat16 --device cuda --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy"; }
for p in "1024 0 O" "16384 1 O" "1024 0 S"; do set -- $p; N=$1; C=$2; M=$3; cf=""; [ $C = 1 ] && cf=--causal
  [ "$(el)" -lt "${HW_NCU_BY:-400}" ] || { stamp "ncu $N $C $M skipped"; continue; }
  env $(menv $M) timeout 100 "$ncu" --clock-control none --set full --import-source yes -k regex:flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
    -o $W/ours_${N}_${C}_$M -f /tmp/fa $(args $N) $cf > $W/ncu_${N}_${C}_$M.log 2>&1; stamp "ncu ours $N $C $M exit $?"
  f=$W/ours_${N}_${C}_$M.ncu-rep; n=ours_${N}_${C}_$M
  "$ncu" -i $f --page details > $W/${n}_details.txt 2>&1; "$ncu" -i $f --page raw --csv > $W/${n}_raw.csv 2>&1
  timeout 60 "$ncu" -i $f --page source --csv --print-source sass > $W/${n}_sass.csv 2>&1
  python3 - $W $n <<'PY2'
import csv, os, re, sys
W, n = sys.argv[1], sys.argv[2]
num = lambda x: float(x.replace(",", "") or 0) if re.match(r"^[0-9.,]*$", x) else 0.0
print("==", n)
for line in open(os.path.join(W, n + "_details.txt")):
    if re.match(r"\s+(Duration|Issue Slots Busy|L2 Hit Rate|DRAM Throughput|Grid Size|Executed Instructions)\s", line): print("  " + " ".join(line.split()))
rows = list(csv.reader(open(os.path.join(W, n + "_raw.csv"))))
if len(rows) > 2:
    h, v = rows[0], rows[2]
    k = "sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active"
    if k in h: print("   tensor pipe", v[h.index(k)])
    st = [(k, num(v[i])) for i, k in enumerate(h) if k.startswith("smsp__pcsamp_warps_issue_stalled") and not k.endswith("not_issued")]
    tot = sum(x for _, x in st) or 1
    print("    stalls: " + ", ".join(f"{k.replace('smsp__pcsamp_warps_issue_stalled_','')} {x / tot * 100:.1f}%" for k, x in sorted(st, key=lambda t: -t[1])[:9]))
try:
    rr = list(csv.reader(open(os.path.join(W, n + "_sass.csv"))))
    hi = next(i for i, r in enumerate(rr) if "Source" in r); h = rr[hi]; body = rr[hi + 1:]
    ci = h.index("Source"); si = next(i for i, k in enumerate(h) if k.startswith("Warp Stall Sampling (All"))
    tot = sum(num(r[si]) for r in body if len(r) > si)
    for r in sorted(body, key=lambda r: -num(r[si]) if len(r) > si else 0)[:16]: print(f"   {num(r[si]) / max(tot, 1) * 100:5.1f}% {r[0]:>6} {r[ci][:80]}")
except Exception as e: print("  sass parse:", e)
PY2
done
stamp done
( cd $W && tar czf "$OUT/hb17c2.tgz" *.txt *.csv 2>/dev/null )
