import FlashAttentionCore

// One consumer step of the key/value kernel (tile D = 64/128): the Sᵀ and dPᵀ products, the exponentials
// and dSᵀ, the dV/dK/dQ products, the dQ_partial staging for the writer, and the forms that reshape the step
// (earlyDV, lateDK, lateFence, pingPong, earlyStats, maskBranch).
extension HopperBackwardKernel {
    /// One consumer step, from the step decode through the step tail (both grid forms).
    var consumerStep: String {
        String("""
                    \(stepDecode)
                    const int stage = step % STAGES;
                    const u32 q_base = sQ + stage * QT_BYTES, do_base = sdO + stage * QT_BYTES;
                    const u32 ds_base = sdS + (step & 1) * DS_BYTES;
                    if (!PIPE_S) mbar_wait(bar_full + 8 * stage, (step / STAGES) & 1);\(pingPongTakeTurn)

                    // Sᵀ = K·Qᵀ (pipelined: issued at the end of the previous step) and dPᵀ = V·dOᵀ, one group each.
                    float dpt[Q_TILES][4];
                    wgmma_fence();
                    if (!PIPE_S) {
                        \(issueS("q_base"))
                    }
                    #pragma unroll
                    for (int ks = 0; ks < PRODUCT_DIM / 16; ++ks) {
                        const u32 off_n = (ks >> 2) * BLOCK_N * 128 + (ks & 3) * 32, off_m = (ks >> 2) * BLOCK_M * 128 + (ks & 3) * 32;
                        wgmma_s(dpt, \(operand("sV + wg_rows", "off_n", "16")), \(operand("do_base", "off_m", "16")), ks > 0 ? 1 : 0);
                    }
                    wgmma_commit();\(pingPongPassTurn)\(earlyStatsLoad)

                    // Pᵀ = 2^(scale·log2e·Sᵀ − L), masked (keys past the end; causal: j > i + diag).
                    wgmma_wait<1>();
                    touch_s(st);
                    const bool edge = n0 + BLOCK_N > seqlen_k || (CAUSAL && n0 + BLOCK_N - 1 > m0 + diag);\(statsPointers)
                    \(exponentials)
                    \(earlyDVIssue)// dSᵀ = Pᵀ ∘ (dPᵀ − D)
                    wgmma_wait<\(descriptor.earlyDV ? 1 : 0)>();
                    touch_s(dpt);
                    #pragma unroll
                    for (int nt = 0; nt < Q_TILES; ++nt)
                        #pragma unroll
                        for (int e = 0; e < 4; ++e)
                            dpt[nt][e] = st[nt][e] * (dpt[nt][e] - \(deltaValue));
                    \(packAndIssueDV)
                    // dSᵀ rows of this warp → shared memory: 64-query column blocks of BLOCK_N rows,
                    // chunk c of row r at c ^ (r % 8).
                    {
                        const u32 lo0 = ds_base + (warp_row + group) * 128 + tig * 4;
                        #pragma unroll
                        for (int ks = 0; ks < BLOCK_M / 16; ++ks) {
                            const u32 lo = lo0 + (ks >> 2) * (BLOCK_N * 128), hi = lo + 8 * 128;
                            const u32 c0 = (((2 * ks) & 7) ^ group) << 4, c1 = (((2 * ks + 1) & 7) ^ group) << 4;
                            st_shared_u32(lo + c0, pd[ks][0]);
                            st_shared_u32(hi + c0, pd[ks][1]);
                            st_shared_u32(lo + c1, pd[ks][2]);
                            st_shared_u32(hi + c1, pd[ks][3]);
                        }
                    }
                    \(dqProduct)
                    \(stepTail)
        """.drop(while: { $0 == " " }))
    }

