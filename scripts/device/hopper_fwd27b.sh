#!/usr/bin/env bash
# Session 14 (hopfwd27), call 2: confirmation rounds of call 1's every-round winners and two pairings, against shipped, no torch,
# no checks (allotment): xo at causal D = 128 1k / 2k, xo + the half-width diagonal softmax (DIAG=1) at 2k, empty warpgroups
# (EMPTYWG=dyn) and that + DIAG=1 at D = 64 2k / 4k (causal: ew / hd + ew on the three-warpgroup row; unmasked 4k: ew on the
# dynamic scheduler).
# usage on the device: bash scripts/device/hopper_fwd27b.sh   (carry .device-hopfwd27 with flash-attn.gz; timeout_s 75)
# The call (fresh H100, 47 s wall, 41 counted seconds; run as .device-hopfwd27/confirm27.sh): docs/performance.md, "Session 14: a
# knob sweep of the mid/long forward".
H=FLASH_ATTENTION_HOPPER
export HW_SETS="base|64@2048,4096;128@1024,2048|X=1
xo|128@1024,2048|${H}_EXPTURN=lean+${H}_EXPOVERLAP=1
xohd|128@2048|${H}_EXPTURN=lean+${H}_EXPOVERLAP=1+${H}_DIAG=1
ew|64@2048,4096|${H}_EMPTYWG=dyn
hdew|64@2048,4096|${H}_DIAG=1+${H}_EMPTYWG=dyn"
HW_SKIP_TORCH=1 HW_CHECK_BY=0 HW_ROUNDS=${HW_ROUNDS:-4} bash scripts/device/hopper_fwd27.sh
