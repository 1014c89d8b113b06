#!/usr/bin/env bash
# Session 24, third call (H200): the dependent dQ conversion (session 23's `dependentConvert`, default up to 2k keys) past 2k
# keys, where causal calls still add dQ in key-block order (the persistent arrival-order grid is unmasked only): causal
# D = 128 4k / 8k / 16k and D = 64 8k / 16k (below 1.1x cuDNN on the H200 grid), O against DC (FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1),
# sustained windows and bursts; float64 with DC forced at those kernels first (causal 4096 D = 128, 8192 D = 64, GQA).
#   usage on the device: bash scripts/device/next_s24c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n24c; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
DC="FLASH_ATTENTION_HOPPER_BWD_LOG=1 FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1"
( env $DC BWC_B=2 BWC_D=128 BWC_SHAPES="4096,4096,16,16,1;4100,4000,16,4,1" timeout 150 python3 scripts/device/bwd_check_s19.py
  env $DC BWC_B=1 BWC_D=64 BWC_SHAPES="8192,8192,16,16,1" timeout 100 python3 scripts/device/bwd_check_s19.py
  env $DC BWC_B=1 BWC_D=128 BWC_DET=1 BWC_SHAPES="8192,8192,8,8" timeout 100 python3 scripts/device/bwd_check_s19.py
) > $LOG/f64.txt 2>&1
echo "f64: $(grep 'bwd check' $LOG/f64.txt | tr '\n' ' ') | $(grep -oE 'hbwd_(dkdv|dqcvt)_[a-z0-9_]*' $LOG/f64.txt | sort | uniq -c | sort -rn | head -6 | tr '\n' ' ')"
grep -h "^FAIL" $LOG/f64.txt | head -4
el "checks"
HB21_D=128 HB21_POINTS="4096,1:O,DC;8192,1:O,DC;16384,1:O,DC" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 2 --rounds 1 --budget 150 --end 190 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "DC D=128"
(cd $L && tar czf "$RESULT/n24c.tgz" . 2>/dev/null)
HB21_D=64 HB21_POINTS="8192,1:O,DC;16384,1:O,DC" timeout 150 python3 scripts/device/hopper_bwd21.py --out $L/bw64 \
  --seconds 2.0 --windows 2 --rounds 1 --budget 110 --end 140 > $L/bwd64.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd64.txt | grep -v cudnn
el "DC D=64"
(cd $L && tar czf "$RESULT/n24c.tgz" . 2>/dev/null)
