import FlashAttentionCore

// The Hopper forward consumers' key steps: the product issues (plain, precomputed descriptors, narrow diagonal), the
// softmax lambdas and rescales, each step order (shipped, separate value turn, cuDNN's exponential turn and its lean
// and overlapped forms) with the folded producer's copies between steps, per-warpgroup step counts, empty warpgroups.
extension HopperForwardKernel {
    /// The warpgroup whose turn follows `wg`'s.
    private var nextWarpgroup: String { threeConsumers ? "(wg == 2 ? 0 : wg + 1)" : "(1 - wg)" }

    /// Rows between Q's 64-column blocks in shared memory: the tile's, or a half's 64.
    private var qRows: String { qh ? "64" : "BLOCK_M" }

    /// The consumers' Q operand base for the tile: this warpgroup's rows of the Q buffer, or its half.
    var qLine: String {
        if qh {
            return xd ? "q_lo = __shfl_sync(0xffffffffu, desc_lo(sQ + qb * Q_HALF_BYTES, 16), 0);  // this warpgroup's Q half (lane 0's: warp-uniform)"
                : "q_base = sQ + qb * Q_HALF_BYTES;  // this warpgroup's Q half"
        }
        return xd ? "q_lo = __shfl_sync(0xffffffffu, desc_lo(sQ + qb * Q_BYTES + wg * 64 * 128, 16), 0);  // this warpgroup's rows of the tile's Q buffer (lane 0's: warp-uniform)" : "q_base = sQ + qb * Q_BYTES + wg * 64 * 128;"
    }

    /// P·V and S in separate turns: S issued and committed, its first k step through the `"=f"` product.
    var freshIssue: String {
        let pad = String(repeating: " ", count: 8)
        let base = xd ? "const u32 k_lo = __shfl_sync(0xffffffffu, k_lo0 + stage * (KV_BYTES >> 4), 0);" : "const u32 k_base = sK + stage * KV_BYTES;"
        let products = xd
            ? ["if (ks == 0) wgmma_qk_first_d(s, q_lo + off_q, k_lo + off_k, DESC_HI);",
               "else wgmma_qk_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, 1);"]
            : ["const u64 da = smem_desc(q_base + block * \(qRows) * 128 + within, 16, 1024), db = smem_desc(k_base + block * BLOCK_N * 128 + within, 16, 1024);",
               "if (ks == 0) wgmma_qk_first(s, da, db);",
               "else wgmma_qk(s, da, db, 1);"]
        return "\n" + pad + "// S = Q·K_stageᵀ, issued (not waited for); its first k step writes S without reading it.\n"
            + pad + "auto issue_qk_fresh = [&](int stage) {\n" + pad + base + "\n" + pad + scoreLoop(indent: 8, body: products) + "\n"
            + pad + "    wgmma_commit();\n" + pad + "};"
    }

    /// S's k loop (PRODUCT_DIM / 16 k16 steps: none over the tile's zero columns past it): each step's operand offsets (descriptor low-word offsets
    /// `off_q` / `off_k` with ``AttentionKernelDescriptor/precomputedDescriptors``, else the byte offsets
    /// `block` / `within`), then `body`, the step's product lines. The first line carries no
    /// indentation, the rest `indent` spaces (the loop) and four more (its body).
    private func scoreLoop(indent: Int, body: [String]) -> String {
        let pad = String(repeating: " ", count: indent), inner = pad + "    "
        let offsets = xd
            ? "const u32 off_q = ((ks >> 2) * \(qRows) * 128 + (ks & 3) * 32) >> 4, off_k = ((ks >> 2) * BLOCK_N * 128 + (ks & 3) * 32) >> 4;"
            : "const u32 block = ks >> 2, within = (ks & 3) * 32;"
        return "#pragma unroll\n" + pad + "for (int ks = 0; ks < PRODUCT_DIM / 16; ++ks) {\n" + ([offsets] + body).map { inner + $0 + "\n" }.joined() + pad + "}"
    }

    /// The O rescale of a step: every step, or (``AttentionKernelDescriptor/skipUnchangedRescale``)
    /// only in a warp where some row's maximum moved (α = 1 exactly otherwise). The vote is
    /// warp-uniform; the wgmma products around it are warpgroup-wide and reconverge after it.
    private var rescale: String {
        if spec { return "if (sx_redo) rescale_o();  // only a redone step moves a row's maximum (speculative maximum)" }
        guard descriptor.skipUnchangedRescale || descriptor.lazyRescale else { return "rescale_o();" }
        return "if (__any_sync(0xffffffffu, alpha[0] != 1.0f || alpha[1] != 1.0f)) rescale_o();  // α = 1 in every row of the warp: O unchanged"
    }

    /// ``AttentionKernelDescriptor/earlyRescale``.
    private var early: Bool { descriptor.earlyRescale }

    /// ``AttentionKernelDescriptor/lazyRescale``.
    private var lazy: Bool { descriptor.lazyRescale }

    /// A step's α of row `r` (`mx` the row's new maximum, `m_scaled` it times the scale): with
    /// ``AttentionKernelDescriptor/lazyRescale`` exactly 1 where the row kept its maximum (also a row still at −∞).
    private var alphaValue: String {
        lazy ? "mx == row_max[r] ? 1.0f : fast_exp2(row_max[r] * scale_log2 - m_scaled)" : "fast_exp2(row_max[r] * scale_log2 - m_scaled)"
    }

    /// The rescale ahead of a P·V issue (the loop's, inside the turn, and the tile's last), with the
    /// line break and the next line's indentation (the source's `indent` minus the literal's 8);
    /// nothing with ``AttentionKernelDescriptor/earlyRescale``, where each step's end has done it.
    private func turnRescale(indent: Int) -> String {
        early ? "" : rescale + "\n" + String(repeating: " ", count: indent - 8)
    }

    /// ``AttentionKernelDescriptor/earlyRescale``: O·α of this step at its end, once the previous
    /// P·V has completed (the wait above), so the next turn issues S and P·V back to back. The
    /// tile's first step needs none: O is zero until its first P·V.
    private var stepEndRescale: String {
        guard early else { return "" }
        return "\n" + String(repeating: " ", count: 16) + "// O·α now (the previous P·V has completed), before the next turn, not inside it.\n"
            + String(repeating: " ", count: 16) + rescale
    }

    /// ``AttentionKernelDescriptor/softcap``: S = tanh(S · scale / cap) ahead of the mask, every form's softmax reading
    /// it through ``diagonalMask(tiles:width:)``. The launch sets `scale_log2` to cap · log2(e) with a cap, so the softmax's
    /// S · scale_log2 is cap · tanh(scale · S / cap) in log2 units, and the LSE is that of the capped scores (what the
    /// generic kernels and the backward use). Empty without softcap (the other kernels' sources stay byte-identical).
    private func softcapTransform(tiles: String) -> String {
        guard descriptor.softcap else { return "" }
        return """
                        // Softcap: S = tanh(S · scale / cap); S · scale_log2 below is cap · tanh(scale · S / cap) in log2 units.
                        #pragma unroll
                        for (int nt = 0; nt < \(tiles); ++nt)
                            #pragma unroll
                            for (int e = 0; e < 4; ++e) s[nt][e] = accurate_tanh(s[nt][e] * p.softcap_input_scale);

        """
    }

