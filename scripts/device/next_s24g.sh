#!/usr/bin/env bash
# Session 24, seventh call (H200): the dependent dQ conversion at tile D = 256 (the wide kernel with ordered dQ and one turn
# counter a tile: unmasked below 2k keys, causal below 1k, deterministic up to 2k), built as the default route:
#   1. dQ / dK / dV bitwise equal with FLASH_ATTENTION_HOPPER_BWD_DEPCVT=0 and unset (bwd_ec_check_s23.py, BEC_SHAPES at
#      D = 192 / 256, causal Sq > Sk and Sq < Sk, GQA, deterministic and not); float64 on the default route; memcheck / racecheck;
#   2. sustained O (default: `_dc`) against NDC at causal / unmasked D = 256 512 and unmasked 1k.
#   usage on the device: bash scripts/device/next_s24g.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n24g; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( BEC_KNOB=FLASH_ATTENTION_HOPPER_BWD_DEPCVT BEC_SHAPES="32,512,512,8,8,256,1;32,512,512,8,8,256,0;16,1024,1024,8,8,256,0;16,1000,1000,8,8,256,1;20,600,520,8,2,256,1;20,520,600,8,4,192,1;8,2048,2048,8,8,256,0" \
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 200 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bitwise.txt 2>&1; echo "exit $?" >> $LOG/bitwise.txt ) &
( FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_B=16 BWC_D=256 BWC_SHAPES="512,512,8,8;512,512,8,8,1;600,520,8,2,1" timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 BWC_B=2 BWC_D=256 BWC_DET=1 BWC_SHAPES="2048,2048,8,8;1000,1000,8,8,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
cat > /tmp/w_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for causal in (False, True):
    q, k, v, do = (torch.randn(16, 256, 4 if i in (0, 3) else 2, 256, device="cuda", dtype=torch.bfloat16) for i in range(4))
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    g = torch.autograd.grad(flash_attn_func(q, k, v, causal=causal), (q, k, v), do)
    print("w_once", causal, all(torch.isfinite(x).all().item() for x in g))
PY
for tool in memcheck racecheck; do
  ( FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 /tmp/w_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|ec check|w_once' $f | tail -3 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ') | $(grep -oE 'hbwd_(dkdv|dqcvt)_[a-z0-9_]*d256[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
done
grep -h "^FAIL\|^DIFF" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n24g.tgz" logs 2>/dev/null)
HB21_D=256 HB21_POINTS="512,1:O,NDC;512,0:O,NDC;1024,0:O,NDC" timeout 170 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 130 --end 160 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained"
(cd $L && tar czf "$RESULT/n24g.tgz" logs bw bwd.txt 2>/dev/null)
