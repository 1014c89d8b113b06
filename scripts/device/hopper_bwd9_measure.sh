#!/usr/bin/env bash
# Session 7, hopbwd9: where one Hopper backward call's time goes (issue 9's backward bar at tile D <= 128).
# (1) ncu --clock-control none --cache-control none, gpu__time_duration + DRAM bytes of every backward
#     launch of one `flash-attn run` call (preprocess, key/value, convert; 3-pass kernels where they run),
#     fp16, 16k tokens, hidden 2048: D = 128 (H = 16) and D = 64 (H = 32), N = 512 / 1k / 2k / 8k, unmasked
#     (D = 128 N = 512 also with FLASH_ATTENTION_HOPPER_BWD=1: by default it runs the 3-pass kernels).
# (2) ncu --set full --import-source on the key/value kernel at D = 128 N = 1k and 8k (tensor pipe, issue
#     active, stall reasons, per-SASS-line stall samples in the source page).
#   usage on the device: bash scripts/device/hopper_bwd9_measure.sh   (expects .device-bwd2/flash-attn.gz)
set -uo pipefail
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
gunzip -c .device-bwd2/flash-attn.gz > /tmp/fa && chmod +x /tmp/fa || exit 1
export FLASH_ATTENTION_CACHE_DIR=/tmp/fa-cache
export FLASH_ATTENTION_NVRTC=${FLASH_ATTENTION_NVRTC:-/usr/local/cuda/lib64/libnvrtc.so}
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,power.draw --format=csv,noheader | tee "$OUT/gpu.txt"
t0=$(date +%s); stamp() { echo "[t=$(( $(date +%s) - t0 ))s] $*"; }
ncu=$(command -v ncu || ls /usr/local/cuda*/bin/ncu 2>/dev/null | head -1)
echo "ncu: $ncu; nsys: $(command -v nsys || ls /usr/local/cuda*/bin/nsys 2>/dev/null | head -1)"
python3 -c "
import numpy as np
r = np.random.default_rng(3)
for D, H in ((128, 16), (64, 32)):
    for n in ('q', 'k', 'v', 'do'):
        np.save(f'/tmp/m{D}_{n}.npy', r.standard_normal((16384, H, D), dtype=np.float32).astype(np.float16))
"
stamp data
mk() {  # D N -> npy set reshaped to (16384/N, N, H, D)
  python3 -c "
import numpy as np, sys
D, N = int(sys.argv[1]), int(sys.argv[2])
for n in ('q', 'k', 'v', 'do'):
    a = np.load(f'/tmp/m{D}_{n}.npy'); np.save(f'/tmp/r_{n}.npy', a.reshape(16384 // N, N, a.shape[1], D))
" $1 $2
}
args="run --q /tmp/r_q.npy --k /tmp/r_k.npy --v /tmp/r_v.npy --grad-out /tmp/r_do.npy --dtype float16 --device cuda --dq /tmp/o_dq.npy --dk /tmp/o_dk.npy --dv /tmp/o_dv.npy --out /tmp/o_o.npy"
for spec in 128:512:0 128:512:1 128:1024:0 128:2048:0 128:8192:0 64:512:0 64:1024:0 64:2048:0 64:8192:0; do
  IFS=: read D N F <<< "$spec"; mk $D $N
  fe=""; [ "$F" = 1 ] && fe="FLASH_ATTENTION_HOPPER_BWD=1"
  env $fe FLASH_ATTENTION_HOPPER_BWD_LOG=1 timeout 60 "$ncu" --clock-control none --cache-control none --kernel-name regex:flash_attention_backward \
    --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active \
    /tmp/fa $args > "$OUT/split_${D}_${N}_$F.txt" 2>&1
  stamp "split $D $N $F exit $?"
done
for N in 1024 8192; do
  mk 128 $N
  timeout 120 "$ncu" --clock-control none --set full --import-source yes --kernel-name flash_attention_backward_hopper --launch-skip 1 --launch-count 1 \
    -o /tmp/kv_$N -f /tmp/fa $args > "$OUT/full_$N.log" 2>&1
  stamp "full $N exit $?"
  "$ncu" -i /tmp/kv_$N.ncu-rep --page details > "$OUT/full_${N}_details.txt" 2>&1
  "$ncu" -i /tmp/kv_$N.ncu-rep --page raw --csv > "$OUT/full_${N}_raw.csv" 2>&1
  timeout 60 "$ncu" -i /tmp/kv_$N.ncu-rep --page source --csv --print-source sass > "$OUT/full_${N}_sass.csv" 2>&1
  gzip -f "$OUT/full_${N}_sass.csv" "$OUT/full_${N}_raw.csv"
  stamp "export $N"
done
python3 - "$OUT" <<'PY' | tee "$OUT/split_table.txt"
import os, re, sys
out = sys.argv[1]
print("D N forced | launches: name time_us dram_MB(r+w) tensor% | total_us | share of preprocess, kv, convert")
for f in sorted(os.listdir(out)):
    if not f.startswith("split_") or not f.endswith(".txt"): continue
    txt = open(os.path.join(out, f)).read()
    rows = []
    for blk in re.split(r"\n  (?=flash_attention)", txt)[1:]:
        name = blk.split()[0]
        def m(key):
            mm = re.search(key + r"\s+(\S+)\s+([\d,.]+)", blk)
            if not mm: return float("nan")
            unit, v = mm.group(1), float(mm.group(2).replace(",", ""))
            scale = {"ns": 1e-3, "us": 1, "usecond": 1, "msecond": 1e3, "ms": 1e3, "nsecond": 1e-3, "byte": 1e-6, "Kbyte": 1e-3, "Mbyte": 1, "Gbyte": 1e3, "KB": 1e-3, "MB": 1, "GB": 1e3, "%": 1}.get(unit, 1)
            return v * scale
        rows.append((name, m("gpu__time_duration.sum"), m("dram__bytes_read.sum") + m("dram__bytes_write.sum"), m("sm__pipe_tensor_op_hmma_cycles_active.avg.pct_of_peak_sustained_active")))
    tot = sum(r[1] for r in rows)
    print(f[6:-4], "|", "; ".join(f"{n[24:] or n} {t:.1f} {b:.0f} {p:.0f}" for n, t, b, p in rows), f"| {tot:.1f} |", " ".join(f"{r[1]/tot:.3f}" for r in rows) if tot else "")
PY
for N in 1024 8192; do
  echo "== kv D=128 N=$N"; grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|Issue Slots Busy|Issued Warp|No Eligible|Active Warps Per|Registers Per|L2 Hit Rate|DRAM Throughput|Warp Cycles Per Issued" "$OUT/full_${N}_details.txt" | head -20
done
stamp done
