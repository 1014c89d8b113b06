import FlashAttentionCore

// The Hopper backward's measured defaults: where it runs (defaultOn) and, for each descriptor form, where it runs when its
// FLASH_ATTENTION_HOPPER_BWD* knob is unset, with the timings and checks behind each rule. The runtime
// (CUDABackend+HopperBackward.swift) asks them; they are pure functions of the problem so that tests can pin their edges.
extension HopperBackwardDescriptor {
    /// Whether D = 129…256 takes the wide Hopper backward (tile D = 256) without a knob
    /// (`FLASH_ATTENTION_HOPPER_BWD256=0` keeps the 3-pass kernels): yes, at every length.
    /// H100, D = 256, N = 512…16k, bf16 (two rounds) and fp16 (session 6, second call): with
    /// ``defaultWideStages(_:)`` 1.00–1.24× the 3-pass kernels (1.00–1.01 only at 512 causal),
    /// 0.73–0.93× cuDNN against their 0.63–0.86×. Checked in both stage forms (forced) on the
    /// shipped build: 48/48 pinned dense float64-oracle cases at D = 192/256 each, bitwise
    /// reruns, a random verify sweep, memcheck 0 errors and racecheck 0 hazards
    /// (docs/performance.md, "Hopper backward at D = 256").
    public static let defaultWide = true

    /// Q stages of the wide kernel when `FLASH_ATTENTION_HOPPER_BWD256_STAGES` is unset: one (with
    /// the Q ring, ``defaultWideQRing(_:)``) in every non-deterministic call; in deterministic calls
    /// two (32 KB dQ staging in two rounds, the second during the next step's first product) on
    /// unmasked problems from 4k keys, one (64 KB staging, Q reloaded behind dK) elsewhere.
    ///
    /// Non-deterministic calls (session 8 lead call, scripts/device/hopper_bwd12.sh, H100, D = 256,
    /// bf16 mean of two rounds, TFLOP/s two stages / one stage with the ring | cuDNN in the same
    /// call): unmasked 4k 345/387 | 388, 8k 362/400 | 365, 16k 372/417 | 366 (fp16 16k 365/432 | 357),
    /// so the ring's one stage is 1.10–1.18× the two where the old rule picked two.
    /// Deterministic calls (session 8, hopbwd14, scripts/device/hopper_bwd14.sh, one bf16 and one
    /// fp16 round; ordered dQ, two writers), the ring's one stage forced ÷ this rule without the ring:
    /// unmasked 8k 0.67/0.69×, 16k 0.56/0.56× (the 64 KB add a step in key-block order: the two-stage
    /// form's second round hides the writer's turn), 4k 1.00/1.02× (level, so two stages stay from 4k);
    /// where one stage runs the ring is 0.99–1.12× (causal 4k/8k/16k 1.07/1.09/1.12× bf16). Session 6
    /// (without the ring): unmasked 4k/8k/16k two stages 1.08/1.14/1.13× one stage (fp16
    /// 1.07/1.15/1.18×), but 0.90–0.98× at 512…2k; causal two stages 0.90–0.95× up to 8k.
    public static func defaultWideStages(_ problem: BackwardProblem) -> Int {
        !problem.deterministic ? 1 : problem.mask == .none && problem.seqlenK >= 4096 ? 2 : 1
    }

    /// Whether the wide kernel's one-stage form keeps Q in its ring (``wideQRing``) when
    /// `FLASH_ATTENTION_HOPPER_BWD256_QRING` is unset: always (the plan passes it only where one
    /// stage runs; `=0` turns it off, `=1` forces it as the default does).
    ///
    /// H100 (session 8 lead call, scripts/device/hopper_bwd12.sh, D = 256, non-deterministic
    /// calls, bf16 mean of two rounds, fp16 one round similar; TFLOP/s shipped one-stage-or-two
    /// rule without the ring / the ring with one stage forced everywhere | cuDNN, same call):
    /// unmasked 512 231/237 | 217, 1k 309/314 | 289, 2k 349/353 | 351, 4k 345/387 | 388,
    /// 8k 362/400 | 365, 16k 372/417 | 366; causal 512 151/150 | 156, 1k 220/226 | 239,
    /// 2k 291/304 | 312, 4k 343/367 | 369, 8k 375/409 | 419, 16k 391/417 | 416 — level or ahead
    /// everywhere (1.03–1.10× causal from 1k). Checked forced (one stage): 48/48 float64-oracle
    /// cases at D = 192/256 deterministic and 48/48 non-deterministic (arrival order), 10 bitwise
    /// reruns, `verify` 30/30, memcheck 0 errors, racecheck 0 hazards. Deterministic calls (ordered
    /// dQ, two writers; session 8, hopbwd14, hopper_bwd14.sh, one bf16 and one fp16 round) where one
    /// stage runs, ring ÷ no ring: unmasked 512/1k/2k 1.02–1.03×, causal 512 0.99×, 1k 1.00×,
    /// 2k 1.04×, 4k 1.06–1.07×, 8k 1.09–1.10×, 16k 1.07–1.12×.
    public static func defaultWideQRing(_ problem: BackwardProblem) -> Bool {
        true
    }

    /// Whether the wide kernel's one-stage form stores dK and dV through the dQ staging
    /// (``wideStagedEpilogue``; the plan passes it only with 16-bit dK and dV) when
    /// `FLASH_ATTENTION_HOPPER_BWD256_EPI` is unset: up to 8k keys (`=0` turns it off, `=1` forces it).
    ///
    /// ncu (session 8, hopbwd14, H100, the ring kernel, bf16 D = 256 causal, non-deterministic):
    /// the plain epilogue's dK/dV stores and the exit drain were 27 % of the consumers' stall
    /// samples at 1k keys (5 % at 8k). Non-deterministic bf16, two rounds (N first, then E first),
    /// staged ÷ plain, cuDNN in the first call: unmasked 512 1.11/1.11×, 1k 1.08/1.08×, 2k 1.06/1.06×,
    /// 4k 1.02/1.03×, 8k 1.01/1.00×, 16k 0.94/0.96×; causal 512 1.06/1.06×, 1k 1.08/1.08×,
    /// 2k 1.07/1.06×, 4k 1.03/1.03×, 8k 1.02/1.02×, 16k 0.96/1.01× (causal 512/1k/2k 158/245/324
    /// TFLOP/s against cuDNN's 156/239/313). Checked forced: 48/48 float64-oracle cases at
    /// D = 192/256 deterministic and 48/48 non-deterministic (46 staged launches each), bitwise
    /// reruns, memcheck 0 errors (3 runs), racecheck 0 hazards (2 runs). Default up to 8k keys (the
    /// unmasked 16k loss, 0.94/0.96×, is unexplained: the step loop disassembles identical). The
    /// session's closing call (scripts/device/final_s8all.sh) checked it as shipped (72/72 dense
    /// oracle cases with 22 staged launches, 48/48 non-deterministic with 40, Python test_large 20/20,
    /// memcheck/racecheck 0) and timed it ÷ `=0`, non-deterministic, one round: bf16 1.006–1.103×,
    /// fp16 1.023–1.111× at N = 512…8k; final_s8c.sh timed deterministic calls ÷ `=0`, two bf16
    /// rounds + fp16: 1.04–1.11× unmasked ≤ 2k, 1.01–1.06× causal, level (0.995–1.005×) at unmasked
    /// 4k/8k, where deterministic calls run two stages and so never take it.
    public static func defaultWideStagedEpilogue(_ problem: BackwardProblem) -> Bool {
        problem.seqlenK > 0 && problem.seqlenK <= 8192
    }

