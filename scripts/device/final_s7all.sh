#!/usr/bin/env bash
# Session 7's closing call: the checks (final_s7.sh), then the grids and A/B runs (final_s7b.sh), in one
# call so the machine starts once.   usage on the device: bash scripts/device/final_s7all.sh
set -uo pipefail
bash scripts/device/final_s7.sh
echo "=================== grids"
bash scripts/device/final_s7b.sh
