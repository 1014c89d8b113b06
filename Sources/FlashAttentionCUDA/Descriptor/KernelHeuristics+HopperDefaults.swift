import FlashAttentionCore

// The Hopper forward's measured defaults: each rule says where a form runs when its FLASH_ATTENTION_HOPPER_* knob is unset,
// with the timings and checks behind it. KernelHeuristics.hopperDescriptor asks them; they are pure functions of the
// problem's shape so that tests can pin every rule's edges.
extension KernelHeuristics {
    /// Whether the Hopper forward takes cuDNN's step order in its lean form (``AttentionKernelDescriptor/leanExponentialTurn``,
    /// suffix `xtxl`, with precomputed descriptors and without the early rescale) when `FLASH_ATTENTION_HOPPER_EXPTURN` is
    /// unset: causal tile D = 64 on the two-warpgroup rows (the table's 128-row tiles below 2k queries), dense, outputs
    /// of the input type, 1…2048 keys.
    ///
    /// H100, session 12 (hopfwd23, scripts/device/hopper_fwd23.sh, two calls of 4 and 8 interleaved rounds, ratio to the
    /// kernels shipped before, bf16 and fp16): causal D = 64 512 1.006–1.023, 768 1.016–1.046, 1k 1.008–1.034, 1.5k
    /// 1.003–1.126, every round ≥ 1.0; with every check green with the form forced (pinned and dense float64 oracle, the
    /// torch float64 oracle on odd shapes with Sq ≠ Sk and rows that see no key, on 2-block grids too, memcheck and
    /// racecheck). Not the three-warpgroup row from 2k (0.947–0.978), unmasked rows (0.78–0.97) or tile D = 128 (level
    /// at causal 512, 0.97–0.98 at 1k).
    ///
    /// Since session 13 also causal tile D = 128 at 513…1024 keys, where it runs overlapped
    /// (``defaultOverlappedExponentialTurn(tileHeadDim:causal:seqlenK:)``, which has the timings). Sessions 14–18 also took
    /// 1025…2048 keys (with at most 2048 queries, `xo`); since session 19 those run the shipped order with the speculative
    /// maximum instead (``defaultSpeculativeMax(tileHeadDim:causal:seqlenK:)``, which the split orders cannot take).
    ///
    /// Session 19 (scripts/device/next_s19.sh, sustained 2.5 s windows at the 700 W cap, two per form and dtype): causal
    /// D = 128 2k, `…soxdsx` ÷ `…soxdxtxlxolr` 1.003–1.019 (bf16) / 1.014–1.026 (fp16), every window, at 1.4 % less energy per
    /// FLOP; at 1k the shipped order with `sx` only tied `xoa` + `lr` (0.994–1.007), so 1k keeps it; at causal D = 64 512 / 1k
    /// it lost (0.929–0.959), so tile D = 64 keeps the lean order.
    public static func defaultLeanExponentialTurn(tileHeadDim: Int, causal: Bool, consumerWarpgroups: Int, varlen: Bool,
                                                  sameTypeOutput: Bool, seqlenK: Int) -> Bool {
        guard causal && consumerWarpgroups == 2 && !varlen && sameTypeOutput && seqlenK > 0 else { return false }
        if tileHeadDim == 64 { return seqlenK <= 2048 }
        return tileHeadDim == 128 && seqlenK > 512 && seqlenK <= 1024
    }

