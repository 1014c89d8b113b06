#!/usr/bin/env bash
# Session 32: A/B of the generic backward's option routes, the build before (HEAD, .device-old) against the working tree
#   (.device-me): unconditional mask tests in the element-wise steps, one row in flight in the element-wise loaders, and
#   the halved option steps (BackwardHeuristics.optionSteps). Each build in its own process and kernel cache, alternating
#   (old, new, new, old); then the mma.sync backward on sm_90a (FLASH_ATTENTION_BWD_WGMMA=0: the A100's generated code, run
#   on the H200) for the plain masked problems the unconditional tests touch.
#   usage on the device: bash scripts/device/next_s32a.sh   (carry .device-me .device-old)
#   S32_ORDER / S32_MMA_ORDER set the rounds (default "old new new old" each); results go to $OUT.
set -uo pipefail
R=${OUT:-/tmp/out}; mkdir -p "$R"
for w in old new; do
  mkdir -p /tmp/libs/$w
  gunzip -c .device-$([ $w = old ] && echo old || echo me)/libflashattention.so.gz > /tmp/libs/$w/libflashattention.so
done
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
ab() {  # ab WHICH TAG [extra args]
  local w=$1 tag=$2; shift 2
  FLASH_ATTENTION_LIB=/tmp/libs/$w/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/c-$w-$tag timeout 240 \
    python3 scripts/device/bwd_options_ab.py "$w" "$@" >> "$R/ab_$tag.txt" 2>> "$R/ab_$tag.err"
}
for w in ${S32_ORDER:-old new new old}; do ab $w wgmma; done
MMA=d64_causal_2k,d128_causal_2k,d128_window_4k,d128_causal_varlen_4k,d128_causal_softcap_4k,d64_causal_softcap_4k
for w in ${S32_MMA_ORDER:-old new new old}; do FLASH_ATTENTION_BWD_WGMMA=0 ab $w mma --only $MMA; done
for tag in wgmma mma; do
  head -qn 2 /tmp/c-new-$tag/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$R/kernels_new_$tag.txt"
  head -qn 2 /tmp/c-old-$tag/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$R/kernels_old_$tag.txt"
done
tail -3 "$R"/ab_*.err
python3 scripts/device/bwd_options_ab.py --summarize "$R/ab_wgmma.txt" "$R/ab_mma.txt"
