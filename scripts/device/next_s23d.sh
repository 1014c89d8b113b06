#!/usr/bin/env bash
# NEEDS the early-conversion source change (not in the tree: docs/performance.md, "Session 23", part 3).
# Session 23, fourth call (H200): the early dQ conversion (`HopperBackwardDescriptor.earlyConvert`, FLASH_ATTENTION_HOPPER_BWD_EARLYCVT=1):
# the key/value kernel's idle producer warps convert finished dQ tiles of earlier batches, the conversion pass skips them.
#   1. checks: dQ / dK / dV bitwise equal to the pass alone (bwd_ec_check_s23.py: many batches, causal Sq > Sk and < Sk, GQA,
#      D = 64 / 96 / 128, deterministic and not); float64 at B = 32 / 16 (grid shapes); memcheck + racecheck (B = 64);
#   2. the per-kernel split with it (bwd_split_s23.py): the conversion pass should shrink to the last batches' tiles;
#   3. sustained windows and bursts: O against EC at unmasked / causal D = 128 512 / 1k / 2k.
#   usage on the device: bash scripts/device/next_s23d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23d; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
EC="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_EARLYCVT=1"
( FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 200 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bitwise.txt 2>&1; echo "exit $?" >> $LOG/bitwise.txt ) &
( env $EC BWC_B=32 BWC_D=128 BWC_SHAPES="512,512,16,16;512,512,16,16,1" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  env $EC BWC_B=16 BWC_D=64 BWC_SHAPES="1024,1024,8,8,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
for tool in memcheck racecheck; do
  ( cat > /tmp/ec_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for causal in (False, True):
    q, k, v, do = (torch.randn(64, 256, 4 if i in (0, 3) else 2, 128, device="cuda", dtype=torch.bfloat16) for i in range(4))
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    g = torch.autograd.grad(flash_attn_func(q, k, v, causal=causal), (q, k, v), do)
    print("ec_once", causal, all(torch.isfinite(x).all().item() for x in g))
PY
    env $EC FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 /tmp/ec_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|ec check|ec_once' $f | tail -2 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ') | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -2 | tr '\n' ' ')"
done
grep -h "^FAIL\|^DIFF" $LOG/*.txt | head -8
el "checks"
FLASH_ATTENTION_HOPPER_BWD_EARLYCVT=1 FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-split BS_D=128 BS_POINTS="512,0;512,1;1024,0;2048,0" \
  timeout 90 python3 scripts/device/bwd_split_s23.py 2>&1 | grep "ours" | tee $LOG/split_ec.txt
el "split"
HB21_D=128 HB21_POINTS="512,0:O,EC;512,1:O,EC;1024,0:O,EC;1024,1:O,EC;2048,0:O,EC" timeout 330 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 2 --budget 250 --end 320 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
(cd $L && tar czf "$RESULT/n23d.tgz" logs sw sweep.txt 2>/dev/null)
