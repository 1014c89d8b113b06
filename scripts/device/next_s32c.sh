#!/usr/bin/env bash
# Session 32, third call (the final rules: predicated mask tests kept for plain and window kernels): one A/B round of
#   bwd_options_ab.py (old, new; default routes and the mma.sync backward), then `flash-attn verify` against float64
#   (forward + backward) with the default routes and with FLASH_ATTENTION_BWD_WGMMA=0; logs in one tarball.
#   usage on the device: bash scripts/device/next_s32c.sh   (carry .device-me .device-old)
set -uo pipefail
R=${OUT:-/tmp/out}; W=/tmp/s32c; mkdir -p "$R" "$W"
for w in old new; do
  mkdir -p /tmp/libs/$w
  gunzip -c .device-$([ $w = old ] && echo old || echo me)/libflashattention.so.gz > /tmp/libs/$w/libflashattention.so
done
gunzip -c .device-me/flash-attn.gz > /tmp/fa.tmp && chmod +x /tmp/fa.tmp && mv /tmp/fa.tmp /tmp/fa || exit 1
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so PYTHONPATH=$PWD/python
ab() {
  local w=$1 tag=$2; shift 2
  FLASH_ATTENTION_LIB=/tmp/libs/$w/libflashattention.so FLASH_ATTENTION_CACHE_DIR=/tmp/c-$w-$tag timeout 200 \
    python3 scripts/device/bwd_options_ab.py "$w" "$@" >> "$W/ab_$tag.txt" 2>> "$W/ab_$tag.err"
}
for w in old new; do ab $w wgmma; done
MMA=d64_causal_2k,d128_causal_2k,d128_window_4k,d128_causal_varlen_4k,d128_causal_softcap_4k,d64_causal_softcap_4k
for w in new old; do FLASH_ATTENTION_BWD_WGMMA=0 ab $w mma --only $MMA; done
FLASH_ATTENTION_CACHE_DIR=/tmp/c-ver timeout 200 /tmp/fa verify --device cuda --cases 80 --seed 1 --dtypes float16,bfloat16 > "$W/verify_default_1.txt" 2>&1
echo "default routes seed 1 (80 cases): rc $? | $(tail -1 "$W/verify_default_1.txt")"
FLASH_ATTENTION_BWD_WGMMA=0 FLASH_ATTENTION_CACHE_DIR=/tmp/c-ver-mma timeout 180 /tmp/fa verify --device cuda --cases 80 --seed 3 \
  --dtypes float16,bfloat16 > "$W/verify_mma_3.txt" 2>&1
echo "mma.sync backward seed 3 (80 cases): rc $? | $(tail -1 "$W/verify_mma_3.txt")"
head -qn 2 /tmp/c-ver/*.cu /tmp/c-ver-mma/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$W/kernels_verify.txt"
for t in wgmma mma; do head -qn 2 /tmp/c-new-$t/*.cu 2>/dev/null | grep -o 'bwd_[a-z0-9_]*' | sort -u > "$W/kernels_ab_$t.txt"; done
echo "backward kernels verify compiled: $(wc -l < "$W/kernels_verify.txt")"
tail -n 3 "$W"/ab_*.err
python3 - "$W" <<'PY'
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
tar czf "$R/s32c.tgz" -C "$W" .