    /// Sᵀ = K·Qᵀ of the step whose Q tile starts at `qBase` into `st`, one committed group.
    func issueS(_ qBase: String) -> String {
        """
        #pragma unroll
                            for (int ks = 0; ks < PRODUCT_DIM / 16; ++ks) {
                                const u32 off_n = (ks >> 2) * BLOCK_N * 128 + (ks & 3) * 32, off_m = (ks >> 2) * BLOCK_M * 128 + (ks & 3) * 32;
                                wgmma_s(st, \(operand("sK + wg_rows", "off_n", "16")), \(operand(qBase, "off_m", "16")), ks > 0 ? 1 : 0);
                            }
                            wgmma_commit();
        """
    }

    /// Pᵀ and dSᵀ → A fragments, then dV's product (``HopperBackwardDescriptor/earlyDV`` off:
    /// with dK's, one group), up to the `#pragma unroll` of dK's loop.
    private var packAndIssueDV: String {
        let pack = Self.packFragments
        guard descriptor.earlyDV else {
            return """
            // Both as A fragments: two adjacent n8 tiles are one k16 step.
                        u32 pp[BLOCK_M / 16][4], pd[BLOCK_M / 16][4];
                        #pragma unroll
                        for (int ks = 0; ks < BLOCK_M / 16; ++ks) {
            \(pack("pp", "st"))
            \(pack("pd", "dpt"))
                        }
                        // dV += Pᵀ·dO, dK += dSᵀ·Q (one group).
                        wgmma_fence();
                        #pragma unroll
                        for (int ks = 0; ks < BLOCK_M / 16; ++ks)
                            wgmma_o(acc_dv, pp[ks], \(operand("do_base", "ks * 16 * 128", "BLOCK_M * 128")));
                        \(dkIssue)
            """
        }
        return """
        // dSᵀ as A fragments (Pᵀ's went to dV's product, still in flight).
                    u32 pd[BLOCK_M / 16][4];
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks) {
        \(pack("pd", "dpt"))
                    }
        """ + (descriptor.lateDK ? "" : """

                    // dK += dSᵀ·Q (its own group, behind dV's).
                    wgmma_fence();
                    \(dkIssue)
        """)
    }

    /// The loop body that packs `from`'s two adjacent n8 accumulator tiles of step `ks` into the
    /// k16 A fragment `array[ks]` (16-bit pairs).
    private static func packFragments(_ array: String, _ from: String) -> String {
        (0..<4).map { i in
            let tile = i < 2 ? "2 * ks" : "2 * ks + 1", e = i % 2 == 0 ? "[0], \(from)[\(tile)][1]" : "[2], \(from)[\(tile)][3]"
            return "                \(array)[ks][\(i)] = pack_input2(\(from)[\(tile)]\(e));"
        }.joined(separator: "\n")
    }

    /// With ``HopperBackwardDescriptor/earlyDV``: Pᵀ → A fragments and dV += Pᵀ·dO as its own
    /// group right after the exponentials, so the tensor cores run it while dPᵀ completes and
    /// dSᵀ is computed; the wait for dPᵀ then leaves this group in flight. Empty otherwise.
    private var earlyDVIssue: String {
        guard descriptor.earlyDV else { return "" }
        let pack = Self.packFragments("pp", "st")
        return """
        // Pᵀ as A fragments (two adjacent n8 tiles are one k16 step); dV += Pᵀ·dO, one group.
                    u32 pp[BLOCK_M / 16][4];
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks) {
        \(pack)
                    }
                    wgmma_fence();
                    #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks)
                        wgmma_o(acc_dv, pp[ks], \(operand("do_base", "ks * 16 * 128", "BLOCK_M * 128")));
                    wgmma_commit();

        """ + "            "
    }

