#!/usr/bin/env bash
# Session 28, closing supplement (H200): the stream-K tail at tile D = 256 with its final protocol, forced
# (FLASH_ATTENTION_HOPPER_STREAMK=1: the 4200 × 4000 oracle shape has 4000 keys, under the default's 4k, so final_s28.sh's
# default-route oracle ran the plain kernel there): the torch float64 oracle (long shapes, D = 256) on 3 / 5 / 7-block grids,
# memcheck + racecheck on 4200 × 4000 (GQA 2 / 1) on a 5-block grid, bf16 and fp16.
#   usage on the device: bash scripts/device/next_s28g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n28g; LOG=$L/logs; mkdir -p "$RESULT" $LOG
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
K=FLASH_ATTENTION_HOPPER_STREAMK=1
for g in 3 5 7; do
  env FA_BIN=/tmp/fa TFO_DIMS=256 $K FLASH_ATTENTION_HOPPER_GRID=$g FLASH_ATTENTION_CACHE_DIR=/tmp/c-28g-$g timeout 150 python3 scripts/device/torch_fwd_oracle.py oracle long > "$LOG/long256_g$g.txt" 2>&1 &
done
python3 -c "
import numpy as np
r = np.random.default_rng(2829)
for c, n, hh in (('q', 4200, 2), ('k', 4000, 1), ('v', 4000, 1)):
    np.save(f'/tmp/s28g_{c}.npy', (r.standard_normal((1, n, hh, 256)) * 0.5).astype(np.float32))
"
for tool in memcheck racecheck; do
  ( for dt in bfloat16 float16; do
      env $K FLASH_ATTENTION_HOPPER_GRID=5 FLASH_ATTENTION_CACHE_DIR=/tmp/c-28g-$tool$dt timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/s28g_q.npy --k /tmp/s28g_k.npy --v /tmp/s28g_v.npy --out /tmp/s28g_${tool}${dt}_o.npy \
        --dtype $dt --device cuda > "$LOG/san_$tool$dt.txt" 2>&1; echo "exit $?" >> "$LOG/san_$tool$dt.txt"
    done ) &
done
wait
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*_sk_sm_90a" | sort -u | tr '\n' ' '; }
for g in 3 5 7; do echo "torch float64 long D = 256, $g-block grid: $(grep -E '^oracle' "$LOG/long256_g$g.txt" | tail -1) | $(fk /tmp/c-28g-$g)"; done
for f in $LOG/san_*.txt; do n=$(basename $f .txt | sed s/san_//); echo "$n: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(fk /tmp/c-28g-$n)"; done
grep -h "^FAIL" $LOG/*.txt | head -5
tar czf "$RESULT/n28g.tgz" -C $L logs
