import FlashAttentionCUDA
import FlashAttentionCore
import Foundation
import Testing

/// The sliding-window problems the TMA forward takes (session 35), one per kernel: head dims on every tile (padded ones
/// too), both 16-bit types, float32 output, varlen, softcap at tile D = 128, short and long lengths (the unmasked rows'
/// forms: two and three consumer warpgroups, two blocks per SM, the speculative maximum, the lean step order).
func hopperWindowRoutes() -> [AttentionKernelDescriptor] {
    var problems: [AttentionProblem] = []
    for d in [32, 64, 96, 128, 160, 192, 256] {
        for n in [0, 512, 1024, 2048, 4096, 16384] {
            problems += [AttentionProblem(elementType: .bfloat16, headDim: d, mask: .window, tensorMapFriendly: true, seqlenQ: n, seqlenK: n),
                         AttentionProblem(elementType: .float16, outputType: .float32, headDim: d, mask: .window, tensorMapFriendly: true,
                                          seqlenQ: n, seqlenK: n),
                         AttentionProblem(elementType: .bfloat16, headDim: d, mask: .window, varlen: true, tensorMapFriendly: true,
                                          seqlenQ: n, seqlenK: n)]
            // Narrow windows (KernelHeuristics.narrowWindowKeys): 64-key steps at tile D = 128.
            // (At most 256 keys at tile D = 64 stay on the wgmma loop: windowProblemsTakeTheTMAKernel checks that apart.)
            for keys in d <= 64 ? [257, 1024] : [128, 257, 1024] {
                problems.append(AttentionProblem(elementType: .bfloat16, headDim: d, mask: .window, tensorMapFriendly: true,
                                                 seqlenQ: n, seqlenK: n, windowKeys: keys))
            }
            if d == 128 {
                problems.append(AttentionProblem(elementType: .bfloat16, headDim: d, mask: .window, softcap: true, tensorMapFriendly: true,
                                                 seqlenQ: n, seqlenK: n))
            }
        }
    }
    return KernelRoutes.forward(problems, architecture: .sm90a)
}

/// Sliding windows on the TMA warp-specialised forward: each tile walks only the key steps its rows see (from its first
/// row's left edge), the keys moved into that frame, both edges of each row masked.
@Suite("Hopper forward: sliding windows (no GPU)")
struct HopperWindowTests {
    static let defaultsInForce = getenv("FLASH_ATTENTION_HOPPER_WINDOW") == nil && getenv("FLASH_ATTENTION_HOPPER_WINDOW_NARROW") == nil
        && getenv("FLASH_ATTENTION_HOPPER") == nil && getenv("FLASH_ATTENTION_HOPPER_WG") == nil && getenv("FLASH_ATTENTION_HOPPER_TILES") == nil

