#!/usr/bin/env bash
# Session 12, the last call: the lean cuDNN step order (`xtxl`) became the default on causal tile D = 64's two-warpgroup
# rows after final_s12.sh and the grids ran. Checks with the shipped defaults (the new kernel is the one hopfwd23 checked
# forced: pinned, dense, verify, torch float64 oracle, sanitizers), then the forward grid interleaved, twice.
#   usage on the device: bash scripts/device/final_s12b.sh   (carry .device-me: flash-attn.gz, libflashattention.so)
set -uo pipefail
O=${OUT:-/tmp/out}; L=/tmp/f12b; mkdir -p $O $L
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*xtxl[a-z0-9_]*" | sort -u | tr '\n' ' '; }
FLASH_ATTENTION_CACHE_DIR=/tmp/c1 timeout 150 /tmp/fa compile --check-dims 64,128 --check-cases 16 > $L/pinned.txt 2>&1; echo "pinned defaults: $(grep -E '^check:' $L/pinned.txt | tail -1) exit $?; xtxl: $(used /tmp/c1)"
FLASH_ATTENTION_CACHE_DIR=/tmp/c2 FLASH_ATTENTION_HOPPER_GRID=2 timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64 --check-cases 12 --check-dense > $L/dense.txt 2>&1; echo "dense D 64 (2-block grid): $(tail -1 $L/dense.txt); xtxl: $(used /tmp/c2)"
FLASH_ATTENTION_CACHE_DIR=/tmp/c3 timeout 150 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --cases 30 --seed 1212 --lengths 129,512,777,1024,1500 > $L/verify.txt 2>&1; echo "verify: $(grep passed $L/verify.txt | tail -1); xtxl: $(used /tmp/c3)"
( export FLASH_ATTENTION_CACHE_DIR=/tmp/c4 FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
  timeout 200 python3 -m pytest -q -p no:cacheprovider python/tests/test_strided.py python/tests/test_varlen.py > $L/py.txt 2>&1 )
echo "python strided+varlen on CUDA tensors: $(tail -1 $L/py.txt); xtxl: $(used /tmp/c4)"
for r in r1 r2; do
  mkdir -p /tmp/$r; OUT=/tmp/$r IL_PASSES=fwd bash scripts/device/interleaved_s9.sh > /dev/null 2>&1
  grep -v "^fwd " /tmp/$r/interleaved.txt | head -5; (cd /tmp/$r && tar czf $O/$r.tgz .)
done
tar czf $O/logs.tgz -C $L .
