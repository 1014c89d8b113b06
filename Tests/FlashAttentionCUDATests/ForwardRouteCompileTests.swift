import FlashAttentionCUDA
import FlashAttentionCore
import Testing

/// Every forward kernel the heuristics route a broad grid of problems to on `architecture`: each head dim row, each mask,
/// every set of softcap, ALiBi and varlen (dropout with all three, and alone), strided (scalar) tensors with all of them; the
/// plain problem with and without the LSE, in fp16 with float32 output, and with softcap, on sm_90a at unknown, square,
/// rectangular and single-query lengths (the Hopper rows' forms). `KernelHeuristics.tableVariants` compiles each row's plainest and heaviest
/// kernel and the short rows' forms; session 31 found the option sets between them spilling on sm_80 / sm_86
/// (`KernelHeuristics.optionKeyStep`) and 89 TMA warp-specialised kernels (odd lengths, no LSE, fp16) CI never compiled.
/// sm_86 only where its table differs from sm_80's (tile D ≥ 128).
func forwardGridRoutes(_ architecture: GPUArchitecture) -> [AttentionKernelDescriptor] {
    let lengths = architecture == .sm90a
        ? [(0, 0), (128, 128), (512, 512), (1000, 1000), (1024, 1024), (2048, 2048), (3000, 3000), (4096, 4096), (8192, 8192),
           (16384, 16384), (1, 4096), (512, 4096), (4096, 512)]
        : [(0, 0)]
    let dims = architecture == .sm86 ? [128, 160, 192, 224, 256] : [32, 64, 96, 128, 160, 192, 224, 256]
    var seen = Set<String>(), kernels: [AttentionKernelDescriptor] = []
    func add(_ p: AttentionProblem) {
        guard let k = try? KernelHeuristics.descriptor(for: p, architecture: architecture).descriptor,
              seen.insert(k.name).inserted else { return }
        kernels.append(k)
    }
    for d in dims {
        for mask in KernelMask.allCases {
            for (type, out, lse) in [(ElementType.bfloat16, ElementType.bfloat16, true), (.bfloat16, .bfloat16, false),
                                     (.float16, .float16, true), (.float16, .float32, true)] {
                for (sq, sk) in lengths {
                    add(AttentionProblem(elementType: type, outputType: out, headDim: d, mask: mask, writeLSE: lse,
                                         tensorMapFriendly: true, seqlenQ: sq, seqlenK: sk))
                }
            }
            // Softcap at every length: the TMA kernel's rows take it (session 34).
            for (sq, sk) in lengths {
                add(AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, softcap: true, tensorMapFriendly: true,
                                     seqlenQ: sq, seqlenK: sk))
            }
            // softcap, alibi, varlen in bits 0-2; 8: dropout with all three; 9: dropout alone; 10: all four, strided.
            for options in 1...10 {
                let bits = options == 8 || options == 10 ? 7 : options == 9 ? 0 : options
                add(AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, softcap: bits & 1 != 0, alibi: bits & 2 != 0,
                                     dropout: options >= 8, varlen: bits & 4 != 0, vectorized: options != 10,
                                     tensorMapFriendly: options != 10))
            }
        }
    }
    return kernels
}

/// The grid's routed kernels on sm_90a, sm_80 and sm_86 that no other list compiles.
let forwardGridRoutedVariants: [AttentionKernelDescriptor] = {
    var names = Set(compileCases.map(\.descriptor.name) + hopperVariants.map(\.name) + HopperSpeculativeMaxTests.cases.map(\.name))
    return [GPUArchitecture.sm90a, .sm80, .sm86].flatMap(forwardGridRoutes).filter { names.insert($0.name).inserted }
}()

@Suite("Forward default routes (NVRTC, no GPU needed)")
struct ForwardRouteCompileTests {
    /// The grid reaches the TMA warp-specialised, wgmma and mma.sync loops, so the list below is drawn from real routes.
    @Test func gridReachesEveryLoop() {
        let hopper = forwardGridRoutes(.sm90a), ampere = forwardGridRoutes(.sm80)
        for loop in KernelMainloop.allCases {
            #expect(hopper.contains { $0.mainloop == loop }, "\(loop)")
        }
        #expect(ampere.allSatisfy { $0.mainloop == .mmaSync })
        #expect(hopper.count > 100 && ampere.count > 100)
        #expect((hopper + ampere).allSatisfy { $0.invalidReason == nil })
        #expect(forwardGridRoutedVariants.count > 100)
    }

    /// The `mma.sync` rows halve their key step exactly where their options spilled (session 31): tile D = 64 with softcap,
    /// ALiBi or varlen; tile D = 128 with ALiBi, or softcap beside varlen or a window. Plain problems, softcap alone at
    /// D = 128, and dropout (its own shapes) keep theirs.
    @Test func optionSetsHalveTheKeyStep() throws {
        func step(_ arch: GPUArchitecture, _ d: Int, _ mask: KernelMask = .none, softcap: Bool = false, alibi: Bool = false,
                  varlen: Bool = false, dropout: Bool = false) throws -> Int {
            let p = AttentionProblem(elementType: .bfloat16, headDim: d, mask: mask, softcap: softcap, alibi: alibi, dropout: dropout,
                                     varlen: varlen)
            return try KernelHeuristics.descriptor(for: p, architecture: arch).descriptor.blockN
        }
        for arch in [GPUArchitecture.sm80, .sm86] {
            #expect(try step(arch, 64) == 128)
            #expect(try step(arch, 64, .causal) == 128)
            #expect(try step(arch, 64, softcap: true) == 64)
            #expect(try step(arch, 64, alibi: true) == 64)
            #expect(try step(arch, 64, .causal, varlen: true) == 64)
            #expect(try step(arch, 64, dropout: true) == 64)
            #expect(try step(arch, 128) == 64)
            #expect(try step(arch, 128, softcap: true) == 64)
            #expect(try step(arch, 128, varlen: true) == 64)
            #expect(try step(arch, 128, alibi: true) == 32)
            #expect(try step(arch, 128, .window, softcap: true) == 32)
            #expect(try step(arch, 128, .causal, softcap: true, varlen: true) == 32)
            #expect(try step(arch, 96, softcap: true, alibi: true, varlen: true) == 64)
        }
        #expect(try step(.sm86, 256, softcap: true) == 64)
        #expect(try step(.sm86, 256, softcap: true, varlen: true) == 32)
        #expect(try step(.sm80, 256, softcap: true, varlen: true) == 64)
    }

    /// Every routed kernel no other list compiles: no spill, no stack frame; the TMA loop's also no ignored setmaxnreg and
    /// no serialised wgmma.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"),
          arguments: forwardGridRoutedVariants.map { CompileCase(descriptor: $0) })
    func gridRoutedVariantsCompileClean(_ testCase: CompileCase) throws {
        let descriptor = testCase.descriptor
        if descriptor.mainloop == .tmaWarpSpecialized { return try expectCleanHopperCompile(descriptor) }
        try expectCompilesWithoutSpills(descriptor)
    }
}