    @Test func windowProblemsTakeTheTMAKernel() throws {
        guard Self.defaultsInForce else { return }
        let routes = hopperWindowRoutes()
        #expect(routes.count >= 20)
        for k in routes {
            #expect(k.mainloop == .tmaWarpSpecialized && k.mask == .window, "\(k.name)")
            #expect(!k.foldedProducer && !k.streamKTail && !k.halfDiagonalStep && !k.warpgroupStepCount, "\(k.name)")
            #expect(k.invalidReason == nil, "\(k.name)")
        }
        // Both loops' masks occur: the unmasked rows of every tile head dim.
        #expect(Set(routes.map(\.headDim)).isSuperset(of: [64, 128, 256]) && Set(routes.map(\.headDim)).isSubset(of: [64, 128, 192, 256]))
        #expect(routes.contains { $0.blockM == 192 } && routes.contains { $0.speculativeMax } && routes.contains { $0.softcap })
        // Tile D = 128: a window of at most 1k keys takes 64-key steps, an unknown or wider one the row's. Tile D = 64: one
        // of at most 256 keys stays on the wgmma loop.
        func pick(_ d: Int, _ n: Int, _ keys: Int) throws -> AttentionKernelDescriptor {
            try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: d, mask: .window, tensorMapFriendly: true,
                                                                  seqlenQ: n, seqlenK: n, windowKeys: keys), architecture: .sm90a).descriptor
        }
        for n in [0, 4096, 16384] {
            for keys in [128, 1024] {
                let narrow = try pick(128, n, keys)
                #expect(narrow.mainloop == .tmaWarpSpecialized && narrow.blockM == 128 && narrow.blockN == 64, "\(narrow.name)")
            }
            for keys in [0, 1025, 4096] {
                #expect(try pick(128, n, keys).blockN >= 128)
            }
            #expect(try pick(64, n, 256).mainloop == .wgmma)
            for keys in [0, 257, 4096] {
                #expect(try pick(64, n, keys).mainloop == .tmaWarpSpecialized)
            }
        }
        // Not without tensor-map-friendly strides, nor beside ALiBi or dropout.
        let strided = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .window),
                                                      architecture: .sm90a).descriptor
        #expect(strided.mainloop != .tmaWarpSpecialized)
        let alibi = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .bfloat16, headDim: 128, mask: .window, alibi: true,
                                                                          tensorMapFriendly: true), architecture: .sm90a).descriptor
        #expect(alibi.mainloop != .tmaWarpSpecialized)
    }

    @Test func windowSourceMovesTheTileKeys() throws {
        var d = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 128, warps: 12,
                                          mask: .window, mainloop: .tmaWarpSpecialized, persistent: true)
        #expect(d.invalidReason == nil)
        let windowed = try HopperForwardKernel(descriptor: d).source
        for line in ["const int n_lo = w_lo / BLOCK_N;", "k_start += n_lo * BLOCK_N; seqlen_k -= n_lo * BLOCK_N; diag -= n_lo * BLOCK_N;",
                     "k_row0 = k_start;", "if (n0 + BLOCK_N > imin(seqlen_k, w_row_hi - group) || n0 < w_row_lo - group + 15) {",
                     "if (nt * 8 + c >= hi || nt * 8 + c < lo) s[nt][2 * r + c] = -FA_INF;"] {
            #expect(windowed.contains(line), "\(line)")
        }
        // The other masks' sources carry none of it (their kernels are those measured before windows).
        for mask in [KernelMask.none, .causal] {
            d.mask = mask
            let other = try HopperForwardKernel(descriptor: d).source
            #expect(!other.contains("p.window_") && !other.contains("w_row_lo") && other.contains("VARLEN ? k_start : 0"))
        }
        // The folded producer decodes its own tiles from key 0.
        var folded = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 64, blockM: 128, blockN: 64, warps: 8,
                                               minBlocksPerMultiprocessor: 2, mask: .none, mainloop: .tmaWarpSpecialized, persistent: true,
                                               qStages: 2)
        folded.foldedProducer = true
        folded.lateTileAddresses = true
        #expect(folded.invalidReason == nil)
        folded.mask = .window
        #expect(folded.invalidReason != nil)
    }

    /// Every windowed TMA kernel the routes reach that the forward route grid (`forwardGridRoutedVariants`, which takes
    /// windows at its lengths) does not compile: no spill, no stack frame, no ignored setmaxnreg, no serialised wgmma.
    static let uncompiled: [AttentionKernelDescriptor] = {
        let grid = Set(forwardGridRoutedVariants.map(\.name))
        return hopperWindowRoutes().filter { $0.mainloop == .tmaWarpSpecialized && !grid.contains($0.name) }
    }()

    @Test func gridCompilesMostWindowKernels() {
        let windowed = forwardGridRoutedVariants.filter { $0.mainloop == .tmaWarpSpecialized && $0.mask == .window }
        #expect(windowed.count >= 10, "\(windowed.count)")
    }

    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: uncompiled.map { CompileCase(descriptor: $0) })
    func windowKernelsCompileClean(_ testCase: CompileCase) throws {
        try expectCleanHopperCompile(testCase.descriptor)
    }
}
