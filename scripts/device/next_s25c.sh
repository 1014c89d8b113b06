#!/usr/bin/env bash
# Session 25, third call (H200): the dQ conversion folded into the key/value kernel (FLASH_ATTENTION_HOPPER_BWD_FOLDCVT=1,
#   Needs a build of the session's patch (not in the tree; its knob does nothing here: /work/notes/s25/foldcvt.patch).
# `…_dqbuf2_w2_…_fc`: the last key block reads each finished tile back and warp 3 writes dQ; no conversion pass):
#   1. dQ / dK / dV bitwise equal with the knob 0 and 1 (bwd_ec_check_s23.py: unmasked tile D = 64 / 128, D = 96, GQA, Sq ≠ Sk,
#      deterministic and not, ≤ 2k keys: ordered dQ both ways); float64 with the knob; memcheck / racecheck;
#   2. sustained O against FC at unmasked D = 128 512 / 1k / 2k and D = 64 512 / 1k.
#   usage on the device: bash scripts/device/next_s25c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n25c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( BEC_KNOB=FLASH_ATTENTION_HOPPER_BWD_FOLDCVT BEC_SHAPES="32,512,512,16,16,128,0;16,1024,1024,16,16,128,0;64,256,256,4,2,128,0;60,520,300,4,4,128,0;60,300,520,4,4,96,0;32,512,512,32,32,64,0;24,1000,1000,8,8,64,0;8,2048,2048,16,16,128,0;8,100,1000,4,2,128,0" \
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 220 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bitwise.txt 2>&1; echo "exit $?" >> $LOG/bitwise.txt ) &
( export FLASH_ATTENTION_HOPPER_BWD_FOLDCVT=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f64
  BWC_B=2 BWC_D=128 BWC_SHAPES="512,512,8,8;1000,1000,8,8;600,520,8,2;520,600,8,4;2048,2048,4,4" timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=64 BWC_DET=1 BWC_SHAPES="1000,1000,8,8;333,700,8,4" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=96 BWC_SHAPES="700,650,8,2" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
cat > /tmp/f_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for D in (128, 64):
    for dt in (torch.bfloat16, torch.float16):
        q, do = (torch.randn(2, 200, 4, D, device="cuda", dtype=dt) for _ in range(2))
        k, v = (torch.randn(2, 264, 2, D, device="cuda", dtype=dt) for _ in range(2))
        q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
        g = torch.autograd.grad(flash_attn_func(q, k, v), (q, k, v), do)
        print("f_once", D, dt, all(torch.isfinite(x).all().item() for x in g))
PY
for tool in memcheck racecheck; do
  ( FLASH_ATTENTION_HOPPER_BWD_FOLDCVT=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 220 "$san" --tool $tool \
      --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 /tmp/f_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|ec check|f_once' $f | tail -4 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ')"
  grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -4
done
grep -h "^FAIL\|^DIFF\|rror" $LOG/*.txt | grep -v "ERROR SUMMARY: 0" | head -8
el "checks"
(cd $L && tar czf "$RESULT/n25c.tgz" logs 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,FC;1024,0:O,FC;2048,0:O,FC" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 150 --end 190 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained D=128"
HB21_D=64 HB21_POINTS="512,0:O,FC;1024,0:O,FC" timeout 150 python3 scripts/device/hopper_bwd21.py --out $L/bw64 \
  --seconds 2.0 --windows 2 --rounds 1 --budget 100 --end 140 > $L/bwd64.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd64.txt | grep -v cudnn
el "sustained D=64"
(cd $L && tar czf "$RESULT/n25c.tgz" logs bw bw64 bwd.txt bwd64.txt 2>/dev/null)