    /// ``AttentionKernelDescriptor/alibi``: this tile's head slope in the units of S, `alibi_s` = slope · log2(e) /
    /// scale_log2 (S · scale_log2 is the softmax's log2-unit score: the bias then carries −slope · |i + Sk − Sq − j| ·
    /// log2(e), with softcap's cap too, as the generic kernels' prescaled scores do). With the line break before it.
    var alibiSlopeLine: String {
        "\n" + String(repeating: " ", count: 12)
            + "const float alibi_s = ((const float*)p.alibi_slopes)[(i64)batch * p.alibi_batch_stride + (i64)head * p.alibi_head_stride]"
            + " * 1.4426950408889634f / scale_log2;  // ALiBi slope in the units of S"
    }

    /// ``AttentionKernelDescriptor/alibi``: S −= alibi_s · |i + diag − j| after the cap, ahead of the mask (the bias of
    /// keys the mask drops does not matter). Two operations a score: `i + diag − n0 − 2·tig` per row and step, less the
    /// key's constant offset, then one FMA with its magnitude. Empty without ALiBi.
    private func alibiTransform(tiles: String) -> String {
        guard descriptor.alibi else { return "" }
        return """
                        // ALiBi: S −= slope · |i + Sk − Sq − j| (in the units of S: alibi_s).
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            const float base = (float)(row0 + 8 * r + diag - n0 - tig * 2);
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt)
                                #pragma unroll
                                for (int c = 0; c < 2; ++c) s[nt][2 * r + c] = fmaf(-alibi_s, fabsf(base - (float)(nt * 8 + c)), s[nt][2 * r + c]);
                        }

        """
    }

    /// The mask at the start of a softmax lambda (`n0` the step's first key): S = −∞ past each row's last
    /// visible key, on a step of `width` keys (`tiles` n8 tiles) that reaches past the keys every row sees.
    /// Shared by ``softmaxLambda(name:tiles:width:)`` and ``splitSoftmaxPair(suffix:tiles:width:first:)``;
    /// every line carries its indentation, no line break at the end.
    private func diagonalMask(tiles: String, width: String) -> String {
        if window { return softcapTransform(tiles: tiles) + alibiTransform(tiles: tiles) + windowMask(tiles: tiles, width: width) }
        return softcapTransform(tiles: tiles) + alibiTransform(tiles: tiles) + """
                        if (n0 + \(width) > full_hi) {
                            #pragma unroll
                            for (int r = 0; r < 2; ++r) {
                                const int i = row0 + 8 * r;
                                const int hi = (CAUSAL ? imin(seqlen_k, i + diag + 1) : seqlen_k) - (n0 + tig * 2);
                                #pragma unroll
                                for (int nt = 0; nt < \(tiles); ++nt)
                                    #pragma unroll
                                    for (int c = 0; c < 2; ++c)
                                        if (nt * 8 + c >= hi) s[nt][2 * r + c] = -FA_INF;
                            }
                        }
        """
    }

    /// ``KernelMask/window``: this thread's rows' edges in the tile's key frame, kept instead of the warpgroup's full-key
    /// range (`full_hi`): row +0 sees keys [w_row_lo, min(seqlen_k, w_row_hi)), row +8 the same eight keys on (an
    /// unbounded edge is ±2^30). Two registers through the loop (the tile D = 256 and varlen kernels spilled 8–36 B
    /// with the warpgroup's range, both extents and `diag` live). The first line carries no indentation, the second 12
    /// spaces.
    var windowFullKeys: String {
        "const int w_row_hi = p.window_right < 0 ? 0x40000000 : row0 + diag + p.window_right + 1;\n"
            + String(repeating: " ", count: 12) + "const int w_row_lo = p.window_left < 0 ? -0x40000000 : row0 + diag - p.window_left;"
    }

    /// ``KernelMask/window``: ``diagonalMask(tiles:width:)`` with both edges of each row's keys (``windowFullKeys``), on
    /// a step that reaches past the keys every row of this warp sees (its first row's right edge, `group` rows above this
    /// thread's) or starts before its last row's left edge (15 − `group` rows below): the test is warp-uniform.
    private func windowMask(tiles: String, width: String) -> String {
        """
                        if (n0 + \(width) > imin(seqlen_k, w_row_hi - group) || n0 < w_row_lo - group + 15) {
                            #pragma unroll
                            for (int r = 0; r < 2; ++r) {
                                const int hi = imin(seqlen_k, w_row_hi + 8 * r) - (n0 + tig * 2);
                                const int lo = w_row_lo + 8 * r - (n0 + tig * 2);
                                #pragma unroll
                                for (int nt = 0; nt < \(tiles); ++nt)
                                    #pragma unroll
                                    for (int c = 0; c < 2; ++c)
                                        if (nt * 8 + c >= hi || nt * 8 + c < lo) s[nt][2 * r + c] = -FA_INF;
                            }
                        }
        """
    }

    /// The consumers' mask + online softmax over `tiles` n8 tiles of S (`width` keys) as a lambda
    /// `name`. The first line carries no indentation, the rest their place in the consumer loop.
    ///
    /// With ``AttentionKernelDescriptor/treeRowReductions`` each row's maximum and sum are kept in
    /// four partial values (n8 tile `nt` feeds partial `nt % 4`), combined pairwise at the end, so
    /// the dependent chains are a quarter as long; the mask and the exponentials are the same.
    func softmaxLambda(name: String, tiles: String, width: String) -> String {
        let tree = descriptor.treeRowReductions
        // ``AttentionKernelDescriptor/lazyRescale``: the kept maximum, and α = 1 exactly for a row that kept it.
        let lazyMaxLine = lazy ? "\n" + String(repeating: " ", count: 20) + "mx = lazy_max(row_max[r], mx, scale_log2);  // keep the row's maximum unless it grew past 2^8" : ""
        // A line break into the row loop's body (the places below start on such lines).
        let line = "\n" + String(repeating: " ", count: 20)
        // The row maximum over this step's tiles, starting from the running maximum.
        let rowMax = tree
            ? "// Four partial maxima (exact: the same maximum as one chain)." + line
                + "float mp[4] = {row_max[r], row_max[r], row_max[r], row_max[r]};" + line
                + "#pragma unroll" + line
                + "for (int nt = 0; nt < \(tiles); ++nt) mp[nt % 4] = fmaxf(mp[nt % 4], fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));" + line
                + "float mx = fmaxf(fmaxf(mp[0], mp[1]), fmaxf(mp[2], mp[3]));"
            : "float mx = row_max[r];" + line
                + "#pragma unroll" + line
                + "for (int nt = 0; nt < \(tiles); ++nt) mx = fmaxf(mx, fmaxf(s[nt][2 * r], s[nt][2 * r + 1]));"
        // The row sum of this step's P: one chain, or four partial sums added pairwise (float32
        // throughout; another rounding order).
        let sumInit = tree
            ? "// Four partial sums, added pairwise (float32 throughout; another rounding order)." + line
                + "float sp[4] = {0.0f, 0.0f, 0.0f, 0.0f};"
            : "float sum = 0.0f;"
        let sumAdd = tree ? "sp[nt % 4] += pv;" : "sum += pv;"
        let sumTotal = tree ? "((sp[0] + sp[1]) + (sp[2] + sp[3]))" : "sum"
        // ``AttentionKernelDescriptor/packedRowSum``: no float32 sum here; convert_p adds this step's packed P.
        let packed = descriptor.packedRowSum
        let sumHead = packed ? "" : sumInit + line
        let sumBody = packed ? "" : line + "        " + sumAdd
        let sumLine = packed
            ? "row_sum[r] *= alpha[r];  // this step's P is added from its packed pairs (convert_p)"
            : "row_sum[r] = row_sum[r] * alpha[r] + \(sumTotal);"
        return """
        auto \(name) = [&](int n0) {
        \(diagonalMask(tiles: tiles, width: width))
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            \(rowMax)
                            mx = warp_max4(mx);\(lazyMaxLine)
                            // A row that has seen no key yet keeps m = −∞; exponentiate against 0 so P = 0, not NaN.
                            const float m_scaled = mx == -FA_INF ? 0.0f : mx * scale_log2;
                            alpha[r] = \(alphaValue);
                            row_max[r] = mx;
                            \(sumHead)#pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt)
                                #pragma unroll
                                for (int c = 0; c < 2; ++c) {
                                    const float x = fmaf(s[nt][2 * r + c], scale_log2, -m_scaled);
                                    const float pv = (EXP2_EMU > 0 && nt % EXP2_EMU == EXP2_EMU - 1) ? exp2_fma(x) : fast_exp2(x);\(sumBody)
                                    s[nt][2 * r + c] = pv;
                                }
                            \(sumLine)
                        }
                    };
        """
    }

