#!/usr/bin/env bash
# Session 25, first call (H200): 80-query steps at unmasked tile D = 128 (FLASH_ATTENTION_HOPPER_BWD_M80=1, `…_m80n128…`):
#   Needs a build of the session's patch (not in the tree; its knob does nothing here: /work/notes/s25/m80.patch).
#   1. float64 checks with the knob (odd lengths that leave the last 80-row block partial, Sq ≠ Sk, GQA, D = 96, deterministic,
#      batches of 2, 8k in arrival order), the routed kernel names; memcheck / racecheck at 200 × 264 GQA;
#   2. sustained O (shipped) against M80 and M64P (the same route at 64-query steps) at unmasked 512 / 2k, M80 at 8k / 16k.
#   usage on the device: bash scripts/device/next_s25.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n25; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( export FLASH_ATTENTION_HOPPER_BWD_M80=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f64
  BWC_B=2 BWC_D=128 BWC_SHAPES="512,512,8,8;1000,1000,8,8;600,520,8,2;520,600,8,4;2048,2048,4,4;8192,8192,2,2" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=128 BWC_DET=1 BWC_SHAPES="1000,1000,8,8;4100,4000,8,4" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=96 BWC_SHAPES="700,650,8,2;333,1000,4,4" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
cat > /tmp/m_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for dt in (torch.bfloat16, torch.float16):
    q, do = (torch.randn(2, 200, 4, 128, device="cuda", dtype=dt) for _ in range(2))
    k, v = (torch.randn(2, 264, 2, 128, device="cuda", dtype=dt) for _ in range(2))
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    g = torch.autograd.grad(flash_attn_func(q, k, v), (q, k, v), do)
    print("m_once", dt, all(torch.isfinite(x).all().item() for x in g))
PY
for tool in memcheck racecheck; do
  ( FLASH_ATTENTION_HOPPER_BWD_M80=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool \
      --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 /tmp/m_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|m_once' $f | tail -4 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ')"
  grep -oE 'hbwd_(dkdv|dqcvt)_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -6
done
grep -h "^FAIL\|^DIFF\|Error\|error" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n25.tgz" logs 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,M80,M64P;2048,0:O,M80,M64P;8192,0:O,M80;16384,0:O,M80" timeout 300 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 220 --end 280 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained"
(cd $L && tar czf "$RESULT/n25.tgz" logs bw bwd.txt 2>/dev/null)
