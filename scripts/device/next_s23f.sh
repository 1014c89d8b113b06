#!/usr/bin/env bash
# Session 23, sixth call (H200): the dQ conversion pass as a programmatic dependent of the key/value kernel
# (`HopperBackwardDescriptor.dependentConvert`, FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1): it starts on the multiprocessors the key/value
# kernel's last wave leaves idle, each block waits for its tile's turn counter, and the pass ends in griddepcontrol.wait.
#   1. checks: dQ / dK / dV bitwise equal to the plain pass (bwd_ec_check_s23.py with BEC_KNOB), float64 at B = 32 / 16,
#      memcheck + racecheck (B = 64, causal and not);
#   2. sustained windows and bursts: O against DC at unmasked / causal D = 128 512 / 1k / 2k, causal D = 64 512.
#   usage on the device: bash scripts/device/next_s23f.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n23f; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
DC="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1"
( BEC_KNOB=FLASH_ATTENTION_HOPPER_BWD_DEPCVT FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 200 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bitwise.txt 2>&1
  echo "exit $?" >> $LOG/bitwise.txt ) &
( env $DC BWC_B=32 BWC_D=128 BWC_SHAPES="512,512,16,16;512,512,16,16,1" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  env $DC BWC_B=16 BWC_D=64 BWC_SHAPES="1024,1024,8,8,1;1100,900,8,4,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
cat > /tmp/dc_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for causal in (False, True):
    q, k, v, do = (torch.randn(64, 256, 4 if i in (0, 3) else 2, 128, device="cuda", dtype=torch.bfloat16) for i in range(4))
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    g = torch.autograd.grad(flash_attn_func(q, k, v, causal=causal), (q, k, v), do)
    print("dc_once", causal, all(torch.isfinite(x).all().item() for x in g))
PY
for tool in memcheck racecheck; do
  ( env $DC FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 /tmp/dc_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|ec check|dc_once' $f | tail -2 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ') | $(grep -oE 'hbwd_(dkdv|dqcvt)_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
done
grep -h "^FAIL\|^DIFF" $LOG/*.txt | head -8
el "checks"
HB21_D=128 HB21_POINTS="512,0:O,DC;512,1:O,DC;1024,0:O,DC;1024,1:O,DC;2048,0:O,DC" timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/sw \
  --seconds 2.5 --windows 2 --rounds 2 --budget 230 --end 290 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt | grep -v cudnn
el "sustained D=128"
HB21_D=64 HB21_POINTS="512,1:O,DC;1024,1:O,DC" timeout 120 python3 scripts/device/hopper_bwd21.py --out $L/sw64 \
  --seconds 2.5 --windows 2 --rounds 1 --budget 70 --end 110 > $L/sweep64.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep64.txt | grep -v cudnn
el "sustained D=64"
(cd $L && tar czf "$RESULT/n23f.tgz" logs sw sw64 sweep.txt sweep64.txt 2>/dev/null)
