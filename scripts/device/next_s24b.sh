#!/usr/bin/env bash
# Session 24, second call (H200):
#   1. ncu --clock-control none tensor-pipe utilisation of the backward (ours' three kernels picked by name after the warm-up
#      calls, cuDNN's bprop kernel): D = 128 16k unmasked / causal, 512 unmasked (next_s23h.sh's backward rows, which came back
#      empty in session 23);
#   2. a second sustained call for the dependent key/value launch (DS) at 512 keys, D = 64 / 128, causal and not, 3 windows;
#   3. the forward's dependent launch (PDL) at unmasked D = 64 512 / 1k (its one winning row in next_s24.sh) and causal D = 128 512.
#   usage on the device: bash scripts/device/next_s24b.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n24b; mkdir -p "$RESULT" $L/ncu
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
HB21_D=128 HB21_POINTS="512,0:O,DS;512,1:O,DS" timeout 130 python3 scripts/device/hopper_bwd21.py --out $L/bw \
  --seconds 2.0 --windows 3 --rounds 1 --budget 100 --end 120 > $L/bwd.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd.txt | grep -v cudnn
el "DS D=128"
HB21_D=64 HB21_POINTS="512,0:O,DS;512,1:O,DS" timeout 130 python3 scripts/device/hopper_bwd21.py --out $L/bw64 \
  --seconds 2.0 --windows 3 --rounds 1 --budget 100 --end 120 > $L/bwd64.txt 2>&1
sed -n '/^Summary/,$p' $L/bwd64.txt | grep -v cudnn
el "DS D=64"
(cd $L && tar czf "$RESULT/n24b.tgz" . 2>/dev/null)
HF29_FORMS="64,512,0:O,PDL;64,1024,0:O,PDL;128,512,1:O,PDL" \
  timeout 130 python3 scripts/device/hopper_fwd29.py --out $L/fw --seconds 2.0 --windows 3 --rounds 2 --end 120 > $L/fwd.txt 2>&1
sed -n '/^Summary/,$p' $L/fwd.txt | grep -v cudnn
el "PDL fwd"
(cd $L && tar czf "$RESULT/n24b.tgz" . 2>/dev/null)
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-ncu
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
[ -n "$ncu" ] || { echo "no ncu"; exit 0; }
M=gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active,sm__inst_issued.avg.pct_of_peak_sustained_active
for spec in "bwd 16384 0 128" "bwd 16384 1 128" "bwd 512 0 128" "bwd 512 1 128"; do
  for impl in ours cudnn; do
    tag=$(echo "$impl $spec" | tr ' ' _)
    case "$impl" in
      ours) pick=(--kernel-name flash_attention_backward_hopper --launch-skip 9 --launch-count 3) ;;
      cudnn) pick=(--kernel-name regex:bprop --launch-skip 3 --launch-count 1) ;;
    esac
    timeout 60 "$ncu" --clock-control none "${pick[@]}" --metrics $M --csv --print-units base python3 scripts/device/ncu_s23.py $impl $spec \
      > $L/ncu/$tag.csv 2> $L/ncu/$tag.err
    python3 scripts/device/ncu_summary.py "$L/ncu/$tag.csv" "$impl $spec"
  done
done
el "ncu"
(cd $L && tar czf "$RESULT/n24b.tgz" . 2>/dev/null)