    /// ``AttentionKernelDescriptor/speculativeMax``.
    var spec: Bool { descriptor.speculativeMax }

    /// ``AttentionKernelDescriptor/speculativeMax``: the speculative softmax of a key step after the tile's first,
    /// `softmax_spec`, which returns whether this thread asks for the step to be redone. P against the kept maxima (no
    /// maximum, no α), the step's row sums kept apart in `sx_sum` (the caller adds them to l once the warpgroup has
    /// voted). A sum of at most 2^8 bounds every P of the row; a larger one, or one that is not finite (a score 2^128
    /// past the kept maximum gives +∞, a row still at −∞ gives NaN), asks for the redo. The first line carries no
    /// indentation.
    var speculativeSoftmaxLambda: String {
        """
        // Speculative maximum: P = 2^(S·s − m·s) against each row's kept maximum; a thread whose row sum passed 2^8 (or is
                    // not finite) asks for the step to be redone with the exact softmax above.
                    auto softmax_spec = [&](int n0) -> bool {
        \(diagonalMask(tiles: "N_TILES", width: "BLOCK_N"))
                        bool ask = false;
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            const float m_scaled = row_max[r] * scale_log2;
                            float sum = 0.0f;
                            #pragma unroll
                            for (int nt = 0; nt < N_TILES; ++nt)
                                #pragma unroll
                                for (int c = 0; c < 2; ++c) {
                                    const float pv = fast_exp2(fmaf(s[nt][2 * r + c], scale_log2, -m_scaled));
                                    sum += pv;
                                    s[nt][2 * r + c] = pv;
                                }
                            ask |= !(sum <= 256.0f);
                            sx_sum[r] = sum;
                        }
                        return ask;
                    };
        """
    }

    /// ``AttentionKernelDescriptor/speculativeMax``: a loop step's softmax after S landed (`n0` its first key): the
    /// speculative pass, the warpgroup's vote, and on a redo S issued again from the step's K stage (still held) and the
    /// exact softmax; else the step's sums join l. Under a causal mask the loop's first step (`first`, the step after the
    /// diagonal block, whose top rows saw only a few keys, so their kept maxima are low) runs the exact softmax outright:
    /// the speculative pass would ask for a redo there in most tiles. With the line break and indentation of the line after (16).
    private func speculativeStep(n0: String, first: String) -> String {
        let pad = "\n" + String(repeating: " ", count: 16)
        return "// Speculative maximum: P against the kept maxima; the warpgroup redoes the step if any thread's row sum passed 2^8."
            + pad + "if (\(window ? "true" : "CAUSAL") && it == \(first)) {"
            + pad + "    softmax(\(n0));  // the step after the diagonal block: the exact softmax sets the maxima"
            + pad + "    sx_redo = 1;"
            + pad + "} else {"
            + pad + "    sx_redo = warpgroup_any(wg, softmax_spec(\(n0)));"
            + pad + "    if (sx_redo) {"
            + pad + "        wgmma_fence();"
            + pad + "        issue_qk(stage);  // S again: this step's K stage goes back only after the vote"
            + pad + "        wgmma_wait<0>();  // (P·V of the step before too)"
            + pad + "        softmax(\(n0));"
            + pad + "    } else {"
            + pad + "        row_sum[0] += sx_sum[0];"
            + pad + "        row_sum[1] += sx_sum[1];"
            + pad + "    }"
            + pad + "}" + pad
    }

    /// ``AttentionKernelDescriptor/halfDiagonalStep``.
    var halfDiagonal: Bool { descriptor.halfDiagonalStep }

    /// The four packs of a k16 step of P into the P·V operand (`pk[ks]`, two adjacent n8 tiles of S), shared by the
    /// conversions below; the first line carries no indentation, the others `indent`.
    private func packLines(indent: Int) -> String {
        ["pk[ks][0] = pack_input2(s[2 * ks][0], s[2 * ks][1]);", "pk[ks][1] = pack_input2(s[2 * ks][2], s[2 * ks][3]);",
         "pk[ks][2] = pack_input2(s[2 * ks + 1][0], s[2 * ks + 1][1]);", "pk[ks][3] = pack_input2(s[2 * ks + 1][2], s[2 * ks + 1][3]);"]
            .joined(separator: "\n" + String(repeating: " ", count: indent))
    }

    /// ``AttentionKernelDescriptor/packedRowSum``: the lines of a k16 step of the conversions after the four packs
    /// (indentation `indent`, each line ending in a line break): the step's two words of each row added, into a partial
    /// of at most 8 words (4 k16 steps), widened into the row sum at the end of each partial or at `last`; nothing in
    /// the other forms.
    private func packedSumLines(indent: Int, last: String) -> String {
        guard descriptor.packedRowSum else { return "" }
        let pad = String(repeating: " ", count: indent)
        return pad + "const u32 a0 = add_input2(pk[ks][0], pk[ks][2]), a1 = add_input2(pk[ks][1], pk[ks][3]);  // rows +0, +8\n"
            + pad + "h0 = ks % 4 == 0 ? a0 : add_input2(h0, a0);\n"
            + pad + "h1 = ks % 4 == 0 ? a1 : add_input2(h1, a1);\n"
            + pad + "if (ks % 4 == 3 || ks == \(last)) { row_sum[0] += widen_sum2(h0); row_sum[1] += widen_sum2(h1); }\n"
    }

    /// ``AttentionKernelDescriptor/packedRowSum``: the partials' declaration at the head of a conversion (with the line
    /// break before it), nothing in the other forms.
    private var packedSumPartials: String {
        descriptor.packedRowSum ? "\n" + String(repeating: " ", count: 12) + "u32 h0 = 0u, h1 = 0u;" : ""
    }

    /// P in the input precision as the P·V operand (`convert_p`). With ``AttentionKernelDescriptor/packedRowSum`` each
    /// row's step sum comes from the packed words too (the softmax no longer sums): one packed add per two scores
    /// instead of two FADDs, partials of at most 16 scores (8 per lane) in the input precision, added into the float32
    /// row sum. The first line carries no indentation.
    var convertP: String {
        let comment = descriptor.packedRowSum ? """
            // P in the input precision as A fragments: two adjacent n8 tiles of S are one k16 step. The row sums of
                    // this step's P come from these packed words (packedRowSum): pairs added in the input precision, at
                    // most 8 words (16 scores) a partial, each partial widened into the float32 row sum.
            """ : "// P in the input precision as A fragments: two adjacent n8 tiles of S are one k16 step."
        return comment + """

                auto convert_p = [&]() {\(packedSumPartials)
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) {
                        \(packLines(indent: 16))
        \(packedSumLines(indent: 16, last: "BLOCK_N / 16 - 1"))            }
                };
        """
    }