    /// The end of a step after the dQ product's commit: dV/dK complete (the stage is freed),
    /// dQ_partial completes and is staged for the writer. With ``HopperBackwardDescriptor/lateDK``
    /// dK's product is issued behind dQ's instead, so it runs while dQ_partial is staged.
    private var stepTail: String {
        guard descriptor.lateDK else {
            return """
            wgmma_wait<1>();
                        touch_o(acc_dv); touch_o(acc_dk);
                        mbar_arrive(bar_free + 8 * stage);   // Q, dO, L and D of this stage are no longer read
                        if (PIPE_S) {
                            // The next step's Sᵀ queues behind the dQ product and runs while this
                            // step's dQ_partial is staged for the writer. The last step repeats its
                            // own (the producer loads nothing more, so the stage stays intact): a
                            // conditional issue makes ptxas serialize every wgmma (C7512).
                            const bool more = step + 1 < steps;
                            const int next = (step + 1) % STAGES;
                            if (more) mbar_wait(bar_full + 8 * next, ((step + 1) / STAGES) & 1);
                            const u32 q_next = more ? sQ + next * QT_BYTES : q_base;
                            wgmma_fence();
                            \(issueS("q_next"))
                            wgmma_wait<1>();
                        } else {
                            wgmma_wait<0>();
                        }
                        touch_dq(acc_q);
                        \(stageDQ)
                        // Pipelined: the next Sᵀ completes here, so no wgmma group is in flight
                        // across the loop's back edge (carrying one there serializes them, C7514).
                        if (PIPE_S) { wgmma_wait<0>(); touch_s(st); }
            """
        }
        if descriptor.lateFence {
            // The proxy fence waits for this thread's dQ_partial stores to land; dK's completion
            // is waited for first, so the two waits overlap instead of running back to back.
            return """
            \(dkIssue)
                        wgmma_wait<1>();                     // dV and dQ_partial complete; dK runs on
                        touch_dq(acc_q);
                        \(stageDQ)
                        wgmma_wait<0>();
                        touch_o(acc_dv); touch_o(acc_dk);
                        mbar_arrive(bar_free + 8 * stage);   // Q, dO, L and D of this stage are no longer read
                        fence_async_shared();                // the staged dQ_partial, for the writer's bulk add
                        mbar_arrive(bar_dq_full + 8 * buf);
            """
        }
        return """
        \(descriptor.pingPong ? dkIssueShared : dkIssue)
                    wgmma_wait<1>();                     // dV and dQ_partial complete; dK runs on
                    touch_dq(acc_q);
                    \(stageDQ)
                    wgmma_wait<0>();
                    touch_o(acc_dv); touch_o(acc_dk);
                    mbar_arrive(bar_free + 8 * stage);   // Q, dO, L and D of this stage are no longer read
        """
    }

    /// dQ_partial into the writer's buffer once the writer has sent that buffer's previous
    /// contents, then handed over (both step tails end this way).
    private var stageDQ: String {
        if descriptor.pingPong { return pingPongStageDQ }
        return """
        // Stage dQ_partial for the writer once it has sent the previous one.
                    const int buf = DQ_BUFS == 2 ? step & 1 : 0;
                    mbar_wait(bar_dq_empty + 8 * buf, ((DQ_BUFS == 2 ? step >> 1 : step) & 1) ^ 1);
                    {
                        const u32 dst = sdQ + buf * DQ_BYTES + wg * (DQ_BYTES / 2) + ct * 16;
                        #pragma unroll
                        for (int nt = 0; nt < DQ_TILES; ++nt) st_shared_f4(dst + nt * 128 * 16, acc_q[nt][0], acc_q[nt][1], acc_q[nt][2], acc_q[nt][3]);
                    }\(descriptor.lateFence ? "" : """

                                fence_async_shared();
                                mbar_arrive(bar_dq_full + 8 * buf);
                    """)
        """
    }

    /// dK += dSᵀ·Q from the `pd` fragments, one committed group.
    private var dkIssue: String {
        """
        #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks)
                        wgmma_o(acc_dk, pd[ks], \(operand("q_base", "ks * 16 * 128", "BLOCK_M * 128")));
                    wgmma_commit();
        """
    }

    // MARK: - Ping-pong consumers (tile D = 128, ``HopperBackwardDescriptor/pingPong``)

    private var pingPongTakeTurn: String {
        guard descriptor.pingPong else { return "" }
        return "\n            named_sync(BAR_TURN + wg, CONSUMER_THREADS);   // this warpgroup's turn to issue Sᵀ and dPᵀ"
    }

