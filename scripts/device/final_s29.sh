#!/usr/bin/env bash
# The closing checks of session 29 (one device call), on the integrated tree (the staged dK/dV epilogue the default at tile
#   D = 128 from 512 keys; the key/value kernel's timeline diagnostic):
#   A-C: scripts/device/closing_checks.sh (Swift checks, Python on CUDA tensors, check-dense, the sanitizers);
#   D:   the new default's route at 512…1023 keys: the float64 check of dQ, dK, dV (bwd_check_s19.py: D = 128 / 96, unmasked
#        and causal, GQA, Sq != Sk, deterministic and not, three batches), memcheck + racecheck (bwd_once.py, 600 x 513 GQA
#        causal and 512 x 1000 unmasked), the timeline diagnostic once (its file written, the default kernel + `_tl`);
#   E:   the backward grid's tile D = 128 512-key rows beside cuDNN and FA2 (scripts/bench_interleaved.py, 5 rounds).
#   usage on the device: bash scripts/device/final_s29.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs29; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s29.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
S="512,512,4,4;512,512,4,4,1;600,513,8,2;513,600,8,2,1;1000,512,4,4,1;512,1000,4,2;900,700,4,4,1;1023,1023,2,2"
(
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python FLASH_ATTENTION_HOPPER_BWD_LOG=1
  ( BWC_SHAPES=$S BWC_B=3 timeout 250 python3 scripts/device/bwd_check_s19.py > "$LOG/bwc128.txt" 2>&1;
    BWC_SHAPES=$S BWC_B=2 BWC_DET=1 timeout 250 python3 scripts/device/bwd_check_s19.py > "$LOG/bwc128det.txt" 2>&1 ) &
  ( BWC_SHAPES=$S BWC_B=2 BWC_D=96 timeout 250 python3 scripts/device/bwd_check_s19.py > "$LOG/bwc96.txt" 2>&1 ) &
  for tool in memcheck racecheck; do
    ( timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/bwd_once.py 600 513 8 2 128 causal > "$LOG/san_${tool}_c.txt" 2>&1; echo "exit $?" >> "$LOG/san_${tool}_c.txt"
      timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 python3 scripts/device/bwd_once.py 512 1000 4 2 128 fp16 > "$LOG/san_${tool}_u.txt" 2>&1; echo "exit $?" >> "$LOG/san_${tool}_u.txt" ) &
  done
  wait
) &
d=$!
source scripts/device/closing_checks.sh
closing_checks_run
wait $d
stamp "D: the 512-key route's checks"
closing_checks_report
for f in bwc128 bwc128det bwc96; do echo "float64 $f: $(grep "^bwd check" $LOG/$f.txt | tail -1) | kernels: $(grep -ho 'hopper-bwd hbwd_dkdv_[a-z0-9_]*' $LOG/$f.txt | sort -u | sed 's/hopper-bwd //' | tr '\n' ' ')"; done
for f in $LOG/san_*_[cu].txt; do echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' $f | tail -1) $(grep '^exit' $f | tr '\n' ' ') $(grep -h '^bwd_once' $f)"; done
pack
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
BT_POINTS="512,0,128;512,1,128" timeout 100 python3 scripts/device/bwd_timeline_s29.py 2>&1 | grep -v Warn | grep -A1 "call 0" | cut -c1-330
timeout 200 python3 scripts/bench_interleaved.py --passes bwd --dims 128 --seqlens 512 --rounds 5 --out $RESULT/grid_s29.csv 2>&1 | grep -v Warn | tail -8
stamp "E: grid rows"
pack
