#!/usr/bin/env bash
# The closing checks of session 12 (one device call, ≤ ~5 min on a fresh H100), on the integrated tree:
#   A. final_session.sh's checks (check, random fwd+bwd float64-oracle sweep, pinned D with the Hopper
#      forward forced and with the defaults, the KV-cache oracle sweep) beside the Python subsets on
#      CUDA tensors (strided, varlen, KV cache) and test_large.py (non-deterministic calls against the
#      float64 oracle; it lists the forward kernels reached).
#   B. backward-bench --check-dense at D = 64 / 128 / 256 with the Hopper backward forced (deterministic),
#      non-deterministic calls at D = 192 / 256 with arrival order forced, non-deterministic calls with the
#      defaults at D = 64 / 128, deterministic D = 256 with the staged epilogue off.
#   C. compute-sanitizer memcheck + racecheck: the wide D = 256 backward, the tile D = 64 / 128 backward
#      with the fast passes, the forward on a 2-block grid at D = 64, 128 and 256 (the forward's defaults),
#      and memcheck over a few KV-cache cases with clusters forced.
#   D. Session 12's Q halves with the defaults (causal tile D = 256 `qr` up to 1k keys, `qh` at 2k; unmasked
#      `qh` up to 1k): a random verify sweep over lengths that reach both, dense oracle cases at D = 240 / 256
#      on a 2-block grid, and racecheck + memcheck through `flash-attn run` on a 2-block grid: causal 640 × 640
#      (`qr`, 5 key steps a tile, 10 tiles: the three halves rotate across tiles), causal 1100 × 1100 (`qh`
#      beside `ob`) and unmasked 640 × 640 (`qh`, 80-key steps).
#   usage on the device: bash scripts/device/final_s12.sh
# Expects .device-me/flash-attn.gz and .device-me/libflashattention.so.
set -uo pipefail
RESULT=${OUT:-/tmp/out}; OUT=/tmp/fs12; mkdir -p "$RESULT" "$OUT/py" "$OUT/logs"; LOG=$OUT/logs
pack() { tar -czf "$RESULT/final_s12.tgz" -C "$OUT" . ; }
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $1"; }
gunzip -c .device-me/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort -u | tr '\n' ' '; }
forms() { echo "hbwd $(grep -c 'hbwd_dkdv' "$1") (d256 $(grep -c 'hbwd_dkdv.*d256' "$1"), unordered $(grep -c 'hbwd_dkdv.*dqunordered' "$1"), fast passes $(grep -c 'hbwd_dqcvt[a-z0-9_]*_v_' "$1"), Q ring $(grep -c 'hbwd_dkdv.*_qr_' "$1"), staged epilogue $(grep -c 'hbwd_dkdv.*_se_' "$1"))"; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$LOG/gpu.txt"
san=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
# A
(
  export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache-py
  export FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so FLASH_ATTENTION_TEST_DEVICES=cuda PYTHONPATH=$PWD/python
  timeout 200 python3 -m pytest -q -p no:cacheprovider python/tests/test_strided.py python/tests/test_varlen.py \
    python/tests/test_kvcache.py > "$OUT/py/subset.txt" 2>&1
  FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 200 python3 -m pytest -q -s -p no:cacheprovider python/tests/test_large.py > "$OUT/py/large.txt" 2>&1
) &
py=$!
FINAL_SKIP="pytest large sanitize" FINAL_CASES=30 FINAL_PINNED=16 FINAL_KV_CASES=30 \
  bash scripts/device/final_session.sh > "$LOG/final_a.txt" 2>&1
stamp "A: swift checks"
# B
B=FLASH_ATTENTION_HOPPER_BWD_LOG=1
env $B FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense-bwd \
  timeout 180 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,128,256 --check-cases 12 --check-dense --seed 5 > "$LOG/dense_bwd.txt" 2>&1
dense_bwd_rc=$?
env $B FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense-u \
  timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 192,256 --check-cases 12 --check-dense --nondeterministic --seed 7 > "$LOG/dense_u.txt" 2>&1
dense_u_rc=$?
env $B FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense-nd \
  timeout 150 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 64,128 --check-cases 12 --check-dense --nondeterministic --seed 9 > "$LOG/dense_nd.txt" 2>&1
dense_nd_rc=$?
# Deterministic D = 256 without the staged epilogue (what runs past 8k keys), precomputed descriptors on
# causal: the ww2_qr_pd form (review9: never run on a GPU before).
env $B FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_HOPPER_BWD256_EPI=0 FLASH_ATTENTION_CACHE_DIR=/tmp/c-dense-noepi \
  timeout 120 /tmp/fa backward-bench --warm-verify 0 --jobs 16 --check-dims 256 --check-cases 12 --check-dense --seed 11 > "$LOG/dense_noepi.txt" 2>&1
dense_noepi_rc=$?
stamp "B: check-dense"
wait $py
stamp "A: python"
# C
FINAL_SKIP="check verify pinned kvcache pytest large" bash scripts/device/final_session.sh > "$LOG/final_b.txt" 2>&1
for tool in memcheck racecheck; do
  env $B FLASH_ATTENTION_HOPPER_BWD256_DQ=unordered FLASH_ATTENTION_CACHE_DIR=/tmp/c-san-w-$tool timeout 150 "$san" --tool $tool \
    --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 256 \
    --check-cases 2 --check-dense --nondeterministic --seed 9 > "$LOG/san_wide_$tool.txt" 2>&1
  echo "exit $?" >> "$LOG/san_wide_$tool.txt"
  env $B FLASH_ATTENTION_HOPPER_BWD=1 FLASH_ATTENTION_CACHE_DIR=/tmp/c-san-f-$tool timeout 150 "$san" --tool $tool \
    --kernel-name kns=flash_attention_backward_hopper --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 64,128 --check-cases 2 \
    --check-dense --seed 3 > "$LOG/san_fast_$tool.txt" 2>&1
  echo "exit $?" >> "$LOG/san_fast_$tool.txt"
  FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-san-$tool timeout 150 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
    --error-exitcode 9 /tmp/fa backward-bench --warm-verify 0 --check-dims 64,128,256 --check-cases 2 --check-dense > "$LOG/san_fwd_$tool.txt" 2>&1
  echo "exit $?" >> "$LOG/san_fwd_$tool.txt"
done
FLASH_ATTENTION_DECODE_CLUSTER=16 FLASH_ATTENTION_CACHE_DIR=/tmp/c-san-kv timeout 100 "$san" --tool memcheck --error-exitcode 9 \
  /tmp/fa verify --kvcache --device cuda --seed 919 --cases 4 > "$LOG/san_kv.txt" 2>&1; echo "exit $?" >> "$LOG/san_kv.txt"
stamp "C: sanitizers"
# D
W="FLASH_ATTENTION_HOPPER=1"
env $W FLASH_ATTENTION_CACHE_DIR=/tmp/c-w-verify timeout 200 /tmp/fa verify --device cuda --dtypes float16,bfloat16 --no-backward \
  --lengths 129,640,777,1024,1500,2048 --max-work 20000000 --cases 40 --seed 1210 > "$LOG/wide_verify.txt" 2>&1; echo "exit $?" >> "$LOG/wide_verify.txt"
env $W FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-w-dense timeout 200 /tmp/fa backward-bench --warm-verify 0 --jobs 16 \
  --check-dims 240,256 --check-cases 12 --check-dense --seed 1211 > "$LOG/wide_dense.txt" 2>&1; echo "exit $?" >> "$LOG/wide_dense.txt"
python3 -c "
import numpy as np
r = np.random.default_rng(12)
for n in (640, 1100):
    for c in 'qkv': np.save(f'/tmp/w{n}_{c}.npy', (r.standard_normal((1, n, 2, 256)) * 0.5).astype(np.float32))
"
for shape in "640 --causal" "1100 --causal" "640"; do
  set -- $shape; n=$1; mask=${2:-}; tag=$n${mask:+c}
  for tool in racecheck memcheck; do
    env $W FLASH_ATTENTION_HOPPER_GRID=2 FLASH_ATTENTION_CACHE_DIR=/tmp/c-w-$tool-$tag timeout 200 "$san" --tool $tool --kernel-name kns=flash_attention_forward \
      --error-exitcode 9 /tmp/fa run --q /tmp/w${n}_q.npy --k /tmp/w${n}_k.npy --v /tmp/w${n}_v.npy --out /tmp/w_o_$tool.npy $mask --dtype bfloat16 \
      --device cuda > "$LOG/wide_$tool$tag.txt" 2>&1; echo "exit $?" >> "$LOG/wide_$tool$tag.txt"
  done
done
stamp "D: Q halves (defaults)"
echo "=== python (CUDA tensors)"
echo "subset: $(tail -1 "$OUT/py/subset.txt")"
echo "large: $(tail -1 "$OUT/py/large.txt"); Hopper backward launches: $(grep -c 'hopper-bwd' "$OUT/py/large.txt"), unordered d256: $(grep -c 'dqunordered' "$OUT/py/large.txt")"
echo "  forward kernels the python runs reached (long rows need the large tests: xd from 2k queries): $(used /tmp/fa-cache-py)"
echo "  of them 128-key D = 256 (vt): $(used /tmp/fa-cache-py | tr ' ' '\n' | grep -c 'vt'), with Q halves (qr/qh): $(used /tmp/fa-cache-py | tr ' ' '\n' | grep -cE 'q[rh]_')"
echo "=== swift checks"; sed -n '/=== summary/,$p' "$LOG/final_a.txt" | grep -v "TMA variants"
for f in dense_bwd dense_u dense_nd dense_noepi; do
  echo "=== check-dense ($f): $(tail -1 "$LOG/$f.txt"); $(forms "$LOG/$f.txt")"
done
echo "  exits: Hopper backward forced $dense_bwd_rc, non-det + unordered d256 $dense_u_rc, non-det defaults $dense_nd_rc, det d256 no staged epilogue $dense_noepi_rc"
echo "  pd launches: $(grep -c 'hbwd_dkdv[a-z0-9_]*_pd_' "$LOG/dense_bwd.txt") forced, $(grep -c 'hbwd_dkdv[a-z0-9_]*_pd_' "$LOG/dense_nd.txt") non-det defaults, $(grep -c 'ww2_qr_pd' "$LOG/dense_noepi.txt") ww2_qr_pd"
echo "  forward kernels reached (non-deterministic defaults): $(used /tmp/c-dense-nd)"
echo "=== sanitizers"; sed -n '/=== summary/,$p' "$LOG/final_b.txt" | grep -E "memcheck|racecheck"
for tool in memcheck racecheck; do
  for s in wide fast; do
    echo "$s backward $tool: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/san_${s}_$tool.txt" | tail -1) $(tail -1 "$LOG/san_${s}_$tool.txt"); $(forms "$LOG/san_${s}_$tool.txt"); $(grep -E 'passed|failed' "$LOG/san_${s}_$tool.txt" | tail -1)"
  done
  echo "forward $tool (2-block grid): $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/san_fwd_$tool.txt" | tail -1) $(tail -1 "$LOG/san_fwd_$tool.txt"); kernels: $(used /tmp/c-san-$tool)"