    private var pingPongPassTurn: String {
        guard descriptor.pingPong else { return "" }
        return "\n            if (wg == 0 || step + 1 < steps) named_arrive(BAR_TURN + (wg ^ 1), CONSUMER_THREADS);   // the other's turn"
    }

    /// The dQ product after the dSᵀ stores: shipped, both warpgroups' dSᵀ rows (a barrier across
    /// them) times this warpgroup's 64 columns of K; ping-pong, this warpgroup's own 64 keys times
    /// all of K's columns (m64n128, a barrier within the warpgroup only).
    private var dqProduct: String {
        guard descriptor.pingPong else {
            return """
            fence_async_shared();
                        named_sync(BAR_DS, CONSUMER_THREADS);
                        // dQ_partial[:, 64·wg …] = dS·K[:, 64·wg …] over all 128 keys of the block
                        // (SPLIT_Q: dQ_partial[64·wg …, :] = dS[64·wg …, :]·K).
                        float acc_q[DQ_TILES][4];
                        const u32 dq_a = ds_base + (SPLIT_Q ? \(dqBlockRows) : 0), dq_b = sK + (SPLIT_Q ? 0 : \(dqBlockRows));
                        wgmma_fence();
                        #pragma unroll
                        for (int ks = 0; ks < BLOCK_N / 16; ++ks)
                            wgmma_dq(acc_q, \(operand("dq_a", "ks * 16 * 128", "BLOCK_N * 128")),
                                     \(operand("dq_b", "ks * 16 * 128", "BLOCK_N * 128")), ks > 0 ? 1 : 0);
                        wgmma_commit();
            """
        }
        return """
        // dV's (and dK's) products complete first: their A fragments' registers are then free for
                    // the 64 of the dQ accumulator (else ptxas serializes every wgmma, C7512).
                    wgmma_wait<0>();
                    fence_async_shared();
                    named_sync(BAR_WG + wg, 128);            // this warpgroup's dSᵀ rows (the other's are not read)
                    // dQ_partial(wg) = dS[:, 64·wg …]·K[64·wg …, :]: this warpgroup's 64 keys, all 128 columns
                    // (its registers are Sᵀ's and dPᵀ's, dead once dSᵀ is packed).
                    float acc_q[DQ_TILES][4];
                    wgmma_fence();
                    #pragma unroll
                    for (int ks = 0; ks < 64 / 16; ++ks)
                        wgmma_dq(acc_q, \(operand("ds_base + wg_rows", "ks * 16 * 128", "BLOCK_N * 128")),
                                 \(operand("sK + wg_rows", "ks * 16 * 128", "BLOCK_N * 128")), ks > 0 ? 1 : 0);
                    wgmma_commit();
        """
    }

    /// The byte offset of this warpgroup's BLOCK_N-row half of the dQ product's split operand
    /// (BLOCK_N = 128, so twice ``warpgroupRows``: warp-uniform with precomputed descriptors).
    private var dqBlockRows: String {
        descriptor.precomputedDescriptors ? "2 * wg_rows" : "wg * BLOCK_N * 128"
    }

    /// Ping-pong staging: warpgroup 0 stores its partial once the writer has sent the buffer's
    /// previous tile; warpgroup 1 then adds its own into it (ld/add/st, the same fragment order
    /// and addresses, so every element is wg0 + wg1 in that order: bitwise reproducible) and
    /// hands the sum to the writer.
    private var pingPongStageDQ: String {
        """
        // Both partials into the writer's buffer: warpgroup 0 stores, warpgroup 1 adds (fixed order).
                    const int buf = DQ_BUFS == 2 ? step & 1 : 0;
                    const u32 use = (DQ_BUFS == 2 ? step >> 1 : step) & 1;
                    const u32 dst = sdQ + buf * DQ_BYTES + ct * 16;
                    if (wg == 0) {
                        mbar_wait(bar_dq_empty + 8 * buf, use ^ 1);
                        #pragma unroll
                        for (int nt = 0; nt < DQ_TILES; ++nt) st_shared_f4(dst + nt * 128 * 16, acc_q[nt][0], acc_q[nt][1], acc_q[nt][2], acc_q[nt][3]);
                        mbar_arrive(bar_dq_half + 8 * buf);   // warpgroup 1 may add
                    } else {
                        mbar_wait(bar_dq_half + 8 * buf, use);
                        #pragma unroll
                        for (int nt = 0; nt < DQ_TILES; ++nt) {
                            const float4 v = ld_shared_f4(dst + nt * 128 * 16);
                            st_shared_f4(dst + nt * 128 * 16, v.x + acc_q[nt][0], v.y + acc_q[nt][1], v.z + acc_q[nt][2], v.w + acc_q[nt][3]);
                        }
                        fence_async_shared();
                        mbar_arrive(bar_dq_full + 8 * buf);
                    }
        """
    }

