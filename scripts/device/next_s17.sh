#!/usr/bin/env bash
# Prepared at the end of session 16 for the next session's first call (about 6 min on a fresh H100). Stage .device-me
# (flash-attn.gz, libflashattention.so) from branch s16-lr128 merged into main: it makes the lazy O rescale (`lr`) the default
# on causal tile D = 128's `xo` rows (1025…2048 keys; next_s16c.sh: 1.002–1.024 bf16 / 1.010–1.044 fp16 in every sustained
# window at causal 2k). This call:
#   1. checks that kernel on its default route (and `xoa` + `lr`, causal 1k, forced): the torch float64 forward oracle `oracle`
#      (short shapes; (1024, 768) reaches `xoa`) and `long` (2048–4200 rows), each on the full grid and a 2-block grid, the
#      pinned float64 oracle D = 128, a random verify over 500–4096, memcheck + racecheck through `flash-attn run` on 2-block
#      grids at causal 2048² and 1500 × 1600 GQA (`…xolr`) and 1024² with the knob (`…xoalr`), bf16 and fp16;
#   2. confirms in sustained windows: causal D = 128 1k / 2k (O against LR; LR at 1k is `xoa` + `lr`), causal D = 256 1k and
#      unmasked D = 256 512 (the two D = 256 lengths session 16 left eager).
#   usage on the device: bash scripts/device/next_s17.sh   (carry .device-me; or DEV=.device-s17 with that folder carried:
#   session 16 staged the branch's CLI and library there)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n17; LOG=$L/logs; mkdir -p "$RESULT" "$LOG"
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c ${DEV:-.device-me}/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
export FLASH_ATTENTION_LIB=$PWD/${DEV:-.device-me}/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
lrk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*d128[a-z0-9_]*xoa?lr_sm_90a" | sort -u | tr '\n' ' '; }
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
python3 -c "
import numpy as np
r = np.random.default_rng(17)
for name, (sq, sk, h, hk) in {'a': (2048, 2048, 2, 2), 'b': (1500, 1600, 4, 2), 'c': (1024, 1024, 2, 2)}.items():
    for c, n, hh in (('q', sq, h), ('k', sk, hk), ('v', sk, hk)):
        np.save(f'/tmp/n17{name}_{c}.npy', (r.standard_normal((1, n, hh, 128)) * 0.5).astype(np.float32))
"
job() { local name=$1; shift; ( env FLASH_ATTENTION_CACHE_DIR=/tmp/c-$name "$@" > $LOG/$name.txt 2>&1; echo "exit $?" >> $LOG/$name.txt ) & }
job oracle env FA_BIN=/tmp/fa timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle
job oracle_g2 env FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle g2
job oracle_long env FA_BIN=/tmp/fa timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle long
job oracle_long_g2 env FA_BIN=/tmp/fa FLASH_ATTENTION_HOPPER_GRID=2 timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle long
job oracle_xoa env FLASH_ATTENTION_HOPPER_RESCALE=lazy FA_BIN=/tmp/fa timeout 200 python3 scripts/device/torch_fwd_oracle.py oracle
job pinned timeout 200 /tmp/fa compile --check-dims 128 --check-cases 16
job verify timeout 200 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --lengths 500,1000,2048,3000,4096 --max-work 60000000 --cases 30 --seed 1717
(
for n in a b c; do
  knob=""; [ $n = c ] && knob=FLASH_ATTENTION_HOPPER_RESCALE=lazy
  for tool in memcheck racecheck; do
    for dt in bfloat16 float16; do
      env $knob FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool-$n-$dt timeout 120 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
        --error-exitcode 9 /tmp/fa run --q /tmp/n17${n}_q.npy --k /tmp/n17${n}_k.npy --v /tmp/n17${n}_v.npy --out /tmp/n17_${tool}${n}${dt}_o.npy --causal \
        --dtype $dt --device cuda > "$LOG/$tool-$n-$dt.txt" 2>&1; echo "exit $?" >> "$LOG/$tool-$n-$dt.txt"
    done
  done
done
) &
wait $(jobs -p)
el "checks"
for f in $LOG/*.txt; do
  n=$(basename $f .txt)
  echo "$n: $(grep -E '^check:|passed, [0-9]+ failed|^oracle|ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) | $(tail -1 $f) | $(lrk /tmp/c-$n)"
done
grep -h "^FAIL" $LOG/*.txt | head -8
(cd $L && tar czf "$RESULT/n17_checks.tgz" logs)
HF29_FORMS="128,2048,1:O,LR;128,1024,1:O,LR;256,1024,1:O,LR;256,512,0:O,LR" \
  timeout $(( 560 - ($(date +%s) - T0) )) python3 scripts/device/hopper_fwd29.py --out $L/sw --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 \
  --end $(( 520 - ($(date +%s) - T0) )) > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
(cd $L/sw && tar czf "$RESULT/n17_sweep.tgz" *.jsonl *.csv *.json ../sweep.txt 2>/dev/null)
el "end"