    /// P of the half-width diagonal step: the first half converted (and, with ``AttentionKernelDescriptor/packedRowSum``,
    /// summed as in ``convertP``), the second half zero (the full-width P·V reads it).
    var convertHalf: String {
        """

                auto convert_p_half = [&]() {\(packedSumPartials)
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) {
                        if (ks < BLOCK_N / 32) {
                            \(packLines(indent: 20))
        \(packedSumLines(indent: 20, last: "BLOCK_N / 32 - 1"))                }\(nv ? "" : " else {\n" + String(repeating: " ", count: 16) + "    pk[ks][0] = pk[ks][1] = pk[ks][2] = pk[ks][3] = 0u;\n" + String(repeating: " ", count: 16) + "}")
                    }
                };
        """
    }

    /// The first (diagonal) step's softmax: half-width when this warpgroup's last row sees at most
    /// the first half of the step's keys (uniform over the warpgroup; the S product stays full
    /// width: a branch around it made ptxas serialise every wgmma, C7519 / C7515).
    private var halfSoftmax: String {
        (nd ? "" : "const bool half = \(halfTest("(n_blocks - 1)"));\n" + String(repeating: " ", count: 16)) + "if (half) { softmax_half((n_blocks - 1) * BLOCK_N); convert_p_half(); } else { softmax((n_blocks - 1) * BLOCK_N); convert_p(); }"
    }

    /// ``AttentionKernelDescriptor/warpgroupStepCount``: per-warpgroup key-step counts.
    var ws: Bool { descriptor.warpgroupStepCount }

    /// The ring index of this warpgroup's first key step (one later where it skips the diagonal block).
    private var firstIter: String { ws ? "(kv_iter + ws_first)" : "kv_iter" }

    /// The main loop's first index (the step after this warpgroup's first), which equals n_blocks
    /// on a tile whose first step is this warpgroup's last.
    private var firstLoopStep: String { ws ? "1 + ws_first" : "1" }

    /// The key block of this warpgroup's first step (the highest it sees).
    private var firstKeyBlock: String { ws ? "n_blocks - 1 - ws_first" : "n_blocks - 1" }

    /// Per-warpgroup step counts: whether this warpgroup skips the tile's first step (its diagonal
    /// block, the highest keys), and for a skipped step the turn it still takes and hands over, so
    /// the turns keep alternating. Only warpgroup 0 (the tile's first 64 rows) can skip, only when a
    /// step is left, and only where its last row (tile row 63, keys up to its index + diag) sees
    /// none of the block. No `wgmma` below depends on it through a branch: it sets the first step's
    /// stage and the loop's first index.
    var wsHead: String {
        let pad = "\n" + String(repeating: " ", count: 12)
        return pad + "// Key steps of this warpgroup: warpgroup 0 skips the diagonal block when its last row sees none of it."
            + pad + "const int ws_first = (wg == 0 && n_blocks > 1 && imin(seqlen_k, m0 + 64 + diag) <= (n_blocks - 1) * BLOCK_N) ? 1 : 0;"
            + pad + "if (ws_first) { named_sync(BAR_TURN + 0, CONSUMER_THREADS); named_arrive(BAR_TURN + 1, CONSUMER_THREADS); }  // the skipped step's turn"
    }

    /// Per-warpgroup step counts: the skipped step's K and V stages released, after this warpgroup's
    /// first issued step's turn (warpgroup 1 has then arrived for every earlier use of those stages).
    private var wsRelease: String {
        "\n" + String(repeating: " ", count: 16)
            + "if (ws_first) { mbar_arrive(bar_k_free + 8 * (kv_iter % STAGES)); mbar_arrive(bar_v_free + 8 * (kv_iter % STAGES)); }  // the skipped step's stages"
    }

    /// ``AttentionKernelDescriptor/precomputedDescriptors``.
    var xd: Bool { descriptor.precomputedDescriptors }

    /// Precomputed descriptors: the operands' base low words (Q per tile, set at the tile's head).
    var xdSetup: String {
        "u32 q_lo = desc_lo(sQ + wg * 64 * 128, 16);     // this warpgroup's rows of the tile's Q buffer\n"
            + String(repeating: " ", count: 8) + "const u32 k_lo0 = desc_lo(sK, 16), v_lo0 = desc_lo(sV, BLOCK_N * 128);  // stage 0's K and V"
    }

    /// Precomputed descriptors: the products' issue, each descriptor its operand's base plus an immediate.
    var xdIssue: String {
        """
        // S = Q·K_stageᵀ, issued (not waited for); each descriptor is the stage's base plus an immediate.
                auto issue_qk = [&](int stage) {
                    const u32 k_lo = __shfl_sync(0xffffffffu, k_lo0 + stage * (KV_BYTES >> 4), 0);  // lane 0's: warp-uniform to ptxas (one R2UR a step)
                    \(scoreLoop(indent: 12, body: ["wgmma_qk_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, ks > 0 ? 1 : 0);"]))
                    wgmma_commit();
                };
                // O += P·V_stage, issued (not waited for).
                auto issue_pv = [&](int stage) {
                    const u32 v_lo = __shfl_sync(0xffffffffu, v_lo0 + stage * (KV_BYTES >> 4), 0);
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) wgmma_pv_d(acc_o, pk[ks], v_lo + ks * ((16 * 128) >> 4), DESC_HI);
                    wgmma_commit();
                };
        """
    }

    /// Narrow diagonal products: the diagonal step's S over the first half of its keys, and (with
    /// ``AttentionKernelDescriptor/narrowDiagonalValues``) its P·V over the first half of the k16 steps
    /// (P's other half is all masked), each issued and committed.
    var narrowIssue: String {
        let pad = String(repeating: " ", count: 8)
        let sBase = xd ? "const u32 k_lo = __shfl_sync(0xffffffffu, k_lo0 + stage * (KV_BYTES >> 4), 0);" : "const u32 k_base = sK + stage * KV_BYTES;"
        let sBody = xd
            ? ["wgmma_qk_n_d(s, q_lo + off_q, k_lo + off_k, DESC_HI, ks > 0 ? 1 : 0);"]
            : ["wgmma_qk_n(s, smem_desc(q_base + block * \(qRows) * 128 + within, 16, 1024),",
               "           smem_desc(k_base + block * BLOCK_N * 128 + within, 16, 1024), ks > 0 ? 1 : 0);"]
        let vBase = xd ? "const u32 v_lo = __shfl_sync(0xffffffffu, v_lo0 + stage * (KV_BYTES >> 4), 0);" : "const u32 v_base = sV + stage * KV_BYTES;"
        let product = xd ? "wgmma_pv_d(acc_o, pk[ks], v_lo + ks * ((16 * 128) >> 4), DESC_HI);"
            : "wgmma_pv(acc_o, pk[ks], smem_desc(v_base + ks * 16 * 128, BLOCK_N * 128, 1024));"
        return "\n" + pad + "// The diagonal step of a warpgroup that sees only its first half: S over those keys (S's upper n8 tiles untouched).\n"
            + pad + "auto issue_qk_narrow = [&](int stage) {\n"
            + pad + "    " + sBase + "\n"
            + pad + "    " + scoreLoop(indent: 12, body: sBody) + "\n"
            + pad + "    wgmma_commit();\n" + pad + "};" + (nv ? "\n"
            + pad + "// ... and its P·V over the same keys: the first half of the k16 steps (P's other half is all masked).\n"
            + pad + "auto issue_pv_narrow = [&](int stage) {\n"
            + pad + "    " + vBase + "\n"
            + pad + "    #pragma unroll\n"
            + pad + "    for (int ks = 0; ks < BLOCK_N / 32; ++ks) " + product + "\n"
            + pad + "    wgmma_commit();\n" + pad + "};" : "")
    }