    /// Ping-pong's late dK: dK += dSᵀ·Q with dSᵀ from this warpgroup's rows of the step's dSᵀ
    /// buffer (stored and fenced before the dQ product), one committed group.
    private var dkIssueShared: String {
        """
        #pragma unroll
                    for (int ks = 0; ks < BLOCK_M / 16; ++ks)
                        wgmma_o_ss(acc_dk, \(operand("ds_base + wg_rows", "ks * 32", "16")), \(operand("q_base", "ks * 16 * 128", "BLOCK_M * 128")));
                    wgmma_commit();
        """
    }

    // MARK: - Statistics in registers ahead of the waits (tile D = 128, ``HopperBackwardDescriptor/earlyStats``)

    /// The step's L and D rows: pointers into the stage (shipped), or with
    /// ``HopperBackwardDescriptor/earlyStats`` nothing here (they were read into registers
    /// right after the Sᵀ and dPᵀ products were issued).
    private var statsPointers: String {
        if descriptor.earlyStats && !descriptor.earlyDV {
            return """

                        const float* d_row = (const float*)(base + (sDelta - sK) + stage * STAT_BYTES) + tig * 2;
            """
        }
        guard descriptor.earlyStats else {
            return """

                        const float* l_row = (const float*)(base + (sL - sK) + stage * STAT_BYTES) + tig * 2;
                        const float* d_row = (const float*)(base + (sDelta - sK) + stage * STAT_BYTES) + tig * 2;
            """
        }
        return ""
    }

    /// With ``HopperBackwardDescriptor/earlyStats``: this thread's 16 values of L and 16 of D
    /// (columns nt·8 + tig·2 + {0, 1}) loaded from the stage into registers while the Sᵀ and dPᵀ
    /// products run. ncu (session 8, D = 128 bf16 1k/8k): the shipped kernel loads them after
    /// the wgmma waits, and the first exp FFMA and the first dSᵀ FADD then wait ~200 cycles on
    /// the shared-memory loads (short scoreboard, ~8 % of all stall samples), behind the
    /// tensor cores' operand reads, with both warpgroups in that phase and the tensor cores idle.
    /// Without the early dV (causal), Pᵀ's and dSᵀ's fragments are live together and 16 more
    /// registers spill (ptxas: 8 bytes), so only L comes early there.
    private var earlyStatsLoad: String {
        guard descriptor.earlyStats else { return "" }
        guard descriptor.earlyDV else {
            return """

                        // L of this step into registers while the products run (see earlyStats).
                        float lv[Q_TILES][2];
                        {
                            const float* l_row = (const float*)(base + (sL - sK) + stage * STAT_BYTES) + tig * 2;
                            #pragma unroll
                            for (int nt = 0; nt < Q_TILES; ++nt) {
                                const float2 l2 = *(const float2*)(l_row + nt * 8);
                                lv[nt][0] = l2.x; lv[nt][1] = l2.y;
                            }
                        }
            """
        }
        return """

                    // L and D of this step into registers while the products run (see earlyStats).
                    float lv[Q_TILES][2], dlv[Q_TILES][2];
                    {
                        const float* l_row = (const float*)(base + (sL - sK) + stage * STAT_BYTES) + tig * 2;
                        const float* d_row = (const float*)(base + (sDelta - sK) + stage * STAT_BYTES) + tig * 2;
                        #pragma unroll
                        for (int nt = 0; nt < Q_TILES; ++nt) {
                            const float2 l2 = *(const float2*)(l_row + nt * 8), d2 = *(const float2*)(d_row + nt * 8);
                            lv[nt][0] = l2.x; lv[nt][1] = l2.y; dlv[nt][0] = d2.x; dlv[nt][1] = d2.y;
                        }
                    }
        """
    }

