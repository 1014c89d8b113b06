#!/usr/bin/env bash
# Session 8's closing call: the checks (final_s8.sh), then the grids and A/B runs (final_s8b.sh), in one
# call so the machine starts once.   usage on the device: bash scripts/device/final_s8all.sh
set -uo pipefail
bash scripts/device/final_s8.sh
echo "=================== grids"
bash scripts/device/final_s8b.sh