    /// The consumers' product issues through `smem_desc` of each product's full address (the
    /// shipped text, without ``AttentionKernelDescriptor/precomputedDescriptors``).
    var plainIssue: String {
        """
        // S = Q·K_stageᵀ, issued (not waited for).
                auto issue_qk = [&](int stage) {
                    const u32 k_base = sK + stage * KV_BYTES;
                    \(scoreLoop(indent: 12, body: ["wgmma_qk(s, smem_desc(q_base + block * \(qRows) * 128 + within, 16, 1024),",
                                                   "         smem_desc(k_base + block * BLOCK_N * 128 + within, 16, 1024), ks > 0 ? 1 : 0);"]))
                    wgmma_commit();
                };
                // O += P·V_stage, issued (not waited for).
                auto issue_pv = [&](int stage) {
                    const u32 v_base = sV + stage * KV_BYTES;
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_N / 16; ++ks) wgmma_pv(acc_o, pk[ks], smem_desc(v_base + ks * 16 * 128, BLOCK_N * 128, 1024));
                    wgmma_commit();
                };
        """
    }

    /// The tile's last P·V after the loop (issued in the last step's value turn of the shipped order), with the
    /// line break and the next line's indentation; none with ``AttentionKernelDescriptor/exponentialTurn``.
    var trailingValueBlock: String {
        """
        {
                        const int last = kv_iter + n_blocks - 1, stage = last % STAGES;
                        \(turnRescale(indent: 24))mbar_wait(bar_v_full + 8 * stage, (last / STAGES) & 1);
                        \(lastValueIssue)
                            \(okv ? "if (wg == 0) { mbar_arrive(bar_v_free + 8 * stage); named_arrive(BAR_OKV + 1, 256); }  // warpgroup 1 stages O in this V stage" : "mbar_arrive(bar_v_free + 8 * stage);")\(foldedCopy("v", released: "last", indent: 20))
                        }
                    }
        """ + "\n" + String(repeating: " ", count: 12)
    }

    /// The tile's key steps up to its last P·V: the first (S and its softmax), then the loop, each
    /// step issuing its S and the previous step's P·V in its turn (the shipped order; with
    /// ``AttentionKernelDescriptor/separateValueTurn``, ``valueTurnSteps``).
    var mainSteps: String { xo ? overlappedTurnSteps : xt ? exponentialTurnSteps : vt ? valueTurnSteps : shippedSteps }

    /// ``AttentionKernelDescriptor/exponentialTurn``.
    var xt: Bool { descriptor.exponentialTurn }

    /// ``AttentionKernelDescriptor/exponentialTurn``: the softmax in two lambdas around the turn — `softmax_max` (the
    /// mask, each row's maximum as a tree over the step's n8 tiles, α, the new maximum) and `softmax_exp` (the
    /// exponentials, each row's sum as a tree, l = l·α + sum). The tree's pairings are fixed at compile time (every
    /// index a constant after unrolling), so its partial values stay in registers.
    var splitSoftmaxLambdas: String {
        "float m_scaled_r[2];  // each row's new maximum · scale (0 for a row that has seen no key), from softmax_max\n"
            + String(repeating: " ", count: 12) + splitSoftmaxPair(suffix: "", tiles: "N_TILES", width: "BLOCK_N", first: false)
            + (leanTurn ? "\n" + String(repeating: " ", count: 12) + leanFirstLambdas : "")
    }

    /// ``AttentionKernelDescriptor/leanExponentialTurn``.
    private var leanTurn: Bool { descriptor.leanExponentialTurn }

    /// ``AttentionKernelDescriptor/leanExponentialTurn``: the first (diagonal) step's pair, without α and l·α (O and
    /// l are zero there), and with ``AttentionKernelDescriptor/halfDiagonalStep`` a pair over the first half of the
    /// step's keys (the second half of S left as it is: `convert_p_half` packs zeros for it).
    private var leanFirstLambdas: String {
        splitSoftmaxPair(suffix: "_first", tiles: "N_TILES", width: "BLOCK_N", first: true)
            + (halfDiagonal ? "\n" + String(repeating: " ", count: 12) + splitSoftmaxPair(suffix: "_first_half", tiles: "(N_TILES / 2)", width: "(BLOCK_N / 2)", first: true) : "")
    }

    /// The two lambdas of ``splitSoftmaxLambdas`` over `tiles` n8 tiles (`width` keys), named `softmax_max<suffix>`
    /// and `softmax_exp<suffix>`; `first`: the tile's first step (no α, l = the step's sum). The first line carries no
    /// indentation.
    private func splitSoftmaxPair(suffix: String, tiles: String, width: String, first: Bool) -> String {
        let alphaLine = first ? "" : "\n" + String(repeating: " ", count: 20) + "alpha[r] = \(alphaValue);"
        let packed = descriptor.packedRowSum
        let sumLine = packed
            ? (first ? "row_sum[r] = 0.0f;  // the tile's first step: l was 0; convert_p adds this step's packed P" : "row_sum[r] *= alpha[r];  // this step's P is added from its packed pairs (convert_p)")
            : first ? "row_sum[r] = t[0];  // the tile's first step: l was 0" : "row_sum[r] = row_sum[r] * alpha[r] + t[0];"
        // ``AttentionKernelDescriptor/packedRowSum``: the float32 tree sum is left out (convert_p adds the packed P).
        let treeSum = packed ? "" : """
                            // The row sum as a tree too (float32 throughout; another rounding order than one chain).
                            float t[N_TILES];
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt) t[nt] = s[nt][2 * r] + s[nt][2 * r + 1];
                            #pragma unroll
                            for (int w = 1; w < \(tiles); w *= 2)
                                #pragma unroll
                                for (int nt = 0; nt + w < \(tiles); nt += 2 * w) t[nt] += t[nt + w];

        """
        let maxLine = first ? "const float mx = warp_max4(t[0]);  // the tile's first step: m was −∞"
            : lazy ? "const float mx = lazy_max(row_max[r], warp_max4(fmaxf(row_max[r], t[0])), scale_log2);  // kept unless it grew past 2^8"
            : "const float mx = warp_max4(fmaxf(row_max[r], t[0]));"
        return """
        auto softmax_max\(suffix) = [&](int n0) {
        \(diagonalMask(tiles: tiles, width: width))
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            // A tree: log2(N_TILES) dependent levels instead of a chain of N_TILES (exact: the same maximum).
                            float t[N_TILES];
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt) t[nt] = fmaxf(s[nt][2 * r], s[nt][2 * r + 1]);
                            #pragma unroll
                            for (int w = 1; w < \(tiles); w *= 2)
                                #pragma unroll
                                for (int nt = 0; nt + w < \(tiles); nt += 2 * w) t[nt] = fmaxf(t[nt], t[nt + w]);
                            \(maxLine)
                            // A row that has seen no key yet keeps m = −∞; exponentiate against 0 so P = 0, not NaN.
                            const float m_scaled = mx == -FA_INF ? 0.0f : mx * scale_log2;\(alphaLine)
                            row_max[r] = mx;
                            m_scaled_r[r] = m_scaled;
                        }
                    };
                    auto softmax_exp\(suffix) = [&]() {
                        #pragma unroll
                        for (int r = 0; r < 2; ++r) {
                            #pragma unroll
                            for (int nt = 0; nt < \(tiles); ++nt)
                                #pragma unroll
                                for (int c = 0; c < 2; ++c) s[nt][2 * r + c] = fast_exp2(fmaf(s[nt][2 * r + c], scale_log2, -m_scaled_r[r]));
        \(treeSum)                    \(sumLine)
                        }
                    };
        """
    }

