#!/usr/bin/env bash
# Session 18, first call: the speculative row maximum (`sx`, FLASH_ATTENTION_HOPPER_RESCALE=spec): a loop step's
# exponentials against each row's kept maximum, a warpgroup vote on the step's row sums (> 2^8 or not finite), and the
# redo (S again from the held K stage, the exact softmax) where any thread asks. Checks of the forced kernels first (the
# torch float64 forward oracle full / 2 blocks / long, the ramp inputs that force the redo and its +inf path beside the
# shipped and lazy kernels, the pinned oracle cases, memcheck + racecheck at 512² and on a ramp input), then sustained
# 2.5 s windows O against SX (and XDSX at unmasked D = 128 8k) at the shipped-order rows it reaches.
#   usage on the device: bash scripts/device/next_s18.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n18; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c ${DEV:-.device-me}/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/${DEV:-.device-me}/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
sxk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*sx_sm_90a" | sort -u | tr '\n' ' '; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(181)
for d in (64, 128):
    for name, (sq, sk, h, hk) in {'s': (512, 512, 2, 2), 't': (1024, 1400, 2, 1)}.items():
        for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
            x = r.standard_normal((1, n, hh, d)).astype(np.float32) * 0.5
            if name == 't':  # a 300-nat ramp toward the first keys: every step passes the kept maximum (the redo)
                u = r.standard_normal(d).astype(np.float32); u *= 4 / np.linalg.norm(u)
                if c == 'q': x += u
                if c == 'k': x += (np.linspace(1, 0, n, dtype=np.float32) * 300 * d ** 0.5 / 16)[None, :, None, None] * u
            np.save(f'/tmp/n18{name}{d}_{c}.npy', x)
"
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
SX="env FLASH_ATTENTION_HOPPER_RESCALE=spec"
job oracle_sx $SX FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py oracle
job oracle_sx_g2 $SX FLASH_ATTENTION_HOPPER_GRID=2 FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py oracle g2
job oracle_sx_long $SX FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py oracle long
job ramp_sx $SX FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py ramp
job ramp_sx_g2 $SX FLASH_ATTENTION_HOPPER_GRID=2 FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py ramp
job ramp_O env FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py ramp
job ramp_lr env FLASH_ATTENTION_HOPPER_RESCALE=lazy FA_BIN=/tmp/fa timeout 220 python3 scripts/device/torch_fwd_oracle.py ramp
job pinned_sx $SX timeout 200 /tmp/fa compile --check-dims 64,128 --check-cases 8
(
for d in 64 128; do
  for shape in s-c s-u t-c t-u; do
    n=${shape%-*}; m=${shape#*-}
    flag=""; [ $m = c ] && flag=--causal
    for tool in memcheck racecheck; do
      nm=$tool-$n$d$m
      $SX FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$nm timeout 120 "$san" --tool $tool \
        --kernel-name kns=flash_attention_forward --error-exitcode 9 /tmp/fa run --q /tmp/n18$n${d}_q.npy --k /tmp/n18$n${d}_k.npy \
        --v /tmp/n18$n${d}_v.npy --out /tmp/n18_$nm.npy $flag --dtype bfloat16 --device cuda > "$LOG/$nm.txt" 2>&1; echo "exit $?" >> "$LOG/$nm.txt"
    done
  done
done
) &
wait $(jobs -p)
el "checks"
for f in $LOG/*.txt; do
  n=$(basename $f .txt)
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|^oracle|ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) | $(tail -1 $f) | $(sxk /tmp/c-$n | wc -w) sx kernels: $(sxk /tmp/c-$n | cut -c1-500)"
done
grep -h "^FAIL" $LOG/*.txt | head -12
(cd $L && tar czf "$RESULT/n18_checks.tgz" logs)
HF29_FORMS=${N18_FORMS:-"128,8192,0:O,SX,XDSX;128,16384,0:O,SX;128,2048,0:O,SX;128,8192,1:O,SX;64,8192,0:O,SX;64,8192,1:O,SX;128,512,0:O,SX;128,16384,1:O,SX"} \
  timeout $(( 585 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows ${N18_WINDOWS:-2} --rounds 2 \
  --end $(( 555 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L/sw && tar czf "$RESULT/n18_sweep.tgz" *.jsonl *.csv *.json ../sweep.txt 2>/dev/null)
el "end"
