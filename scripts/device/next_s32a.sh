#!/usr/bin/env bash
# Session 32: A/B of the generic backward's option routes, the build before (HEAD, .device-old) against the working tree
#   (.device-me): unconditional mask tests in the element-wise steps, one row in flight in the element-wise loaders, and
#   the halved option steps (BackwardHeuristics.optionSteps). Each build in its own process and kernel cache, alternating
#   (old, new, new, old); then the mma.sync backward on sm_90a (FLASH_ATTENTION_BWD_WGMMA=0: the A100's generated code, run
#   on the H200) for the plain masked problems the unconditional tests touch.
#   usage on the device: bash scripts/device/next_s32a.sh   (carry .device-me .device-old)
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
for w in old new new old; do ab $w wgmma; done
MMA=d64_causal_2k,d128_causal_2k,d128_window_4k,d128_causal_varlen_4k,d128_causal_softcap_4k,d64_causal_softcap_4k
for w in old new new old; do FLASH_ATTENTION_BWD_WGMMA=0 ab $w mma --only $MMA; done
for tag in wgmma mma; do
  head -qn 2 /tmp/c-new-$tag/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$R/kernels_new_$tag.txt"
  head -qn 2 /tmp/c-old-$tag/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$R/kernels_old_$tag.txt"
done
tail -3 "$R"/ab_*.err
python3 - "$R" <<'PY'
import sys, collections, statistics
r = sys.argv[1]
for tag in ("wgmma", "mma"):
    t = collections.defaultdict(lambda: collections.defaultdict(list)); norms = collections.defaultdict(dict)
    for line in open(f"{r}/ab_{tag}.txt"):
        f = line.split()
        t[f[1]][f[0]].append(float(f[2])); norms[f[1]][f[0]] = f[-3:]
    print(f"--- {tag}: problem, old ms, new ms, new/old time, norms agree")
    for name, d in t.items():
        o, n = statistics.median(d.get("old", [0])), statistics.median(d.get("new", [0]))
        a, b = norms[name].get("old", ["nan"] * 3), norms[name].get("new", ["nan"] * 3)
        agree = max(abs(float(x) - float(y)) / max(abs(float(y)), 1e-30) for x, y in zip(a, b)) < 2e-3
        print(f"{name:30s} {o:8.3f} {n:8.3f} {n / o if o else 0:6.3f} {agree}")
PY
