#!/usr/bin/env bash
# Session 14, hopbwd19 call 1: the staged dK/dV epilogue at tile D = 64 (FLASH_ATTENTION_HOPPER_BWD_EPI=1, suffix ste) beside
# the tile D = 64 knob sets it could ride with.
# Phase 1 (parallel, untimed; every form forced with FLASH_ATTENTION_HOPPER_BWD=1 and _LOG=1 so the kernels reached are
#   counted): check-dense D 64/40 deterministic and --nondeterministic for E, QE and GE; bitwise reruns (--determinism) for
#   E and QE; the torch float64 oracle (scripts/device/torch_bwd_oracle.py, ORACLE_DIMS=64,40: causal Sq != Sk, rows that
#   see no key, GQA) quick (HW_ORACLE_E=full: all shapes) for E, quick for QE and GE; compute-sanitizer memcheck + racecheck on a multi-block causal shape
#   (1000 x 1024 keys, 4/2 heads, D 64: 8 key blocks, 8 query steps) for E and QE, and an unmasked odd one (200 x 260) for E.
# Phase 2 (timed, one process at a time; a bench starts only while t < HW_BUDGET): backward-bench --bench --nondeterministic
#   D = 64, N = 512..16k, both masks. Modes: O shipped, E = EPI=1, Q = DQBUF=2 (a writer per buffer, the default with two),
#   QE = Q + E, GE = GROUP=4 + E (the grouped grid everywhere; unmasked >= 4k it is already the default, so GE = E there).
#   bf16 4 rounds (order rotated), PyTorch SDPA cuDNN/FA2 bf16 + fp16, fp16 2 rounds; then, while t < HW_NCU_BY, ncu of
#   ours (O and E) and of cuDNN's bprop kernel at unmasked 2k bf16 (time, tensor pipe %, issue %, DRAM bytes).
#   staging: .device-hopbwd19/flash-attn.gz (static build of the hopbwd19 branch) + torch_bwd_oracle.py;
#   run on one H100 (carry .device-hopbwd19): HW_BUDGET=300 HW_NCU_BY=330 bash .device-hopbwd19/hopper_bwd19.sh
#   Results: docs/performance.md, "Session 14: the Hopper backward at tile D = 64".
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb19; mkdir -p "$W" "$OUT" /tmp/npy
exec > >(tee $OUT/summary.txt) 2>&1
D0=${HW_DIR:-.device-hopbwd19}
gunzip -c $D0/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FA_BIN=/tmp/fa
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B=FLASH_ATTENTION_HOPPER_BWD
MODES=${HW_MODES:-O E Q QE GE}
menv() { case $1 in O) echo "X_=1";; E) echo "${B}_EPI=1";; Q) echo "${B}_DQBUF=2";; QE) echo "${B}_DQBUF=2 ${B}_EPI=1";;
  GE) echo "${B}_GROUP=4 ${B}_EPI=1";; G) echo "${B}_GROUP=4";; esac; }