    /// ``AttentionKernelDescriptor/exponentialTurn``: cuDNN's order. Every key step of the tile (the diagonal one
    /// too) in one loop: S issued and waited for, the row maximum and α, then this warpgroup's turn for the
    /// exponentials, O·α and P's packing, the turn handed over, P·V issued and waited for. No product of a
    /// warpgroup runs under its own softmax; the turn keeps the two warpgroups' exponentials (the MUFU) apart, so
    /// one warpgroup's exponentials run under the other's products. No P·V trails the loop.
    private var exponentialTurnSteps: String {
        """
        \(leanTurn ? leanFirstStep : "")// cuDNN's order: S → wait → max, α → [turn] exponentials, O·α, P → [hand over] → P·V → wait, every step.
                    for (int it = \(leanTurn ? 1 : 0); it < n_blocks; ++it) {
                        const int cur = kv_iter + it, stage = cur % STAGES;
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        wgmma_fence();
                        issue_qk(stage);
                        wgmma_wait<0>();
                        mbar_arrive(bar_k_free + 8 * stage);
                        softmax_max((n_blocks - 1 - it) * BLOCK_N);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        softmax_exp();
                        \(rescale)
                        convert_p();
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                        mbar_wait(bar_v_full + 8 * stage, (cur / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(stage);
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * stage);
                    }
        """
    }

    /// ``AttentionKernelDescriptor/leanExponentialTurn``: the tile's first (diagonal) step in cuDNN's order, peeled
    /// out of the loop: no α, no O·α (O is zero until this step's P·V), and with
    /// ``AttentionKernelDescriptor/halfDiagonalStep`` the mask, maximum, exponentials and sums at half width in a
    /// warpgroup whose rows see only the first half of the step's keys (the branch is around the softmax only; the
    /// products stay full width: a branch around a product group made ptxas serialise every wgmma). With the line
    /// break and the indentation of the loop that follows.
    private var leanFirstStep: String {
        let pad = String(repeating: " ", count: 16)
        return peeledFirstStepThroughHandOver(note: "")
            + pad + "mbar_wait(bar_v_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "wgmma_fence();\n"
            + pad + "issue_pv(stage);\n"
            + pad + "wgmma_wait<0>();\n"
            + pad + "mbar_arrive(bar_v_free + 8 * stage);\n"
            + String(repeating: " ", count: 12) + "}\n" + String(repeating: " ", count: 12)
    }

    /// The tile's first (diagonal) step of the lean cuDNN orders (`xl`, `xo`), peeled out of the loop, from its
    /// comment (`note` appended) through S, the first-step softmax pair (half width in a warpgroup whose rows see
    /// only the step's first half, with ``AttentionKernelDescriptor/halfDiagonalStep``) and the turn's hand-over;
    /// the block is left open for the caller's P·V (`xl`) or closing brace (`xo`). Every line but the first
    /// carries its indentation; it ends with a line break.
    fileprivate func peeledFirstStepThroughHandOver(note: String) -> String {
        let pad = String(repeating: " ", count: 16)
        let head = "// The tile's first (diagonal) step, peeled: O and l are still zero, so no α and no O·α\(note).\n"
            + String(repeating: " ", count: 12) + "{\n"
            + pad + "const int stage = kv_iter % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "wgmma_fence();\n"
            + pad + "issue_qk(stage);\n"
            + pad + "wgmma_wait<0>();\n"
            + pad + "mbar_arrive(bar_k_free + 8 * stage);\n"
        let softmax = halfDiagonal
            ? pad + "const bool half = " + halfTest("(n_blocks - 1)") + ";  // this warpgroup's rows see only the step's first half\n"
                + pad + "if (half) softmax_max_first_half((n_blocks - 1) * BLOCK_N); else softmax_max_first((n_blocks - 1) * BLOCK_N);\n"
                + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
                + pad + "if (half) { softmax_exp_first_half(); convert_p_half(); } else { softmax_exp_first(); convert_p(); }\n"
            : pad + "softmax_max_first((n_blocks - 1) * BLOCK_N);\n"
                + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
                + pad + "softmax_exp_first();\n"
                + pad + "convert_p();\n"
        return head + softmax
            + pad + "named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));\n"
    }

    /// ``AttentionKernelDescriptor/separateValueTurn``: two turns a step, the last step's P·V in the
    /// first, this step's S in the second (after that P·V has retired, between the turns, where its
    /// V stage is released); K is waited for before the second turn.
    private var valueTurnSteps: String {
        """
        // First step: S = Q·K_lastᵀ, softmax.
                    {
                        \(firstStepIssue("issue_qk_fresh"))
                        wgmma_wait<0>();
                        \(keyRelease(notLast: "n_blocks != 1"))
                        softmax((n_blocks - 1) * BLOCK_N);
                        convert_p();
                    }
                    for (int it = 1; it < n_blocks; ++it) {
                        const int cur = kv_iter + it, prv = cur - 1;
                        const int stage = cur % STAGES, prev = prv % STAGES;
                        // Turn 1: the last step's P·V.
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        \(turnRescale(indent: 24))mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(prev);
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                        // Between the turns: that P·V retires (P's registers free for S), its V stage goes back.
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * prev);
                        // Turn 2: this step's S (after the other warpgroup's P·V).
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        wgmma_fence();
                        issue_qk_fresh(stage);
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                        wgmma_wait<0>();  // S landed
                        \(keyRelease(notLast: "it != n_blocks - 1"))
                        softmax((n_blocks - 1 - it) * BLOCK_N);
                        convert_p();\(stepEndRescale)
                    }
        """
    }

    /// A tile's first step up to its S issue (`issue`: the lambda that issues and commits S): wait for
    /// the step's K stage, take the turn, issue, pass the turn on; the first line carries no indentation.
    private func firstStepIssue(_ issue: String) -> String {
        let pad = String(repeating: " ", count: 16)
        return "const int stage = \(firstIter) % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (\(firstIter) / STAGES) & 1);\n"
            + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
            + pad + "wgmma_fence();\n"
            + pad + "\(issue)(stage);\n"
            + pad + "named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));"
    }

    /// A step's K stage goes back once its S has landed; with ``AttentionKernelDescriptor/stageOInLastStage``
    /// warpgroup 0 keeps the tile's last one (where `notLast` is false), in which it stages O.
    private func keyRelease(notLast: String) -> String {
        okv && !ob ? "if (wg != 0 || \(notLast)) mbar_arrive(bar_k_free + 8 * stage);  // warpgroup 0 stages O in the last step's K stage"
            : "mbar_arrive(bar_k_free + 8 * stage);"
    }

    /// ``AttentionKernelDescriptor/valueWaitAfterSoftmax``: a never-taken branch on the step's new row sum
    /// between the softmax and the P·V wait (with the line break and indentation; nothing in the other forms).
    /// It ends the softmax's basic block: without it ptxas hoisted the `WARPGROUP.DEPBAR` of the wait to the
    /// softmax's head (to reuse P's registers as temporaries), so the softmax waited for this warpgroup's P·V.
    /// The row sum is a sum of exponentials (≥ 0; NaN compares false), so the trap never runs.
    private var valueWaitFence: String {
        guard descriptor.valueWaitAfterSoftmax else { return "" }
        return "\n" + String(repeating: " ", count: 16)
            + "if (row_sum[0] < 0.0f) __trap();  // never taken: ends the softmax's block, so ptxas keeps the P·V wait below after it"
    }