    /// Whether the Hopper backward runs without `FLASH_ATTENTION_HOPPER_BWD=1`:
    /// - D = 129…256 (tile D = 256): ``defaultWide``, except causal D ≤ 192 with ≤ 1k keys;
    /// - D = 65…128: from 1k keys (H100, D = 128, bf16 and fp16: 1.09–1.50× the 3-pass
    ///   backward at N = 1k…16k, 0.95–1.06× at 512, where 4 key blocks per head leave the
    ///   writer's turn chain and the launch overhead exposed);
    /// - D ≤ 64 (tile D = 64): unmasked from 1k keys, causal from 2k (H100, D = 64, bf16 and
    ///   fp16: unmasked 1.22–1.57× the 3-pass backward at N = 1k…16k; causal 1.06–1.37× at
    ///   2k…16k but 0.94–0.95× at 1k, where half the steps are diagonal ones).
    ///
    /// docs/cuda-backward.md, "Hopper backward".
    public static func defaultOn(_ problem: BackwardProblem) -> Bool {
        guard accepts(problem) else { return false }
        // H100 (session 6, hopper_backward_mid.sh, bf16, wide ÷ 3-pass at 1k / 4k / 16k keys):
        // D = 160 1.23 / 1.16 / 1.12 unmasked, 1.01 / 1.18 / 1.15 causal; D = 192 1.15 / 1.08 / 1.08,
        // causal 0.92 / 1.08 / 1.01; D = 224 1.79–1.90, causal 1.31–1.81 (the 3-pass tile 224 is slow).
        // So causal D ≤ 192 with ≤ 1k keys keeps the 3-pass kernels (their tiles round D only to a
        // multiple of 32: less padded work where there are few steps to amortise it).
        if tileHeadDim(problem.headDim) == 256 {
            return defaultWide && !(problem.mask == .causal && problem.headDim <= 192 && problem.seqlenK <= 1024)
        }
        if problem.headDim > 64 { return problem.seqlenK >= 1024 }
        return problem.seqlenK >= (problem.mask == .causal ? 2048 : 1024)
    }

    /// dQ_partial buffers when `FLASH_ATTENTION_HOPPER_BWD_DQBUF` is unset: two at tile D = 128
    /// from 2k keys, causal or not (with a writer each, ``defaultDQWriters(_:)``), one
    /// elsewhere. Tile D = 64 fits two with its barriers in the alignment pad
    /// (``barriersInAlignmentPad``), but timed on the H100 (bf16, 2k/8k/16k) it gained 1–4 % on
    /// causal problems and lost 18 % unmasked at 8k, so it runs only with
    /// `FLASH_ATTENTION_HOPPER_BWD_DQBUF=2` (docs/cuda-backward.md).
    ///
    /// H100, one call, D = 128, N = 2k…16k: two buffers with a writer each 1.04–1.16× one
    /// buffer on causal problems (bf16; fp16 1.03–1.13×), where the single two-buffer writer
    /// had lost (it passed each turn on a step late), and 1.00–1.20× the single two-buffer
    /// writer on unmasked ones (fp16 1.03–1.27×; its 8k/16k samples sat 10–16 % under earlier
    /// calls, so part of that is the spread); level at 512 and 1k, so those keep one buffer.
    /// Checked with the form forced: 48/48 pinned float64-oracle
    /// cases, `test_large.py` 15/15, 20/20 + 2 × 15/15 bitwise reruns, memcheck 0 errors and
    /// racecheck 0 hazards over 8-block turn chains (docs/cuda-backward.md).
    ///
    /// Session 13 (hopbwd17, H100, six bf16 and four fp16 rounds): from 1k keys too — two buffers with a writer each at
    /// unmasked 1k 1.043–1.056× one buffer in every round (with the causal set, ``causalTile128ProductOrder(_:)``,
    /// causal 1k 1.019–1.025×).
    /// Session 14 (hopbwd19, H100, 6 bf16 + 3 fp16 interleaved rounds): beside the staged epilogue, two buffers at tile D = 64
    /// are the default at unmasked 2k–4k keys and causal 4k–8k, where the pair won every round against the epilogue alone
    /// (÷ the kernel shipped before: unmasked 2k 1.028–1.047, 4k 1.009–1.015; causal 4k 1.041–1.058, 8k 1.034–1.069);
    /// alone they were 0.983–0.998 below 4k, so `FLASH_ATTENTION_HOPPER_BWD_EPI=0` there is a measurement of the pair's
    /// other half, not a tuned form (docs/performance.md, "Session 14: the Hopper backward at tile D = 64").
    public static func defaultDQBuffers(_ problem: BackwardProblem) -> Int {
        switch tileHeadDim(problem.headDim) {
        case 128: return problem.seqlenK >= 1024 ? 2 : 1
        case 64:
            let range = problem.mask == .causal ? 4096...8192 : 2048...4096
            return range.contains(problem.seqlenK) ? 2 : 1
        default: return 1
        }
    }

    /// dQ writer threads when `FLASH_ATTENTION_HOPPER_BWD_DQWRITERS` is unset and two buffers
    /// run with ordered adds: two (measured at or above one writer at every D = 128 point,
    /// see ``defaultDQBuffers(_:)``).
    public static func defaultDQWriters(_ problem: BackwardProblem) -> Int {
        2
    }

    /// Whether dQ is added in key-block order when `FLASH_ATTENTION_HOPPER_BWD_DQ` is unset:
    /// always. Deterministic calls always are (the runtime); non-deterministic calls could add
    /// in arrival order (`=unordered`), but that measured level with two writers (H100, bf16
    /// D = 128: 0.97–1.05×) and its writer has not yet passed the oracle at size, so it stays
    /// a knob.
    public static func defaultOrderedDQ(_ problem: BackwardProblem) -> Bool {
        true
    }

