#!/usr/bin/env bash
# The closing checks of session 27 (one device call, about 5 min), on the integrated tree (session 27's two forward defaults:
# `sx` on unmasked tile D = 256 at every length, three K/V stages on unmasked tile D = 64's empty-warpgroup rows up to 1k):
#   A-C: scripts/device/closing_checks.sh (the checks every closing call runs: final_session.sh's Swift checks, the Python
#        subsets on CUDA tensors and test_large.py, check-dense of the Hopper backward, the sanitizers);
#   D:   the torch float64 forward oracle and the ramp (short shapes added) on the default routes, D = 64 / 128 and 256;
#   E:   the forward grid's D = 64 rows at 512 and 1k keys beside cuDNN and FA2 (scripts/bench_interleaved.py, 5 rounds).
#   usage on the device: bash scripts/device/final_s27.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs27; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s27.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
(
  o27() { env FA_BIN=/tmp/fa TFO_RAMP_SHORT=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-f27-$1 "${@:3}" timeout 250 python3 scripts/device/torch_fwd_oracle.py $2 > "$LOG/tfo_$1.txt" 2>&1; }
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
  o27 oracle oracle; o27 ramp ramp; o27 oracle256 oracle TFO_DIMS=256; o27 ramp256 ramp TFO_DIMS=256
) &
tfo=$!
source scripts/device/closing_checks.sh
closing_checks_run
wait $tfo
stamp "D: torch float64 oracles"
closing_checks_report
for n in oracle ramp oracle256 ramp256; do echo "torch float64 $n: $(grep '^oracle' "$LOG/tfo_$n.txt" | tail -1)"; done
grep -h "^FAIL" $LOG/tfo_*.txt | head -5
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(d64_m192n128w16b1_lse_tmaws3pdq2soltxderewsx|d256_m128n80w12b1_lse_tmaws2psoo(kv|q)xderqhsx)_sm_90a" | sort -u | tr '\n' ' '; }
echo "session 27 kernels reached by the oracles: $(used /tmp/c-f27-oracle) $(used /tmp/c-f27-oracle256)"
pack
export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
PYTHONUNBUFFERED=1 FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-il timeout 150 python3 scripts/bench_interleaved.py --passes fwd --dims 64 \
  --seqlens 512,1024 --rounds 5 --out $OUT/interleaved.csv > $OUT/interleaved.txt 2> $OUT/interleaved_err.txt
echo "grid exit $?"; tail -3 $OUT/interleaved_err.txt
grep -v "^fwd " $OUT/interleaved.txt | tail -6; grep "^fwd" $OUT/interleaved.txt | cut -c1-80
stamp "E: grid rows"
pack
