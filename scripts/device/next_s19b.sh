#!/usr/bin/env bash
# Session 19: the speculative maximum (`sx`) at tile D = 256 on the unmasked 80-key rows, from an experimental build in which
# FA_SX256=1 lifts the generator's tile D = 256 refusal (forms S2 / S2XE of hopper_fwd29.py). Kernels (NVRTC 13.5, sm_90a):
# 512 `…psookvxderqhsx` 0 spill; 1k `…psooqxderqhsx`, 2k–4k with xd + er `…psooqxdersx`, 8k+ `…pxdersx` 8 B spilled, reloaded
# only outside the key loop (the tile head, the epilogue, the producer). Checks of the forced kernels first (the torch float64
# forward oracle at D = 256, full / 2-block grid, the ramp on a 2-block grid, hopper_fwd29_check.py at 1k–8k, memcheck and
# racecheck), plus the session's two new default rows on the default route under the sanitizers (unmasked D = 64 1k, causal
# D = 128 2k); then sustained windows O against S2 / S2XE at unmasked D = 256 512…16k.
#   usage on the device: DEV=.device-s19x bash scripts/device/next_s19b.sh   (carry .device-s19x)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n19b; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
DEV=${DEV:-.device-s19x}
gunzip -c $DEV/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/$DEV/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
kn() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_sm_90a" | sort -u | grep -E "${2:-.}" | tr '\n' ' '; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(192)
for name, d, sq, sk in (('a', 256, 1000, 1024), ('b', 256, 2100, 2000), ('c', 64, 1000, 1000), ('d', 128, 2048, 2048)):
    for c, n, h in (('q', sq, 2), ('k', sk, 1), ('v', sk, 1)):
        np.save(f'/tmp/n19{name}_{c}.npy', (r.standard_normal((1, n, h, d)) * 0.5).astype(np.float32))
"
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
S2="env FA_SX256=1 FLASH_ATTENTION_HOPPER_RESCALE=spec TFO_DIMS=256 FA_BIN=/tmp/fa"
job oracle $S2 timeout 240 python3 scripts/device/torch_fwd_oracle.py oracle
job oracle_g2 $S2 FLASH_ATTENTION_HOPPER_GRID=2 timeout 240 python3 scripts/device/torch_fwd_oracle.py oracle g2
job ramp $S2 FLASH_ATTENTION_HOPPER_GRID=2 timeout 240 python3 scripts/device/torch_fwd_oracle.py ramp
job ramp_xe $S2 FLASH_ATTENTION_HOPPER_DESC=1 FLASH_ATTENTION_HOPPER_EARLYRESCALE=1 FLASH_ATTENTION_HOPPER_GRID=2 timeout 240 python3 scripts/device/torch_fwd_oracle.py ramp
( timeout 240 python3 scripts/device/hopper_fwd29_check.py S2 256 0 1024 8192 > $LOG/chk_s2.txt 2>&1; echo "exit $?" >> $LOG/chk_s2.txt ) &
( timeout 240 python3 scripts/device/hopper_fwd29_check.py S2XE 256 0 2048 4096 > $LOG/chk_s2xe.txt 2>&1; echo "exit $?" >> $LOG/chk_s2xe.txt ) &
(
for spec in "a:FA_SX256=1 FLASH_ATTENTION_HOPPER_RESCALE=spec:" "b:FA_SX256=1 FLASH_ATTENTION_HOPPER_RESCALE=spec FLASH_ATTENTION_HOPPER_DESC=1 FLASH_ATTENTION_HOPPER_EARLYRESCALE=1:" \
            "c:FLASH_ATTENTION_LOG=0:" "d:FLASH_ATTENTION_LOG=0:--causal"; do
  IFS=: read -r n knobs flag <<< "$spec"
  for tool in memcheck racecheck; do
    nm=$tool-$n
    env $knobs FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
      --error-exitcode 9 /tmp/fa run --q /tmp/n19${n}_q.npy --k /tmp/n19${n}_k.npy --v /tmp/n19${n}_v.npy --out /tmp/n19_$nm.npy $flag \
      --dtype bfloat16 --device cuda > "$LOG/$nm.txt" 2>&1; echo "exit $?" >> "$LOG/$nm.txt"
  done
done
) &
wait $(jobs -p)
el "checks"
for f in $LOG/*.txt; do
  n=$(basename $f .txt)
  echo "$n: $(grep -E '^oracle|ERROR SUMMARY|RACECHECK SUMMARY|passed' $f | tail -1) | $(tail -1 $f) | $(kn /tmp/c-$n 'sx|d64|d128' | cut -c1-300)"
done
grep -h "^FAIL" $LOG/*.txt | head -8
grep -h "kernels\|fwd_" $LOG/chk_*.txt | tail -4 | cut -c1-300
HF29_FORMS=${N19B_FORMS:-"256,1024,0:O,S2;256,8192,0:O,S2;256,2048,0:O,S2XE;256,4096,0:O,S2XE;256,16384,0:O,S2;256,512,0:O,S2"} \
  timeout $(( 585 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows ${N19B_WINDOWS:-2} --rounds 2 \
  --end $(( 560 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L && tar czf "$RESULT/n19b.tgz" logs sw sweep.txt 2>/dev/null)
el "end"
