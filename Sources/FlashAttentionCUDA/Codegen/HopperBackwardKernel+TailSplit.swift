/// The last round's key blocks split over the idle multiprocessors (``HopperBackwardDescriptor/tailSplit``). Every piece
/// is empty when the flag is off, so the other sources do not change.
extension HopperBackwardKernel {
    var ts: Bool { descriptor.tailSplit }

    /// Bytes at the front of the tail area behind the turn counters: one int counter per tail key block (fewer than the
    /// multiprocessors), then the blocks' float32 sums (dK, then dV: BLOCK_N × HEAD_DIM each).
    public static let tailCounterBytes = 1024

    /// The C expression of the turn counters' bytes (the runtime's `semaphoreBytes`: one int per query tile, rounded up to
    /// 256), where the tail area and then the timeline's rows begin behind `p.dq_sem`. Tile D = 64 / 128 only (the wide
    /// kernel's chunk turns hold four arrays).
    static let turnCounterBytes = "(((long long)p.heads * p.batch * ((p.seqlen_q + BLOCK_M - 1) / BLOCK_M) * 4 + 255) / 256) * 256"

    /// The split of a per-tile grid of `keyBlocks` CTAs on `multiprocessors`: the T = keyBlocks mod S blocks of the last
    /// round, each as k parts (at most `steps`), where k minimises the tail's modelled time ⌈T·k / S⌉ · (steps / k + F):
    /// waves of parts, each part its share of the steps plus F = ``tailPartFixedSteps`` steps of fixed cost (K/V loads,
    /// the epilogue, the launch gap). One wave where T leaves room (tile D = 64's four blocks: k = ⌊S / T⌋); two or more
    /// where it does not (tile D = 128's 68 blocks on 132 SMs: k = 3, two waves of thirds in place of one round of whole
    /// blocks). Later waves are safe: a part waits only on the dQ turns of lower key blocks, whose CTAs come earlier in
    /// the grid. `parts` (a measurement knob) fixes k (at most `steps`). (0, 1) where no split gains a step.
    public static func tailSplit(keyBlocks: Int, multiprocessors: Int, steps: Int, parts forced: Int? = nil) -> (units: Int, parts: Int) {
        guard multiprocessors > 0, keyBlocks > 0, steps > 1 else { return (0, 1) }
        let units = keyBlocks % multiprocessors
        guard units > 0, units * 4 <= tailCounterBytes else { return (0, 1) }
        if let forced { let k = min(forced, steps); return k >= 2 ? (units, k) : (0, 1) }
        func cost(_ k: Int) -> Double {
            Double((units * k + multiprocessors - 1) / multiprocessors) * (Double(steps) / Double(k) + tailPartFixedSteps)
        }
        var best = 1
        for k in 2...min(steps, multiprocessors) where cost(k) < cost(best) { best = k }
        return best >= 2 && cost(best) <= cost(1) - 1 ? (units, best) : (0, 1)
    }

    /// The fixed cost of a tail part in steps of its key block, for ``tailSplit(keyBlocks:multiprocessors:steps:parts:)``:
    /// the session-29 timeline had a key block's K/V landed 1.2–1.4 µs after its start, its dK/dV stored 1.4–2.7 µs after
    /// its last step and 0.3–0.6 µs between CTAs, against steps of 2.1 µs (tile D = 128) and 2.5 µs (tile D = 64); a part
    /// also adds its dK/dV into the float32 sums.
    public static let tailPartFixedSteps = 2.5

    /// The tail area's bytes for `units` split key blocks at tile D `headDim` (the runtime zeroes it with the counters).
    public static func tailBytes(units: Int, headDim: Int) -> Int {
        units == 0 ? 0 : tailCounterBytes + units * 2 * 128 * headDim * 4
    }

    /// The linear grid's decode: CTAs past the first G − T run the last T key blocks in `p.tail_parts` parts each; the
    /// key block then decodes as the 3-D grid's (kv head fastest, then key block, then batch) or the head groups' order.
    var tailSplitDecode: String {
        let order = descriptor.headGroup > 0
            ? Self.blockDecode(headGroup: descriptor.headGroup, index: "ts_unit")
            : """
            const int ts_kvh = p.heads / p.group_size, ts_nb = (p.seqlen_k + BLOCK_N - 1) / BLOCK_N;
                const int kv_head = ts_unit % ts_kvh, n_block = (ts_unit / ts_kvh) % ts_nb, batch = ts_unit / (ts_kvh * ts_nb);
            """
        return """
        // Tail split: the first G − T CTAs are key blocks 0 … G − T − 1; then the last T blocks, p.tail_parts CTAs each.
            const int ts_units = (p.heads / p.group_size) * ((p.seqlen_k + BLOCK_N - 1) / BLOCK_N) * p.batch;
            const int ts_q = (int)blockIdx.x - (ts_units - p.tail_units);          // ≥ 0: a part of a tail key block
            const int ts_parts = ts_q < 0 ? 1 : p.tail_parts, ts_part = ts_q < 0 ? 0 : ts_q % p.tail_parts;
            const int ts_unit = ts_q < 0 ? (int)blockIdx.x : ts_units - p.tail_units + ts_q / p.tail_parts;
            \(order)
        """
    }

