#!/usr/bin/env bash
# Session 14, hopbwd19 call 2: confirm call 1's winners at tile D = 64 — E (FLASH_ATTENTION_HOPPER_BWD_EPI=1, ste) and
# QE (+ DQBUF=2, a writer per buffer) — against the shipped kernel (O) with two more bf16 and two more fp16 rounds
# (orders rotated differently from call 1), checks with each forced (check-dense D 64/40, new seed, deterministic and not;
# also QE with GROUP=4, the kernel QE runs at unmasked >= 4k),
# then ncu of cuDNN's backward at unmasked 2k bf16 (autograd on the calling thread, so the NVTX range holds its kernels).
#   Same binary and staging as hopper_bwd19.sh; run on one H100 (carry .device-hopbwd19):
#   HW_BUDGET=125 bash .device-hopbwd19/hopper_bwd19b.sh
#   Results: docs/performance.md, "Session 14: the Hopper backward at tile D = 64".
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb19b; mkdir -p "$W" "$OUT"
exec > >(tee $OUT/summary.txt) 2>&1
D0=${HW_DIR:-.device-hopbwd19}
gunzip -c $D0/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
B=FLASH_ATTENTION_HOPPER_BWD
menv() { case $1 in O) echo "X_=1";; E) echo "${B}_EPI=1";; QE) echo "${B}_DQBUF=2 ${B}_EPI=1";;
  QGE) echo "${B}_DQBUF=2 ${B}_EPI=1 ${B}_GROUP=4";; esac; }   # QGE: the unmasked 4k route of QE (GROUP=4 is the default there)
FS="$B=1 ${B}_LOG=1"
kinds() { grep '^hopper-bwd' $1 | awk '{print $2}' | sed 's/_sm_90a//' | sort | uniq -c | awk '{printf " %s×%s", $1, $2}'; }
ck=()
for m in E QE QGE; do for nd in "" --nondeterministic; do
  env $FS $(menv $m) timeout 100 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,40 --check-cases 12 --check-dense $nd --seed 92 > $W/check_$m$nd.txt 2>&1 & ck+=($!)
done; done
for m in O E QE; do for dt in bf16 fp16; do
  env $(menv $m) timeout 100 /tmp/fa backward-bench --bench --nondeterministic --head-dims 64 --dtypes $dt --seqlens 1024 --iterations 1 > $W/warm_${m}_$dt.txt 2>&1 & ck+=($!)
done; done
for pid in "${ck[@]}"; do wait $pid; done
stamp "phase 1"
for f in $W/check_*.txt; do echo "$(basename $f .txt): $(grep '^pinned' $f | tail -1); hopper $(grep -c '^hopper-bwd' $f), ste $(grep -c '_ste_' $f);$(kinds $f)"; done
SEQ=512,1024,2048,4096,8192,16384
bench() { [ "$(el)" -lt "${HW_BUDGET:-125}" ] || { stamp "skip $1 $2 $3"; return; }
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2_$3.csv --head-dims 64 --seqlens $SEQ --dtypes $2 > $W/b_$1_$2_$3.txt 2>&1; }
order() { case $1 in 5) echo E QE O;; 6) echo QE O E;; 3) echo QE E O;; 4) echo O QE E;; esac; }
for r in 5 6; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r5-6"
for r in 3 4; do for m in $(order $r); do bench $m fp16 r$r; done; done; stamp "fp16 r3-4"
python3 - $W <<'PY' | tee $W/table.txt
import csv, os, sys
W = sys.argv[1]
def load(p):
    return {(int(r["seqlen"]), int(r["causal"])): float(r["tflops"]) for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
for dt, rs in (("bf16", (5, 6)), ("fp16", (3, 4))):
    R = {(m, r): load(os.path.join(W, f"b_{m}_{dt}_r{r}.csv")) for m in ("O", "E", "QE") for r in rs}
    print(f"== {dt} rounds {rs}: ratios vs O")
    for k in sorted(R[("O", rs[0])]):
        s = f"{k[0]:>5} {'causal' if k[1] else 'dense '} O " + "/".join(f"{R[('O', r)].get(k, float('nan')):.0f}" for r in rs) + " |"
        for m in ("E", "QE"): s += f" {m} " + " ".join(f"{R[(m, r)].get(k, float('nan')) / R[('O', r)].get(k, float('nan')):.3f}" for r in rs) + " |"
        print(s)
PY
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
mets=gpu__time_duration.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active,dram__bytes_read.sum,dram__bytes_write.sum,lts__t_sector_hit_rate.pct
if [ "$(el)" -lt "${HW_NCU_BY:-150}" ]; then
  cat > /tmp/sdpa_bwd.py <<'PY'
import torch, torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
q, k, v = (torch.randn(8, 2048, 32, 64, device="cuda", dtype=torch.bfloat16).transpose(1, 2).requires_grad_() for _ in range(3))
do = torch.randn(8, 32, 2048, 64, device="cuda", dtype=torch.bfloat16)
with sdpa_kernel(SDPBackend.CUDNN_ATTENTION), torch.autograd.set_multithreading_enabled(False):
    out = F.scaled_dot_product_attention(q, k, v)
    for _ in range(2): torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    torch.cuda.synchronize(); torch.cuda.nvtx.range_push("bwd")
    torch.autograd.grad(out, (q, k, v), do, retain_graph=True)
    torch.cuda.synchronize(); torch.cuda.nvtx.range_pop()
PY
  timeout 60 "$ncu" --clock-control none --nvtx --nvtx-include "bwd/" --metrics $mets python3 /tmp/sdpa_bwd.py > $W/ncu_cudnn.txt 2>&1; stamp "ncu cudnn exit $?"
  grep -E '^\s+[a-zA-Z_].*\(|duration|hmma|inst_issued|dram__bytes|sector_hit|WARNING' $W/ncu_cudnn.txt | grep -v '==PROF==' | tr -s ' ' | cut -c1-160 | sed 's/^/   /'
fi
stamp done
( cd $W && tar czf "$OUT/hb19c2.tgz" *.txt *.csv 2>/dev/null )
