#!/usr/bin/env bash
# Session 15, hopfwd29: a sustained (power-cap) knob sweep of the long forward rows (unmasked D = 128 / 256 at 8k and 16k,
# causal D = 64 at 4k and 8k, unmasked D = 256 at 2k last). scripts/device/hopper_fwd29.py: one worker process per
# (form, dtype) over libflashattention.so (our knobs are read once per process) plus PyTorch SDPA cuDNN, kernels compiled up
# front in parallel (untimed); bf16 sustained windows (0.8 s each, forms alternated, 3 windows, nvidia-smi clocks.sm +
# power.draw every 50 ms), fp16 windows where a form beat the shipped kernel in every bf16 window, then bf16 burst rounds;
# then, if the call has time left, hopper_fwd29_check.py (float64 reference, 2-block grid) of each both-dtype candidate.
#   staging: .device-hopfwd29/libflashattention.so (branch hopfwd29 = main 739a411 kernels; `swift build -c release
#   --product flashattention -Xswiftc -static-stdlib`), copies of hopper_fwd29.py / hopper_fwd29_check.py / this script;
#   run on one H100 (carry .device-hopfwd29): HF29_END=150 bash .device-hopfwd29/hopper_fwd29.sh.
set -uo pipefail
OUT=${OUT:-/tmp/out}; L=/tmp/hf29; mkdir -p "$OUT" "$L"
exec > >(tee $OUT/summary.txt) 2>&1
S=.device-hopfwd29
cp scripts/device/sustained.py $S/ 2>/dev/null || true  # the staged scripts import it (session 15: one copy of the sustained-window code)
export FLASH_ATTENTION_LIB=$PWD/$S/libflashattention.so PYTHONPATH=$PWD/python FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
t0=$(date +%s); el() { echo $(( $(date +%s) - t0 )); }
END=${HF29_END:-150}; CHECK_END=${HF29_CHECK_END:-$(( END + 25 ))}
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
timeout $(( END + 15 )) python3 $S/hopper_fwd29.py --out $L --end $END
nvidia-smi -q -d PERFORMANCE,TEMPERATURE 2>&1 | grep -iE 'thermal|power cap|gpu current temp|slowdown' | tr -s ' ' | head -12
echo "[t=$(el)s] timing done"
# Checks of the both-dtype candidates (one process each, in parallel, untimed), while the call has time.
if [ -s $L/candidates.json ] && [ "$(el)" -lt $(( CHECK_END - 15 )) ]; then
  python3 - $L/candidates.json > $L/checks.txt <<'PY'
import json, sys
seen = set()
for name, form, (D, N, causal) in json.load(open(sys.argv[1])):
    key = (form, D, causal)
    if key not in seen:
        seen.add(key)
        print(form, D, causal, 2048 if N <= 2048 else 4096)
PY
  i=0
  while read form D causal N; do
    i=$((i + 1)); [ $i -le 6 ] || break
    timeout $(( CHECK_END - $(el) )) python3 $S/hopper_fwd29_check.py $form $D $causal $N > $L/check_${form}_${D}_${causal}.txt 2>&1 &
  done < $L/checks.txt
  [ -n "$(jobs -p)" ] && wait $(jobs -p)
  for f in $L/check_*.txt; do [ -e "$f" ] && { grep FAIL "$f" | head -3; tail -1 "$f"; }; done
else
  echo "checks skipped (t=$(el)s; candidates: $(cat $L/candidates.json 2>/dev/null))"
fi
echo "[t=$(el)s] done"
( cd $L && tar czf "$OUT/hf29.tgz" *.log *.jsonl *.csv *.json $(ls check_*.txt 2>/dev/null) )
