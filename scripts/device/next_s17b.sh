#!/usr/bin/env bash
# Session 17, second call: does the lazy O rescale (`lr`) also pay at the short forward rows, where we trail cuDNN
# (N = 512 every D and mask, causal D = 64 1k)? Sustained 2.5 s windows, O against LR (forced), three a form and dtype,
# fp16 where LR beat O in every bf16 window; plus a third reading at causal D = 128 1k (`xoa`), causal D = 256 1k and
# unmasked D = 256 512 (next_s17.sh's wins). Checks of the forced kernels at those shapes first (the torch float64 forward
# oracle with the knob, full grid and 2 blocks; memcheck + racecheck at 512² causal and unmasked, D = 64 / 128 / 256, and
# causal 1024² D = 256, on a 2-block grid).
#   usage on the device: DEV=.device-s17 bash scripts/device/next_s17b.sh   (carry that folder)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n17b; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c ${DEV:-.device-me}/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/${DEV:-.device-me}/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
lrk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*lr_sm_90a" | sort -u | tr '\n' ' '; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(171)
for d in (64, 128, 256):
    for name, (sq, sk, h, hk) in {'s': (512, 512, 2, 2), 't': (1024, 1024, 2, 1)}.items():
        for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
            np.save(f'/tmp/n17b{name}{d}_{c}.npy', (r.standard_normal((1, n, hh, d)) * 0.5).astype(np.float32))
"
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
job oracle_lr env FLASH_ATTENTION_HOPPER_RESCALE=lazy FA_BIN=/tmp/fa timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle
job oracle_lr_g2 env FLASH_ATTENTION_HOPPER_RESCALE=lazy FLASH_ATTENTION_HOPPER_GRID=2 FA_BIN=/tmp/fa timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2
job pinned_lr env FLASH_ATTENTION_HOPPER_RESCALE=lazy timeout 200 /tmp/fa compile --check-dims 64,128,256 --check-cases 8
(
for d in 64 128 256; do
  for shape in s-c s-u t-c; do
    n=${shape%-*}; m=${shape#*-}; [ $n = t ] && [ $d != 256 ] && continue
    flag=""; [ $m = c ] && flag=--causal
    for tool in memcheck racecheck; do
      nm=$tool-$n$d$m
      env FLASH_ATTENTION_HOPPER_RESCALE=lazy FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 120 "$san" --tool $tool \
        --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/n17b$n${d}_q.npy --k /tmp/n17b$n${d}_k.npy \
        --v /tmp/n17b$n${d}_v.npy --out /tmp/n17b_$nm.npy $flag --dtype bfloat16 --device cuda > "$LOG/$nm.txt" 2>&1; echo "exit $?" >> "$LOG/$nm.txt"
    done
  done
done
) &
wait $(jobs -p)
el "checks"
for f in $LOG/*.txt; do
  n=$(basename $f .txt)
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|^oracle|ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) | $(tail -1 $f) | $(lrk /tmp/c-$n | wc -w) lr kernels: $(lrk /tmp/c-$n | cut -c1-400)"
done
grep -h "^FAIL" $LOG/*.txt | head -8
(cd $L && tar czf "$RESULT/n17b_checks.tgz" logs)
HF29_FORMS="64,512,1:O,LR;128,512,1:O,LR;256,512,1:O,LR;64,512,0:O,LR;128,512,0:O,LR;64,1024,1:O,LR;128,1024,1:O,LR;256,1024,1:O,LR;256,512,0:O,LR" \
  timeout $(( 580 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 \
  --end $(( 545 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L/sw && tar czf "$RESULT/n17b_sweep.tgz" *.jsonl *.csv *.json ../sweep.txt 2>/dev/null)
el "end"