    /// L of element (nt, e) in the unmasked exponentials.
    private var lValue: String { descriptor.earlyStats ? "lv[nt][e & 1]" : "l_row[nt * 8 + (e & 1)]" }

    /// D of element (nt, e) in dSᵀ.
    private var deltaValue: String { descriptor.earlyStats && descriptor.earlyDV ? "dlv[nt][e & 1]" : "d_row[nt * 8 + (e & 1)]" }

    /// Pᵀ = 2^(scale·log2e·Sᵀ − L) in place, masked on edge steps (``edgeMaskedExponentials(array:tiles:maskedL:unmaskedL:indent:)``).
    private var exponentials: String {
        edgeMaskedExponentials(array: "st", tiles: "Q_TILES", maskedL: descriptor.earlyStats ? "lv[nt][e & 1]" : "l_row[col]",
                               unmaskedL: lValue, indent: 12)
    }

    /// Pᵀ = 2^(scale·log2e·Sᵀ − L) in place over `tiles` n8 tiles of `array`, masked on edge steps (keys past the end; causal:
    /// j > i + diag); `maskedL` / `unmaskedL` are L of element (nt, e) in the masked and unmasked loops. ptxas predicates the
    /// mask into every step (on a causal problem about 450 more instructions a consumer thread a step at tile D = 64:
    /// compares, selects, predicate logic; unmasked, 32 FSEL at tile D = 128), so with ``HopperBackwardDescriptor/maskBranch``
    /// the step branches once on `edge` (uniform across the CTA) and the other steps run the unmasked loop. Shared by the
    /// tile D = 64 / 128 step and the wide kernel's warpgroup 0; the first line carries no indentation, the others `indent`.
    func edgeMaskedExponentials(array: String, tiles: String, maskedL: String, unmaskedL: String, indent: Int) -> String {
        // The predicated loop, its lines after the first indented by `pad`.
        func masked(_ pad: String) -> String {
            let lines = [
                "#pragma unroll",
                "for (int nt = 0; nt < \(tiles); ++nt)",
                "    #pragma unroll",
                "    for (int e = 0; e < 4; ++e) {",
                "        const int j = key0 + 8 * (e >> 1);",
                "        const int col = nt * 8 + (e & 1);           // + tig·2: in l_row",
                "        float pr = fast_exp2(\(array)[nt][e] * scale_log2 - \(maskedL));",
                "        if (edge && (j >= seqlen_k || (CAUSAL && j > m0 + col + tig * 2 + diag))) pr = 0.0f;",
                "        \(array)[nt][e] = pr;",
                "    }",
            ]
            return lines[0] + lines.dropFirst().map { "\n" + pad + $0 }.joined()
        }
        let pad = String(repeating: " ", count: indent)
        guard descriptor.maskBranch else { return masked(pad) }
        return "if (edge) {\n" + pad + "    " + masked(pad + "    ") + "\n" + pad + "} else {\n"
            + pad + "    // A step with every key visible to every query: no mask.\n"
            + pad + "    #pragma unroll\n" + pad + "    for (int nt = 0; nt < \(tiles); ++nt)\n"
            + pad + "        #pragma unroll\n" + pad + "        for (int e = 0; e < 4; ++e)\n"
            + pad + "            \(array)[nt][e] = fast_exp2(\(array)[nt][e] * scale_log2 - \(unmaskedL));\n"
            + pad + "}"
    }
}
