#!/usr/bin/env bash
# Session 15, second closing call: the part of final_s15.sh that did not run there (final_session.sh's Swift checks and its
# multi-step backward sanitizers hit "Text file busy" on /tmp/fa, fixed in final_session.sh; the verify sweep over 500–4096
# ran out of its timeout beside the other jobs), then a sustained confirm of this session's knob candidates at causal D = 64
# 4k / 8k and unmasked D = 64 8k (scripts/device/hopper_fwd29.py with HF29_FORMS: `hd`, `ew`, both, the lazy rescale `lr`,
# `so`; 2.5 s windows, same-kernel control XD at the causal points).
#   usage on the device: bash scripts/device/final_s15b.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/fs15b; mkdir -p "$RESULT" "$L/logs"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
BL=FLASH_ATTENTION_HOPPER_BWD_LOG=1
env $BL FLASH_ATTENTION_CACHE_DIR=/tmp/c-s15-verify timeout 300 /tmp/fa verify --device cuda --dtypes float16,bfloat16 \
  --lengths 500,1000,2048,3000,4096 --max-work 60000000 --cases 40 --seed 1515 > "$L/logs/s15_verify.txt" 2>&1 &
OUT=$L/logs FINAL_SKIP="pytest large" FINAL_CASES=30 FINAL_PINNED=16 FINAL_KV_CASES=30 bash scripts/device/final_session.sh > "$L/logs/final_ab.txt" 2>&1
wait $(jobs -p)
stamp "checks"
sed -n '/=== summary/,$p' "$L/logs/final_ab.txt"
echo "verify (fwd+bwd, lengths 500-4096): $(grep -E 'passed' "$L/logs/s15_verify.txt" | tail -1)"
grep -h FAIL "$L/logs/s15_verify.txt" | head -3
(cd $L && tar czf "$RESULT/fs15b.tgz" logs)
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HF29_FORMS="64,4096,1:O,HD,EW,HDEW,LR,XD;64,8192,1:O,HD,EW,HDEW,LR,XD;64,8192,0:O,LR,SO" timeout ${SWEEP_S:-300} \
  python3 scripts/device/hopper_fwd29.py --out /tmp/hf29c --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 --end ${SWEEP_END:-270} > $L/sweep.txt 2>&1
tail -60 $L/sweep.txt
(cd /tmp/hf29c && tar czf "$RESULT/hf29c.tgz" *.jsonl *.csv *.json *.log 2>/dev/null)
stamp "end"
