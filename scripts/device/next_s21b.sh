#!/usr/bin/env bash
# Session 21, second call (H200): where head groups pay beyond the defaults. Per-call medians (wide_group_s20.py, bf16,
# non-deterministic flash_attn_func + autograd, each group setting twice in mirrored order):
#   1. tile D = 256 causal at 2k / 4k / 8k keys and 8-32 heads, the 3-D grid against G = 1 (the first call's sustained
#      windows had the 3-D grid 2.5 % ahead at causal 2k, H = 8);
#   2. tile D = 128 / 64 causal (3-D grid by default) and unmasked tile D = 128 below 4k, against head groups of 4;
#   3. sustained windows at the reference grid's shapes (H = 16, tile D = 128): causal 16k / 8k / 4k, O against G4.
#   usage on the device: bash scripts/device/next_s21b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n21b; mkdir -p "$RESULT" $L
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
probe() {  # D shapes groups...
  local d=$1 shapes=$2; shift 2
  for g in "$@"; do FLASH_ATTENTION_HOPPER_BWD_GROUP=$g WG_D=$d WG_ITERS=8 WG_SHAPES="$shapes" \
    timeout 90 python3 scripts/device/wide_group_s20.py >> $L/pc.txt 2>&1; done
}
probe 256 "8,2048,8,1;8,2048,16,1;4,2048,32,1;4,4096,8,1;4,4096,16,1;2,8192,8,1;2,8192,16,1" 0 1 1 0
el "D256"
probe 128 "1,16384,16,1;2,8192,16,1;4,4096,16,1;4,4096,32,1;8,2048,16,1;8,2048,32,1;8,2048,16,0;8,2048,32,0;16,1024,32,0" 0 4 4 0
el "D128"
probe 64 "1,16384,32,1;1,16384,64,1;2,8192,32,1;4,4096,64,1;8,2048,64,1" 0 4 4 0
el "D64"
grep TFLOP $L/pc.txt | sort -t' ' -k2,6 -s | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
HB21_D=128 HB21_POINTS="16384,1:O,G4;8192,1:O,G4;4096,1:O,G4" timeout 260 python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 \
  --windows 2 --rounds 1 --budget 200 --end 240 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
(cd $L && tar czf "$RESULT/n21b.tgz" pc.txt sw sweep.txt 2>/dev/null)
