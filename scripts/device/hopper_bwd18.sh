#!/usr/bin/env bash
# Session 13 part 2, hopbwd18 call 1: the head-grouped key/value grid (FLASH_ATTENTION_HOPPER_BWD_GROUP=G, suffix gG) at
# tile D = 128 from 4k keys. Phase 1 (parallel, untimed; FLASH_ATTENTION_HOPPER_BWD=1, the group forced, with the shipped
# tile D = 128 forms forced too at small shapes: XK = DQBUF=2 DQWRITERS=2 EARLYDV=1 LATEDK=1 MASKBRANCH=1 DESC=1, EPI=1):
# check-dense D 128/96 det + non-det, the torch float64 oracle (quick), memcheck + racecheck; _gG_ launches counted.
# Phase 2 (timed, one process at a time, rotated order): backward-bench --bench --nondeterministic D = 128, N = 4k/8k/16k
# causal + unmasked, modes O = shipped, G2/G4/G8 = GROUP, G4E = GROUP=4 + EPI=1 (8k/16k); bf16 + fp16 x 4 rounds;
# PyTorch cuDNN/FA2 in the same call; then an ncu line (DRAM bytes, L2 hit, time) O vs G4/G2 at unmasked 8k bf16.
#   staging: .device-hopbwd18/flash-attn.gz (static build of 334e251, no source change); run on one H100 (carry
#   .device-hopbwd18): HW_BUDGET=230 HW_NCU_BY=280 bash .device-hopbwd18/c1.sh (this copy; 263 s wall on 2026-11-27: the
#   guard cut fp16 rounds 3-4 except O and G4 of round 3). Results: docs/performance.md, "Session 13, part 2".
set -uo pipefail
OUT=${OUT:-/tmp/out}; W=/tmp/hb18; mkdir -p "$W" "$OUT" /tmp/npy
exec > >(tee $OUT/summary.txt) 2>&1
gunzip -c .device-hopbwd18/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FA_BIN=/tmp/fa
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }; stamp() { echo "[t=$(el)s] $*"; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit --format=csv,noheader
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B=FLASH_ATTENTION_HOPPER_BWD
XK="${B}_DQBUF=2 ${B}_DQWRITERS=2 ${B}_EARLYDV=1 ${B}_LATEDK=1 ${B}_MASKBRANCH=1 ${B}_DESC=1 ${B}_EPI=1"
menv() { case $1 in O) echo "X_=1";; G2) echo "${B}_GROUP=2";; G4) echo "${B}_GROUP=4";; G8) echo "${B}_GROUP=8";; G4E) echo "${B}_GROUP=4 ${B}_EPI=1";; esac; }
FS="$B=1 ${B}_LOG=1"
cnt() { echo "hopper $(grep -c '^hopper-bwd' $1), g2 $(grep -c '_g2_' $1), g4 $(grep -c '_g4_' $1), g8 $(grep -c '_g8_' $1), ste $(grep -c '_ste' $1)"; }
python3 -c "
import numpy as np
r = np.random.default_rng(18)
for tag, (sq, sk, h, hk, d) in {'c': (330, 300, 6, 3, 96), 'm': (1000, 1024, 10, 5, 128)}.items():
    for n, s in (('q', (1, sq, h, d)), ('k', (1, sk, hk, d)), ('v', (1, sk, hk, d)), ('do', (1, sq, h, d))):
        np.save(f'/tmp/s{tag}_{n}.npy', r.standard_normal(s).astype(np.float16))
"
ck=()
for nd in "" --nondeterministic; do
  env $FS ${B}_GROUP=4 $XK timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense $nd --seed 81 > $W/check_G4X$nd.txt 2>&1 & ck+=($!)
done
env $FS ${B}_GROUP=4 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense --nondeterministic --seed 82 > $W/check_G4plain.txt 2>&1 & ck+=($!)
env $FS ${B}_GROUP=2 $XK timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense --nondeterministic --seed 83 > $W/check_G2X.txt 2>&1 & ck+=($!)
env $FS ${B}_GROUP=8 $XK ${B}_EPI=0 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 128,96 --check-cases 12 --check-dense --nondeterministic --seed 84 > $W/check_G8X.txt 2>&1 & ck+=($!)
( python3 scripts/device/torch_bwd_oracle.py quick env $FS ${B}_GROUP=4 $XK > $W/oracle_G4X.txt 2>&1 ) & ck+=($!)
( python3 scripts/device/torch_bwd_oracle.py quick env $FS ${B}_GROUP=2 > $W/oracle_G2plain.txt 2>&1 ) & ck+=($!)
sanrun() {  # tool tag flags envs suffix
  env $FS $4 timeout 150 "$san" --tool $1 --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 \
    /tmp/fa run --q /tmp/s$2_q.npy --k /tmp/s$2_k.npy --v /tmp/s$2_v.npy --grad-out /tmp/s$2_do.npy --dtype float16 --device cuda $3 \
    --out /tmp/so_$1$2$5.npy --dq /tmp/sdq_$1$2$5.npy --dk /tmp/sdk_$1$2$5.npy --dv /tmp/sdv_$1$2$5.npy > $W/san_$1_$2$5.txt 2>&1
}
for tool in memcheck racecheck; do
  sanrun $tool m "" "${B}_GROUP=4 $XK" _g4x & ck+=($!)
  sanrun $tool c --causal "${B}_GROUP=4 $XK" _g4x & ck+=($!)
