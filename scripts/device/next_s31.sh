#!/usr/bin/env bash
# Prepared at the end of session 30 for the next session (not yet run): where the persistent key/value kernel with the tail
#   split's item loop (TS0: the split's code, no split) spends the 3-4 % it loses against the plain kernel (O), per SASS
#   instruction. ncu's source counters (warp-state sampling) on the fourth call's key/value kernel at unmasked tile D = 128
#   4k (bf16), O and TS0; the reports and their per-instruction CSV (`--page source --print-source sass`) come back for a
#   local diff of the stall samples (which instructions gained barrier / MIO-throttle samples: session 30's ncu totals).
#   Needs .device-me built with scripts/device/patches/s30-persistent-tail-split.patch applied:
#     git apply scripts/device/patches/s30-persistent-tail-split.patch && bash scripts/device/build-device-me.sh && git checkout -- Sources Tests
#   (session 31 rebased the patch onto 7ded116: the step decode's one template, the static tail-parts knob)
#   usage on the device: bash scripts/device/next_s31.sh   (carry .device-me), or S31_LIB=<the .so built with the patch> (session 31
#   carried the patched .so alone in .device-ts/)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; mkdir -p "$RESULT"
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=${S31_LIB:-$PWD/.device-me/libflashattention.so} PYTHONPATH=$PWD/python
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ncu
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "no ncu"; exit 0; }
for form in O TS0; do
  envs="FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=0"; [ $form = TS0 ] && envs="FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT=1 FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=1"
  env $envs timeout 200 "$ncu" --clock-control none -k regex:flash_attention_backward_hopper --launch-skip 10 --launch-count 1 \
    --section SourceCounters --section WarpStateStats -f -o "$RESULT/ncu_$form" python3 scripts/device/ncu_s23.py ours bwd 4096 0 128 \
    > "$RESULT/ncu_$form.log" 2>&1
  timeout 100 "$ncu" --import "$RESULT/ncu_$form.ncu-rep" --page source --csv --print-source sass > "$RESULT/src_$form.csv" 2>&1
  timeout 60 "$ncu" --import "$RESULT/ncu_$form.ncu-rep" --section WarpStateStats --print-units base > "$RESULT/warp_$form.txt" 2>&1
  echo "$form: $(wc -l < "$RESULT/src_$form.csv") source rows; $(grep -E 'Stall (Barrier|MIO Throttle|Long Scoreboard|Wait)' "$RESULT/warp_$form.txt" | tr -s ' ' | tr '\n' ';' | cut -c1-300)"
done
ls -la "$RESULT"
