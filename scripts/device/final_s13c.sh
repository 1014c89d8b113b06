#!/usr/bin/env bash
# For the next session (session 13 ran out of device time before it): three K/V stages on the default empty-warpgroup rows
# up to 512 keys (unmasked tile D = 64, `…tmaws3pdq2soltxderew`; hopfwd26's `u64s3`, a default in 06ad214, reverted in
# 1efb538 until this call runs), forced with FORM (its knobs), checked and timed against the shipped two-stage kernel:
#   checks: verify (forward + backward) over lengths 129…512; the torch float64 forward oracle, full grid and 2-block grid;
#   memcheck + racecheck through `flash-attn run` on a 2-block grid (512², 500 × 500, 300 × 512); kernels reached listed.
#   A/B: scripts/device/ab_s12b.sh with HW_SETS "base:X=1 s3:<FORM>", D = 64, N = 512 / 1k, HW_ROUNDS rounds (default 6).
#   usage on the device: bash scripts/device/final_s13c.sh   (carry .device-me/flash-attn.gz)
set -uo pipefail
O=${OUT:-/tmp/out}; L=/tmp/f13c; mkdir -p $O $L /tmp/npy
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
FORM="FLASH_ATTENTION_HOPPER_TILES=64:128x3dq FLASH_ATTENTION_HOPPER_EMPTYWG=1"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
kern() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*tmaws3[a-z0-9_]*ew_sm_90a" | sort -u | tr '\n' ' '; }
env $FORM FLASH_ATTENTION_CACHE_DIR=/tmp/c-v timeout 150 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --lengths 129,300,500,512 \
  --max-work 20000000 --cases 40 --seed 1314 > $L/verify.txt 2>&1 &
env $FORM FLASH_ATTENTION_CACHE_DIR=/tmp/c-o1 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle > $L/oracle.txt 2>&1 &
env $FORM FLASH_ATTENTION_CACHE_DIR=/tmp/c-o2 FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2 > $L/oracle_g2.txt 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(132)
for sq, sk in ((512, 512), (500, 500), (300, 512)):
    for c, n in (('q', sq), ('k', sk), ('v', sk)): np.save(f'/tmp/y{sq}x{sk}_{c}.npy', (r.standard_normal((2, n, 4, 64)) * 0.5).astype(np.float32))
"
for s in 512x512 500x500 300x512; do for tool in racecheck memcheck; do
  env $FORM FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool$s timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
    --error-exitcode 9 /tmp/fa run --q /tmp/y${s}_q.npy --k /tmp/y${s}_k.npy --v /tmp/y${s}_v.npy --out /tmp/y_o.npy --dtype float16 \
    --device cuda > $L/$tool$s.txt 2>&1; echo "exit $?" >> $L/$tool$s.txt
done; done
wait $(jobs -p)
echo "verify 129-512: $(grep passed $L/verify.txt | tail -1); kernels: $(kern /tmp/c-v)"
echo "torch forward oracle: $(grep '^oracle' $L/oracle.txt); kernels: $(kern /tmp/c-o1)"
echo "torch forward oracle, 2-block grid: $(grep '^oracle' $L/oracle_g2.txt); kernels: $(kern /tmp/c-o2)"
grep -h FAIL $L/*.txt | head -5
for s in 512x512 500x500 300x512; do for tool in racecheck memcheck; do
  echo "$tool $s (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $L/$tool$s.txt | tail -1) $(tail -1 $L/$tool$s.txt); $(kern /tmp/c-$tool$s)"
done; done
HW_SETS="base:X=1 s3:$(echo $FORM | tr ' ' ',')" HW_DIMS=64 HW_SEQLENS=512,1024 HW_ROUNDS=${HW_ROUNDS:-6} bash scripts/device/ab_s12b.sh 2>&1 | grep -v "causal=1"
tar czf $O/logs.tgz -C $L .