    /// The shipped key steps: S of step j lands while P·V of step j − 1 (P in its own registers) runs.
    private var shippedSteps: String {
        """
        \(nd ? narrowHead : "")// First step: S = Q·K_lastᵀ, softmax.
                    {
                        \(nd ? narrowFirstIssue : firstStepIssue("issue_qk"))\(foldedSlackCopies(step: "kv_iter", first: true, indent: 16))
                        if (OVERLAP) {
                            // The previous tile's P·V ran under this tile's head and this S's issue.
                            // Waiting for P·V alone (wait_group 1, the epilogue under this S) made
                            // ptxas serialise every wgmma of the kernel (C7514; 0.62–1.00× on the
                            // H100), so both products are waited for here.
                            wgmma_wait<0>();
                            if (pending) finish_pending();
                            init_rows();
                        }
                        \(nd ? "" : "wgmma_wait<0>();\n" + String(repeating: " ", count: 16))\(keyRelease(notLast: "n_blocks != \(firstLoopStep)"))\(ws ? wsRelease : "")\(foldedCopy("k", released: "kv_iter", indent: 16))
                        \(halfDiagonal ? halfSoftmax : "softmax((\(firstKeyBlock)) * BLOCK_N);\n" + String(repeating: " ", count: 16) + "convert_p();")\(spec ? "\n" + String(repeating: " ", count: 16) + "sx_redo = 0;  // O is zero until the first P·V: no rescale ahead of it" : "")
                    }
                    for (int it = \(firstLoopStep); it < n_blocks; ++it) {
                        const int cur = kv_iter + it, prv = cur - 1;
                        const int stage = cur % STAGES, prev = prv % STAGES;
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        wgmma_fence();
                        issue_qk(stage);
                        \(turnRescale(indent: 24))mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);
                        wgmma_fence();
                        \(nv ? narrowLoopValueIssue : "issue_pv(prev);")
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));\(foldedSlackCopies(step: "cur", first: false, indent: 16))
                        wgmma_wait<1>();  // S landed; P·V may still run
                        \(spec ? speculativeStep(n0: "(n_blocks - 1 - it) * BLOCK_N", first: firstLoopStep) : "")\(keyRelease(notLast: "it != n_blocks - 1"))\(foldedCopy("k", released: "cur", indent: 16))\(spec ? "" : "\n" + String(repeating: " ", count: 16) + "softmax((n_blocks - 1 - it) * BLOCK_N);")\(valueWaitFence)
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * prev);\(foldedCopy("v", released: "prv", indent: 16))
                        convert_p();\(stepEndRescale)
                    }
        """
    }

    /// Narrow diagonal products (``AttentionKernelDescriptor/narrowDiagonal``): whether this
    /// warpgroup's last row sees at most the first half of the tile's diagonal block (its first
    /// step), decided before that step's issue; lane 0's value, so ptxas can tell it is warp-uniform.
    private var narrowHead: String {
        "// This warpgroup's rows see at most the first half of the diagonal block: that step's products at half width\n"
            + String(repeating: " ", count: 12) + "// (lane 0's value: warp-uniform to ptxas, which serialises every wgmma under a branch it cannot tell is).\n"
            + String(repeating: " ", count: 12) + "const bool half = __shfl_sync(0xffffffffu, (int)(\(halfTest("(n_blocks - 1)"))), 0) != 0;\n"
            + String(repeating: " ", count: 12)
    }

    /// Narrow diagonal products: the first step's S at half or full width, each branch a whole product
    /// group from its fence to its wait (with the turn's hand-over inside; a branch around the issue
    /// alone left the group's accumulators defined by a join, C7515).
    private var narrowFirstIssue: String {
        let pad = String(repeating: " ", count: 16)
        return "const int stage = kv_iter % STAGES;\n"
            + pad + "mbar_wait(bar_k_full + 8 * stage, (kv_iter / STAGES) & 1);\n"
            + pad + "named_sync(BAR_TURN + wg, \(turnThreads));\n"
            + pad + "if (half) { wgmma_fence(); issue_qk_narrow(stage); named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads)); wgmma_wait<0>(); }\n"
            + pad + "else { wgmma_fence(); issue_qk(stage); named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads)); wgmma_wait<0>(); }"
    }

    /// ``AttentionKernelDescriptor/narrowDiagonalValues``.
    private var nv: Bool { descriptor.narrowDiagonalValues }

    /// Narrow diagonal products: whether this warpgroup's last row sees at most the first half of key
    /// block `block` (the tile's diagonal block when `block` is `n_blocks - 1`).
    private func halfTest(_ block: String) -> String {
        "imin(seqlen_k, m0 + wg * 64 + 64 + diag) <= \(block) * BLOCK_N + BLOCK_N / 2"
    }

    /// Narrow diagonal P·V in the loop: the first loop step issues the diagonal step's P·V, at half
    /// width where that step was narrow. The flag is taken from lane 0, so the branch inside the
    /// product group is one ptxas can tell is warp-uniform (without the shuffle: C7519; evaluated
    /// from the tile here instead of from `half`, or from a per-tile step index: C7511 at D = 128 with
    /// precomputed descriptors). The first form peeled the loop's first step instead (a second copy
    /// of the step): 0.84–0.93× the shipped kernel on an H100.
    private var narrowLoopValueIssue: String {
        let pad = String(repeating: " ", count: 16)
        return "const bool narrow = __shfl_sync(0xffffffffu, (int)(it == 1 && half), 0) != 0;  // the diagonal step's P·V, narrow\n"
            + pad + "if (narrow) issue_pv_narrow(prev); else issue_pv(prev);"
    }

    /// The tile's last P·V (issued, waited for): at half width where it is the diagonal step's of a
    /// narrow warpgroup (a one-step tile), each branch a whole product group. Not with
    /// ``AttentionKernelDescriptor/overlapEpilogue`` (refused beside the half-width softmax).
    private var lastValueIssue: String {
        let pad = String(repeating: " ", count: 16)
        guard nv else { return "wgmma_fence();\n" + pad + "issue_pv(stage);\n" + pad + "if (!OVERLAP) {\n" + pad + "    wgmma_wait<0>();" }
        // `half && n_blocks == 1`, evaluated again from the tile: with `half` here the first form's D = 128
        // kernel with precomputed descriptors had every wgmma serialised (C7511, registers).
        return "const bool narrow_last = __shfl_sync(0xffffffffu, (int)(n_blocks == 1 && \(halfTest("0"))), 0) != 0;\n"
            + pad + "if (narrow_last) { wgmma_fence(); issue_pv_narrow(stage); wgmma_wait<0>(); }\n"
            + pad + "else { wgmma_fence(); issue_pv(stage); wgmma_wait<0>(); }\n"
            + pad + "if (!OVERLAP) {"
    }

    /// The folded producer's copies after this warpgroup released key step `released`'s K or V stage
    /// (`operand` "k" or "v"): the issuing thread copies every step up to `released` + STAGES whose tile it
    /// has taken (the stage's other warpgroup released it a turn earlier), then its warp reconverges before
    /// the next product. Nothing in the other forms.
    private func foldedCopy(_ operand: String, released: String, indent: Int) -> String {
        guard fp && !sl else { return "" }
        let pad = String(repeating: " ", count: indent)
        return "\n" + pad + "if (issuer) copy_steps(bar_\(operand)_full, bar_\(operand)_free, s\(operand.uppercased()), &hp.tm_\(operand), copy_next\(operand == "v" ? " + 4" : ""), \(released) + STAGES + 1);\n"
            + pad + "__syncwarp();  // lane 0 of warp 4 rejoins its warp before the next wgmma (.sync.aligned)"
    }