FS="$B=1 ${B}_LOG=1"
kinds() { grep '^hopper-bwd' $1 | awk '{print $2}' | sed 's/_sm_90a//' | sort | uniq -c | awk '{printf " %s×%s", $1, $2}'; }
cnt() { echo "hopper $(grep -c '^hopper-bwd' $1), ste $(grep -c '_ste_' $1);$(kinds $1)"; }
python3 -c "
import numpy as np
r = np.random.default_rng(19)
for tag, (sq, sk, h, hk, d) in {'b': (200, 260, 4, 2, 64), 'm': (1000, 1024, 4, 2, 64)}.items():
    for n, s in (('q', (1, sq, h, d)), ('k', (1, sk, hk, d)), ('v', (1, sk, hk, d)), ('do', (1, sq, h, d))):
        np.save(f'/tmp/s{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
ck=()
for m in E QE GE; do for nd in "" --nondeterministic; do
  [ $m = GE ] && [ -z "$nd" ] && continue
  env $FS $(menv $m) timeout 170 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,40 --check-cases 12 --check-dense $nd --seed 91 > $W/check_$m$nd.txt 2>&1 & ck+=($!)
done; done
for m in E QE; do env $FS $(menv $m) timeout 170 /tmp/fa backward-bench --determinism 10 > $W/det_$m.txt 2>&1 & ck+=($!); done
( ORACLE_DIMS=64,40 python3 $D0/torch_bwd_oracle.py ${HW_ORACLE_E:-quick} env $FS $(menv E) > $W/oracle_E.txt 2>&1 ) & ck+=($!)
( ORACLE_DIMS=64,40 python3 $D0/torch_bwd_oracle.py quick env $FS $(menv QE) > $W/oracle_QE.txt 2>&1 ) & ck+=($!)
( ORACLE_DIMS=64,40 python3 $D0/torch_bwd_oracle.py quick env $FS $(menv GE) > $W/oracle_GE.txt 2>&1 ) & ck+=($!)
sanrun() {  # tool tag flags mode
  env $FS $(menv $4) timeout 170 "$san" --tool $1 --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa run --q /tmp/s$2_q.npy --k /tmp/s$2_k.npy --v /tmp/s$2_v.npy --grad-out /tmp/s$2_do.npy --dtype float16 --device cuda $3 \
    --out /tmp/so_$1$2$4.npy --dq /tmp/sdq_$1$2$4.npy --dk /tmp/sdk_$1$2$4.npy --dv /tmp/sdv_$1$2$4.npy > $W/san_$1_$2_$4.txt 2>&1
}
for tool in memcheck racecheck; do
  sanrun $tool m --causal E & ck+=($!)
  sanrun $tool m --causal QE & ck+=($!)
  sanrun $tool b "" E & ck+=($!)
done
for m in $MODES; do for dt in bf16 fp16; do
  env $(menv $m) timeout 150 /tmp/fa backward-bench --bench --nondeterministic --head-dims 64 --dtypes $dt --seqlens 1024 --iterations 1 > $W/warm_${m}_$dt.txt 2>&1 & ck+=($!)
done; done
for pid in "${ck[@]}"; do wait $pid; done
stamp "phase 1"
summary=()
for f in $W/check_*.txt; do summary+=("$(basename $f .txt): $(grep '^pinned' $f | tail -1); $(cnt $f)"); done
for f in $W/det_*.txt; do summary+=("$(basename $f .txt): $(grep '^determinism:' $f | tail -1); $(cnt $f)"); done
for f in $W/oracle_*.txt; do summary+=("$(basename $f .txt): $(grep '^oracle:' $f); $(cnt $f)"); done
for f in $W/san_*.txt; do summary+=("$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $(cnt $f)"); done
printf '%s\n' "${summary[@]}"
grep -h "FAIL" $W/oracle_*.txt | head -5
SEQ=${HW_SEQ:-512,1024,2048,4096,8192,16384}
bench() { [ "$(el)" -lt "${HW_BUDGET:-300}" ] || { stamp "skip $1 $2 $3"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2_$3.csv --head-dims 64 --seqlens $SEQ --dtypes $2 > $W/b_$1_$2_$3.txt 2>&1; }
order() {  # round r: the modes rotated by (r - 1) / 2 · 2, reversed on even rounds
  local a=($MODES) o=() i k; k=${#a[@]}
  for ((i = 0; i < k; i++)); do o+=(${a[$(( (i + ($1 - 1) / 2 * 2) % k ))]}); done
  if (( $1 % 2 == 0 )); then for ((i = k - 1; i >= 0; i--)); do echo -n "${o[$i]} "; done; echo; else echo "${o[@]}"; fi; }
for r in 1 2; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r1-2"
( cd scripts && PYTHONUNBUFFERED=1 timeout 90 python3 bench_cuda_backward.py --out $W/torch.csv --dims 64 --seqlens $SEQ --dtypes bf16,fp16 > $W/torch.txt 2>&1 ); stamp torch
for r in 3 4; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r3-4"
for r in 1 2; do for m in $(order $r); do bench $m fp16 r$r; done; done; stamp "fp16 r1-2"
python3 - $W "$MODES" <<'PY' | tee $W/table.txt
import csv, os, sys
W, modes = sys.argv[1], sys.argv[2].split()
def load(p):
    return {(int(r["seqlen"]), int(r["causal"])): r for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
tr = {}
if os.path.exists(os.path.join(W, "torch.csv")):
    for r in csv.DictReader(open(os.path.join(W, "torch.csv"))): tr[(r["dtype"], int(r["seqlen"]), int(r["causal"]))] = r
for dt in ("bf16", "fp16"):
    rounds = [r for r in (1, 2, 3, 4) if os.path.exists(os.path.join(W, f"b_O_{dt}_r{r}.csv"))]
    R = {(m, r): load(os.path.join(W, f"b_{m}_{dt}_r{r}.csv")) for m in modes for r in rounds}
    if not rounds: continue
    print(f"== {dt}: per-round ratios vs O (rounds {rounds}); O mean TFLOP/s; cuDNN; mean/cuDNN per mode {modes}")
    for k in sorted(R[("O", rounds[0])]):
        f = lambda m, r: float(R[(m, r)].get(k, {}).get("tflops") or "nan")
        mean = lambda m: (lambda xs: sum(xs) / len(xs) if xs else float("nan"))([f(m, r) for r in rounds if f(m, r) == f(m, r)])
        cu = float(tr.get((dt, k[0], k[1]), {}).get("cudnn") or "nan")
        s = f"{k[0]:>5} {'causal' if k[1] else 'dense '} O {mean('O'):.0f} |"
        for m in modes[1:]: s += f" {m} " + " ".join(f"{f(m, r) / f('O', r):.3f}" for r in rounds) + " |"
        s += f" cuDNN {cu:.0f} | " + " ".join(f"{mean(m) / cu:.3f}" for m in modes)
        print(s)
    for m in modes:
        v = sorted({x.get("variant", "?") for x in R[(m, rounds[0])].values()})
        print(" ", m, v[:4])
PY
# ncu at unmasked 2k bf16 D = 64 (B = 8, H = 32): ours (the key/value kernel: launch 2 of the backward's three) and cuDNN's bprop.
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
mets=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct
if [ "$(el)" -lt "${HW_NCU_BY:-330}" ]; then
  python3 -c "
import numpy as np
r = np.random.default_rng(13)
for n in ('q', 'k', 'v', 'do'): np.save(f'/tmp/n_{n}.npy', r.standard_normal((8, 2048, 32, 64), dtype=np.float32).astype(np.float16))
"
  for M in O E; do
    env $(menv $M) timeout 60 "$ncu" --clock-control none -k regex:flash_attention_backward_hopper --launch-skip 1 --launch-count 1 --metrics $mets \
      /tmp/fa run --q /tmp/n_q.npy --k /tmp/n_k.npy --v /tmp/n_v.npy --grad-out /tmp/n_do.npy --dtype bfloat16 --device cuda \
      --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy > $W/ncu_ours_$M.txt 2>&1; stamp "ncu ours $M exit $?"
  done
  cat > /tmp/sdpa_bwd.py <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
q, k, v = (torch.randn(8, 2048, 32, 64, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_() for _ in range(3))
do = torch.randn(8, 32, 2048, 64, device="cuda", dtype=torch.bfloat16)
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION):
    out = F.scaled_dot_product_attention(q, k, v)
    for _ in range(2): torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    torch.cuda.synchronize(); torch.cuda.nvtx.range_push("bwd")
    torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    torch.cuda.nvtx.range_pop(); torch.cuda.synchronize()
PY
  timeout 90 "$ncu" --clock-control none --nvtx --nvtx-include "bwd/" --metrics $mets python3 /tmp/sdpa_bwd.py > $W/ncu_cudnn.txt 2>&1; stamp "ncu cudnn exit $?"
  for f in $W/ncu_ours_O.txt $W/ncu_ours_E.txt $W/ncu_cudnn.txt; do
    echo "== $(basename $f .txt)"; grep -E '^\s+[a-zA-Z_].*\(|duration|hmma|inst_issued|dram__bytes|sector_hit' $f | grep -v '==PROF==' | tr -s ' ' | cut -c1-150 | sed 's/^/   /'
  done
fi
stamp done
( cd $W && tar czf "$OUT/hb19c1.tgz" *.txt *.csv 2>/dev/null )
