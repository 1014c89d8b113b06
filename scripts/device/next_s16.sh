#!/usr/bin/env bash
# Prepared at the end of session 15 for the next session's first call (about 7 min on a fresh H100; carry .device-me with
# libflashattention.so of the tree): a sustained confirm (scripts/device/hopper_fwd29.py with HF29_FORMS: 2.5 s windows,
# forms alternated, three windows a form and dtype, nvidia-smi clock and power, fp16 where bf16 wins every window) of the
# candidates session 15 saw once or never timed:
#   - unmasked / causal tile D = 128 8k and 16k: the lazy O rescale with the rescale off the turn (XELR = DESC + EARLYRESCALE +
#     RESCALE=lazy; `lr` alone lost 0.92–0.99 there because its warp vote sits inside the ping-pong turn, hopfwd28), XE and LR
#     alone beside it, SO as the same-kernel control;
#   - causal D = 64 8k: `hd` beside the default `lr` (HDLR: `hd` alone read 1.012–1.020, `lr` 1.014–1.022 in session 15);
#   - unmasked D = 256 8k / 16k: OQ on top of the default xd + er (hopfwd29: OQ 1.011–1.023 at 8k alone), LR.
# Forms are absolute knob sets, so where the default already has a form (XE at D = 256 from 8k, LR at D = 64 from 8k) the knob
# set names the same kernel as O (a same-kernel control). Then, if time is left, hopper_fwd29_check.py (float64, 2-block grid)
# of each both-dtype candidate.
#   usage on the device: bash scripts/device/next_s16.sh
set -uo pipefail
O=${OUT:-/tmp/out}; L=/tmp/n16; mkdir -p $O $L
export FLASH_ATTENTION_NVRTC=/usr/local/cuda/lib64/libnvrtc.so FLASH_ATTENTION_LIB=$PWD/.device-me/libflashattention.so PYTHONPATH=$PWD/python
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,power.limit,temperature.gpu --format=csv,noheader
HF29_FORMS="128,8192,0:O,XELR,XE,LR,SO;128,16384,0:O,XELR,XE,LR,SO;128,8192,1:O,XELR,XE,LR;128,16384,1:O,XELR,XE,LR;64,8192,1:O,HDLR,HD,LR;256,8192,0:O,OQ,LR,XE;256,16384,0:O,OQ,LR,XE" \
  timeout 420 python3 scripts/device/hopper_fwd29.py --out $L --seconds 2.5 --skip 0.5 --windows 3 --rounds 2 --end 400 > $L/sweep.txt 2>&1
tail -70 $L/sweep.txt
(cd $L && tar czf "$O/n16.tgz" *.jsonl *.csv *.json *.log sweep.txt 2>/dev/null)