done
for m in O G2 G4 G8 G4E; do for dt in bf16 fp16; do
  env $(menv $m) timeout 120 /tmp/fa backward-bench --bench --nondeterministic --head-dims 128 --dtypes $dt --seqlens 4096,8192,16384 --iterations 1 > $W/warm_${m}_$dt.txt 2>&1 & ck+=($!)
done; done
for pid in "${ck[@]}"; do wait $pid; done
stamp "phase 1"
for f in $W/check_*.txt; do echo "$(basename $f .txt): $(grep '^pinned' $f | tail -1); $(cnt $f)"; done
for f in $W/oracle_*.txt; do echo "$(basename $f .txt): $(grep '^oracle:' $f); $(cnt $f)"; done
for f in $W/san_*.txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1); $(cnt $f)"; done
grep -h '^hopper-bwd' $W/check_G4X.txt $W/san_memcheck_m_g4x.txt | awk '{print $2}' | sort | uniq -c | head -12
bench() { [ "$(el)" -lt "${HW_BUDGET:-250}" ] || { stamp "skip $1 $2 $3"; return; }
  local seq=4096,8192,16384; [ $1 = G4E ] && seq=8192,16384
  env $(menv $1) timeout 60 /tmp/fa backward-bench --bench --nondeterministic --csv $W/b_$1_$2_$3.csv --head-dims 128 --seqlens $seq --dtypes $2 > $W/b_$1_$2_$3.txt 2>&1; }
order() { case $1 in 1) echo O G2 G4 G8 G4E;; 2) echo G4E G8 G4 G2 O;; 3) echo G4 O G4E G2 G8;; 4) echo G8 G4E O G4 G2;; esac; }
for r in 1 2; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r1-2"
for r in 1 2; do for m in $(order $r); do bench $m fp16 r$r; done; done; stamp "fp16 r1-2"
( cd scripts && PYTHONUNBUFFERED=1 timeout 90 python3 bench_cuda_backward.py --out $W/torch.csv --dims 128 --seqlens 4096,8192,16384 --dtypes bf16,fp16 > $W/torch.txt 2>&1 ); stamp torch
for r in 3 4; do for m in $(order $r); do bench $m bf16 r$r; done; done; stamp "bf16 r3-4"
for r in 3 4; do for m in $(order $r); do bench $m fp16 r$r; done; done; stamp "fp16 r3-4"
python3 - $W <<'PY' | tee $W/table.txt
import csv, os, sys
W = sys.argv[1]
def load(p):
    return {(int(r["seqlen"]), int(r["causal"])): r for r in csv.DictReader(open(p))} if os.path.exists(p) else {}
tr = {}
if os.path.exists(os.path.join(W, "torch.csv")):
    for r in csv.DictReader(open(os.path.join(W, "torch.csv"))): tr[(r["dtype"], int(r["seqlen"]), int(r["causal"]))] = r
modes = ["O", "G2", "G4", "G8", "G4E"]
for dt in ("bf16", "fp16"):
    R = {(m, r): load(os.path.join(W, f"b_{m}_{dt}_r{r}.csv")) for m in modes for r in (1, 2, 3, 4)}
    print(f"== {dt}: TFLOPS O per round; ratios vs O per round (r1..r4); cuDNN FA2; mean/cuDNN per mode")
    for k in sorted(R[("O", 1)]):
        f = lambda m, r: float(R[(m, r)].get(k, {}).get("tflops") or "nan")
        mean = lambda m: (lambda xs: sum(xs) / len(xs) if xs else float("nan"))([f(m, r) for r in (1, 2, 3, 4) if f(m, r) == f(m, r)])
        cu = float(tr.get((dt, k[0], k[1]), {}).get("cudnn") or "nan"); fa = float(tr.get((dt, k[0], k[1]), {}).get("flash") or "nan")
        s = f"{k[0]:>5} {'causal' if k[1] else 'dense '} O " + "/".join(f"{f('O', r):.0f}" for r in (1, 2, 3, 4)) + " |"
        for m in modes[1:]: s += f" {m} " + " ".join(f"{f(m, r) / f('O', r):.3f}" for r in (1, 2, 3, 4)) + " |"
        s += f" cuDNN {cu:.0f} FA2 {fa:.0f} | " + " ".join(f"{m} {mean(m) / cu:.3f}" for m in modes)
        print(s)
    for m in modes: print(" ", m, sorted({(R[(m, 1)].get(k, {}).get("variant", "?")) for k in R[(m, 1)]}))
PY
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(13)
for n in ('q', 'k', 'v', 'do'): np.save(f'/tmp/m8_{n}.npy', r.standard_normal((2, 8192, 16, 128), dtype=np.float32).astype(np.float16))
"
for M in O G4 G2; do [ "$(el)" -lt "${HW_NCU_BY:-330}" ] || { stamp "ncu $M skipped"; continue; }
  env $(menv $M) timeout 60 "$ncu" --metrics dram__bytes.sum,lts__t_sector_hit_rate.pct,gpu__time_duration.sum -k regex:flash_attention_backward_hopper \
    /tmp/fa run --q /tmp/m8_q.npy --k /tmp/m8_k.npy --v /tmp/m8_v.npy --grad-out /tmp/m8_do.npy --dtype bfloat16 --device cuda \
    --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy > $W/ncu_$M.txt 2>&1
  echo "ncu $M:"; grep -E 'flash_attention_backward_hopper|dram__bytes|lts__t_sector_hit|gpu__time' $W/ncu_$M.txt | sed 's/  */ /g' | head -16
done
stamp done
( cd $W && tar czf "$OUT/hb18c1.tgz" *.txt *.csv 2>/dev/null )
