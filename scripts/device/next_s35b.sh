#!/usr/bin/env bash
# Session 35, calls 2 and 3: next_s35a.sh with the four forms alternated, no FlexAttention — call 2 on the build with
# narrow-window tiles (two consumer warpgroups, 64-key steps) for windows of at most 512 keys at every tile, call 3 on the
# final rules (64-key steps for windows of at most 1k keys at tile D = 128; at most 256 keys at tile D = 64 on the wgmma loop).
#   usage on the device: bash scripts/device/next_s35b.sh   (carry .device-me); results in $OUT.
S35_ROUNDS=${S35_ROUNDS:-"off on wide narrow narrow wide on off"} S35_FLEX=${S35_FLEX:-none} exec bash "$(dirname "$0")/next_s35a.sh"
