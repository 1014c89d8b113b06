#!/usr/bin/env bash
# Session 25, fourth call (H200): the preprocess folded into the key/value kernel (FLASH_ATTENTION_HOPPER_BWD_FOLDSTATS=1,
# `…_fs`: the producer loads O beside Q and dO, warps 2–3 compute each stage's D and L; no preprocess launch), tile D = 128
# where one dQ buffer runs (512 keys):
#   Needs a build of the session's patch (not in the tree; its knob does nothing here: /work/notes/s25/foldstats.patch).
#   1. float64 with the knob (unmasked and causal, Sq > Sk with rows that see no key, Sq < Sk, GQA, D = 96, deterministic);
#      memcheck / racecheck;
#   2. sustained O against FS at unmasked and causal D = 128 512.
#   usage on the device: bash scripts/device/next_s25d.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n25d; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( export FLASH_ATTENTION_HOPPER_BWD_FOLDSTATS=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f64
  BWC_B=4 BWC_D=128 BWC_SHAPES="512,512,8,8;512,512,8,8,1;600,520,8,2,1;520,600,8,4,1;500,480,8,8;300,512,4,4" timeout 150 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=128 BWC_DET=1 BWC_SHAPES="512,512,8,8;700,400,8,2,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1
  BWC_B=2 BWC_D=96 BWC_SHAPES="500,450,8,2;450,500,8,8,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt ) &
cat > /tmp/s_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for causal in (False, True):
    for dt in (torch.bfloat16, torch.float16):
        q, do = (torch.randn(2, 200, 4, 128, device="cuda", dtype=dt) for _ in range(2))
        k, v = (torch.randn(2, 264, 2, 128, device="cuda", dtype=dt) for _ in range(2))
        q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
        g = torch.autograd.grad(flash_attn_func(q, k, v, causal=causal), (q, k, v), do)
        print("s_once", causal, dt, all(torch.isfinite(x).all().item() for x in g))
PY
for tool in memcheck racecheck; do
  ( FLASH_ATTENTION_HOPPER_BWD_FOLDSTATS=1 FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 220 "$san" --tool $tool \
      --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 /tmp/s_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|s_once' $f | tail -4 | cut -c1-90 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ')"
  grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -4
done
grep -h "^FAIL\|rror" $LOG/*.txt | grep -v "ERROR SUMMARY: 0" | head -8
el "checks"
(cd $L && tar czf "$RESULT/n25d.tgz" logs 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,FS;512,1:O,FS" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 3 --rounds 2 --budget 150 --end 190 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "sustained"
(cd $L && tar czf "$RESULT/n25d.tgz" logs bw bwd.txt 2>/dev/null)
