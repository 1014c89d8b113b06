#!/usr/bin/env bash
# Session 6, lead: the float64-oracle check of the wide backward's new range (D = 129…256 except causal
# D <= 192 with <= 1k keys) at D = 160, 192, 224: check-dense with the defaults and with the wide
# kernel forced (FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD256=1), launches counted; a
# random verify sweep; memcheck on the forced wide kernel at D = 160.
#   usage on the device: bash scripts/device/hopper_backward_mid_check.sh   (expects .device-me/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"; W=/tmp/hmc; mkdir -p $W
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_HOPPER_BWD_LOG=1
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
FLASH_ATTENTION_CACHE_DIR=/tmp/c1 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 160,192,224 --check-cases 12 --check-dense > $W/dense.txt 2>&1 &
env FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD256=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c2 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
  --check-dims 160,192,224 --check-cases 12 --check-dense --seed 3 > $W/dense_forced.txt 2>&1 &
( FLASH_ATTENTION_CACHE_DIR=/tmp/c3 timeout 60 /tmp/fa backward-bench --warm-verify 40 --seed 23 --jobs 8 > $W/warm.txt 2>&1
  FLASH_ATTENTION_CACHE_DIR=/tmp/c3 timeout 120 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 40 --seed 23 > $W/verify.txt 2>&1 ) &
env FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD256=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c4 timeout 150 "$san" --tool memcheck --kernel-name kns=flash_attention_backward_hopper \
  --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 160 --check-cases 2 --check-dense --seed 9 > $W/san.txt 2>&1; echo "exit $?" >> $W/san.txt
wait
for f in dense dense_forced; do echo "$f: $(tail -1 $W/$f.txt); wide launches $(grep -c 'hbwd_dkdv.*d256' $W/$f.txt) of $(grep -c 'hopper-bwd' $W/$f.txt) Hopper launches" | tee -a $W/summary.txt; done
echo "verify (seed 23, 40): $(tail -1 $W/verify.txt); wide launches $(grep -c 'hbwd_dkdv.*d256' $W/verify.txt)" | tee -a $W/summary.txt
echo "memcheck wide D = 160: $(grep 'ERROR SUMMARY' $W/san.txt | tail -1) $(tail -1 $W/san.txt); $(grep -E 'passed|failed' $W/san.txt | tail -1); launches $(grep -c 'hbwd_dkdv.*d256' $W/san.txt)" | tee -a $W/summary.txt
tar czf "$OUT/hmc.tgz" -C $W .