    /// ``HopperBackwardKernel/keyBlockSteps`` with this CTA's part of the block's steps: [s0, s0 + steps).
    var tailSplitSteps: String {
        HopperBackwardKernel.keyBlockSteps.replacing(
            "const int steps = n0 < seqlen_k ? m_steps * p.group_size : 0;",
            with: """
            const int ts_steps = n0 < seqlen_k ? m_steps * p.group_size : 0;   // the block's steps; this CTA runs [s0, s0 + steps)
                const int s0 = (int)((long long)ts_part * ts_steps / ts_parts);
                const int steps = (int)((long long)(ts_part + 1) * ts_steps / ts_parts) - s0;
            """)
    }

    /// A part's epilogue in place of the dK/dV stores: its unscaled float32 dK and dV added into the block's sums, then the
    /// part that arrives last (a counter behind the fences) stores dK = scale · Σ, dV = Σ from the sums.
    var tailPartEpilogue: String {
        """
        // A part of a tail key block: add this part's dK, dV into the block's float32 sums; the last part stores them.
                        unsigned char* const ts_base = (unsigned char*)p.dq_sem
                            + \(Self.turnCounterBytes);
                        int* const ts_count = (int*)ts_base + ts_q / ts_parts;
                        float* const ts_sum = (float*)(ts_base + \(Self.tailCounterBytes)) + (i64)(ts_q / ts_parts) * (2 * BLOCK_N * HEAD_DIM);
                        #pragma unroll
                        for (int r = 0; r < 2; ++r)
                            #pragma unroll
                            for (int dt = 0; dt < D_TILES; ++dt) {
                                float* const at = ts_sum + (warp_row + group + 8 * r) * HEAD_DIM + dt * 8 + tig * 2;
                                red_add_f32x2(at, acc_dk[dt][2 * r], acc_dk[dt][2 * r + 1]);
                                red_add_f32x2(at + BLOCK_N * HEAD_DIM, acc_dv[dt][2 * r], acc_dv[dt][2 * r + 1]);
                            }
                        __threadfence();
                        named_sync(BAR_TAIL, CONSUMER_THREADS);
                        // Both warpgroups' products are done, so the dSᵀ buffers are free: their first word carries the verdict
                        // (static shared memory would push the largest layouts past the 227 KB limit).
                        if (tid == 128) st_shared_u32(sdS, atomicAdd(ts_count, 1) == ts_parts - 1 ? 1u : 0u);
                        named_sync(BAR_TAIL, CONSUMER_THREADS);
                        if (ld_shared_u32(sdS) != 0u) {
                            __threadfence();
                            #pragma unroll
                            for (int r = 0; r < 2; ++r)
                                #pragma unroll
                                for (int dt = 0; dt < D_TILES; ++dt) {
                                    const float* const at = ts_sum + (warp_row + group + 8 * r) * HEAD_DIM + dt * 8 + tig * 2;
                                    acc_dk[dt][2 * r] = ld_cg_f32(at); acc_dk[dt][2 * r + 1] = ld_cg_f32(at + 1);
                                    acc_dv[dt][2 * r] = ld_cg_f32(at + BLOCK_N * HEAD_DIM); acc_dv[dt][2 * r + 1] = ld_cg_f32(at + BLOCK_N * HEAD_DIM + 1);
                                }
                            \(Self.directKeyValueStores(tiles: "D_TILES", firstColumn: "").split(separator: "\n", omittingEmptySubsequences: false).joined(separator: "\n            "))
                        }
        """
    }

    /// The consumers' epilogue: a part's, or the block's own stores.
    func epilogueWithTailSplit(_ plain: String) -> String {
        guard ts else { return plain }
        return "if (ts_parts > 1) {\n                " + tailPartEpilogue + "\n                } else {\n                " + plain + "\n                }"
    }

    /// The helpers a part's epilogue uses, and its barrier id.
    var tailSplitHelpers: String {
        guard ts else { return "" }
        return """

        constexpr int BAR_TAIL = 9;                // named barrier 9: both consumer warpgroups have added a tail part's dK / dV
        // Two neighbouring columns in one reduction (sm_90's vector red): half the L2 atomic operations of scalar adds.
        FA_DEVICE void red_add_f32x2(float* at, float a, float b) { asm volatile("red.global.add.v2.f32 [%0], {%1, %2};" :: "l"(at), "f"(a), "f"(b) : "memory"); }
        FA_DEVICE u32 ld_shared_u32(u32 a) { u32 v; asm volatile("ld.shared.b32 %0, [%1];" : "=r"(v) : "r"(a) : "memory"); return v; }
        FA_DEVICE float ld_cg_f32(const float* at) { float v; asm volatile("ld.global.cg.f32 %0, [%1];" : "=f"(v) : "l"(at) : "memory"); return v; }
        """
    }
}
