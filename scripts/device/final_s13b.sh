#!/usr/bin/env bash
# Session 13, the last call: the forward's new short-sequence defaults through the torch float64 forward oracle with the
# defaults (full grid and a 2-block grid; the kernels reached listed: causal tile D = 128's `xoa` at 513-1024 keys, causal
# D = 64's `so…xl`, unmasked D = 64's `ew`), racecheck + memcheck of `xoa` on a 2-block grid, then both reference grids
# (forward and backward) interleaved twice (scripts/device/interleaved_s9.sh).
#   usage on the device: bash scripts/device/final_s13b.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
O=${OUT:-/tmp/out}; L=/tmp/f13b; mkdir -p $O $L /tmp/npy
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
kern() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(xoa|ew|sohdxdxtxl)_sm_90a" | sort -u | tr '\n' ' '; }
FLASH_ATTENTION_CACHE_DIR=/tmp/c-o1 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle > $L/oracle.txt 2>&1 &
FLASH_ATTENTION_CACHE_DIR=/tmp/c-o2 FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2 > $L/oracle_g2.txt 2>&1 &
python3 -c "
import numpy as np
r = np.random.default_rng(131)
for n in (777, 1024):
    for c in 'qkv': np.save(f'/tmp/x{n}_{c}.npy', (r.standard_normal((1, n, 2, 128)) * 0.5).astype(np.float32))
"
for n in 777 1024; do for tool in racecheck memcheck; do
  FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool$n timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
    --error-exitcode 9 /tmp/fa run --q /tmp/x${n}_q.npy --k /tmp/x${n}_k.npy --v /tmp/x${n}_v.npy --out /tmp/x_o.npy --causal --dtype bfloat16 \
    --device cuda > $L/$tool$n.txt 2>&1; echo "exit $?" >> $L/$tool$n.txt
done; done
wait $(jobs -p)
echo "torch forward oracle (defaults): $(grep '^oracle' $L/oracle.txt); kernels: $(kern /tmp/c-o1)"
echo "torch forward oracle (2-block grid): $(grep '^oracle' $L/oracle_g2.txt); kernels: $(kern /tmp/c-o2)"
grep -h FAIL $L/oracle*.txt | head -5
for n in 777 1024; do for tool in racecheck memcheck; do
  echo "$tool causal D=128 $n (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $L/$tool$n.txt | tail -1) $(tail -1 $L/$tool$n.txt); $(kern /tmp/c-$tool$n)"
done; done
for r in r1 r2; do
  mkdir -p /tmp/$r; OUT=/tmp/$r bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd \|^bwd " /tmp/$r/interleaved.txt | head -8; (cd /tmp/$r && tar czf $O/$r.tgz .)
done
tar czf $O/logs.tgz -C $L .