    /// Whether the wide kernel (tile D = 256) adds dQ in key-block order when
    /// `FLASH_ATTENTION_HOPPER_BWD256_DQ` is unset (deterministic calls always do): below 2k keys
    /// (1k causal). ncu (session 7, hopbwd10, D = 256 bf16 2k keys): the consumers waited for the
    /// dQ staging about a fifth of their time behind the writer's turn chain. Arrival order
    /// (non-deterministic calls) timed 1.07–1.23× key-block order at N = 2k…16k and causal 1k,
    /// 0.97–0.99× at 512 and unmasked 1k (bf16, one round, cuDNN in the same call); the closing
    /// call of session 7 checks it against the float64 oracle in non-deterministic calls
    /// (`backward-bench --check-dense --nondeterministic`) and times it beside the ordered form.
    public static func defaultWideOrderedDQ(_ problem: BackwardProblem) -> Bool {
        problem.seqlenK < (problem.mask == .causal ? 1024 : 2048)
    }

    /// Whether the wide kernel's ordered dQ passes its turns per 64-column chunk
    /// (``wideChunkTurns``) when `FLASH_ATTENTION_HOPPER_BWD256_TURNS` is unset: never. H100
    /// (session 7, hopbwd10, D = 256, two bf16 rounds and one fp16): 0.67–0.96× the per-tile turn
    /// (unmasked 16k worst): four acquire polls, fences and releases a step lengthen the writer's
    /// cycle, which was already about 90 % of a step. Checked forced: 48/48 pinned float64-oracle
    /// cases per stage form, bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    public static func defaultWideChunkTurns(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// The wide kernel's dQ writer threads (``wideWriters``; key-block order only, so deterministic
    /// calls and short non-deterministic ones) when `FLASH_ATTENTION_HOPPER_BWD256_WRITERS` is
    /// unset: two. H100 (session 7, the lead's call after the closing one, deterministic calls,
    /// D = 256, two bf16 rounds within 1 % and one fp16, cuDNN in the same call): two writers ÷ one
    /// 1.06–1.14× unmasked from 1k keys, 1.00–1.14× causal from 2k (the most at 16k), 0.99–1.00×
    /// at 512 and causal 1k. Checked forced in both stage forms: 48/48 float64-oracle cases each,
    /// bitwise reruns, `verify` 30/30, memcheck 0 errors and racecheck 0 hazards.
    public static func defaultWideWriters(_ problem: BackwardProblem) -> Int {
        2
    }

