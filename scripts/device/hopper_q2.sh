#!/usr/bin/env bash
# Device call 1 of the Hopper forward session 3 (issue 9): two Q buffers (`q` in a
# FLASH_ATTENTION_HOPPER_TILES setting), so a persistent block loads the next tile's Q while this
# tile's last key steps run, and at D = 64 every 4th n8 tile of S exponentiated on the FMA pipe
# (FLASH_ATTENTION_HOPPER_EXP2=64:4). Forced-on oracle cases on a 2-block grid (the Q ring wraps many
# times) and the full grid; compute-sanitizer memcheck + racecheck on the two-buffer kernels;
# an interleaved A/B (shipped, Q2A, Q2B; twice) over bf16 D 64/128 N 512…16k beside PyTorch
# SDPA cuDNN + flash in the same call; SASS counts; ncu tensor pipe at D = 128 16k.
#   usage on the device: bash scripts/device/hopper_q2.sh
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; LOG=/tmp/hoplogs; mkdir -p $LOG
gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s]"; }
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm --format=csv,noheader | tee $LOG/gpu.txt
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort | uniq | tr '\n' ' '; }
Q2A=${Q2A:-64:128x2pq,64c:128x2dq,128:160x2pq,128c:128x2dq}
Q2B=${Q2B:-64:192x2pq,64c:192x2dq,128:128x2pq,128c:144x2dq}
# Pre-compile the A/B kernels in parallel (bench variants carry LSE, bf16).
for s in "$Q2A" "$Q2B"; do
  for e in 64:4 0; do
    FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$s FLASH_ATTENTION_HOPPER_EXP2=$e timeout 60 /tmp/fa compile --arch sm_90a --jobs 4 --filter tmaws > $LOG/compile_${e/:/_}_${s//[:,]/_}.txt 2>&1 &
  done
done; wait
for s in "$Q2A" "$Q2B"; do
  for e in 64:4 0; do
    for g in 2 0; do
      [[ $e == 0 && $g == 0 ]] && continue
      if [[ $g == 0 ]]; then genv=(env -u FLASH_ATTENTION_HOPPER_GRID); else genv=(env FLASH_ATTENTION_HOPPER_GRID=$g); fi
      f=$LOG/check_${g}_${e/:/_}_${s//[:,]/_}.txt
      "${genv[@]}" FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$s FLASH_ATTENTION_HOPPER_EXP2=$e FLASH_ATTENTION_CACHE_DIR=/tmp/cache-q2 \
        timeout 60 /tmp/fa compile --check-dims $([[ $e == 0 ]] && echo 64 || echo 64,128) --check-cases 3 > $f 2>&1
      echo "check [$s exp2 $e] grid ${g/0/full} exit $?: $(tail -1 $f)"
    done
  done
done
echo "  TMA variants run: $(used /tmp/cache-q2)"
el
for tool in memcheck racecheck; do
  FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_HOPPER_TILES=$Q2A FLASH_ATTENTION_CACHE_DIR=/tmp/cache-q2 \
    FLASH_ATTENTION_HOPPER_EXP2=64:4 timeout 60 compute-sanitizer --tool $tool /tmp/fa compile --check-dims 64,128 --check-cases 1 > $LOG/san_$tool.txt 2>&1
  echo "sanitizer $tool exit $?: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $LOG/san_$tool.txt | tr '\n' ' ') $(grep '^check' $LOG/san_$tool.txt | tail -1)"
done
el
: > $LOG/ab.txt
ab() { local name=$1; shift; "$@" timeout 60 /tmp/fa compile --bench --bench-csv $OUT/ab_${name}_$r.csv --bench-head-dims 64,128 \
  --bench-seqlens 512,1024,2048,4096,8192,16384 --bench-dtypes bf16 2>&1 | grep TFLOP/s | sed "s|^|[$name] |" >> $LOG/ab.txt; }
for r in 1 2; do
  ab shipped env -u FLASH_ATTENTION_HOPPER_TILES
  ab Q2A env FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$Q2A
  ab Q2B env FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$Q2B
  ab Q2AE4 env FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$Q2A FLASH_ATTENTION_HOPPER_EXP2=64:4
  ab Q2BE4 env FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$Q2B FLASH_ATTENTION_HOPPER_EXP2=64:4
done
el
PYTHONUNBUFFERED=1 timeout 90 python3 scripts/bench_cuda.py --ours $OUT/ab_shipped_1.csv --out $OUT/torch.csv --dims 64,128 --dtypes bf16 > $LOG/table.txt 2>$LOG/torch_err.txt; echo "torch exit $?"
el
m=sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__throughput.avg.pct_of_peak_sustained_elapsed,gpu__time_duration.sum
for t in shipped "128:160x2pq" "128:160x2p"; do
  if [[ $t == shipped ]]; then env=(env -u FLASH_ATTENTION_HOPPER_TILES); else env=(env FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_TILES=$t); fi
  "${env[@]}" timeout 60 ncu --clock-control none -k flash_attention_forward --launch-skip 3 --launch-count 1 --metrics $m \
    /tmp/fa compile --bench --bench-head-dims 128 --bench-seqlens 16384 --bench-dtypes bf16 > $LOG/ncu_${t//[:,]/_}.txt 2>&1
  echo "ncu [$t]: $(grep -E 'hmma|duration|sm__throughput' $LOG/ncu_${t//[:,]/_}.txt | tr -s ' ' | tr '\n' ';')"
done
el
for f in /tmp/fa-cache/*.cubin /tmp/cache-q2/*.cubin; do
  grep -q tmaws "${f%.cubin}.cu" 2>/dev/null || continue
  s=$(cuobjdump -sass "$f" 2>/dev/null)
  echo "$(grep -m1 -o 'fwd_[a-z0-9_]*tmaws[a-z0-9_]*' "${f%.cubin}.cu") LDL=$(grep -c LDL <<<"$s") STL=$(grep -c STL <<<"$s") HGMMA=$(grep -c HGMMA <<<"$s") MUFU.EX2=$(grep -c MUFU.EX2 <<<"$s") UTMALDG=$(grep -c UTMALDG <<<"$s")"
done | sort -u > $LOG/sass.txt; echo "sass: $(wc -l < $LOG/sass.txt) TMA cubins ($(grep -c q2 $LOG/sass.txt) q2), with LDL/STL: $(grep -v 'LDL=0 STL=0' $LOG/sass.txt | tr '\n' ' ')"
cp $LOG/ab.txt $LOG/sass.txt $OUT/; tar czf $OUT/logs.tar.gz -C /tmp hoplogs
python3 - "$OUT" <<'PY' | tee $OUT/summary.txt
import csv, sys, os, glob, statistics
out = sys.argv[1]
def load(p):
    d = {}
    if os.path.exists(p):
        for r in csv.DictReader(open(p)): d[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = float(r["tflops"])
    return d
sets = ["shipped", "Q2A", "Q2B", "Q2AE4", "Q2BE4"]
runs = {s: [load(f"{out}/ab_{s}_{r}.csv") for r in (1, 2)] for s in sets}
t = {}
p = os.path.join(out, "torch.csv")
if os.path.exists(p):
    for r in csv.DictReader(open(p)): t[(r["dtype"], int(r["headdim"]), int(r["seqlen"]), int(r["causal"]))] = r
print("D N c | shipped Q2A Q2B Q2AE4 Q2BE4 (r1/r2) | cudnn fa2 | mean/cudnn: shipped Q2A Q2B Q2AE4 Q2BE4")
for k in sorted(runs["shipped"][0]):
    c = float(t.get(k, {}).get("cudnn") or "nan"); f = float(t.get(k, {}).get("flash") or "nan")
    cols, rat = [], []
    for s in sets:
        v = [x[k] for x in runs[s] if k in x]
        cols.append("/".join(f"{y:.0f}" for y in v)); rat.append(f"{statistics.mean(v)/c:.2f}" if v else "-")
    print(f"{k[1]} {k[2]} {k[3]} | " + " ".join(cols) + f" | {c:.0f} {f:.0f} | " + " ".join(rat))
PY
el