done
echo "=== Q halves with the defaults (qr / qh)"
echo "verify: $(grep -E 'passed' "$LOG/wide_verify.txt" | tail -1) $(tail -1 "$LOG/wide_verify.txt"); kernels: $(used /tmp/c-w-verify | tr ' ' '\n' | grep -E 'q[rh]_' | tr '\n' ' ')"
echo "dense D 240/256 2-block grid: $(tail -2 "$LOG/wide_dense.txt" | head -1) $(tail -1 "$LOG/wide_dense.txt"); kernels: $(used /tmp/c-w-dense | tr ' ' '\n' | grep -E 'q[rh]_' | tr '\n' ' ')"
for tag in 640c 1100c 640; do for tool in racecheck memcheck; do
  echo "$tool $tag D=256 2-block grid: $(grep -E 'ERROR SUMMARY|RACECHECK SUMMARY' "$LOG/wide_$tool$tag.txt" | tail -1) $(tail -1 "$LOG/wide_$tool$tag.txt"); kernels: $(used /tmp/c-w-$tool-$tag)"
done; done
echo "kv memcheck (clusters 16): $(grep -E 'ERROR SUMMARY' "$LOG/san_kv.txt" | tail -1) $(tail -1 "$LOG/san_kv.txt"); $(tail -2 "$LOG/san_kv.txt" | head -1)"
stamp "end"
pack
