#!/usr/bin/env bash
# Session 19: memcheck + racecheck of the unmasked tile D = 256 long-row kernel with `sx` and the re-derived tile counts
# (`…pxdersx`, which the table picks from 4096 queries; final_s19.sh's 300 × 8200 input reached the 2k–4k kernel instead),
# 4200 × 8200 GQA (2 query heads over 1), bf16 and fp16, on an 8-block grid (each block walks about eight tiles).
#   usage on the device: bash scripts/device/next_s19d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; LOG=/tmp/n19d; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(1920)
for c, n, h in (('q', 4200, 2), ('k', 8200, 1), ('v', 8200, 1)):
    np.save(f'/tmp/n19d_{c}.npy', r.standard_normal((1, n, h, 256)).astype(np.float32) * 0.5)
"
for tool in memcheck racecheck; do
  for dt in bfloat16 float16; do
    nm=$tool-$dt
    ( env FLASH_ATTENTION_HOPPER_GRID=8 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 280 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
      --error-exitcode 9 /tmp/fa run --q /tmp/n19d_q.npy --k /tmp/n19d_k.npy --v /tmp/n19d_v.npy --out /tmp/n19d_$nm.npy \
      --dtype $dt --device cuda > $LOG/$nm.txt 2>&1; echo "exit $?" >> $LOG/$nm.txt ) &
  done
done
wait
for f in $LOG/*.txt; do n=$(basename $f .txt)
  echo "$n: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(tail -1 $f); $(grep -h '^// FlashAttention forward' /tmp/c-$n/*.cu 2>/dev/null | grep -oE 'fwd_[a-z0-9_]*_sm_90a' | sort -u | tr '\n' ' ')"
done
(cd $LOG && tar czf "$RESULT/n19d.tgz" .)
el end
