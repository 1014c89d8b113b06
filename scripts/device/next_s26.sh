#!/usr/bin/env bash
# Session 26, first call (H200): dQ converted in the key/value kernel (FLASH_ATTENTION_HOPPER_BWD_KCVT=1, suffix `kc`): after
#   the dK/dV epilogue, each key block's 256 consumers convert the query blocks whose last add is their own; no pass.
#   1. checks: dQ / dK / dV bitwise equal with KCVT 0 and 1 (bwd_ec_check_s23.py: 20 cases, causal Sq > Sk with tiles no key
#      sees, Sq < Sk, GQA, D = 96 / 64 / 128, deterministic and not); float64 with KCVT=1 (odd lengths, GQA, causal Sq > Sk,
#      tile D = 64, deterministic); memcheck / racecheck at 200 × 264 GQA and causal 300 × 200;
#   2. sustained O (shipped) against KC at tile D = 128 512 / 1k / 2k and tile D = 64 512 / 1k, unmasked and causal.
#   Ran on a build of the session's first form (the consumers read their own tiles from global memory after the epilogue;
#   not kept: docs/performance.md, "Session 26", describes it). The knob does nothing in the tree.
#   usage on the device: bash scripts/device/next_s26.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n26; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( BEC_KNOB=FLASH_ATTENTION_HOPPER_BWD_KCVT FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 240 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bitwise.txt 2>&1
  echo "exit $?" >> $LOG/bitwise.txt ) &
( export FLASH_ATTENTION_HOPPER_BWD_KCVT=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f64
  BWC_B=4 BWC_D=128 BWC_SHAPES="512,512,16,16;512,512,16,16,1;1000,1000,8,8;600,520,8,2,1;520,600,8,4,1;2048,2048,4,4,1" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=128 BWC_DET=1 BWC_SHAPES="1000,1000,8,8;4100,4000,8,4,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1
  BWC_B=4 BWC_D=64 BWC_SHAPES="1024,1024,8,8,1;1100,900,8,4,1;700,650,8,2" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=96 BWC_SHAPES="700,650,8,2;333,1000,4,4,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
cat > /tmp/k_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for dt, causal, sq, sk in ((torch.bfloat16, False, 200, 264), (torch.float16, True, 300, 200)):
    q, do = (torch.randn(2, sq, 4, 128, device="cuda", dtype=dt) for _ in range(2))
    k, v = (torch.randn(2, sk, 2, 128, device="cuda", dtype=dt) for _ in range(2))
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    g = torch.autograd.grad(flash_attn_func(q, k, v, causal=causal), (q, k, v), do)
    print("k_once", dt, causal, all(torch.isfinite(x).all().item() for x in g))
PY
for tool in memcheck racecheck; do
  ( FLASH_ATTENTION_HOPPER_BWD_KCVT=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool \
      --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 /tmp/k_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|ec check|k_once|passed|failed' $f | tail -4 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ')"
  grep -oE 'hbwd_dkdv_[a-z0-9_]*|in-kernel conversion' $f | sort | uniq -c | sort -rn | head -6
done
grep -h "^FAIL\|DIFF\|Error\|error" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n26.tgz" logs 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,KC;512,1:O,KC;1024,0:O,KC;1024,1:O,KC;2048,0:O,KC;2048,1:O,KC" timeout 230 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 180 --end 220 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained D=128"
(cd $L && tar czf "$RESULT/n26.tgz" logs bw bwd.txt 2>/dev/null)
HB21_D=64 HB21_POINTS="512,0:O,KC;512,1:O,KC;1024,1:O,KC" timeout 130 python3 scripts/device/hopper_bwd21.py --out $L/bw64 \
  --seconds 2.0 --windows 2 --rounds 1 --budget 90 --end 120 > $L/bwd64.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd64.txt | grep -v cudnn
el "sustained D=64"
(cd $L && tar czf "$RESULT/n26.tgz" logs bw bwd.txt bw64 bwd64.txt 2>/dev/null)
