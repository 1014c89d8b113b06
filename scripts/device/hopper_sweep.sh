#!/usr/bin/env bash
# Tile / persistence sweep of the Hopper TMA forward: each argument is PERSISTENT/TILES
# (TILES as FLASH_ATTENTION_HOPPER_TILES, or - for the table's), e.g. 1/64:128x3,128:176x2.
# Pinned-D oracle cases run first for each setting (a wrong setting is reported, not timed).
#   usage on the device: bash scripts/device/hopper_sweep.sh 0/- 1/- 1/64:192x2,128:176x2 ...
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
[[ -x /tmp/fa ]] || { gunzip -c .device-hop/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa; } || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_HOPPER=1
dims=${HOP_DIMS:-64,128}; seqlens=${HOP_SEQLENS:-512,2048,16384}; dtypes=${HOP_DTYPES:-bf16}
for setting in "$@"; do
  pers=${setting%%/*}; tiles=${setting#*/}
  export FLASH_ATTENTION_HOPPER_PERSISTENT=$pers
  if [[ $tiles == - ]]; then unset FLASH_ATTENTION_HOPPER_TILES; else export FLASH_ATTENTION_HOPPER_TILES=$tiles; fi
  tag="p$pers/$tiles"
  check=$(timeout 90 /tmp/fa compile --check-dims "$dims" --check-cases ${HOP_CHECK:-4} 2>&1 | tail -1)
  echo "[$tag] $check"
  timeout 120 /tmp/fa compile --bench --bench-head-dims "$dims" --bench-seqlens "$seqlens" --bench-dtypes "$dtypes" 2>&1 \
    | grep "TFLOP/s" | sed "s|^|[$tag] |"
done | tee "$OUT/sweep.txt" | grep -v "^\[.*TFLOP" 
# Compact table: one column per setting.
python3 - "$OUT/sweep.txt" <<'PY'
import re, sys, collections
rows = collections.OrderedDict(); tags = []
for line in open(sys.argv[1]):
    m = re.match(r"\[(\S+)\] (\S+) D=(\d+) N=(\d+)( causal)? \S+ ms ([\d.]+) TFLOP/s", line)
    if not m: continue
    tag = m.group(1)
    if tag not in tags: tags.append(tag)
    rows.setdefault((m.group(2), m.group(3), m.group(4), "c" if m.group(5) else "-"), {})[tag] = float(m.group(6))
print("point        " + " ".join(f"{t[:22]:>22}" for t in tags))
for k, v in rows.items():
    print(f"{' '.join(k):12} " + " ".join(f"{v.get(t, float('nan')):22.0f}" for t in tags))
PY
