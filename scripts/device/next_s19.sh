#!/usr/bin/env bash
# Prepared in session 18 for the next session's first call (not run yet): the rows the speculative maximum (`sx`) does not
# reach because they run a split-softmax order — causal D = 128 1k (`xoa` + `lr`) and 2k (`xo` + `lr`), causal D = 64 512
# and 1k (`xt` lean) — in the shipped step order with `sx` instead (form X0SX: FLASH_ATTENTION_HOPPER_EXPTURN=0
# FLASH_ATTENTION_HOPPER_RESCALE=spec; its kernels compile for sm_90a at 168 registers with no spill, NVRTC 13.5). Checks of
# the forced kernels first (the torch float64 forward oracle full / 2-block grid, the ramp, memcheck + racecheck at causal
# 1024² and 512², D = 64 / 128, on 2-block grids), then sustained windows O against X0SX, and SX at causal D = 128 512
# (out of the default since session 18's grids) once more; and unmasked D = 64 1k, whose kernel (no xd) cannot take `sx`,
# with xd + er + sx (form XESX: `…tmaws2pdq2soltxderewsx`, compiles clean), checked by the oracle with those knobs.
#   usage on the device: bash scripts/device/next_s19.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n19; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c ${DEV:-.device-me}/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/${DEV:-.device-me}/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
sxk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*sx_sm_90a" | sort -u | tr '\n' ' '; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(191)
for d in (64, 128):
    for name, n in (('s', 512), ('t', 1024)):
        for c in 'qkv':
            np.save(f'/tmp/n19{name}{d}_{c}.npy', (r.standard_normal((1, n, 2, d)) * 0.5).astype(np.float32))
"
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
X="env FLASH_ATTENTION_HOPPER_EXPTURN=0 FLASH_ATTENTION_HOPPER_RESCALE=spec FA_BIN=/tmp/fa"
job oracle $X timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle
job oracle_g2 $X FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2
job ramp $X timeout 200 python3 scripts/device/torch_fwd_oracle.py ramp
job oracle_xesx env FLASH_ATTENTION_HOPPER_DESC=1 FLASH_ATTENTION_HOPPER_EARLYRESCALE=1 FLASH_ATTENTION_HOPPER_RESCALE=spec FA_BIN=/tmp/fa \
  FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle
(
for d in 64 128; do
  for n in s t; do
    for tool in memcheck racecheck; do
      nm=$tool-$n$d
      $X FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/n19$n${d}_q.npy --k /tmp/n19$n${d}_k.npy --v /tmp/n19$n${d}_v.npy --out /tmp/n19_$nm.npy --causal \
        --dtype bfloat16 --device cuda > "$LOG/$nm.txt" 2>&1; echo "exit $?" >> "$LOG/$nm.txt"
    done
  done
done
) &
wait $(jobs -p)
el "checks"
for f in $LOG/*.txt; do
  n=$(basename $f .txt)
  echo "$n: $(grep -E '^oracle|ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) | $(tail -1 $f) | sx kernels: $(sxk /tmp/c-$n | cut -c1-400)"
done
grep -h "^FAIL" $LOG/*.txt | head -8
HF29_FORMS=${N19_FORMS:-"128,1024,1:O,X0SX;128,2048,1:O,X0SX;64,512,1:O,X0SX;64,1024,1:O,X0SX;128,512,1:O,SX;64,1024,0:O,XESX"} \
  timeout $(( 585 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows ${N19_WINDOWS:-2} --rounds 2 \
  --end $(( 560 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L && tar czf "$RESULT/n19.tgz" logs sw sweep.txt 2>/dev/null)
el "end"
