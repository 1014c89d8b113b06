import FlashAttentionCore

/// Generates the Hopper (sm_90a) warp-specialised forward kernel: TMA loads, an mbarrier
/// pipeline, a producer warp and two ping-ponging consumer warpgroups.
///
/// A pure function of the descriptor, like ``AttentionKernel`` (which calls this for
/// ``KernelMainloop/tmaWarpSpecialized``). One thread block of 384 threads owns a tile of 128
/// query rows (with ``AttentionKernelDescriptor/persistent``, one block per multiprocessor
/// walks the tiles, and the next tile's loads overlap this one's last product and epilogue):
///
/// ```
/// warpgroup 0 (producer, 24 registers): one thread issues TMA copies
///     per tile: wait until its Q buffer is free, Q; then for each key block, last to first: wait
///     until stage s is free, K → stage s, V → stage s (each completing on that stage's "full"
///     mbarrier). With two Q buffers (``AttentionKernelDescriptor/qStages``) the next tile's Q
///     goes out right after this tile's last V copy, a key step or more before this tile's
///     last S product frees the buffer the one-buffer kernel waits for.
/// warpgroups 1 and 2 (consumers, 240 registers), 64 query rows each:
///     S₀ = Q·K₀ᵀ; softmax → P₀
///     for j = 1 …:  [my turn]  S_j = Q·K_jᵀ (async); O = O·α; O += P_{j−1}·V_{j−1} (async)  [your turn]
///                   wait S_j; release K_j; mask; softmax → α, P_j; wait O; release V_{j−1}
///     O = O·α; O += P_last·V_last; O /= l
/// ```
/// With ``AttentionKernelDescriptor/earlyRescale`` the `O = O·α` of each step moves to the end of the
/// step before it (after "wait O"), out of the turn, and the first step has none (O is still zero).
/// With ``AttentionKernelDescriptor/separateValueTurn`` (D = 256, 128-key steps in one K and one V
/// stage) each loop step takes two turns, `[my turn] O += P_{j−1}·V_{j−1} [your turn]`, wait O,
/// release V_{j−1}, `[my turn] S_j = Q·K_jᵀ [your turn]`, so S and P are never live together.
/// With ``AttentionKernelDescriptor/consumerWarpgroups`` = 3 (D = 64) a block has 512 threads and
/// 192 query rows; the consumers have 160 registers each and the turns go round all three.
///
/// The turn-taking ("ping-pong") is a pair of named barriers: a warpgroup issues its two
/// products only after the other has issued its own, so while one warpgroup runs its softmax
/// the tensor cores work on the other's products. Within a warpgroup, the softmax of step j
/// overlaps the P·V product of step j − 1. Every exponential is one `ex2` with the scale
/// folded in (FFMA of the raw score), causal tiles past the diagonal are never loaded, and
/// only tiles that cross a row's last visible key are masked.
///
/// Tiles arrive in shared memory in the 128-byte-swizzled layout `wgmma` reads (64-column
/// blocks of ROWS × 128 B); the copy engine zero-fills rows past the tensor's end, and the
/// mask removes keys past the sequence end, so no tile needs a bounds check.
public struct HopperForwardKernel: Sendable {
    public let descriptor: AttentionKernelDescriptor

    public init(descriptor: AttentionKernelDescriptor) throws {
        guard descriptor.mainloop == .tmaWarpSpecialized else {
            throw FlashAttentionError.unsupported("kernel \(descriptor.name): not a TMA warp-specialised descriptor")
        }
        if let reason = descriptor.invalidReason {
            throw FlashAttentionError.unsupported("kernel \(descriptor.name): \(reason)")
        }
        self.descriptor = descriptor
    }

    /// For ``AttentionKernel``, which has validated the descriptor already.
    init(checked descriptor: AttentionKernelDescriptor) { self.descriptor = descriptor }

    /// Bytes of the three tensor maps in front of ``ForwardParameters`` in the kernel's
    /// parameter struct (Q, K, V; 128 bytes each, 64-byte aligned).
    public static let tensorMapBytes = 3 * 128

    /// The size of the generated `HopperParams` struct: the maps, the forward parameters, the
    /// dynamic scheduler's counter address, padded to the struct's 64-byte alignment.
    public static var parameterStructSize: Int { parameterStructSize(tensorMaps: 3) }

