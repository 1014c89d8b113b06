#!/usr/bin/env bash
# Prepared in session 21 for the next session's first call (not run yet; build .device-me from HEAD first). Session 21 made the
# persistent key/value grid the default for non-deterministic unmasked tile D = 128 from 4096 keys on cards with an L2 of
# 56 MB or more (`HopperBackwardDescriptor.defaultPersistentTiles`, `CUDADevice.l2CacheBytes`), after sustained windows and
# forced checks on the H200; its default route never ran. This call:
#   1. the L2 the driver reports and the kernel the default route launches (`…_dqunordered_dqbuf2_edv_ldk_mb_pt_pd` expected
#      from 4096 keys; `…_g4_mb_pd` if the gate did not fire);
#   2. float64 dQ / dK / dV on the default route (bwd_check_s19.py: 8192², 8300 × 8200 GQA, 16384²; and 4096², 4100 × 4000
#      GQA); memcheck + racecheck through python at 300 × 8300 GQA;
#   3. sustained windows, default (O) against the form before (NP = PERSIST=0) at unmasked 4k / 8k / 16k;
#   4. per-call medians at causal tile D = 128 4k / 2k with 32-64 kv heads, the 3-D grid against head groups of 4;
#   5. the interleaved grid into $OUT/r1.tgz (then docs/data/h200-*.csv, the H200 charts and the docs text).
#   usage on the device: bash scripts/device/next_s22.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; L=/tmp/n22; LOG=$L/logs; mkdir -p "$RESULT" $LOG
T0=$(date +%s); el() { echo "[+$(( $(date +%s) - T0 ))s] $*"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
python3 -c "import torch; p = torch.cuda.get_device_properties(0); print(p.name, 'L2', p.L2_cache_size >> 20, 'MB')"
timeout 60 /tmp/fa check 2>&1 | grep -m2 "MiB L2"   # CUDADevice.description: the L2 the default reads
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
B="FLASH_ATTENTION_HOPPER_BWD_LOG=1"
( env $B BWC_D=128 timeout 200 python3 scripts/device/bwd_check_s19.py > $LOG/f64.txt 2>&1; echo "exit $?" >> $LOG/f64.txt
  env $B BWC_D=128 BWC_SHAPES="4096,4096,8,8;4100,4000,8,4" timeout 120 python3 scripts/device/bwd_check_s19.py > $LOG/f64_4k.txt 2>&1
  echo "exit $?" >> $LOG/f64_4k.txt ) &
for tool in memcheck racecheck; do
  ( env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-$tool timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_backward_hopper \
      --error-exitcode 9 python3 scripts/device/bwd_once.py 300 8300 4 2 128 > $LOG/py_$tool.txt 2>&1; echo "exit $?" >> $LOG/py_$tool.txt ) &
done
wait
for f in $LOG/*.txt; do
  echo "$(basename $f .txt): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY|bwd check' $f | tail -1 | cut -c1-100) | $(tail -1 $f) | $(grep -oE 'hbwd_dkdv_[a-z0-9_]*' $f | sort | uniq -c | sort -rn | head -3 | tr '\n' ' ')"
done
grep -h "^FAIL" $LOG/f64*.txt | head -5
el "checks"
HB21_D=128 HB21_POINTS="4096,0:O,NP;8192,0:O,NP;16384,0:O,NP" timeout 200 python3 scripts/device/hopper_bwd21.py --out $L/sw --seconds 2.5 \
  --windows 2 --rounds 2 --budget 150 --end 180 > $L/sweep.txt 2>&1
sed -n '/^Summary/,$p' $L/sweep.txt
el "sustained"
# Causal tile D = 128 at 4k / 2k keys with 32-64 kv heads (session 21 saw +2-7 % with head groups of 4 at 4k once; the
# many-heads rule starts at 8k): per-call medians, the 3-D grid against G = 4, mirrored.
for g in 0 4 4 0; do FLASH_ATTENTION_HOPPER_BWD_GROUP=$g WG_D=128 WG_ITERS=6 WG_SHAPES="4,4096,32,1;4,4096,64,1;8,2048,64,1" \
  timeout 60 python3 scripts/device/wide_group_s20.py >> $L/g4k.txt 2>&1; done
grep TFLOP $L/g4k.txt | sort -t' ' -k2,6 -s | awk '{k=$2" "$3" "$4" "$5" "$6; if (k!=p) printf "\n%-34s", k; p=k; printf " %s:%s", $1, $7}'; echo
el "many heads at 4k"
mkdir -p /tmp/r1; OUT=/tmp/r1 IL_TIMEOUT=$(( 585 - ($(date +%s) - T0) )) bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
grep -v "^fwd \|^bwd " /tmp/r1/interleaved.txt | head -10; (cd /tmp/r1 && tar czf "$RESULT/r1.tgz" .)
(cd $L && tar czf "$RESULT/n22.tgz" logs sw sweep.txt g4k.txt 2>/dev/null)
el "end"
