#!/usr/bin/env bash
# One device call of the context-parallel work (issue 8) on a multi-GPU machine: NCCL found,
# ring and Ulysses results against the single-GPU result (bf16 and fp16, forward and backward),
# then timings of ring forward/backward against the single-GPU kernel, with the share of the
# transfers hidden under compute.
#   usage on the device: bash scripts/device/ring_session.sh [bringup|all]
#   bringup: checks at 8k tokens, ring and Ulysses; timings at 32k and 128k tokens.
#   all:     (default) on P GPUs: ring checks + 128k timings (efficiency bar), Ulysses the
#            same, ring on 2 of the GPUs at 128k, then 1M tokens × 16 heads × D=128 causal
#            forward and backward (no single-GPU baseline at 1M).
#   extra:   packed (varlen) and GQA checks, non-causal, Ulysses packed, and the Python
#            ring_flash_attn_func over NCCL (torchrun; needs .device-ring/libflashattention.so.gz).
# Environment: RING_TOKENS overrides the timed token counts.
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
phase=${1:-all}
gunzip -c .device-ring/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache NCCL_NVLS_ENABLE=0 FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"
nvidia-smi topo -m > "$OUT/topo.txt" 2>&1; head -6 "$OUT/topo.txt"
P=$(nvidia-smi -L | wc -l)
python3 -c "import torch; print('torch', torch.__version__, 'nccl', torch.cuda.nccl.version())" 2>&1 | tail -1
python3 - <<'PY' 2>&1 | tail -3
import site, glob
for s in site.getsitepackages():
    for p in glob.glob(s + "/nvidia/*/lib/libnccl.so*"): print("nccl wheel:", p)
PY
summary=()
run() {  # name, ranks, timeout, args...
  local name=$1 ranks=$2 limit=$3; shift 3
  local devices=$(seq -s, 0 $((ranks - 1)))
  CUDA_VISIBLE_DEVICES=$devices timeout "$limit" /tmp/fa ring-bench --ring "$ranks" "$@" > "$OUT/$name.txt" 2>&1
  local code=$?
  echo "== $name (exit $code)"; grep -E "check|ring P=|error|FAIL|NCCL|exited" "$OUT/$name.txt" | cut -c1-900 | head -20
  summary+=("$name exit $code")
  stamp "$name"
  return $code
}
case "$phase" in
  bringup)
    run ring_check "$P" 240 --check-tokens 8192 --tokens 32768 --iterations 3 || { tail -30 "$OUT/ring_check.txt"; exit 1; }
    run ulysses_check "$P" 150 --strategy ulysses --check-tokens 8192 --tokens 32768 --iterations 3
    run ring_128k "$P" 240 --check-tokens 0 --tokens ${RING_TOKENS:-131072} --iterations 5 ;;
  extra)
    # Packed batches, GQA, non-causal, Ulysses packed, and the Python function over NCCL.
    run ring_varlen_gqa "$P" 200 --check-tokens 8192 --check-varlen --kv-heads 4 --tokens ${RING_TOKENS:-131072} --iterations 5
    run ring_noncausal "$P" 150 --check-tokens 8192 --check-varlen --non-causal --tokens ${RING_TOKENS:-131072} --iterations 5
    run ulysses_varlen "$P" 150 --strategy ulysses --check-tokens 8192 --check-varlen --kv-heads 4 --tokens 32768 --iterations 3
    if [ -f .device-ring/libflashattention.so.gz ]; then
      gunzip -c .device-ring/libflashattention.so.gz > /tmp/libflashattention.so
      PYTHONPATH=$PWD/python FLASH_ATTENTION_LIB=/tmp/libflashattention.so timeout 200 \
        python3 -m torch.distributed.run --nproc_per_node="$P" python/tests/test_ring_flash_attn.py > "$OUT/python_ring.txt" 2>&1
      code=$?; echo "== python_ring (exit $code)"; grep -E "python ring|Error|error" "$OUT/python_ring.txt" | cut -c1-400 | head -12
      summary+=("python_ring exit $code"); stamp python_ring
    fi ;;
  *)
    # All on one machine: P = all GPUs, then P = 2 on the first two, then 1M tokens.
    run ring_p$P "$P" 200 --check-tokens 8192 --tokens ${RING_TOKENS:-131072} --iterations 5 || { tail -30 "$OUT/ring_p$P.txt"; }
    grep -q "ring P=" "$OUT/ring_p$P.txt" || { echo "no timing line: stopping"; exit 1; }
    run ulysses_p$P "$P" 150 --strategy ulysses --check-tokens 8192 --tokens ${RING_TOKENS:-131072} --iterations 3
    [ "$P" -gt 2 ] && run ring_p2 2 150 --check-tokens 8192 --tokens ${RING_TOKENS:-131072} --iterations 5
    run ring_1m "$P" 300 --check-tokens 0 --tokens 1048576 --iterations 1 --no-baseline ;;
esac
echo "== summary"; printf '%s\n' "${summary[@]}"
grep -h "ring P=\|check " "$OUT"/*.txt | sed 's/^\[rank 0\] //' | cut -c1-900