    /// The lean order's overlapped form (``AttentionKernelDescriptor/overlappedExponentialTurn``: 0 off, 1 `xo`, 2 `xoa`) on a
    /// row that has the lean order by default, when `FLASH_ATTENTION_HOPPER_EXPOVERLAP` and `FLASH_ATTENTION_HOPPER_EXPTURN`
    /// are unset: `xoa` on causal tile D = 128 at 513…1024 keys, off elsewhere (1025…2048 keys took `xo` in sessions 14–18:
    /// see ``defaultLeanExponentialTurn(tileHeadDim:causal:consumerWarpgroups:varlen:sameTypeOutput:seqlenK:)``).
    ///
    /// H100, session 13 (hopfwd25, scripts/device/hopper_fwd25.sh and hopper_fwd25b.sh, 4 + 8 interleaved rounds, ratio to the
    /// kernels shipped before, bf16 and fp16): causal D = 128 at 1k `xoa` 1.001–1.025 in all 12 rounds (768 too); level at 512
    /// (0.978–1.028), not every round at 1.5k–2k (as low as 0.92); at causal D = 64 `xo` lost (0.94–0.98: the loop got cheaper,
    /// the per-tile code dearer). Checked forced: pinned and dense float64 oracle (on 2-block grids too), `verify`, the torch
    /// float64 oracle on odd causal shapes, memcheck and racecheck.
    ///
    /// Session 14 (hopfwd27, scripts/device/hopper_fwd27.sh and hopper_fwd27b.sh, 4 + 4 interleaved rounds, bf16 and fp16):
    /// at causal D = 128 2k `xo` 1.029–1.034 the kernel shipped before in all 16 runs (same-kernel noise ±0.4 %; `xoa` there
    /// 1.014–1.019), so 1025…2048 keys take `xo`; at 1k `xo` read 1.002–1.007 against `xoa` (small: 1k keeps `xoa`). Checked
    /// on the default route in the closing call (docs/performance.md, "Session 14").
    public static func defaultOverlappedExponentialTurn(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Int {
        guard tileHeadDim == 128 && causal && seqlenK > 512 else { return 0 }
        return seqlenK <= 1024 ? 2 : 0
    }

    /// Whether the causal tile D = 64 rows of the lean order (two consumer warpgroups, dense) store O by TMA
    /// (``AttentionKernelDescriptor/tmaStoreO``, suffix `so`) when `FLASH_ATTENTION_HOPPER_STORE` and
    /// `FLASH_ATTENTION_HOPPER_EXPTURN` are unset: up to 1k keys.
    ///
    /// H100, session 13 (hopfwd25, scripts/device/hopper_fwd25c.sh, 6 interleaved rounds, ratio to the kernel shipped before,
    /// bf16 and fp16): causal D = 64 512 1.018–1.029, 768 1.010–1.021, 1k 1.008–1.031 in every round (ncu at 512: 141.3 against
    /// 144.8 µs; the epilogue's direct stores were 14 % of the samples). Not measured past 1k. Checked forced: pinned and
    /// dense float64 oracle on 2-block grids, the torch float64 oracle, memcheck and racecheck.
    public static func defaultLeanStoreO(tileHeadDim: Int, causal: Bool, varlen: Bool, seqlenK: Int) -> Bool {
        tileHeadDim == 64 && causal && !varlen && seqlenK > 0 && seqlenK <= 1024
    }

    /// Whether the Hopper forward lets empty consumer warpgroups skip their work (``AttentionKernelDescriptor/skipEmptyWarpgroups``,
    /// suffix `ew`) on the dynamic tile scheduler (the `FLASH_ATTENTION_HOPPER_EMPTYWG=dyn` form) when that knob is unset:
    /// unmasked tile D = 64 on the three-warpgroup rows (192-row tiles), dense, outputs of the input type, at most 2048 queries
    /// and keys, and only where the last row block leaves a warpgroup empty (seqlenQ mod 192 in 1…128).
    ///
    /// H100, session 13 (hopfwd24, scripts/device/hopper_fwd24.sh, 6 interleaved rounds, ratio to the kernels shipped before):
    /// unmasked D = 64 512 1.005–1.015 (bf16) / 1.020–1.025 (fp16), 1k 0.996–1.010 / 1.010–1.013, 2k 1.027–1.040 /
    /// 1.025–1.029, every check green with the form forced (pinned and dense float64 oracle, the torch float64 oracle, on
    /// 2-block grids too, memcheck and racecheck). Neither half wins alone (`ew` 0.94–1.02, the scheduler 0.95–1.02): the
    /// persistent grid's fixed stride gives every block the same row block, so skipping helps only once tiles are handed out
    /// dynamically. Lengths without an empty warpgroup would get the scheduler alone (a loss at 512 / 1k), so they keep the row.
    ///
    /// Session 14 (hopfwd27, scripts/device/hopper_fwd27.sh and hopper_fwd27b.sh, 4 + 4 interleaved rounds): up to 4096 queries
    /// and keys — unmasked D = 64 4k 1.020–1.044 (bf16) / 1.015–1.040 (fp16) in all 16 runs (the same kernel in another set
    /// 1.001–1.036); 8k and 16k not every round (0.964–1.038), so they keep the row. 2049…4095 were not timed.
    public static func defaultSkipEmptyWarpgroups(tileHeadDim: Int, causal: Bool, consumerWarpgroups: Int, varlen: Bool,
                                                  sameTypeOutput: Bool, seqlenQ: Int, seqlenK: Int) -> Bool {
        guard tileHeadDim == 64, !causal, consumerWarpgroups == 3, !varlen, sameTypeOutput,
              seqlenQ > 0, seqlenQ <= 4096, seqlenK > 0, seqlenK <= 4096 else { return false }
        return (1...128).contains(seqlenQ % 192)
    }

    /// Whether the causal three-warpgroup row (tile D = 64, 192-row tiles, from 2k queries) takes the half-width diagonal
    /// softmax (``AttentionKernelDescriptor/halfDiagonalStep``, `hd`) and lets empty warpgroups skip their products
    /// (``AttentionKernelDescriptor/skipEmptyWarpgroups``, `ew`) when neither `FLASH_ATTENTION_HOPPER_DIAG` nor
    /// `FLASH_ATTENTION_HOPPER_EMPTYWG` is set: dense, outputs of the input type, at most 4096 queries and keys, and only where
    /// the last row block leaves a warpgroup empty (seqlenQ mod 192 in 1…128; 2048 and 4096 do, 3072 does not).
    ///
    /// H100, session 14 (hopfwd27, scripts/device/hopper_fwd27b.sh, 4 + 4 interleaved rounds, the pair forced with
    /// `FLASH_ATTENTION_HOPPER_DIAG=1 FLASH_ATTENTION_HOPPER_EMPTYWG=dyn`, ratio to the shipped kernel): causal D = 64 2k
    /// 1.030–1.047 in all 8 runs (`hd` alone 1.020–1.039, `ew` alone 1.005–1.023). Session 15, the first call
    /// (scripts/device/next_s15.sh, 6 interleaved rounds): 2k 1.033–1.050 (bf16) / 1.037–1.041 (fp16) in every round; 3k
    /// 0.962–1.019 / 0.902–1.041 (so not there: 3072 leaves no warpgroup empty, so the rule skips it), and in the same
    /// call with the pair forced the pinned float64 oracle 16/16 (2-block grid 16/16), the torch float64 forward oracle
    /// `long` on a 2-block grid 48/48 (it reached
    /// `…pdq2lthdxderew`, bf16 and fp16), memcheck 0 errors and racecheck 0 hazards at causal 2100², 2048², 2500 × 2048.
    /// Session 15, the closing calls: the default route's checks green (final_s15.sh), and at causal 4k, in sustained windows at
    /// the 700 W cap (scripts/device/final_s15b.sh: hopper_fwd29.py, 2.5 s windows, three a form and dtype, a same-kernel
    /// control at 0.991–1.006), the pair read 1.032–1.046 (bf16) / 1.030–1.044 (fp16) in every window (`hd` alone 1.016–1.025,
    /// `ew` alone 1.012–1.034, the lazy rescale 1.005–1.025), bursts 1.036–1.042; so up to 4096. At 8k the pair read
    /// 1.002–1.022, below the lazy rescale (``defaultLazyRescale(tileHeadDim:causal:consumerWarpgroups:varlen:seqlenK:overlappedExponentialTurn:)``).
    public static func defaultCausalThreeWarpgroupDiagonal(tileHeadDim: Int, causal: Bool, consumerWarpgroups: Int, varlen: Bool,
                                                           sameTypeOutput: Bool, seqlenQ: Int, seqlenK: Int) -> Bool {
        guard tileHeadDim == 64, causal, consumerWarpgroups == 3, !varlen, sameTypeOutput,
              seqlenQ > 0, seqlenQ <= 4096, seqlenK > 0, seqlenK <= 4096 else { return false }
        return (1...128).contains(seqlenQ % 192)
    }

    /// Whether the Hopper forward keeps each row's maximum lazily (``AttentionKernelDescriptor/lazyRescale``, suffix `lr`) when
    /// `FLASH_ATTENTION_HOPPER_RESCALE` is unset: the three-warpgroup tile D = 64 rows (192-row tiles, from 2k queries), causal
    /// and unmasked, dense, from 8k keys; tile D = 256, dense, unmasked from 512 keys (where `sx` does not replace it: up to 1k
    /// keys since session 19) and causal from 2k; the causal tile D = 128
    /// rows of the overlapped lean order (`xoa` by default, 513…1024 keys; `xo` where forced; 1025…2048 keys ran `xo` + `lr` in
    /// sessions 16–18 and run `sx` since session 19).
    ///
    /// H100, session 15 (hopfwd28, scripts/device/hopper_fwd28b.sh, 6 interleaved rounds, `lr` ÷ the shipped kernel): causal
    /// D = 64 16k 1.001–1.040 (bf16) / 1.007–1.018 (fp16) in every round, 2k 1.008–1.032 / 1.011–1.020 (measured before the
    /// 2k row took `hd` + `ew`, ``defaultCausalThreeWarpgroupDiagonal(tileHeadDim:causal:consumerWarpgroups:varlen:sameTypeOutput:seqlenQ:seqlenK:)``,
    /// so 2k keeps that pair alone), 8k 0.90–1.13 (the power cap's swing: not every round). Elsewhere level or slower
    /// (unmasked D = 128 0.92–1.05, unmasked D = 64 2k 0.98–1.00). Forced on every row: the pinned float64 oracle 32/32 (2-block
    /// grid 32/32), the torch float64 forward oracle `g2` 56/56 and `long` 48/48, memcheck 0 errors and racecheck 0 hazards;
    /// the output's error against naive attention 0.89–1.00× the shipped kernel's bound.
    /// Session 15, the closing calls (scripts/device/final_s15b.sh: sustained 2.5 s windows at the 700 W cap, three a form and
    /// dtype, a same-kernel control at 0.991–1.006): causal D = 64 8k 1.017–1.022 (bf16) / 1.014–1.018 (fp16) in every window,
    /// unmasked D = 64 8k 1.024–1.035 / 1.015–1.026 (bursts 1.024–1.026), at the same clock with 2–3 % less energy per FLOP;
    /// so from 8k keys on both masks. Unmasked 16k was timed only in hopfwd28's bursts (0.98–1.05 / 0.99–1.10, the cap's
    /// swing); 8193…16383 keys run the same kernels.
    ///
    /// Tile D = 256, dense: unmasked from 1k keys (512 since session 17, below; since session 27 those rows take the
    /// speculative maximum instead, defaultSpeculativeMax, where their kernel can), causal from 2k (session 16). The O rescale
    /// costs D multiplies a row per step against the step's n scores, so it weighs most at D = 256 (D / n = 256 / 80 on the
    /// unmasked row, 2 on the causal 128-key rows, against 0.73 at D = 128 and 0.5 at D = 64), and a kept maximum skips
    /// nearly all of it. H100 at the 700 W cap, sustained 2.5 s windows, three a form and dtype (scripts/device/next_s16.sh,
    /// next_s16b.sh: hopper_fwd29.py with HF29_FORMS; `lr` ÷ the shipped kernel, bf16 / fp16, every window): unmasked 1k
    /// 1.011–1.019 / 1.010–1.024, 2k 1.002–1.031 / 1.020–1.025, 4k 1.025–1.031 / 1.032–1.034, 8k 1.013–1.024 / 1.010–1.021,
    /// 16k 1.017–1.022 / 1.016–1.026;
    /// causal 2k 1.018–1.026 / 1.014–1.025, 4k 1.006–1.021 / 1.004–1.025, 8k 1.008–1.023 / 1.014–1.026, 16k 1.006–1.019 /
    /// 1.010–1.015, each at 1–3 % less energy per FLOP. Causal 1k read 1.000–1.010 / 0.998–1.030 (not every window), so it
    /// kept the eager rescale. Session 17 (scripts/device/next_s17.sh, next_s17b.sh, two calls, sustained windows as above plus
    /// two 12-call bursts a call): unmasked 512 1.002–1.038 / 1.035–1.065, then 0.989–1.030 (bf16) in the second call, with
    /// every burst at 1.038–1.042 and 2 % less energy per FLOP in both calls, so unmasked from 512 keys (shorter rows run the
    /// same kernel and were not timed); causal 1k again mixed (1.003–1.053 / 1.019–1.053, then 0.999–1.052, bursts
    /// 0.978–1.010), so causal stays eager below 2k, and causal 512 read 0.971–1.046. Forced at D = 256: the pinned float64
    /// oracle 32/32 (2-block grid 32/32), `verify` 30/30, hopper_fwd29_check.py 12/12 unmasked (2k, 8k) and 24/24 causal
    /// (1k–8k) on a 2-block grid, memcheck 0 errors and racecheck 0 hazards (causal and unmasked, 700 × 600, 2-block grid).
    ///
    /// Tile D = 128: only the causal rows of the overlapped lean order (``defaultOverlappedExponentialTurn(tileHeadDim:causal:seqlenK:)``:
    /// `xoa` at 513…1024 keys, `xo` at 1025…2048), sustained windows as above: causal 2k 1.002–1.024 (bf16) / 1.010–1.044
    /// (fp16), every window (scripts/device/next_s16c.sh); causal 1k (`xoa`) 1.008–1.011 / 1.007–1.026 every window
    /// (next_s16c.sh), then 1.006–1.031 / 0.982–1.023 and 0.999–1.023 (bf16) in session 17 (next_s17.sh, next_s17b.sh) with
    /// every burst at 1.014–1.019 and 1–2 % less energy per FLOP. Elsewhere at D = 128 it loses: unmasked 2k 0.971–0.983, 4k
    /// 0.969–0.970, causal 4k 0.977–0.991 (next_s16c.sh), the 176-key rows 0.98–1.01 at 8k / 16k (next_s16.sh; the vote sits
    /// inside the ping-pong turn; with the rescale moved off it, `xder` + `lr`, 0.978–0.998), causal 512 0.986–1.030 and
    /// unmasked 512 0.988–1.004 (next_s17b.sh). Checked on the default route (next_s17.sh, the `xo` + `lr` kernel; `xoa` + `lr`
    /// forced): the torch float64 forward oracle 135/135, 2-block grid 56/56, `long` 48/48 (2-block grid 48/48), the pinned
    /// float64 oracle 32/32, `verify` 30/30, memcheck 0 errors and racecheck 0 hazards at 2048², 1500 × 1600 GQA and 1024² on
    /// 2-block grids, bf16 and fp16.
    public static func defaultLazyRescale(tileHeadDim: Int, causal: Bool, consumerWarpgroups: Int, varlen: Bool, seqlenK: Int,
                                          overlappedExponentialTurn: Int = 0) -> Bool {
        guard !varlen else { return false }
        switch tileHeadDim {
        case 64: return consumerWarpgroups == 3 && seqlenK >= 8192
        case 128: return causal && overlappedExponentialTurn != 0
        case 256: return seqlenK >= (causal ? 2048 : 512)
        default: return false
        }
    }

    /// Whether the Hopper forward takes the speculative row maximum (``AttentionKernelDescriptor/speculativeMax``, suffix `sx`)
    /// when `FLASH_ATTENTION_HOPPER_RESCALE` is unset: tile D = 128 and (since session 26) tile D = 64 unmasked, causal tile
    /// D = 64 / 128 from 513 keys, and unmasked tile D = 256 (from 1025 keys in session 19, at every length since session 27),
    /// dense or varlen, on every row whose kernel can take it (the shipped step order; the generator refuses the split-softmax
    /// orders `xt` / `xl` / `xo`, `vt`, tile D = 256 without xd + er and the three-warpgroup rows without precomputed
    /// descriptors, which keep their kernel, with the lazy rescale where
    /// ``defaultLazyRescale(tileHeadDim:causal:consumerWarpgroups:varlen:seqlenK:overlappedExponentialTurn:)`` sets it).
    ///
    /// It removes the per-score row maximum (FMNMX), the quad shuffles, α and, where no step is redone, O·α: the unmasked
    /// tile D = 128 176-key step falls from 677 SASS instructions a consumer thread (631 with `lr`) to 503. At the 700 W cap
    /// that is energy per FLOP, and the card turns it into work. H100, session 18, sustained 2.5 s windows (`sx` ÷ the
    /// session-17 kernel, bf16 / fp16, min–max over the windows):
    /// - scripts/device/next_s18.sh (two windows a form and dtype in each of two rounds): unmasked D = 128 512 1.010–1.033 /
    ///   1.017–1.020, 2k 1.073–1.076 / 1.079–1.096, 8k 1.056–1.067 / 1.069–1.073, 16k 1.071–1.072 / 1.074–1.082; causal
    ///   D = 128 8k 1.032–1.046 / 1.038–1.041, 16k 1.056 / 1.042–1.051; D = 64 8k (three warpgroups; shipped `lr`) unmasked
    ///   1.054–1.067 / 1.052–1.061, causal 1.035–1.042 / 1.039–1.046; 3–7 % less energy per FLOP.
    /// - next_s18b.sh (one window): unmasked D = 128 1k 1.039 / 1.065, 4k 1.067 / 1.083; unmasked D = 64 2k 1.035 / 1.041,
    ///   4k 1.064 / 1.064, 16k 1.060 / 1.056; causal D = 64 2k 1.011 / 1.026, 4k 1.039 / 1.060, 16k 1.058 / 1.057; unmasked
    ///   D = 64 1k 1.004 / 1.002 (its kernel cannot take it: 1k runs the row without precomputed descriptors); causal
    ///   D = 128 4k 1.000 and 512 0.967: the diagonal block's top rows kept low maxima, so the step after it asked for a
    ///   redo in most tiles; that step now runs the exact softmax.
    /// - next_s18c.sh (with that step exact; two windows, two rounds): causal D = 128 4k 1.045–1.060 / 1.053–1.060, 8k
    ///   1.028–1.057 / 1.034–1.051; causal D = 64 2k 1.015–1.062 / 1.052–1.055, 4k 1.041–1.053 / 1.034–1.059; unmasked
    ///   D = 128 512 1.004–1.043 / 1.029–1.041; unmasked D = 64 512 1.015–1.057 / 1.012–1.041 (next_s18b.sh: 0.979);
    ///   causal D = 128 512 0.988–1.052 (bf16).
    /// The two grids of the closing call (scripts/device/final_s18.sh, bursts of 20 calls, every point interleaved with cuDNN)
    /// ran `sx` at all of these rows: causal D = 128 512 read 313 / 312 TFLOP/s (bf16 / fp16) against session 17's 320 / 318
    /// in both, unmasked D = 64 512 414 / 408 and 411 / 403 against 415 / 410. So those two 512-key rows keep their kernels:
    /// tile D = 64 and causal tile D = 128 from 513 keys.
    /// Session 19 (scripts/device/next_s19.sh, two windows): two rows moved onto kernels that can take it. Causal D = 128
    /// 1025…2048 keys leave the overlapped lean order (`…soxdxtxlxolr` → `…soxdsx`: 1.003–1.019 / 1.014–1.026), unmasked
    /// D = 64 513…1024 keys take xd + er (`…soltew` → `…soltxderewsx`: 1.064–1.083 / 1.057–1.065). Where it lost again:
    /// causal D = 128 512 0.986–0.996, causal D = 64 512 / 1k in the shipped order 0.929–0.959 (their lean order stays), and
    /// causal D = 128 1k tied `xoa` + `lr` (0.994–1.007; stays).
    /// Session 19, unmasked tile D = 256 (scripts/device/next_s19b.sh, an experimental build that lifted the generator's
    /// D = 256 refusal; two windows a form and dtype in each of two rounds, ÷ the shipped `lr` kernels): 2k 1.012–1.036 /
    /// 1.010–1.013 and 4k 1.027–1.029 / 1.017–1.027 with xd + er (`…psooqlr` → `…psooqxdersx`), 8k 1.006–1.024 / 1.010–1.021
    /// and 16k 1.015–1.024 / 1.019–1.021 (`…pxderlr` → `…pxdersx`), 2–3 % less energy per FLOP; 1k 0.995–1.020 and 512
    /// 1.001–1.014 / 0.993–0.994 (bf16 / fp16) did not win every window, so up to 1024 keys kept `lr` (until session 27, below). Those kernels spilled
    /// the two tile counts (8 B) outside the key loop; the shipped ones re-derive them (`rematerializedTileCounts`) and
    /// compile clean. Checked forced (next_s19b.sh): the torch float64 forward oracle at D = 256 60/60 (2-block grid 28/28),
    /// the ramp on a 2-block grid 56/56 with and without xd + er, hopper_fwd29_check.py 12/12 at 1k / 8k and 12/12 at 2k / 4k,
    /// memcheck 0 errors and racecheck 0 hazards (1000 × 1024 and 2100 × 2000 GQA, 2-block grids).
    /// Checked on the default route (final_s18.sh; forced in next_s18.sh / next_s18c.sh): the torch float64 forward oracle
    /// 135/135, 2-block grid 56/56, `long` 48/48, the ramp inputs that force the redo and its +∞ path 112/112 (2-block grid
    /// 112/112), the pinned float64 oracle 64/64 on a 2-block grid, memcheck 0 errors and racecheck 0 hazards (512², 1024²
    /// and 900 × 1400 GQA ramp inputs, 2-block grids, bf16 and fp16).
    /// Session 26 (H200, scripts/device/next_s26d.sh, a sustained sweep of the short forward rows; two 1.5 s windows a form
    /// and dtype): unmasked D = 64 512 (`…tmaws3pdq2soltxderew` → `…soltxderewsx`, three K/V stages) 1.040–1.048 bf16 /
    /// 1.038–1.045 fp16, bursts 1.044 (cuDNN 1.02 → 1.07); the H100's sustained windows had read 1.012–1.057 there
    /// (next_s18c.sh), its burst grid level. So unmasked tile D = 64 takes it from the first key; causal D = 64 512 lost again
    /// (0.977–0.985: its lean order stays). (Same sweep: causal D = 128 512 0.994–1.009, so it keeps its kernel.)
    /// Session 27 (H200, scripts/device/next_s27.sh, next_s27b.sh): unmasked tile D = 256 at 512 keys (`…psookvxderqhlr` →
    /// `…psookvxderqhsx`) 1.015–1.021 / 1.011–1.024, then 1.010–1.013 / 1.007–1.014 against same-kernel controls at
    /// 0.999–1.005; at 1k (`…psooqxderqhlr` → `…psooqxderqhsx`) 1.018–1.020 / 1.020–1.037 (controls 0.998–0.999), 1.5–2 %
    /// less energy per FLOP; the eager rescale (session 17's 512 kernel) read 0.974–0.978. So unmasked tile D = 256 takes it
    /// from the first key (the H100 had read 512 1.001–1.014 / 0.993–0.994 and 1k 0.995–1.020 in session 19).
    public static func defaultSpeculativeMax(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        switch tileHeadDim {
        case 64, 128: return !causal || seqlenK > 512
        case 256: return !causal
        default: return false
        }
    }

    /// K/V stages of the default empty-warpgroup rows (``defaultSkipEmptyWarpgroups(tileHeadDim:causal:consumerWarpgroups:varlen:sameTypeOutput:seqlenQ:seqlenK:)``):
    /// three up to 1024 keys (512 until session 27), two beyond (`FLASH_ATTENTION_HOPPER_EMPTYWG=dyn` keeps two everywhere;
    /// `FLASH_ATTENTION_HOPPER_EWSTAGES=2|3` sets the count on every default row).
    ///
    /// H100, session 13 (hopfwd26, scripts/device/hopper_fwd26.sh, 4 interleaved rounds, the same kernel as
    /// `FLASH_ATTENTION_HOPPER_TILES=64:128x3dq FLASH_ATTENTION_HOPPER_EMPTYWG=1`, ratio to two stages): unmasked D = 64 512
    /// 1.032–1.047 (bf16) / 1.043–1.047 (fp16), every round; 1k within the call's noise (0.996–1.016), 2k 0.953–0.977.
    /// Session 14 (scripts/device/final_s13c.sh, the kernel forced, one call): 6 interleaved rounds at 512 1.032–1.052 (bf16) /
    /// 1.032–1.040 (fp16), 1k 1.001–1.017; `verify` 40/40 and the torch float64 forward oracle 135/135 (2-block grid 56/56)
    /// reached it, memcheck 0 errors and racecheck 0 hazards on 2-block grids (512², 500², 300 × 512).
    /// Session 27 (H200, sustained 1.5 s windows, three a form and dtype; `…tmaws2pdq2soltxderewsx` → the 512-key kernel
    /// `…tmaws3pdq2soltxderewsx`, the speculative maximum in both): 1k 1.022–1.037 (bf16) / 1.005–1.023 (fp16)
    /// (scripts/device/next_s27d.sh), then 1.013–1.027 / 1.001–1.024 against a same-kernel control at 0.983–1.005
    /// (next_s27e.sh), 2 % less energy per FLOP; 768 keys 0.988–1.018 and 2k 0.995–1.008 (level). So three stages up to 1k.
    /// Checked forced at every default row (next_s27e.sh): the torch float64 forward oracle at D = 64 60/60 (2-block grid
    /// 28/28), the ramp 56/56 (2-block grid 56/56), the pinned float64 oracle 32/32 on a 2-block grid, memcheck 0 errors and
    /// racecheck 0 hazards (1024² and a 1000 × 1024 GQA ramp input, 2-block grids).
    public static func defaultEmptyWarpgroupStages(seqlenK: Int) -> Int {
        seqlenK > 0 && seqlenK <= 1024 ? 3 : 2
    }

    /// The widest window that takes 64-key steps at tile D = 128 (``KernelHeuristics/narrowWindowKeys``). Session 35
    /// (H200, bf16, 16k tokens, 16 heads, `scripts/device/next_s35b.sh`: `pad_tiles_ab.py --set 8` in alternating
    /// processes, ÷ the row's 128- / 176-key kernel): causal 128-key window 1.41, 512 1.24, 1k 1.10, two-sided 256 + 256
    /// 1.22; causal 2k 0.92, 4k 0.87–0.90 (docs/performance.md, "Session 35").
    public static let defaultNarrowWindowKeys = 1024

    /// The widest window that stays on the wgmma loop at tile D = 64. Session 35 (H200, as above): causal 128-key windows
    /// ran 0.71–0.87× there on the TMA kernel (three warpgroups and 128-key steps, or two and 64), 256 keys 0.89–0.92×,
    /// 512 keys 1.07×, 1k 1.28×.
    public static let defaultWGMMAWindowKeys = 256

    /// Whether the Hopper forward deals its last round's key steps out evenly (``AttentionKernelDescriptor/streamKTail``)
    /// when `FLASH_ATTENTION_HOPPER_STREAMK` is unset: unmasked tile D = 256 past 4k keys (its 80-key row; 0 keys =
    /// unknown: no).
    ///
    /// Session 28 (H200, sustained 1.5 s windows, bf16 and fp16, ÷ the shipped kernel): the reference grid's 1024 tiles
    /// at tile D = 256 fill 7.76 rounds of 132 blocks, so a tenth of the card idles through the last one. With the tail
    /// dealt out: 8k 1.002–1.016 / 1.011–1.015 and 1.001–1.009 / 1.003–1.013 (two calls, scripts/device/next_s28d.sh,
    /// next_s28e.sh), 16k 1.009–1.012 / 1.016–1.018 and 1.012–1.013 / 1.010–1.014, about 1 % less energy per FLOP.
    /// At tile D = 128 (128-key rows up to 4k keys) each part of a tile costs about a tile's fixed overhead (its first
    /// step, the hand-over or the merge), more than the short tiles' tail saves: 512 0.91, 1k 0.94–0.95, 2k 0.97–0.98,
    /// 4k 0.99 (and 0.92–1.03 with the first protocol and xd, next_s28b.sh / next_s28c.sh); the 176-key row past 4k spills
    /// with it. Checked forced on capped grids (3 / 5 / 7 blocks, every tail tile split): the torch float64 forward oracle,
    /// the ramp, the pinned float64 oracle, memcheck and racecheck (scripts/device/final_s28.sh at tile D = 128,
    /// next_s28g.sh at tile D = 256).
    public static func defaultStreamKTail(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        tileHeadDim == 256 && !causal && seqlenK > 4096
    }

    /// Whether the Hopper forward takes two stages of per-warpgroup Q halves (``AttentionKernelDescriptor/queryHalves``
    /// 4, `q4`) on a tile D = 128 row with two Q buffers and the TMA store of O when `FLASH_ATTENTION_HOPPER_QHALVES128`
    /// is unset: nowhere yet (session 12, hopfwd22: built and checked; timings in docs/performance.md).
    public static func defaultQueryHalves128(causal: Bool, seqlenK: Int) -> Bool {
        false
    }

    /// The Hopper forward's Q halves (``AttentionKernelDescriptor/queryHalves``: 0 off, 2 `qh`, 3 `qr`) when
    /// `FLASH_ATTENTION_HOPPER_QHALVES` is unset, at tile D = 256 (rows with the TMA store of O; the heuristics
    /// keep the row's kernel where the form does not apply): causal `qr` up to 1k keys and `qh` up to 2k,
    /// unmasked `qh` up to 1k, off beyond and for unknown lengths (0 keys).
    ///
    /// H100, session 12 (scripts/device/hopper_fwd19.sh, four interleaved rounds, ratio to the kernels shipped
    /// before, bf16 / fp16): causal 512 `qr` 1.063 / 1.065 (`qh` 1.053 / 1.053), 1k `qr` 1.022 / 1.017 (`qh`
    /// 1.025 / 1.019), 2k `qh` 1.005 / 1.005, every round ≥ 1.0 (`qr` at 2k had a 0.983 round); 4k within the
    /// power cap's spread (0.90–1.14): off. Unmasked `qh` 1.026 / 1.021 at 512, 1.016 / 1.016 at 1k, but 0.94–0.96
    /// at 2k and 4k (the 80-key row without precomputed descriptors).
    public static func defaultQueryHalves(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Int {
        guard tileHeadDim == 256, seqlenK > 0 else { return 0 }
        if causal { return seqlenK <= 1024 ? 3 : seqlenK <= 2048 ? 2 : 0 }
        return seqlenK <= 1024 ? 2 : 0
    }

    /// Whether the Hopper forward runs two blocks per multiprocessor
    /// (``AttentionKernelDescriptor/twoBlocksPerMultiprocessor``) when `FLASH_ATTENTION_HOPPER_TWOBLOCKS`
    /// is unset: nowhere yet (session 11, hopfwd18: built and checked, timings in docs/performance.md).
    public static func defaultTwoBlocks(tileHeadDim: Int, causal: Bool, seqlenQ: Int, seqlenK: Int) -> Bool {
        false
    }

    /// Whether the Hopper forward runs the folded-producer form (``AttentionKernelDescriptor/foldedProducer``)
    /// when `FLASH_ATTENTION_HOPPER_FOLDED` is unset: nowhere yet (session 12, hopfwd20: built and checked;
    /// timings in docs/performance.md).
    public static func defaultFoldedProducer(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        false
    }

    /// The folded producer's form a `FLASH_ATTENTION_HOPPER_FOLDED` value asks for (K/V stages, copies in warpgroup 1's
    /// slack): `1` or `2` → (2, no), `3` → (3, no), `4` → (3, yes), `5` → (2, yes); nil (the default rule decides) for
    /// anything else, `0` included.
    public static func foldedProducerForm(knob: String?) -> (stages: Int, slack: Bool)? {
        switch knob {
        case "1", "2": (2, false)
        case "3": (3, false)
        case "4": (3, true)
        case "5": (2, true)
        default: nil
        }
    }

    /// Whether the Hopper forward stages O in the last key step's K/V stages
    /// (``AttentionKernelDescriptor/stageOInLastStage``) instead of its Q buffer when
    /// `FLASH_ATTENTION_HOPPER_OKV` is unset: tile D = 256, causal up to 1k keys, unmasked up to
    /// 512 keys (0 keys = unknown: no). Only rows that stage O in the Q buffer take it (dense
    /// 16-bit outputs of the input's type).
    ///
    /// H100, session 8 lead call (scripts/device/hopper_fwd8.sh; okv / Q-buffer staging, mean of
    /// two interleaved rounds, cuDNN in the same call): bf16 causal 512 1.043×, 1k 1.025×, 2k
    /// 0.994×; unmasked 512 1.017×, 1k 0.979×, 2k 0.966×, 4k 0.956×. fp16 causal 512 1.052×,
    /// 1k 1.024×, 2k 0.987×; unmasked 512 1.017×, 1k 0.983×, 2k 0.966×. Forced, it passed every
    /// check (pinned float64-oracle 24/24 + two-block 8/8, dense 32/32 + 16/16, verify 40/40,
    /// memcheck 0, racecheck 0).
    public static func defaultStageOInLastStage(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        guard tileHeadDim == 256, seqlenK > 0 else { return false }
        return seqlenK <= (causal ? 1024 : 512)
    }

    /// Whether the Hopper forward stages consumer warpgroup 0's O in a 32 KB buffer of its own
    /// (``AttentionKernelDescriptor/stageOInOwnBuffer``, warpgroup 1's in the last V stage) on the 128-key
    /// D = 256 rows (``AttentionKernelDescriptor/separateValueTurn``) when `FLASH_ATTENTION_HOPPER_OWNO` is unset:
    /// causal tile D = 256 up to 2k keys (0 keys = unknown: no), where the rows stage O in the last K/V stages
    /// (up to 1k) or the Q buffer (2k) otherwise. Not under `FLASH_ATTENTION_HOPPER_OKV=0`.
    ///
    /// H100, session 11 (scripts/device/hopper_fwd17.sh; mean-of-rounds ratio to shipped, interleaved in one
    /// process, bf16 / fp16): call 1 (four rounds) causal 512 1.029 / 1.025, 1k 1.008 / 1.007, 2k 1.023 / 1.026,
    /// 4k 1.024 / 1.013; call 2 (five rounds) 1k 1.010 / 1.009, 2k 1.024 / 1.019, 4k 1.024 / 1.029, 8k 1.028 /
    /// 0.994, 16k 0.969 / 0.985. Every round ≥ 1.0 at 512, 1k and 2k in both calls; at 4k one or two rounds of
    /// each type fell to 0.96–0.99 (the power cap's ±5–10 % there), past it level: so up to 2k. Against cuDNN
    /// at 512: 0.889 / 0.896 → 0.915 / 0.918. At 2k the same gain comes from leaving the Q buffer
    /// (`FLASH_ATTENTION_HOPPER_OKV=1`, both warpgroups in the last stages: 1.021 / 1.025); at 512 and 1k, where
    /// the rows already stage there, from the own buffer alone (that control 1.000 / 0.997, 0.998 / 0.999).
    /// Forced on every 128-key row it passed every check (pinned float64 oracle 16/16 + two-block 12/12 +
    /// without the early rescale three-block 12/12; dense D = 240/256 32/32 + two-block 32/32 + 24/24; verify
    /// over 129–1500 keys 30/30 + 12/12; memcheck 0 and racecheck 0 (twice) on causal 640 × 640 on two blocks).
    public static func defaultStageOInOwnBuffer(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        tileHeadDim == 256 && causal && seqlenK > 0 && seqlenK <= 2048
    }

    /// Whether the Hopper forward runs the half-width diagonal softmax
    /// (``AttentionKernelDescriptor/halfDiagonalStep``) when `FLASH_ATTENTION_HOPPER_DIAG` is unset:
    /// causal, tile D = 64 or 128, up to 1k keys (0 keys = unknown: no); the heuristics take it on
    /// dense problems with 16-bit outputs of the input's type and two consumer warpgroups, the
    /// kernels it was timed on.
    ///
    /// H100, session 8 (scripts/device/hopper_fwd9.sh; hd / shipped, means of two interleaved
    /// rounds, every run faster; unmasked points running the same kernel 0.994–1.004×): D = 64
    /// bf16 512 1.021×, 1k 1.019×, fp16 1.021× / 1.018×; D = 128 bf16 1.009× / 1.005×, fp16
    /// 1.015× / 1.006×. D = 256 (64-key steps) lost: 0.951–0.978×. ncu, D = 64 512 bf16: 6.1 %
    /// fewer instructions, 1.4 % less time. Forced on every causal row it passed every check
    /// (pinned float64 oracle 24/24 + two-block 18/18, dense 48/48 + 24/24, verify 40/40, memcheck
    /// 0, racecheck 0).
    public static func defaultHalfDiagonalStep(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        causal && (tileHeadDim == 64 || tileHeadDim == 128) && seqlenK > 0 && seqlenK <= 1024
    }

    /// Whether the Hopper forward issues the diagonal step's products at half width
    /// (``AttentionKernelDescriptor/narrowDiagonal``) beside the half-width diagonal softmax when
    /// `FLASH_ATTENTION_HOPPER_NARROWDIAG` is unset (the heuristics ask only on rows that take
    /// ``defaultHalfDiagonalStep(tileHeadDim:causal:seqlenK:)``).
    ///
    /// Off everywhere: slower wherever it was timed. H100, session 11 (scripts/device/hopper_fwd16.sh, two
    /// calls, knob forced, shipped / candidate interleaved in the same call, cuDNN beside; the unmasked
    /// points, the same kernel in every column, read 0.996–1.006): S and P·V at half width (`=1`) 0.90 /
    /// 0.81–0.82× at causal D = 64 N = 512 / 1k, 0.91–0.93 / 0.78–0.81× at D = 128, 0.73× at D = 128 2k
    /// (five rounds, every round under 1); the S product alone (`=2`) 0.92 / 0.86× and 0.92 / 0.79–0.82×,
    /// 0.75–0.77× at 2k; the first form (the loop's first step peeled) 0.91 / 0.84× and 0.93 / 0.81–0.83×.
    /// Forced, every form passed every check (pinned float64 oracle, dense oracle, `verify`, a float64
    /// torch reference on causal shapes with Sq = Sk and Sq ≠ Sk, memcheck, racecheck).
    public static func defaultNarrowDiagonal(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        false
    }

    /// Whether the Hopper forward precomputes its wgmma descriptors
    /// (``AttentionKernelDescriptor/precomputedDescriptors``) when `FLASH_ATTENTION_HOPPER_DESC` is
    /// unset: causal tile D = 128 at every length, causal tile D = 64 past 1k keys, causal tile D = 256
    /// at every length, unmasked tile D = 256 and (since session 26) tile D = 128 up to 512 keys (0 keys = unknown: no); and,
    /// beside the early rescale (`earlyRescale`, ``defaultEarlyRescale(tileHeadDim:causal:seqlenK:)``),
    /// unmasked tile D = 64 at every length (513…1024 keys since session 19: see ``defaultEarlyRescale(tileHeadDim:causal:seqlenK:)``),
    /// and unmasked tile D = 256 at every length (1025…8191 keys since session 19, beside `sx`:
    /// ``defaultSpeculativeMax(tileHeadDim:causal:seqlenK:)``).
    ///
    /// H100, session 9 (scripts/device/hopper_fwd12.sh, two calls: xd / shipped in five interleaved
    /// rounds over the full forward grid, bf16 + fp16, cuDNN in the same calls; the geometric mean of
    /// the ten ratios per point): causal D = 128 1.016 / 1.022 / 1.037 / 1.028 / 1.037 / 1.028 at
    /// N = 512…16k; causal D = 64 2k–16k 1.009–1.035 (0.982–0.994 at 512 / 1k); causal D = 256 1.022 /
    /// 1.053 / 1.035 at 512 / 1k / 2k, 1.017 / 1.025 at 8k / 16k (0.988 at 4k, within the spread of its
    /// ten runs, 0.923–1.096, of the same kernel that gains at 8k and 16k: on there too, review9); unmasked D = 256 at
    /// 512 1.033. It lost on the other unmasked points (D = 64 0.971–0.995, D = 128 0.950–0.997,
    /// D = 256 0.967–0.987 from 1k). Forced on every row it passed every check
    /// (pinned float64 oracle 24/24 + two-block 18/18, dense 36/36 + 24/24, verify 30/30, memcheck 0,
    /// racecheck 0).
    ///
    /// With the early rescale (session 9 part 2, scripts/device/hopper_fwd13.sh, xd + early rescale /
    /// shipped, three interleaved rounds, bf16 + fp16): unmasked D = 64 row geomean 1.012 / 1.012 / 1.022
    /// (512 1.006 / 1.005, 2k 1.028 / 1.023, 4k 1.021 / 1.055, 8k 1.025 / 0.987, 16k 1.034 / 1.015
    /// bf16 / fp16; 1k 0.994 / 0.991, so not there); unmasked D = 256 1.019 / 1.018 / 1.026 (1k 1.004 /
    /// 1.096; 2k 0.989 / 1.042 and longer level, so up to 1k). Unmasked D = 128 still lost (0.982 /
    /// 0.997 / 0.981): off.
    ///
    /// Session 15 (hopfwd29, scripts/device/hopper_fwd29.sh, one H100 call at the 700 W cap: sustained 0.8 s windows,
    /// forms alternated, three windows per form and dtype, nvidia-smi clock and power beside each): xd + early rescale
    /// on the unmasked tile D = 256 row past 4k queries (`…tmaws2pxder`) read 1.021 / 1.018 / 1.019 (bf16) and
    /// 1.005 / 1.020 / 1.008 (fp16) of the shipped kernel at N = 8k, 1.012 / 1.014 / 1.017 and 1.009 / 1.013 / 1.021 at
    /// 16k — every window — at the same clock (1372–1378 against 1381–1384 MHz) and 2 % less energy per FLOP
    /// (1.045 / 1.018 against 1.066 / 1.032 pJ); xd alone 0.982–0.995. (Session 9 had these lengths "level" in bursts,
    /// which start at different clocks under the cap.) So unmasked tile D = 256 takes both from 8k keys; 4097–8191 keys
    /// run the same kernel but were not timed, 2k–4k (the staged-store row) were not timed either. Its kernel passed a
    /// float64 check on a 2-block grid (scripts/device/hopper_fwd29_check.py: 4200 × 4100 and 4100 × 4200, bf16 / fp16).
    ///
    /// Session 26 (H200, sustained 1.5 s windows; scripts/device/next_s26d.sh, then next_s26e.sh with two rounds): unmasked
    /// tile D = 128 (`…tmaws2pq2sosx` → `…soxdsx`) at 512 keys 1.008–1.023 / 1.021–1.036 and 1.009–1.024 / 1.006–1.010
    /// (bf16 / fp16), at 256 keys 1.008–1.018 / 1.006–1.017, every window; at 1k 1.005–1.016 / 0.997–1.004 (not every
    /// window: off). Session 9's loss on that row was the H100 with the kernel before `sx` and the TMA store; not re-timed
    /// there. So unmasked tile D = 128 takes them up to 512 keys.
    public static func defaultPrecomputedDescriptors(tileHeadDim: Int, causal: Bool, seqlenK: Int, earlyRescale: Bool = false) -> Bool {
        guard seqlenK > 0 else { return false }
        if !causal {
            switch tileHeadDim {
            case 64: return earlyRescale
            // (Session 26, H200: up to 512 keys.)
            case 128: return seqlenK <= 512
            // (Beside the early rescale at every length since session 19: 1025…8191 keys with `sx`.)
            case 256: return seqlenK <= 512 || earlyRescale
            default: return false
            }
        }
        switch tileHeadDim {
        case 128: return true
        case 64: return seqlenK > 1024
        case 256: return true
        default: return false
        }
    }

    /// Whether the Hopper forward rescales O at the end of the step that computed α
    /// (``AttentionKernelDescriptor/earlyRescale``) when `FLASH_ATTENTION_HOPPER_EARLYRESCALE` is
    /// unset: causal tile D = 64 at every length, causal tile D = 256 up to 1k keys, unmasked tile
    /// D = 64 at every length (513…1024 keys since session 19), unmasked tile D = 256 at every length (up to 1k and from 8k
    /// since session 15, between since session 19 beside `sx`: ``defaultSpeculativeMax(tileHeadDim:causal:seqlenK:)``; sustained windows
    /// at the power cap: see ``defaultPrecomputedDescriptors(tileHeadDim:causal:seqlenK:earlyRescale:)``) (0 keys =
    /// unknown: no). On
    /// the unmasked rows it comes with the precomputed descriptors
    /// (``defaultPrecomputedDescriptors(tileHeadDim:causal:seqlenK:earlyRescale:)``), with which it was measured.
    ///
    /// H100, session 9 part 2 (scripts/device/hopper_fwd13.sh, one call: shipped / DESC=1 + EARLYRESCALE=1
    /// / EARLYRESCALE=1 in three interleaved rounds over the full forward grid, bf16 + fp16, cuDNN in the
    /// same call; mean-of-rounds ratios bf16 / fp16): causal D = 64 (early rescale alone, the shipped
    /// kernels) row geomean 1.023 / 1.023 / 1.028, 512 1.012 / 1.013 and 1k 1.011 / 1.011 (every run
    /// ≥ 1.005 with the half-width diagonal kernel), 2k–16k 0.991–1.054 (the xd kernel, run in both
    /// settings: the two means of each point average ≥ 1.000); causal D = 256 512 1.004 / 1.032 and
    /// 1.003 / 1.036, 1k 1.007 / 1.054 and 1.023 / 1.049 (both settings; 2k 0.995–1.018, past 2k
    /// 0.92–1.04: off); unmasked D = 64 and D = 256 with xd as above. Off on D = 128: causal
    /// 0.992 / 0.995 / 1.001 beside xd, unmasked 0.975 / 0.977 / 0.967 alone and 0.982 / 0.997 / 0.981
    /// with xd. Forced it passed every check (pinned float64 oracle 24/24 + two-block 18/18 with xd,
    /// 18/18 alone; dense 36/36 + 24/24 with xd, 24/24 alone; verify 30/30; memcheck 0, racecheck 0).
    ///
    /// Session 19 (scripts/device/next_s19.sh, sustained 2.5 s windows at the 700 W cap): unmasked D = 64 1k, whose
    /// three-warpgroup kernel without xd (`…soltew`) spills with the speculative maximum, takes xd + er, and with them `sx`
    /// (`…soltxderewsx`): 1.064 / 1.083 (bf16) and 1.065 / 1.057 (fp16) of `…soltew`, every window, 7 % less energy per FLOP;
    /// ÷ cuDNN 1.000 → 1.074. Checked forced: the torch float64 forward oracle on a 2-block grid 135/135.
    public static func defaultEarlyRescale(tileHeadDim: Int, causal: Bool, seqlenK: Int) -> Bool {
        guard seqlenK > 0 else { return false }
        switch (tileHeadDim, causal) {
        case (64, true): return true
        case (256, true): return seqlenK <= 1024
        // (513…1024 keys since session 19, with `sx`: see the doc comment.)
        case (64, false): return true
        // (From 8k keys with the precomputed descriptors: session 15, see defaultPrecomputedDescriptors.)
        // (1025…8191 keys since session 19, with `sx`: see defaultSpeculativeMax.)
        case (256, false): return true
        default: return false
        }
    }

    /// Whether the Hopper forward runs tile D = 256 in 128-key steps with one K and one V stage, P·V and
    /// S in separate ping-pong turns (``AttentionKernelDescriptor/separateValueTurn``, with the precomputed
    /// descriptors and the TMA store of O), when `FLASH_ATTENTION_HOPPER_WIDE256` is unset: causal tile
    /// D = 256 with at least 512 queries and 512 keys, where it was measured (Sq = Sk measured, 512…16k;
    /// decode-like few queries over many keys, or many queries over few keys, were not, and one stage
    /// there likely loses its K load latency); dense problems with 16-bit outputs of the input's type (the
    /// form needs the staged store; the others keep their row). Not under `FLASH_ATTENTION_HOPPER_DESC=0`.
    ///
    /// H100, session 10 (scripts/device/hopper_fwd14.sh, call 2: shipped / S in halves / separate turns /
    /// separate turns + early rescale, three interleaved rounds over the D = 256 grid, bf16 + fp16, cuDNN in
    /// the same call; mean-of-rounds ratio to shipped, bf16 / fp16): separate turns, causal 512 1.016 /
    /// 1.014, 1k 1.020 / 1.017, 2k 1.023 / 1.027, 4k 1.084 / 1.070, 8k 1.043 / 1.088, 16k 1.148 / 1.105
    /// (N-range geomeans 1.017 / 1.051 / 1.096; 10 of 12 points ≥ 1.0 in every round, fp16 4k and bf16 8k
    /// one round each at 0.991 / 0.987 under the power cap's ±5 %; with the early rescale everywhere 11 of
    /// 12 and the same means); unmasked 0.95–0.99: off. S in halves within one turn (a first form, two calls):
    /// causal 0.98–1.00 up to 2k and 1.03–1.16 from 4k, unmasked 0.86–0.92: removed (session 10, hopfwd15). Forced, both
    /// forms passed every check (pinned float64 oracle 24/24 + two-block 18/18 + early rescale 18/18 +
    /// O in the Q buffer 12/12; dense 36/36 + 24/24 + 24/24 + 16/16; verify 30/30; memcheck 0; racecheck
    /// 0, also with O in the Q buffer), but those checks ran almost only tiles of one key step (review10:
    /// four dense cases of 777 keys had more), and with O in the Q buffer they reached the early-rescale
    /// kernels (`…sooqxdervt`), not the `…sooqxdvt` the rows past 1k keys run; the session's closing call
    /// (scripts/device/final_s10.sh, part D) checks that shipped form over multi-step tiles.
    public static func defaultWideScoreSteps(tileHeadDim: Int, causal: Bool, seqlenQ: Int, seqlenK: Int) -> Bool {
        tileHeadDim == 256 && causal && seqlenQ >= 512 && seqlenK >= 512
    }

    /// Whether the Hopper forward's rows take the programmatic dependent launch
    /// (``AttentionKernelDescriptor/dependentLaunch``) by default: nowhere. H200, session 24 (scripts/device/next_s24.sh and
    /// next_s24b.sh, `hopper_fwd29.py` sustained windows of back-to-back calls, so each call's launch could start under the
    /// previous call's tail): level within the windows' noise at the 512 / 1k rows (0.97–1.02; unmasked D = 64 512 1.007–1.036
    /// in the first call, 0.994–1.008 in the second; bursts 0.99–1.02) and 1 % slower at unmasked D = 128 16k (0.988–0.990).
    /// Back-to-back launches on one stream already start within the previous grid's last microseconds, and the wait costs its
    /// own. Correct either way (12-call chains bitwise equal, float64 48/48, sanitizers clean): `FLASH_ATTENTION_HOPPER_PDL=1`.
    public static var defaultDependentLaunch: Bool { false }
}
