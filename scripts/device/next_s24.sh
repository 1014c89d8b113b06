#!/usr/bin/env bash
# Session 24, first call (H200): programmatic dependent launch.
#   Forward (AttentionKernelDescriptor.dependentLaunch, FLASH_ATTENTION_HOPPER_PDL=1): each block executes
#   launch_dependents as it starts and griddepcontrol.wait after its barrier set-up, so the next call's launch and set-up
#   run under this call's tail. Backward (HopperBackwardDescriptor.dependentStats, FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=1):
#   the key/value kernel is a dependent of the preprocess; its producer waits ahead of the first L/D load.
#   1. checks: forward chains (q_{i+1} = o_i, 12 calls) bitwise equal PDL 0 vs 1; forward float64 oracle (flash-attn compile
#      --check-dims) with PDL=1; backward bitwise equal DEPSTATS 0 vs 1 (bwd_ec_check_s23.py), float64 with DEPSTATS=1;
#      memcheck / racecheck of both at small sizes;
#   2. sustained windows (hopper_fwd29.py / hopper_bwd21.py): forward O vs PDL at the 512 / 1k rows, backward O vs DS.
#   usage on the device: bash scripts/device/next_s24.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n24; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
gunzip -c .device-me/flash-attn.gz > /tmp/fa-cli && chmod +x /tmp/fa-cli
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
( FLASH_ATTENTION_CACHE_DIR=/tmp/c-chain timeout 200 python3 scripts/device/fwd_chain_s24.py > $LOG/chain.txt 2>&1; echo "exit $?" >> $LOG/chain.txt ) &
( FLASH_ATTENTION_HOPPER_PDL=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f64 timeout 200 /tmp/fa-cli compile --check-dims 64,128,256 --check-cases 8 > $LOG/fwd_f64.txt 2>&1; echo "exit $?" >> $LOG/fwd_f64.txt ) &
( BEC_KNOB=FLASH_ATTENTION_HOPPER_BWD_DEPSTATS FLASH_ATTENTION_CACHE_DIR=/tmp/c-eq timeout 200 python3 scripts/device/bwd_ec_check_s23.py > $LOG/bwd_bitwise.txt 2>&1
  echo "exit $?" >> $LOG/bwd_bitwise.txt ) &
DS="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=1"
( env $DS BWC_B=32 BWC_D=128 BWC_SHAPES="512,512,16,16;512,512,16,16,1" timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/bwd_f64.txt 2>&1
  env $DS BWC_B=4 BWC_D=128 BWC_SHAPES="4096,4096,16,16" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/bwd_f64.txt 2>&1
  env $DS BWC_B=16 BWC_D=64 BWC_SHAPES="1024,1024,8,8,1;1100,900,8,4,1" timeout 100 python3 scripts/device/bwd_check_s19.py >> $LOG/bwd_f64.txt 2>&1; echo "exit $?" >> $LOG/bwd_f64.txt ) &
cat > /tmp/pdl_once.py <<'PY'
import torch
from flash_attn import flash_attn_func
for causal in (False, True):
    q, k, v, do = (torch.randn(16, 256, 4 if i in (0, 3) else 2, 128, device="cuda", dtype=torch.bfloat16) for i in range(4))
    x = q
    with torch.no_grad():
        for _ in range(3):
            x = flash_attn_func(x, k, v, causal=causal)
    q.requires_grad_(); k.requires_grad_(); v.requires_grad_()
    g = torch.autograd.grad(flash_attn_func(q, k, v, causal=causal), (q, k, v), do)
    print("pdl_once", causal, bool(torch.isfinite(x).all()), all(torch.isfinite(t).all().item() for t in g))
PY
for tool in memcheck racecheck; do
  ( env FLASH_ATTENTION_HOPPER_PDL=1 FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=1 FLASH_ATTENTION_HOPPER_GRID=8 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool \
      --error-exitcode 9 python3 /tmp/pdl_once.py > $LOG/san_$tool.txt 2>&1; echo "exit $?" >> $LOG/san_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check|ec check|chain check|pdl_once|cases|passed|failed' $f | tail -3 | cut -c1-100 | tr '\n' ' ') | $(grep '^exit' $f | tr '\n' ' ') | $(grep -oE '(hbwd_dkdv|fwd)_[a-z0-9_]*_(ds|pdl)_sm_90a' $f | sort | uniq -c | sort -rn | head -2 | tr '\n' ' ')"
done
grep -h "DIFF\|FAIL" $LOG/*.txt | head -8
el "checks"
(cd $L && tar czf "$RESULT/n24.tgz" logs 2>/dev/null)
HF29_FORMS="128,512,0:O,PDL;128,512,1:O,PDL;64,512,1:O,PDL;64,512,0:O,PDL;256,512,0:O,PDL;256,512,1:O,PDL;64,1024,1:O,PDL;128,1024,0:O,PDL;128,16384,0:O,PDL" \
  timeout 250 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 2.0 --windows 2 --rounds 2 --end 230 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn | head -40
el "sustained fwd"
(cd $L && tar czf "$RESULT/n24.tgz" logs fw fwd.txt 2>/dev/null)
HB21_D=128 HB21_POINTS="512,0:O,DS;512,1:O,DS;1024,0:O,DS" timeout 150 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 110 --end 140 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn | head -30
el "sustained bwd"
(cd $L && tar czf "$RESULT/n24.tgz" logs fw bw fwd.txt bwd.txt 2>/dev/null)
