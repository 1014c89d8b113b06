#!/usr/bin/env bash
# The checks every session's closing call runs (sessions 7–14 repeated them in each final_sN.sh; session 14 moved them here):
#   A. final_session.sh's Swift checks (check, verify, pinned Hopper forced and defaults, verify --kvcache), beside the Python
#      strided / varlen / KV-cache tests on CUDA tensors and test_large.py (1k–4k tokens against float64);
#   B. `backward-bench --check-dense` of the Hopper backward in its forms (forced, arrival-order D = 256, non-deterministic
#      defaults, D = 256 without the staged epilogue);
#   C. compute-sanitizer memcheck + racecheck of the backward (final_session.sh's, the wide and fast ones) and the forward on
#      2-block grids; memcheck over KV-cache cases with 16-CTA clusters.
# Sourced by scripts/device/final_sNN.sh after it sets OUT (its scratch), LOG, t0/stamp and /tmp/fa:
#   closing_checks_run      runs A–C (about 240 s on an H100)
#   closing_checks_report   prints their summary
# Expects .device-me/flash-attn.gz unpacked at /tmp/fa and .device-me/libflashattention.so.
closing_checks_run() {
  used() { grep -h "^// FlashAttention forward" "$1"/*.cu 2>/dev/null | grep -o "fwd_[a-z0-9_]*tmaws[a-z0-9_]*" | sort -u | tr '\n' ' '; }
  forms() { echo "hbwd $(grep -c 'hbwd_dkdv' "$1") (d256 $(grep -c 'hbwd_dkdv.*d256' "$1"), unordered $(grep -c 'hbwd_dkdv.*dqunordered' "$1"), fast passes $(grep -c 'hbwd_dqcvt[a-z0-9_]*_v_' "$1"), Q ring $(grep -c 'hbwd_dkdv.*_qr_' "$1"), staged epilogue $(grep -c 'hbwd_dkdv.*_se_' "$1"), ste $(grep -c 'hbwd_dkdv.*_ste' "$1"))"; }
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
}

closing_checks_report() {
  echo "=== python (CUDA tensors)"
  echo "subset: $(tail -1 "$OUT/py/subset.txt")"
  echo "large: $(tail -1 "$OUT/py/large.txt"); Hopper backward launches: $(grep -c 'hopper-bwd' "$OUT/py/large.txt"), ste: $(grep -c "_ste" "$OUT/py/large.txt"), unordered d256: $(grep -c 'dqunordered' "$OUT/py/large.txt")"
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
  echo "kv memcheck (clusters 16): $(grep -E 'ERROR SUMMARY' "$LOG/san_kv.txt" | tail -1) $(tail -1 "$LOG/san_kv.txt"); $(tail -2 "$LOG/san_kv.txt" | head -1)"
}