    /// Whether the next step's Sᵀ product is pipelined behind the dQ product when
    /// `FLASH_ATTENTION_HOPPER_BWD_PIPE` is unset: never (H100, bf16: level on causal problems,
    /// 0.66–0.82× unmasked from 8k keys with one dQ buffer; docs/cuda-backward.md).
    public static func defaultPipelinedS(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// Whether dV's product is issued ahead of dSᵀ when `FLASH_ATTENTION_HOPPER_BWD_EARLYDV` is
    /// unset: on unmasked problems at tile D = 128 (D = 65…128), together with
    /// ``defaultLateDK(_:)``; off for causal ones and at tile D = 64 (where it spills).
    ///
    /// H100, one call (session 5), D = 128, N = 1k…16k, two bf16 rounds and one fp16: the early
    /// dV alone level with the shipped order (0.96–1.01×); with the late dK 1.00–1.03× unmasked
    /// (bf16 2k/4k/8k/16k 1.02/1.02/1.03/1.02×; fp16 1.00–1.02×; ncu at 8k: 2.36 against 2.42 ms,
    /// tensor pipe 66.7 against 64.2 %), but 0.86–0.95× causal (the pipelined Sᵀ loses there
    /// too, 0.89–0.94×). Checked with both forced: 48/48 pinned float64-oracle cases each,
    /// bitwise reruns, a random verify sweep, memcheck 0 errors, racecheck 0 hazards; and with
    /// two dQ buffers and two writers forced (the unmasked form from 2k keys) 48/48, bitwise,
    /// 0 errors / 0 hazards (docs/performance.md, "Hopper backward: product order").
    /// Since session 13 also causal tile D = 128 from 1k keys up to 8k, beside the mask branch and the precomputed
    /// descriptors (``causalTile128ProductOrder(_:)``, which has the timings).
    public static func defaultEarlyDV(_ problem: BackwardProblem) -> Bool {
        (problem.mask == .none && tileHeadDim(problem.headDim) == 128) || causalTile128ProductOrder(problem)
    }

    /// Heads per group of the key/value grid's order (``headGroup``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_GROUP` is unset: 4 on unmasked tile D = 64 from 4k keys, else 0
    /// (the 3-D grid). H100 (session 6, hopper_backward_group.sh, two calls): G = 4 against the 3-D
    /// grid, unmasked D = 64 bf16 1.07/1.10–1.15/1.05–1.11× at 4k/8k/16k and fp16 1.07/1.15/1.06×;
    /// 0.93–0.98× at 1k/2k (so not there); causal 0.93–1.04× (not there either). ncu at fp16 8k:
    /// L2 hit rate 96 % against 75 %, DRAM throughput 5 % against 33 % of peak — consecutive key
    /// blocks of a head find its Q, dO and dQ accumulator in L2. Checked forced (with the mask
    /// branch): 24/24 pinned float64-oracle cases at D = 64, bitwise reruns, memcheck 0 errors and
    /// racecheck 0 hazards; tile D = 128 was not timed with it.
    ///
    /// Since session 19 also unmasked tile D = 128 from 8k keys (4k since session 20), beside the mask branch
    /// (``unmaskedTile128LongForm(_:)``, which has the timings). Since session 20 one head at a time at tile D = 256
    /// (``wideHeadGroup(_:)``); since session 21 causal tile D = 64 / 128 with many kv heads and long rows
    /// (``causalManyHeadsGroup(_:)``).
    public static func defaultHeadGroup(_ problem: BackwardProblem) -> Int {
        if tileHeadDim(problem.headDim) == 256 { return wideHeadGroup(problem) }
        if causalManyHeadsGroup(problem) { return 4 }
        guard problem.mask == .none else { return 0 }
        return (tileHeadDim(problem.headDim) == 64 && problem.seqlenK >= 4096) || unmaskedTile128LongForm(problem) ? 4 : 0
    }

    /// The wide backward's (tile D = 256) grid order: one head at a time (G = 1: a head's key blocks on consecutive CTAs)
    /// from 2048 keys, causal or not, in non-deterministic calls; deterministic unmasked calls (the two-stage form, from
    /// 4096 keys) in groups of 4 / 2 / 1 heads from 4k / 8k / 16k keys; else the 3-D grid.
    ///
    /// The 3-D grid runs kv heads fastest, so the 132 resident CTAs span every head and each head's Q, dO and float32 dQ
    /// accumulator (32 MB at 16k keys) is swept by only 132 / H CTAs at once: the working set outgrows the 50 MB L2 and
    /// the kernel turns DRAM-bound. At H = 16 and 32 it fell off a cliff. H100 80GB HBM3, session 20
    /// (scripts/device/next_s20c.sh, `wide_group_s20.py`: per-call medians of 8 calls after 3 warm-up calls, bf16,
    /// non-deterministic `flash_attn_func` + autograd, the 3-D grid ÷ G = 1, two passes in opposite order):
    /// 16k keys H = 16 unmasked 149 → 439 TFLOP/s, causal 181 → 411–418; H = 32 unmasked 137 → 445–447; 8k × 2 H = 16
    /// unmasked 158 → 421–425; H = 8 (the reference grid's shape) 16k unmasked 378–381 → 415–421, causal 320–366 → 403–405;
    /// 4k × 4 unmasked 322–337 → 345–351, causal 306–313 → 305–306 (level); 2k × 8 unmasked 283–302 → 298–312. G = 2 and 4
    /// read the same within noise (1 is the form the checks ran). The closing grid of the session had read unmasked 16k
    /// H = 8 at 205 TFLOP/s in 4 of 5 rounds: the same cliff, reached when the CTAs of a head drift apart.
    /// Checked forced (G = 1): `backward-bench --check-dense` at D = 192 / 256 48/48 deterministic and 48/48 not; memcheck
    /// 0 errors and racecheck 0 hazards (arrival order, causal with the mask branch, float32 gradients).
    ///
    /// Session 21 (H200, scripts/device/next_s21.sh / next_s21b.sh): the default route checked (float64 dQ / dK / dV through
    /// `flash_attn_func` at 2048², 4100 × 4000 GQA causal, 9000 × 8500 GQA causal and not, 10/10; memcheck 0 errors and
    /// racecheck 0 hazards, arrival order causal and not, the ordered causal form through `flash-attn run`); sustained
    /// windows (H = 8, bf16) G = 1 ÷ the 3-D grid 1.045 / 1.046 at 16k unmasked / causal, 1.025 at 4k unmasked, but 0.974
    /// at 2k causal (both types, bursts too); per-call medians (bf16, `wide_group_s20.py`) at causal 2k read G = 1 ÷ the
    /// 3-D grid 1.05 / 1.04 / 1.14 at H = 8 / 16 / 32, 4k 1.04 / 1.08 at H = 8 / 16, 8k 1.00 / 1.06: many heads need it,
    /// so causal keeps the 2k threshold. Since session 21 also on the two-stage form (deterministic unmasked from 4k
    /// keys, below): `backward-bench --check-dense` D = 192 / 256 deterministic with G = 1 / 2 / 4 forced, 48/48 each;
    /// memcheck 0 errors and racecheck 0 hazards at 300 × 4200 (G = 1 forced) and on the default route (G = 4 at
    /// 300 × 4200, G = 2 at 300 × 8300 GQA); the float64 check with `deterministic=True` on the default route 12/12
    /// (scripts/device/next_s21e.sh).
    ///
    /// Deterministic calls add dQ in key-block order, so the key blocks of a head in flight at once run as a wavefront, each
    /// a turn behind the one before: with a head's key blocks on consecutive CTAs, up to 132 of them wait on one another.
    /// Session 21's per-call medians with `deterministic=True` (H200, `wide_group_s20.py` WG_DET=1, bf16) read G = 1 ÷ the
    /// 3-D grid 0.74–0.90 causal (2k H = 8 / 16 0.84 / 0.82, 4k H = 16 0.77, 8k H = 8 0.74, 16k H = 16 0.90) and unmasked
    /// 0.85 at 2k, 0.79 at 4k, 0.89 / 0.97 at 8k H = 8 / 16, 1.03 / 1.08 at 16k H = 8 / 16 — session 20 had turned it on for
    /// them untimed. Groups of G heads put about 132 / G key blocks of a head in flight; the best G keeps that near half
    /// of the head's key blocks (N / 64), so G ≈ 16384 / N (scripts/device/next_s21d.sh, H = 16, G = 0 / 2 / 4 / 8 twice in
    /// mirrored order, TFLOP/s): unmasked 4k × 4 330 / 328 → G = 4 352 / 349 (G = 2 309 / 305, G = 8 338 / 339), 8k × 2
    /// 341 / 329 → G = 2 370 / 367 (G = 4 356 / 358), 16k 350 / 347 → G = 2 369 / 370 (the call before: 357 / 358 → G = 1
    /// 389 / 387); at H = 8 on the default route 4k / 8k / 16k 1.01 / 1.02 / 1.03 (next_s21e.sh). Causal keeps the 3-D grid:
    /// at 2k and 4k every group loses (G = 8 0.91–0.99), at 8k H = 8 and 16k H = 16 G = 8 / 4 read 1.01–1.03, too little to
    /// route on.
    public static func wideHeadGroup(_ problem: BackwardProblem) -> Int {
        guard tileHeadDim(problem.headDim) == 256 && problem.seqlenK >= 2048 else { return 0 }
        if !problem.deterministic { return 1 }
        guard problem.mask == .none && problem.seqlenK >= 4096 else { return 0 }
        return problem.seqlenK >= 16384 ? 1 : problem.seqlenK >= 8192 ? 2 : 4
    }

    /// Whether an unmasked tile D = 128 problem runs the persistent key/value grid (``persistentTiles``: 132 CTAs walk the
    /// (batch, kv head, key block) tiles, key blocks fastest, loading the next tile's K and V under this tile's epilogue; dQ
    /// in arrival order) in non-deterministic calls from 4096 keys, on a card with an L2 of 56 MB or more (the H200's 60 MB;
    /// the H100 SXM's 50 MB keeps its measured form).
    ///
    /// H200, session 21 (scripts/device/next_s21f.sh, `hopper_bwd21.py` form `P` = `FLASH_ATTENTION_HOPPER_BWD_PERSIST=1
    /// FLASH_ATTENTION_HOPPER_BWD_GROUP=0`, sustained 2.5 s windows, two a form and dtype, two burst rounds, B = 16384 / N,
    /// H = 16, non-deterministic `flash_attn_func` + autograd), ÷ the shipped kernel (head groups of 4 and the mask branch),
    /// bf16 / fp16: 4k 1.030–1.033 / 1.027–1.032 (bursts 1.032–1.048 / 1.033–1.035), 8k 1.055–1.057 / 1.053–1.057 (bursts
    /// 1.049–1.054 / 1.049–1.056), 16k 1.058 / 1.059–1.061 (bursts 1.01–1.18): 569 TFLOP/s sustained at 16k against 537, cuDNN
    /// 522; 2k 0.984–0.985, so not there. On the H100 (session 8, hopbwd15) the persistent grid read level with the defaults
    /// of the time (0.98–1.01) and the shipped form has gained 2–3 % since (head groups, the mask branch), so the rule keys
    /// on the H200's larger L2 rather than guess. Checked forced on the H200: `backward-bench --check-dense` D = 128
    /// non-deterministic 24/24; float64 dQ / dK / dV (`bwd_check_s19.py`) at 8192², 8300 × 8200 GQA, 16384², 4096²,
    /// 4100 × 4000 GQA and 3000 × 4096 GQA, bf16 and fp16, 12/12 (`…_dqunordered_dqbuf2_edv_ldk_mb_pt_pd`, and
    /// `…_edv_ldk_pt_pd` below 4096 keys); memcheck 0 errors and racecheck 0 hazards at 300 × 8300 GQA and 300 × 4096.
    public static func defaultPersistentTiles(_ problem: BackwardProblem, l2CacheBytes: Int) -> Bool {
        !problem.deterministic && problem.mask == .none && tileHeadDim(problem.headDim) == 128 && problem.seqlenK >= 4096
            && l2CacheBytes >= 56 << 20
    }

    /// Whether a causal tile D = 64 / 128 problem runs head groups of 4 (``headGroup``) instead of the 3-D grid: tile D = 128
    /// from 8192 keys with 32 or more kv heads or from 4096 keys with 64 or more, tile D = 64 from 16384 keys with 64 or more.
    ///
    /// The 3-D grid runs kv heads fastest, so the resident CTAs hold only 132 / H key blocks of each head, and with many heads
    /// each head's Q, dO and dQ accumulator stream through L2 for a handful of CTAs: the same cliff as the wide kernel's
    /// (``wideHeadGroup(_:)``), milder. With the 16 heads of the reference grid it is not there. H200, session 21
    /// (scripts/device/next_s21.sh / next_s21b.sh, `wide_group_s20.py`: per-call medians of 8 calls after 3 warm-up calls,
    /// bf16, non-deterministic `flash_attn_func` + autograd, each setting twice in mirrored order), TFLOP/s 3-D grid → G = 4:
    /// tile D = 128 16k H = 32 527 / 512 → 562 / 563, H = 64 478 / 477 → 525 / 545, 8k × 2 H = 32 460 / 483 → 498 / 498;
    /// tile D = 64 16k H = 64 411 / 406 → 438 / 438. Where it loses: tile D = 128 4k × 4 H = 16 392 / 421 → 377 / 386,
    /// 2k × 8 H = 32 407 / 385 → 341 / 341; tile D = 64 16k H = 32 463 / 450 → 442 / 434, 8k × 2 H = 32 421 / 387 → 366 / 359,
    /// 4k × 4 H = 64 389 / 367 → 334 / 323. At the reference grid's tile D = 128 H = 16 causal, sustained 2.5 s windows
    /// (`hopper_bwd21.py`) read 16k 1.004–1.011, 8k 1.004–1.008 with bursts 0.98–0.99, 4k 0.991–0.996: not there.
    /// Session 22 (H200, `next_s22.sh` / `next_s22b.sh`, the same per-call medians, mirrored): tile D = 128 causal 4k × 4 with
    /// H = 64 441 / 433 → 501 / 481 and 451 / 444 → 493 / 496 (+11 %), H = 96 341 / 339 → 477 / 468 (+39 %: the cliff deepens
    /// with the heads), H = 32 448 / 456 → 475 / 449 (mixed: not taken); 2k × 8 H = 64 386 / 374 → 395 / 387 (+3 %, not taken).
    /// Float64 dQ / dK / dV on the 4k route (4096² H = 64, 4100 × 4000 GQA 128 / 64) 4 / 4.
    /// Unknown kv heads (0: a problem built without a layout) keep the 3-D grid.
    public static func causalManyHeadsGroup(_ problem: BackwardProblem) -> Bool {
        guard problem.mask == .causal else { return false }
        switch tileHeadDim(problem.headDim) {
        case 128: return (problem.seqlenK >= 8192 && problem.kvHeads >= 32) || (problem.seqlenK >= 4096 && problem.kvHeads >= 64)
        case 64: return problem.seqlenK >= 16384 && problem.kvHeads >= 64
        default: return false
        }
    }

    /// Whether an unmasked tile D = 128 problem runs the long-row form: head groups of 4 (``headGroup``) and the mask branch
    /// (``maskBranch``) beside the shipped early dV / late dK / precomputed descriptors, from 4096 keys (8192 until session 20;
    /// at 4k the staged epilogue, ``defaultStagedEpilogue(_:)``, runs beside them).
    ///
    /// Unmasked, only a tile's last key block (the sequence's end) needs the mask, but without the branch ptxas predicates it
    /// into every step: 32 FSEL a consumer thread, 463 → 437 SASS instructions a step with it. Head groups keep a head's Q, dO
    /// and dQ accumulator in L2 for its consecutive key blocks. At the 700 W cap both turn into clock: H100, session 19
    /// (scripts/device/next_s19g.sh, `hopper_bwd21.py`, sustained 2.5 s windows, two a form and dtype, B = 16384 / N,
    /// H = 16, non-deterministic `flash_attn_func` + autograd), ÷ the shipped kernel, bf16 / fp16: 8k 1.019–1.020 / 1.022 (both
    /// windows), bursts 1.053–1.068 / 1.025–1.027; 16k 1.026–1.027 / 1.025–1.029, bursts 1.094–1.138 / 1.009–1.039; 1.3–1.6 %
    /// less energy per FLOP at a 40 MHz higher clock. The mask branch alone: 4k–16k 1.002–1.007, 2k 0.980–0.996 (so not
    /// there); head groups alone read 1.007–1.010 in session 15 (hopbwd21). Checked forced: `backward-bench --check-dense`
    /// with the mask branch on every tile D = 64 / 128 backward 48/48 deterministic and 48/48 not, with head groups 24/24;
    /// scripts/device/bwd_check_s19.py (float64 dQ, dK, dV through flash_attn_func at 8192², 8300 × 8200 GQA and 16384²,
    /// bf16 and fp16, the `…_dqbuf2_w2_edv_ldk_g4_mb_pd` kernel) 6/6 at 1.4× naive attention's error. Not yet run under
    /// compute-sanitizer (the session's device time ran out): session 20's first call did (memcheck 0 errors, racecheck 0
    /// hazards at 300 × 8200 and 1000 × 8300 GQA, bf16 and fp16), and re-ran the float64 check (6/6).
    /// Session 20 (scripts/device/final_s20.sh, the same method): 4k 1.005–1.009 / 1.005–1.011 in every window, bursts
    /// 1.010–1.013 / 1.009–1.013, so from 4k keys; 2k 1.006–1.009 / 1.001–1.007 sustained but bursts level (0.999–1.003),
    /// so not there.
    public static func unmaskedTile128LongForm(_ problem: BackwardProblem) -> Bool {
        problem.mask == .none && tileHeadDim(problem.headDim) == 128 && problem.seqlenK >= 4096
    }

    /// Whether the exponentials branch on edge steps (``maskBranch``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH` is unset: on causal tile D = 64 (ptxas otherwise
    /// predicates the causal mask into every step: about 450 more SASS instructions a consumer
    /// thread a step). H100 (session 6, hopper_backward_group.sh, two calls, cuDNN in the same
    /// call): causal D = 64 bf16 1.10/1.13–1.14/1.14–1.15/1.14–1.17× the predicated mask at
    /// 2k/4k/8k/16k (two rounds), fp16 1.11/1.13/1.16/1.14×; 0.87–0.97× cuDNN against 0.79–0.85×.
    /// Unmasked D = 64 0.93–1.03× (not there); tile D = 128 causal not timed with it. Checked
    /// forced: 48/48 pinned float64-oracle cases at D = 64/128 (24 causal launches with the
    /// branch), bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    /// Since session 13 also causal tile D = 128 from 1k keys up to 8k (``causalTile128ProductOrder(_:)``), since session 19
    /// unmasked tile D = 128 from 8k keys (4k since session 20; ``unmaskedTile128LongForm(_:)``), since session 20 causal tile D = 256
    /// (``causalWideMaskBranch(_:)``).
    public static func defaultMaskBranch(_ problem: BackwardProblem) -> Bool {
        (problem.mask == .causal && tileHeadDim(problem.headDim) == 64) || causalTile128ProductOrder(problem) || unmaskedTile128LongForm(problem)
            || causalWideMaskBranch(problem)
    }

    /// Whether a causal tile D = 256 problem (the wide backward, D = 129…256) takes the mask branch: warpgroup 0's
    /// exponentials branch once on `edge` instead of predicating the causal mask into every step (the arrival-order kernel
    /// `…_causal_dqunordered_mb_qr_se_pd` has 2032 SASS instructions against 2104). At every length, whatever the dQ order.
    ///
    /// H100 80GB HBM3, 700 W, session 20 (scripts/device/next_s20b.sh, `hopper_bwd21.py` with `HB21_D=256`, sustained 2.5 s
    /// windows, two a form and dtype, B = 16384 / N, H = 8, non-deterministic `flash_attn_func` + autograd), ÷ the shipped
    /// kernel, bf16 / fp16: 512 keys 1.010–1.013 / 1.010–1.022, 1k 1.007–1.009 / 0.999–1.003, 2k 1.008–1.011 / 1.011–1.015,
    /// 4k 1.018–1.021 / 1.022–1.033, 8k 1.027–1.032 / 1.026–1.029, 16k 1.029 / 1.030–1.031 (3 % less energy per FLOP at 8k–16k).
    /// Unmasked 8k read 0.991–0.992 (only the sequence end needs the mask there), so not unmasked. Checked forced:
    /// `backward-bench --check-dense` at D = 192 / 256 48/48 deterministic and 48/48 not (float64 oracle).
    public static func causalWideMaskBranch(_ problem: BackwardProblem) -> Bool {
        problem.mask == .causal && tileHeadDim(problem.headDim) == 256
    }

    /// Whether the preprocess and the dQ conversion run in their fast forms (``fastPasses``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_FASTPASS` is unset (and O's and dQ's rows allow them): always.
    /// H100 (session 7, hopbwd9, bf16 two rounds, cuDNN in the same call): the two launches had
    /// run at 1.0–2.0 TB/s and were 16–28 % of a call at 1k keys; fast, the tile D = 64/128
    /// backward is 1.03–1.19× the old passes from 1k to 8k keys (the most where a call is short).
    /// The same bytes move at tile D = 256 (its call is longer, so it gains less); the closing
    /// call of session 7 times it there beside `=0`.
    public static func defaultFastPasses(_ problem: BackwardProblem) -> Bool {
        true
    }

    /// Whether, with the fast passes on (``fastPasses``: the knob, or ``defaultFastPasses(_:)``),
    /// the Hopper backward also takes the tile D = 64/128 problems ``defaultOn(_:)`` leaves to the
    /// 3-pass kernels, from 512 keys: D = 65…128 at 512–1023 keys, D ≤ 64 unmasked at 512–1023 and
    /// causal at 512–2047. H100 (session 7, hopbwd9, bf16, one round, cuDNN in the same call;
    /// FLASH_ATTENTION_HOPPER_BWD=1 with the fast passes ÷ the 3-pass route): N = 512 unmasked /
    /// causal 1.35 / 1.18× at D = 64 and 1.26 / 1.21× at D = 128, causal D = 64 at 1k 1.28× (without
    /// the fast passes 0.87–1.06×: the two memory-bound launches were a third of such a call).
    public static func defaultOnWithFastPasses(_ problem: BackwardProblem) -> Bool {
        accepts(problem) && tileHeadDim(problem.headDim) != 256 && problem.seqlenK >= 512
    }

    /// Whether dK's product is issued behind dQ's (with the early dV) when
    /// `FLASH_ATTENTION_HOPPER_BWD_LATEDK` is unset: wherever the early dV is on by default
    /// (``defaultEarlyDV(_:)``, which has the timings).
    public static func defaultLateDK(_ problem: BackwardProblem) -> Bool {
        defaultEarlyDV(problem)
    }

    /// Whether tile D = 128 reads each step's L and D into registers ahead of the wgmma waits
    /// (``earlyStats``) when `FLASH_ATTENTION_HOPPER_BWD_STATS` is unset: never. H100 (session 8,
    /// hopbwd13, scripts/device/hopper_bwd13.sh, non-deterministic calls, one bf16 round, cuDNN in
    /// the same call): unmasked 0.93–1.00× the shipped kernel (8k 0.93), causal 0.98–1.00× up to
    /// 8k but 1.045× at 16k (fp16 with the late fence, the same kernel there: 1.045× too; one round
    /// each, so not a default by the two-round rule). Checked forced: 48/48 float64-oracle cases
    /// deterministic and 48/48 non-deterministic, bitwise reruns, memcheck 0 errors, racecheck 0 hazards.
    public static func defaultEarlyStats(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// Whether tile D = 128's late dK form fences the staged dQ_partial after dK completes
    /// (``lateFence``) when `FLASH_ATTENTION_HOPPER_BWD_LATEFENCE` is unset: never. H100 (session 8,
    /// hopbwd13, with ``earlyStats``, unmasked): 0.96–0.97× the early statistics alone at 2k, 4k
    /// and 16k (bf16), fp16 0.92–1.02× the shipped kernel: handing dQ_partial to the writer after
    /// dK's completion delays the writer more than the fence's wait cost the consumers.
    public static func defaultLateFence(_ problem: BackwardProblem) -> Bool {
        false
    }

    /// Whether the key/value kernel builds its wgmma descriptors once and adds an immediate per
    /// product (``precomputedDescriptors``; `FLASH_ATTENTION_HOPPER_BWD_DESC=1|0` overrides).
    /// Local SASS (NVRTC 13, sm_90a, a consumer warp's step loop, bf16): tile D = 128 unmasked
    /// 669 → 471 instructions, causal 822 → 618; tile D = 64 856 → 671, causal (mask branch)
    /// 1142 → 948; tile D = 256's Q-ring form 976 → 696 unmasked, 1199 → 945 causal; the R2UR
    /// before the HGMMAs go (48 → 0 at D = 128 unmasked, 128 → 2 at D = 256), registers and
    /// spills unchanged (168, 0).
    /// H100 (session 9, hopbwd16, `scripts/device/hopper_bwd16.sh`): non-deterministic bf16, N = 512…16k
    /// (D = 256: 1k, 4k, 16k), two interleaved rounds, on ÷ off geometric mean per round: tile D = 64
    /// 1.026 / 1.017 unmasked and 1.026 / 1.023 causal (every point 1.006–1.067); tile D = 128 unmasked
    /// 1.021 / 1.011 (0.990–1.063), causal 0.986 / 0.994 (level at 1k–8k, 16k 0.93 / 0.98); tile D = 256
    /// unmasked 0.987 / 0.998 (4k 0.983 in both), causal 1.012 / 1.030. So on where both rounds gained:
    /// tile D = 64, tile D = 128 unmasked, tile D = 256 causal (its Q-ring form: the plan drops it from
    /// the two-stage form). Deterministic calls too: the consumers' text is the same, and
    /// the forced checks covered them (float64-oracle cases, bitwise reruns). fp16 shares the text and was
    /// not timed with it.
    public static func defaultPrecomputedDescriptors(_ problem: BackwardProblem) -> Bool {
        switch tileHeadDim(problem.headDim) {
        case 64: return true
        // Causal tile D = 128 since session 13, beside the early dV, late dK and mask branch (causalTile128ProductOrder).
        case 128: return problem.mask == .none || causalTile128ProductOrder(problem)
        default: return problem.mask == .causal
        }
    }

    /// Whether tile D = 128 stages dK and dV through the free Q/dO ring (``stagedEpilogue``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_EPI` is unset: at tile D = 128 from 512 keys up to 4k, causal up to 8k (16k since
    /// session 15; the plan keeps float32 dK/dV on the plain stores). 512 keys since session 29 (H200; scripts/device/next_s29e.sh
    /// and next_s29f.sh): the key/value kernel's in-kernel timeline (``timeline``) put 5.2 µs of a 24.4 µs CTA after its last
    /// step at 512 keys — dK and dV stored from registers — against 2.6 µs staged, and two sustained 1.5 s windows a dtype
    /// read the staged epilogue at 1.060–1.076 (bf16) / 1.075–1.080 (fp16) ÷ the plain one unmasked, 1.064–1.095 / 1.072–1.100
    /// causal, at 6–8 % less energy per FLOP. H100 (session 13, hopbwd17,
    /// scripts/device/hopper_bwd17.sh and hopper_bwd17_more.sh; non-deterministic calls, D = 128, six bf16 and six fp16
    /// rounds ÷ the shipped kernel): 1.010–1.072× in every round at seqlenK ≤ 4096 (both masks) and causal 8k
    /// (1k causal 1.06–1.07, 2k 1.03–1.05, 4k 1.01–1.03, causal 8k 1.010–1.015); unmasked 8k/16k and causal 16k
    /// 0.905–1.075 (the spread). Checked forced: 48/48 float64-oracle cases at D = 128/96 deterministic and not, a torch
    /// float64 reference on 80 odd shapes (causal Sq ≠ Sk, rows with no key, GQA), bitwise reruns, memcheck 0 errors,
    /// racecheck 0 hazards (docs/performance.md, "Session 13: the Hopper backward at tile D = 128").
    /// Tile D = 64 since session 14 (hopbwd19, H100, non-deterministic calls, 6 bf16 + 3 fp16 interleaved rounds ÷ the
    /// kernel shipped before, with two dQ buffers beside it where ``defaultDQBuffers(_:)`` says): from 512 keys (where the
    /// Hopper backward takes tile D = 64) up to 4k, causal up to 8k — 512 1.053–1.086, 1k 1.041–1.076, causal 2k
    /// 1.046–1.056 alone; unmasked 2k–4k and causal 4k–8k 1.009–1.069 with the two buffers; unmasked 8k/16k and causal 16k
    /// 0.94–1.08 (the spread, off). Checked forced: check-dense 48/48 at D = 64/40 deterministic and not (42–46 `ste`
    /// launches a run), bitwise reruns, the torch float64 oracle (quick, D = 64/40) 32/32 per form, memcheck and racecheck
    /// (docs/performance.md, "Session 14: the Hopper backward at tile D = 64").
    /// Session 15 (hopbwd21): tile D = 128 causal up to 16k too, with ``causalTile128ProductOrder(_:)`` (its comment has the
    /// sustained-window timings that settled the 16k row); tile D = 64's ends are unchanged (not measured there).
    /// Whether the key/value kernel splits its grid's last round over the idle multiprocessors (``tailSplit``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT` is unset: unmasked tile D = 64 from 8k keys. Its 4096 key blocks (the reference
    /// grid: 16k tokens, hidden 2048) fill 31.03 rounds of 132 CTAs, and the kernel's timeline (session 29,
    /// scripts/device/next_s29h.sh) had the SMs idle for the last 2.3–2.6 % of the call while four CTAs ran alone; split
    /// into 33 parts each, the idle tail fell to 23–36 µs of 10.3 ms. H200, sustained 1.5 s windows ÷ the unsplit kernel
    /// (next_s29i.sh): 16k 1.017–1.021 (bf16) / 1.015–1.019 (fp16), 8k 1.015–1.019 / 1.003–1.009, 1.6–2 % less energy per
    /// FLOP; 2k 0.986–0.992 (16 steps a block: parts of one step cost more than they save), so not below 8k. Causal grids
    /// are balanced by their lengths. Session 30 (next_s30b.sh, final_s30.sh): at 16k the split ÷ no split 1.016–1.022
    /// (bf16) with the parts' sums by vector reductions, and the `ts` kernel with no split level with the plain one.
    /// Tile D = 128 (2048 blocks: 68 in the last round) splits into thirds in two waves under the time model, and loses:
    /// 1k 0.954–0.972, 2k 0.988–0.989 (the dependent dQ conversion already fills the SMs the last round leaves idle);
    /// from 4k it runs the persistent grid, where a stream-K split (a patch, not in the tree) read 0.97–0.98. Checked forced on small grids (every block split): float64 dQ / dK / dV 12 / 12 at
    /// D = 64, 96, 128 and deterministic, memcheck / racecheck clean.
    /// Non-deterministic calls only (the resolver refuses it for deterministic ones, knob or not): the parts add their float32
    /// dK / dV in whatever order they finish.
    public static func defaultTailSplit(_ problem: BackwardProblem) -> Bool {
        !problem.deterministic && tileHeadDim(problem.headDim) == 64 && problem.mask == .none && problem.seqlenK >= 8192
    }

    public static func defaultStagedEpilogue(_ problem: BackwardProblem) -> Bool {
        let maxKeys = problem.mask == .causal ? 8192 : 4096
        switch tileHeadDim(problem.headDim) {
        case 128: return problem.seqlenK >= 512 && problem.seqlenK <= (problem.mask == .causal ? 16384 : maxKeys)
        case 64: return problem.seqlenK >= 512 && problem.seqlenK <= maxKeys
        default: return false
        }
    }

    /// Whether a causal tile D = 128 problem takes the unmasked form's product order (early dV, late dK) with the mask
    /// branch and precomputed descriptors beside it (``defaultEarlyDV(_:)``, ``defaultMaskBranch(_:)``,
    /// ``defaultPrecomputedDescriptors(_:)``): from 1k keys up to 8k. H100 (session 13, hopbwd17, non-deterministic calls,
    /// D = 128, six bf16 and four fp16 rounds ÷ the kernels shipped before): the four together 1.019–1.040× in every round at
    /// causal 1k–8k (16k 0.986–1.089, not every round), and with the staged epilogue 1.053–1.114× (1k 1.101–1.114, 2k
    /// 1.071–1.084, 4k 1.059–1.064, 8k 1.053–1.057); session 5 had the early dV and late dK alone at 0.86–0.95× there, and
    /// session 9 the descriptors alone level. Checked forced with the staged epilogue: 48/48 float64-oracle cases
    /// deterministic and not, a torch float64 reference on odd causal shapes, bitwise reruns, memcheck and racecheck.
    ///
    /// Session 15 (hopbwd21, scripts/device/hopper_bwd21.sh, H100, non-deterministic calls): to 16k keys as well. The 16k row
    /// runs at the 700 W cap, where 20-call bursts start at different clocks (the 0.986–1.089 above); sustained windows
    /// (each form looped 2.5 s, forms alternated, nvidia-smi clock and power inside each window) settle it: the four with the
    /// staged epilogue ÷ the kernel shipped before 1.045 / 1.049 / 1.048 (bf16, three windows) and 1.047 / 1.050 (fp16, two),
    /// 517 against 494 TFLOP/s at the same 698 W (1.35 against 1.41 pJ/FLOP; 1.03× cuDNN's 502 sustained); six burst rounds
    /// bf16 1.049–1.060, fp16 0.998–1.123 (one round at 0.998). The kernel is the causal 1k–8k one (`…_causal_dqbuf2_w2_edv_
    /// ldk_mb_pd_ste`: the name carries every field, so the text is the same), which CI compiles (the staged-epilogue variants)
    /// and session 13's forced checks reached (float64 oracle, memcheck, racecheck). Above 16k: not timed, so not taken.
    static func causalTile128ProductOrder(_ problem: BackwardProblem) -> Bool {
        problem.mask == .causal && tileHeadDim(problem.headDim) == 128 && problem.seqlenK >= 1024 && problem.seqlenK <= 16384
    }

    /// Whether the conversion pass launches as a programmatic dependent of the key/value kernel (``dependentConvert``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPCVT` is unset: wherever it applies (tile D = 64/128, ordered dQ, so not the persistent
    /// grid) up to 2048 keys, where it was timed. H200, session 23 (scripts/device/next_s23f.sh, `hopper_bwd21.py` sustained
    /// 2.5 s windows and bursts, bf16 and fp16, forced against the shipped kernel): D = 128 unmasked 512 1.005–1.013
    /// (bursts 1.013–1.039), 1k 1.003–1.007, 2k 1.001–1.005; causal 512 0.991–1.017 (bursts 1.024–1.029), 1k 1.004–1.011;
    /// D = 64 causal 512 1.007–1.014, 1k 1.003–1.006. The pass had taken 10–13 % of the kernel time at 512 keys, 4 % at 2k,
    /// 2 % at 4k (bwd_split_s23.py). dQ / dK / dV bitwise equal to the plain pass (bwd_ec_check_s23.py, 20 cases).
    public static func defaultDependentConvert(_ problem: BackwardProblem) -> Bool {
        problem.seqlenK <= 2048
    }

    /// Whether the key/value kernel launches as a programmatic dependent of the preprocess (``dependentStats``) when
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPSTATS` is unset: unmasked, tile D = 64/128, up to 512 keys, where it won in both calls.
    /// H200, session 24 (scripts/device/next_s24.sh and next_s24b.sh, `hopper_bwd21.py` sustained 2 s windows and bursts, bf16
    /// and fp16, forced against the shipped kernels): unmasked D = 128 512 1.003–1.005 and 1.004–1.018 (fp16 1.003, 1.001–1.009;
    /// bursts +1–2 %), unmasked D = 64 512 1.003–1.018 (fp16 1.009–1.020; bursts +1–1.5 %); causal 512 mixed (D = 128
    /// 0.991–1.014, D = 64 0.991–1.006, bursts 0.99–1.01) and unmasked D = 128 1k 0.990–0.993: not taken. At 512 keys the
    /// preprocess is 39 µs of the 490 (ncu: key/value kernel 406 µs, conversion 47 µs), so the key/value kernel's launch,
    /// set-up and first loads under its tail are worth about 1 %. dQ / dK / dV bitwise equal to the plain launch
    /// (bwd_ec_check_s23.py with BEC_KNOB=FLASH_ATTENTION_HOPPER_BWD_DEPSTATS, 20 cases), float64 10/10, memcheck / racecheck clean.
    public static func defaultDependentStats(_ problem: BackwardProblem) -> Bool {
        tileHeadDim(problem.headDim) != 256 && problem.mask == .none && problem.seqlenK <= 512
    }
}
