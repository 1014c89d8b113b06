#!/usr/bin/env bash
# Session 13 (hopfwd25), call 3: knob-only forms at causal D = 64 (N = 512, 768, 1k) beside the lean order, from call 2's
# ncu source pages (per-tile code — the first step, the epilogue's direct stores — outweighs the loop at N = 512): the TMA
# store of O (FLASH_ATTENTION_HOPPER_STORE=1, `so`), `so` with the overlapped order (`xo`), `so` with the sleeping
# producer waits (`ps`); 6 interleaved rounds against the shipped kernels, cuDNN, ncu lines at 512; checks with `so`
# forced (and `so` + `xo`): pinned / dense / torch float64 oracles, memcheck + racecheck on a 2-block grid.
#   usage on the device: bash scripts/device/hopper_fwd25c.sh   (carry .device-hopfwd25; timeout_s 400)
# Results (H100, 105.3 s wall): checks green (pinned 48 + 24, dense 24, torch 48, memcheck 0, racecheck 0; so + xo 24, 48);
#   so / shipped 1.008-1.031 in every round at causal D = 64 512 / 768 / 1k (cuDNN 0.90 -> 0.92 at 512); so + ps the same;
#   so + xo 0.978-1.017; ncu causal D = 64 512: so 141.3 us / 47.05 M instructions (shipped 144.8 / 47.98 M).
HW_DIMS=64 HW_SN=512,768,1024 HW_ROUNDS=${HW_ROUNDS:-6} HW_BUDGET=${HW_BUDGET:-300} HW_SUFFIX='xlx?o?' \
  HW_FN="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_STORE=1" \
  HW_FN2="FLASH_ATTENTION_HOPPER=1 FLASH_ATTENTION_HOPPER_STORE=1 FLASH_ATTENTION_HOPPER_EXPOVERLAP=1" \
  HW_CHECK_LIST="pinned pinned_g2 dense_g2 oracle_g2 memcheck racecheck pinned2_g2 oracle2_g2" \
  HW_SETS="base:X=1 so:FLASH_ATTENTION_HOPPER_STORE=1 xoso:FLASH_ATTENTION_HOPPER_STORE=1,FLASH_ATTENTION_HOPPER_EXPOVERLAP=1 sops:FLASH_ATTENTION_HOPPER_STORE=1,FLASH_ATTENTION_HOPPER_PRODUCERSLEEP=1" \
  bash .device-hopfwd25/hopper_fwd25.sh
