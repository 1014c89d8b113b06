#!/usr/bin/env bash
# Session 31, the rest of next_s31b.sh (its second call ran out of time in the Python step): the Python package's strided /
#   varlen tests on CUDA tensors (strided calls take the mma.sync loop on sm_90a, so option problems reach the new key
#   steps), and verify seed 1 with the wgmma loops off, reading back the names of the kernels each compiled.
#   usage on the device: bash scripts/device/next_s31c.sh   (carry .device-me)
set -uo pipefail
RESULT=${OUT:-/tmp/out}; mkdir -p "$RESULT"
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
FLASH_ATTENTION_CACHE_DIR=/tmp/c-py FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python \
  timeout 200 python3 -m pytest -q -p no:cacheprovider python/tests/test_strided.py python/tests/test_varlen.py > "$RESULT/py.txt" 2>&1
echo "python strided + varlen on CUDA: $(tail -1 "$RESULT/py.txt")"
head -qn 2 /tmp/c-py/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*' | sort -u > "$RESULT/kernels_py.txt"
echo "python compiled $(wc -l < "$RESULT/kernels_py.txt") forward kernels, new key steps: $(grep 'd64_m128n64w4b2_.*\(softcap\|alibi\|varlen\)\|d128_m128n32w4b2' "$RESULT/kernels_py.txt" | tr '\n' ' ')"
FLASH_ATTENTION_WGMMA=0 FLASH_ATTENTION_CACHE_DIR=/tmp/c-mma timeout 120 /tmp/fa verify --device cuda --cases 150 --seed 1 \
  --dtypes float16,bfloat16 --no-backward > "$RESULT/verify_mma_1.txt" 2>&1
echo "mma.sync seed 1: $(tail -1 "$RESULT/verify_mma_1.txt")"
head -qn 2 /tmp/c-mma/*.cu 2>/dev/null | grep -o 'fwd_[a-z0-9_]*' | sort -u > "$RESULT/kernels_mma.txt"
echo "verify compiled $(wc -l < "$RESULT/kernels_mma.txt") forward kernels, new key steps: $(grep 'd64_m128n64w4b2_.*\(softcap\|alibi\|varlen\)\|d128_m128n32w4b2' "$RESULT/kernels_mma.txt" | tr '\n' ' ')"