    /// Copies in the slack (``AttentionKernelDescriptor/foldedCopiesInSlack``), after this warpgroup handed over the
    /// turn of global step `step` and before it waits for its S: K up to step − 1 + STAGES and V up to step − 2 + STAGES
    /// (both warpgroups released those stages' last uses before this turn; at a tile's first step every use of the
    /// previous tiles, so V too up to step − 1 + STAGES), after taking the next tile at a tile's first step.
    /// Nothing in the other forms.
    private func foldedSlackCopies(step: String, first: Bool, indent: Int) -> String {
        guard sl else { return "" }
        let pad = String(repeating: " ", count: indent)
        let take = first ? "take_next(); " : ""
        return "\n" + pad + "if (issuer) { \(take)copy_steps(bar_k_full, bar_k_free, sK, &hp.tm_k, copy_next, \(step) + STAGES); "
            + "copy_steps(bar_v_full, bar_v_free, sV, &hp.tm_v, copy_next + 4, \(step) + STAGES\(first ? "" : " - 1")); }\n"
            + pad + "__syncwarp();  // (in the wait for this warpgroup's S: the copies' stages were released a step ago)"
    }

    // MARK: empty warpgroups (session 13, hopfwd24)

    /// ``AttentionKernelDescriptor/skipEmptyWarpgroups``.
    var ew: Bool { descriptor.skipEmptyWarpgroups }

    /// Empty warpgroups: a warpgroup whose 64 rows all lie past the sequence's end takes one turn a key step
    /// (every step order it allows takes one) and releases each K / V stage after that stage's "full" phase,
    /// so its arrivals count toward the phase the other warpgroups' do (a stage is refilled only after every
    /// consumer released it), then the Q buffer, and goes on to the next tile without an epilogue. No wgmma
    /// group is open here (the previous tile waited for all of them), and the test is lane 0's value, so
    /// ptxas sees a warp-uniform branch in front of the products.
    var emptyWarpgroupSkip: String {
        let pad = "\n" + String(repeating: " ", count: 12)
        return pad + "// This warpgroup's rows all lie past the sequence's end: no product, no softmax, nothing stored; its turns and releases only."
            + pad + "if (__shfl_sync(0xffffffffu, (int)(wg * 64 >= rows_here), 0) != 0) {"
            + pad + "    for (int it = 0; it < n_blocks; ++it) {"
            + pad + "        const int cur = kv_iter + it, stage = cur % STAGES;"
            + pad + "        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);"
            + pad + "        named_sync(BAR_TURN + wg, \(turnThreads));"
            + pad + "        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));"
            + pad + "        mbar_arrive(bar_k_free + 8 * stage);"
            + pad + "        mbar_wait(bar_v_full + 8 * stage, (cur / STAGES) & 1);"
            + pad + "        mbar_arrive(bar_v_free + 8 * stage);"
            + pad + "    }"
            + pad + "    mbar_arrive(bar_q_free + 8 * qb);"
            + pad + "    kv_iter += n_blocks;"
            + pad + "    continue;"
            + pad + "}"
    }
}

// MARK: - The lean cuDNN order with each warpgroup's products under its own row maximum (session 13, hopfwd25)

extension HopperForwardKernel {
    /// ``AttentionKernelDescriptor/overlappedExponentialTurn``.
    var xo: Bool { descriptor.overlappedExponentialTurn != 0 }

    /// ``AttentionKernelDescriptor/overlappedExponentialTurn``: the tile's first (diagonal) step peeled as in `xl`, up to
    /// the hand-over (its P·V is issued beside the second step's S); then per step, after the hand-over: the step's S
    /// and the previous step's P·V issued back to back (S first, so `wgmma_wait<1>` is S alone), the mask and the row
    /// maximum while that P·V runs, the wait for it, the turn for the exponentials, O·α and P. Every wgmma outside any
    /// branch (ptxas serialises a product group under one, C75xx). With the line break and the indentation of the
    /// line after.
    fileprivate var overlappedTurnSteps: String {
        let first = peeledFirstStepThroughHandOver(note: "; its P·V is issued with the next S")
            + String(repeating: " ", count: 12) + "}\n" + String(repeating: " ", count: 12)
        return first + """
        // cuDNN's turn order, overlapped: S_j and P·V_{j−1} → wait S → mask, max, α (under P·V) → wait P·V → [turn] exponentials, O·α, P → [hand over].
                    for (int it = 1; it < n_blocks; ++it) {
                        const int cur = kv_iter + it, prv = cur - 1;
                        const int stage = cur % STAGES, prev = prv % STAGES;
                        mbar_wait(bar_k_full + 8 * stage, (cur / STAGES) & 1);
                        wgmma_fence();
                        issue_qk(stage);
                        mbar_wait(bar_v_full + 8 * prev, (prv / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(prev);
                        wgmma_wait<1>();  // S landed (committed first); P·V may still run
                        mbar_arrive(bar_k_free + 8 * stage);
                        softmax_max((n_blocks - 1 - it) * BLOCK_N);
                        \(overlapFence)  // ends the maximum's block: ptxas keeps the P·V wait below after it
                        wgmma_wait<0>();  // P·V landed: O may be rescaled, P's registers rewritten
                        mbar_arrive(bar_v_free + 8 * prev);
                        named_sync(BAR_TURN + wg, \(turnThreads));
                        \(overlapFence)  // ends the turn's first block: ptxas keeps the exponentials below after the sync
                        softmax_exp();
                        \(rescale)
                        convert_p();\(handOverFence)
                        named_arrive(BAR_TURN + \(nextWarpgroup), \(turnThreads));
                    }
        """
    }

    /// ``AttentionKernelDescriptor/overlappedExponentialTurn`` 2: a never-taken branch on the new row sums (sums of
    /// exponentials: ≥ 0, and NaN compares false) before the hand-over, which ends the exponentials' block, so ptxas
    /// keeps the `bar.arrive` after every exponential and P's packing (with the line break and indentation); nothing
    /// with 1.
    fileprivate var handOverFence: String {
        guard descriptor.overlappedExponentialTurn == 2 else { return "" }
        return "\n" + String(repeating: " ", count: 16)
            + "if (row_sum[0] < 0.0f || row_sum[1] < 0.0f) __trap();  // never taken: ends the exponentials' block, so the turn is handed over after them"
    }

    /// A branch that is never taken, on both rows' new maxima (a NaN pattern that no arithmetic produces: GPU
    /// arithmetic returns the canonical NaN 0x7fffffff, and fmaxf drops NaN operands), that ends a basic block. ptxas
    /// schedules within a block only: without these it hoisted the P·V wait to the maximum's head (so the maximum did
    /// not run under P·V) and the exponentials above the turn's `bar.sync` (so the turn no longer kept the two
    /// warpgroups' MUFU work apart). The condition uses both rows, so neither row's maximum sinks past the branch.
    fileprivate var overlapFence: String {
        "if ((__float_as_uint(m_scaled_r[0]) & __float_as_uint(m_scaled_r[1])) == 0x7fbfffffu) __trap();"
    }

    /// ``AttentionKernelDescriptor/overlappedExponentialTurn``: the tile's last P·V, after the Q buffer has gone back (every
    /// S has been read); O·α and P were done in the last step's turn, so it takes no turn. With the line break and the
    /// next line's indentation.
    var overlappedTrailingValue: String {
        """
        {
                        // The tile's last P·V (no turn: its exponentials, O·α and P were the last step's turn).
                        const int last = kv_iter + n_blocks - 1, stage = last % STAGES;
                        mbar_wait(bar_v_full + 8 * stage, (last / STAGES) & 1);
                        wgmma_fence();
                        issue_pv(stage);
                        wgmma_wait<0>();
                        mbar_arrive(bar_v_free + 8 * stage);
                    }
        """ + "\n" + String(repeating: " ", count: 12)
    }
}
