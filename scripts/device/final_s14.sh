#!/usr/bin/env bash
# The closing checks of session 14 (one device call, ≤ ~8 min on a fresh H100), on the integrated tree:
#   A–C: scripts/device/closing_checks.sh (as final_s13.sh: final_session.sh's checks, the Python subsets on CUDA tensors and test_large.py, check-dense of the
#      Hopper backward in its forms, compute-sanitizer memcheck + racecheck of the backward and the forward on 2-block grids).
#   D. Session 14's defaults, on their default routes: the tile D = 64 backward's staged dK/dV epilogue (`ste`, 512–4k keys,
#      causal to 8k) with two dQ buffers beside it (unmasked 2k–4k, head groups from 4k; causal 4k–8k); the forward's `xo` at
#      causal tile D = 128 1025–2048 keys, `ew` on the dynamic scheduler at unmasked tile D = 64 up to 4k, three K/V stages
#      beside `ew` up to 512 keys. The torch float64 backward oracle at D = 64/40 (full and long shapes) and D = 128/96 (long),
#      and a random verify sweep over 500–4096; the forward oracle `long` and the sanitizers of these defaults are
#      scripts/device/final_s14d.sh (the next call: one call would pass the 600 s limit).
#   usage on the device: bash scripts/device/final_s14.sh
# Expects .device-me/flash-attn.gz and .device-me/libflashattention.so.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs14; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s14.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
source scripts/device/closing_checks.sh
closing_checks_run
# D
BL=FLASH_ATTENTION_HOPPER_BWD_LOG=1
env $BL FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-verify timeout 240 /tmp/fa verify --device cuda --dtypes float16,bfloat16 \
  --lengths 500,1000,1500,2048,3000,4096 --max-work 60000000 --cases 40 --seed 1414 > "$LOG/s14_verify.txt" 2>&1 &
env $BL FA_BIN=/tmp/fa ORACLE_DIMS=64,40 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-bo64 timeout 300 python3 scripts/device/torch_bwd_oracle.py full > "$LOG/s14_bwd_oracle64.txt" 2>&1 &
env $BL FA_BIN=/tmp/fa ORACLE_DIMS=64,40 FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-bl64 timeout 300 python3 scripts/device/torch_bwd_oracle.py long > "$LOG/s14_bwd_long64.txt" 2>&1 &
env $BL FA_BIN=/tmp/fa FLASH_ATTENTION_CACHE_DIR=/tmp/c-s14-bl128 timeout 300 python3 scripts/device/torch_bwd_oracle.py long > "$LOG/s14_bwd_long128.txt" 2>&1 &
wait $(jobs -p)
stamp "D: session 14 defaults"
closing_checks_report
echo "=== session 14 defaults"
fk() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -oE "fwd_[a-z0-9_]*(xo|ew)_sm_90a" | sort -u | tr '\n' ' '; }
bk() { grep -oE "hbwd_dkdv[a-z0-9_]*_(ste|dqbuf2)[a-z0-9_]*" "$1" | sort | uniq -c | tr '\n' ' '; }
echo "verify (fwd+bwd, lengths 500-4096): $(grep -E 'passed' "$LOG/s14_verify.txt" | tail -1); fwd: $(fk /tmp/c-s14-verify)"
echo "  bwd: $(bk "$LOG/s14_verify.txt")"
for f in bwd_oracle64 bwd_long64 bwd_long128; do echo "torch float64 backward oracle ($f): $(grep '^oracle:' "$LOG/s14_$f.txt"); $(bk "$LOG/s14_$f.txt")"; grep -h '^FAIL' "$LOG/s14_$f.txt" | head -3; done
stamp "end"
pack