    /// The struct's size with `count` 128-byte maps in front (4: O's after V's, for
    /// ``AttentionKernelDescriptor/tmaStoreO``).
    public static func parameterStructSize(tensorMaps count: Int) -> Int { (count * 128 + ForwardParameters.structSize + 8 + 63) / 64 * 64 }

    /// The bytes of the kernel's one parameter: the encoded maps (Q, K, V, and O's with
    /// ``AttentionKernelDescriptor/tmaStoreO``), then `parameters`, then
    /// `tileCounter` (two zeroed uint32 in device memory; only
    /// ``AttentionKernelDescriptor/dynamicScheduler`` kernels read it, and leave it zero again).
    public static func packedParameters(tensorMaps: [[UInt8]], parameters: ForwardParameters, tileCounter: UInt64 = 0) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(parameterStructSize(tensorMaps: tensorMaps.count))
        for map in tensorMaps { bytes += map + [UInt8](repeating: 0, count: max(0, 128 - map.count)) }
        bytes += parameters.packed()
        for i in 0..<8 { bytes.append(UInt8(truncatingIfNeeded: tileCounter >> (8 * UInt64(i)))) }
        while bytes.count < parameterStructSize(tensorMaps: tensorMaps.count) { bytes.append(0) }
        return bytes
    }

    public var source: String {
        let d = descriptor
        let input = d.elementType == .bfloat16 ? "bf16" : "f16"
        let helpers = AttentionKernel(unchecked: d).elementHelpers
        return ([
            "// FlashAttention forward (Hopper, TMA, warp-specialised): \(d.name)",
            "// Generated by swift-flash-attention from its kernel descriptor; do not edit.",
            DevicePrelude.source(elementType: input),
            ForwardParameters.cDeclaration(),
            constants,
            helpers,
            asyncHelpers,
            wgmmaWrappers,
        ] + (sk ? [streamKHelpers] : []) + [kernel]).joined(separator: "\n\n") + "\n"
    }

    /// The consumers' head: their registers raised, warpgroup index and consumer thread index.
    private var consumerHead: String {
        """
        // MARK: consumer warpgroups
                asm volatile("setmaxnreg.inc.sync.aligned.u32 \(Self.consumerRegisters(descriptor));\\n" ::: "memory");
                const int wg = \(xd ? "__shfl_sync(0xffffffffu, (warp >> 2) - 1, 0);  " : "(warp >> 2) - 1;                  ")// \(threeConsumers ? "0, 1 or 2" : "0 or 1"): rows 64·wg … 64·wg + 63 of a tile
                const int ctid = tid - 128;                      // \(threeConsumers ? "0 … 383 over the three" : "0 … 255 over both") consumer warpgroups
        """
    }

    /// Two blocks per SM: the consumers are warps 0–7 (no `setmaxnreg`: the launch bound gives 96).
    private var twoBlocksConsumerHead: String {
        """
        // MARK: consumer warpgroups (warps 0–7; every thread has the launch bound's registers)
                const int wg = \(xd ? "__shfl_sync(0xffffffffu, warp >> 2, 0);  " : "warp >> 2;                  ")// 0 or 1: rows 64·wg … 64·wg + 63 of a tile
                const int ctid = tid;                            // 0 … 255 over both consumer warpgroups
        """
    }

    /// Whether the kernel re-derives its two per-launch tile counts from the parameters at each use instead of holding them
    /// in registers: tile D = 256 with the speculative maximum runs at the consumers' 240-register budget, and ptxas spilled
    /// exactly those two (8 B, reloaded at the tile head, in the epilogue and in the producer); an opaque read of
    /// `seqlen_q` (`opaque_s32`) keeps them from being hoisted back into one long-lived register.
    var rematerializedTileCounts: Bool { descriptor.speculativeMax && descriptor.headDim == 256 }

    private var tileCounts: String {
        rematerializedTileCounts
            ? "// (Re-derived at each use: see rematerializedTileCounts.)\n"
                + "    #define m_blocks ((opaque_s32(p.seqlen_q) + BLOCK_M - 1) / BLOCK_M)\n"
                + "    #define total_tiles (m_blocks * p.heads * p.batch)"
            : "const int m_blocks = (p.seqlen_q + BLOCK_M - 1) / BLOCK_M;\n"
                + "    const int total_tiles = m_blocks * p.heads * p.batch;"
    }

    /// ``AttentionKernelDescriptor/dependentLaunch``: the next kernel on the stream may launch once every block has
    /// started (its blocks still wait for this grid's completion before they touch memory).
    private var dependentLaunchStart: String {
        descriptor.dependentLaunch
            ? "asm volatile(\"griddepcontrol.launch_dependents;\" ::: \"memory\");  // dependents may launch (they wait for this grid)\n    "
            : ""
    }

    /// ``AttentionKernelDescriptor/dependentLaunch``: the launch and barrier set-up ran under the previous kernel's
    /// tail; no thread touches global memory (counter, Q/K/V, O, LSE) before that kernel has completed.
    private var dependentLaunchWait: String {
        descriptor.dependentLaunch
            ? "\n    asm volatile(\"griddepcontrol.wait;\" ::: \"memory\");  // the previous kernel on the stream has completed"
            : ""
    }

    private var kernel: String {
        """
        extern "C" __global__ void __launch_bounds__(THREADS, \(two ? 2 : 1))
        \(AttentionKernel.entryPoint)(const __grid_constant__ HopperParams hp) {
            const FlashParams& p = hp.p;
            extern __shared__ __align__(1024) unsigned char smem_raw[];
            // Swizzle atoms need 1024-byte alignment; the launch asks for 1 KB of slack.
            unsigned char* base = smem_raw + ((1024 - (smem_u32(smem_raw) & 1023)) & 1023);
            const u32 sQ = smem_u32(base);
            const u32 sK = sQ + \(qh ? "Q_HALVES * Q_HALF_BYTES;" : "Q_STAGES * Q_BYTES;     ")   // STAGES tiles
            const u32 sV = sK + STAGES * KV_BYTES;         // STAGES tiles
            \(sOLine)const u32 bar_q = \(descriptor.tmaStoreO && !oq && !okv ? "sO + O_BYTES;          " : ob ? "sO + O_OWN_BYTES;      " : "sV + STAGES * KV_BYTES;")      // per Q buffer: Q full, then Q free; per stage: K full, V full, K free, V free
            const u32 bar_q_free = bar_q + 8 * \(qBuffers);
            const u32 bar_k_full = bar_q_free + 8 * \(qBuffers), bar_v_full = bar_k_full + 8 * STAGES;
            const u32 bar_k_free = bar_v_full + 8 * STAGES, bar_v_free = bar_k_free + 8 * STAGES;
            const int tid = threadIdx.x, warp = tid >> 5, lane = tid & 31;
            \(tileCounts)
            (void)total_tiles;
            // Dynamic scheduler: the published tile (m_block or −1 at the end, head, batch), one
            // 16-byte slot per Q buffer after the barriers, and the device counters (tiles taken, blocks done).
            const u32 sched_slot = bar_q + 16 * \(qBuffers) + 32 * STAGES;
            (void)sched_slot;\(sk ? "\n    const u32 sk_slot = bar_q + 224;  // stream-K: the deal (20 B), past these forms' barriers and scheduler slots" : "")

            \(dependentLaunchStart)if (tid == 0) {\(streamKDealInit)
                for (int q = 0; q < \(qBuffers); ++q) {
                    mbar_init(bar_q + 8 * q, 1);
                    mbar_init(bar_q_free + 8 * q, \(qh ? "128);               // one warpgroup releases a half" : "CONSUMER_THREADS);")
                }
                for (int s = 0; s < STAGES; ++s) {
                    mbar_init(bar_k_full + 8 * s, 1);
                    mbar_init(bar_v_full + 8 * s, 1);
                    mbar_init(bar_k_free + 8 * s, CONSUMER_THREADS);
                    mbar_init(bar_v_free + 8 * s, CONSUMER_THREADS);
                }
                asm volatile("fence.mbarrier_init.release.cluster;\\n" ::: "memory");
            }
            __syncthreads();\(dependentLaunchWait)

            \(fp ? "{" : producerSection)
                \(two ? twoBlocksConsumerHead : consumerHead)
                const int group = lane >> 2, tig = lane & 3;     // accumulator fragment coordinates
                const int row_in_block = wg * 64 + (warp & 3) * 16 + group;  // this thread's rows: +0 and +8
                const float scale_log2 = p.scale_log2;
                // Matrix descriptors (128-byte swizzle). Q and K are K-major: 8-row groups 1024 B
                // apart, a 16-column k step is +32 B inside a 64-column block, blocks ROWS·128 B
                // apart. V is read MN-major: 64-column blocks BLOCK_N·128 B apart along N,
                // 8-key groups 1024 B apart along K.
                \(xd ? xdSetup : "u32 q_base = sQ + wg * 64 * 128;                 // this warpgroup's rows of the tile's Q buffer")
                float acc_o[D_TILES][4];
                float row_max[2], row_sum[2], alpha[2];\(spec ? "\n" + String(repeating: " ", count: 8) + "float sx_sum[2];  // a speculative step's row sums, added to l unless the step is redone\n" + String(repeating: " ", count: 8) + "int sx_redo = 0;  // the last step was redone (warp-uniform): its α may move O" : "")
                float s[N_TILES][4];
                u32 pk[BLOCK_N / 16][4];

                \(xd ? xdIssue : plainIssue)\(vt ? freshIssue : "")\(nd ? narrowIssue : "")
                \(convertP)\(halfDiagonal ? convertHalf : "")
                auto rescale_o = [&]() {
                    #pragma unroll
                    for (int dt = 0; dt < D_TILES; ++dt) {
                        acc_o[dt][0] *= alpha[0]; acc_o[dt][1] *= alpha[0];
                        acc_o[dt][2] *= alpha[1]; acc_o[dt][3] *= alpha[1];
                    }
                };

                \(threeConsumers ? "// Turns go round WG 0, WG 1, WG 2, WG 0, … across all tiles (all walk the same steps):" : "// Turns alternate WG 0, WG 1, WG 0, … across all tiles (both walk the same steps):")
                // warpgroup 0 takes the first.
                if (wg == \(descriptor.consumerWarpgroups - 1)) named_arrive(BAR_TURN + 0, \(turnThreads));
                int kv_iter = 0, q_iter = 0;
                int qb = 0;  // this tile's Q buffer\(fp ? foldedIssuer : "")

                // MARK: epilogue: O = O / l; LSE = (m·s + log2 l)·ln 2; a row with l = 0 writes O = 0, LSE = +∞
                auto epilogue = [&](out_t* o_tile, float* lse_tile, int rows_here) {
                    #pragma unroll
                    for (int r = 0; r < 2; ++r) {
                        const float l = warp_sum4(row_sum[r]);
                        const float inv = l > 0.0f ? 1.0f / l : 0.0f;
                        const int row = row_in_block + 8 * r;
                        if (row < rows_here) {
                            out_t* o_row = o_tile + (i64)row * p.o_row_stride;
                            #pragma unroll
                            for (int dt = 0; dt < D_TILES; ++dt) {
                                const int col = dt * 8 + tig * 2;
                                if (col < p.head_dim) store_out2(o_row + col, acc_o[dt][2 * r] * inv, acc_o[dt][2 * r + 1] * inv);
                            }
                            if (WRITE_LSE && tig == 0)
                                lse_tile[(i64)row * p.lse_row_stride] = l > 0.0f ? (row_max[r] * scale_log2 + fast_log2(l)) * LN2 : FA_INF;
                        }
                    }
                };
                // OVERLAP: the previous tile's last P·V was issued and not waited for; once it has
                // completed (the caller waits), release its V stage and write its O and LSE.
                bool pending = false;
                out_t* prev_o = nullptr;
                float* prev_lse = nullptr;
                int prev_rows = 0;
                auto finish_pending = [&]() {
                    mbar_arrive(bar_v_free + 8 * ((kv_iter - 1) % STAGES));
                    epilogue(prev_o, prev_lse, prev_rows);
                    pending = false;
                };\(descriptor.tmaStoreO ? storeEpilogue : "")\(streamKMerge)
                \(fp ? foldedTileLoop : tileLoop(producer: false))
                    \(late ? "" : tileAddresses(indent: 12))if (n_blocks == 0) {
                        \(late ? tileAddresses(indent: 16) : "")// Waits unconditionally: ptxas cannot tell that nothing is in flight without `pending`.
                        if (OVERLAP) { wgmma_wait<0>(); if (pending) finish_pending(); }
                        // No row of this tile sees a key: O = 0, LSE = +∞.
                        for (int e = ctid; e < rows_here * HEAD_DIM; e += CONSUMER_THREADS) {
                            const int r = e / HEAD_DIM, c = e % HEAD_DIM;
                            if (c < p.head_dim) store_out1(o_tile + (i64)r * p.o_row_stride + c, 0.0f);
                        }
                        if (WRITE_LSE) for (int r = ctid; r < rows_here; r += CONSUMER_THREADS) lse_tile[(i64)r * p.lse_row_stride] = FA_INF;
                        \(fp ? "mbar_arrive(bar_q_free + 8 * qb);  // (the folded producer's slots: any order)" : "if (DYNAMIC) mbar_arrive(bar_q_free + 8 * qb);")\(sl ? "\n" + String(repeating: " ", count: 16) + foldedHeadCopies(indent: 16) : "")
                        continue;
                    }
                    const int row0 = m0 + row_in_block;\(descriptor.alibi ? alibiSlopeLine : "")
                    // Keys every row of this warpgroup sees: tiles wholly below need no mask.
                    \(window ? windowFullKeys : "const int full_hi = CAUSAL ? imin(seqlen_k, m0 + wg * 64 + diag + 1) : seqlen_k;")
                    auto init_rows = [&]() {
                        #pragma unroll
                        for (int dt = 0; dt < D_TILES; ++dt) acc_o[dt][0] = acc_o[dt][1] = acc_o[dt][2] = acc_o[dt][3] = 0.0f;
                        row_max[0] = row_max[1] = -FA_INF;
                        row_sum[0] = row_sum[1] = 0.0f;
                    };
                    if (!OVERLAP) init_rows();
                    // Mask S to this thread's rows' keys (sequence end; causal edge), then the online
                    // softmax: m' = max(m, rowmax S); α = 2^((m − m')·s); P = 2^(S·s − m'·s); l = l·α + rowsum P.
                    \(xt ? splitSoftmaxLambdas : softmaxLambda(name: "softmax", tiles: "N_TILES", width: "BLOCK_N"))\(spec ? "\n" + String(repeating: " ", count: 12) + speculativeSoftmaxLambda : "")\(halfDiagonal && !xt ? "\n            " + softmaxLambda(name: "softmax_half", tiles: "N_TILES / 2", width: "(BLOCK_N / 2)") : "")

                    \(fp ? "" : staticQueryWait)\(qLine)\(ws ? wsHead : "")\(ew ? emptyWarpgroupSkip : "")
                    \(mainSteps)
                    \(late ? lateTileReload : "")// Every product with Q has completed: the producer may load the next tile's Q.
                    \(oq ? "// (The Q buffer is released after the epilogue's store has read O from it.)\n            " : "mbar_arrive(bar_q_free + 8 * qb);")\(okv && !ob ? "\n            if (wg == 1) named_arrive(BAR_OKV, 256);  // this warpgroup's last S has read the last step's K stage" : "")\(late ? lateTileDecode : "")
                    \(xo ? overlappedTrailingValue : xt ? "" : trailingValueBlock)kv_iter += n_blocks;
                    if (OVERLAP) {
                        pending = true;
                        prev_o = o_tile; prev_lse = lse_tile; prev_rows = \(late ? "e_rows" : "rows_here");
                        continue;
                    }
                    \(streamKEpilogueGuard)\(epilogueCall)
                }
                if (OVERLAP) { wgmma_wait<0>(); if (pending) finish_pending(); }\(descriptor.tmaStoreO ? "\n        // The last stores complete before the block exits.\n        if (store_issuer) bulk_wait0();" : "")

                // Warpgroup 0 received one more turn signal than it used: take it, so \(threeConsumers ? "all" : "both")
                // named barriers end the kernel idle.
                if (wg == 0) named_sync(BAR_TURN + 0, \(turnThreads));
            }
        }
        """
    }
}
