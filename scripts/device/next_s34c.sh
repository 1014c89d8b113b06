#!/usr/bin/env bash
# Session 34, call 3: the tile D = 256 (wide) backward key/value kernel with Sᵀ and dPᵀ over D rounded up to 16 (a build not
# kept), through next_s34b.sh's steps — the float64 oracle at head dims 136–224, pad_check.py --products, memcheck /
# racecheck at D = 192, the backward against the tile's products (pad_tiles_ab.py --set 6) and cuDNN's backward.
#   usage on the device: bash scripts/device/next_s34c.sh   (carry .device-me); results in $OUT.
S34_SET=6 S34_HEAD_DIMS=136,144,160,176,192,200,208,224 S34_CASES=48 S34_SEED=23 S34_SANITIZE_D=192 S34_CACHE=/tmp/cache-s34c \
  exec bash "$(dirname "$0")/next_s34b.sh"
