import FlashAttentionCore

/// The kernels calls of common shapes route to on an architecture: what `flash-attn compile --routes` pre-builds, so a
/// deployment's first calls load every kernel from the disk cache. The routes key on the sequence lengths, the window and
/// the options (padded tiles and their narrowed products, softcap, windows, the short-row forms), so the heuristics'
/// table rows alone (``KernelHeuristics/tableVariants(for:)``) miss most of what runs.
public enum KernelRoutes {
    /// Head dims of the grid: the multiples of 32 to 256 and the common 80 / 96 / 112.
    public static let headDims = [32, 64, 80, 96, 112, 128, 160, 192, 224, 256]
    /// Square lengths of the grid (queries = keys), with 0 (unknown).
    public static let lengths = [0, 128, 512, 1024, 2048, 4096, 8192, 16384, 32768]
    /// Window spans of the grid (keys a row sees; 0 unknown): gpt-oss, Mistral-class and Gemma-class layers.
    public static let windowKeys = [0, 128, 1024, 4096]

    /// The forward problems of the grid: every head dim, both 16-bit types (same-type output, the LSE written), unmasked,
    /// causal and each window, every length, contiguous tensors; softcap unmasked and causal, and causal ALiBi, in bf16.
    public static func forwardProblems() -> [AttentionProblem] {
        var problems: [AttentionProblem] = []
        for d in headDims {
            for type in [ElementType.bfloat16, .float16] {
                for n in lengths {
                    func add(_ mask: KernelMask, windowKeys: Int = 0, softcap: Bool = false, alibi: Bool = false) {
                        problems.append(AttentionProblem(elementType: type, headDim: d, mask: mask, softcap: softcap, alibi: alibi,
                                                         tensorMapFriendly: true, seqlenQ: n, seqlenK: n, windowKeys: windowKeys))
                    }
                    add(.none); add(.causal)
                    for keys in windowKeys { add(.window, windowKeys: keys) }
                    if type == .bfloat16 { add(.none, softcap: true); add(.causal, softcap: true); add(.causal, alibi: true) }
                }
            }
        }
        return problems
    }

    /// The backward problems of the grid: every head dim, both types, unmasked and causal, every known length,
    /// deterministic (the default) and not, contiguous tensors with as many K/V heads as query heads.
    public static func backwardProblems() -> [BackwardProblem] {
        var problems: [BackwardProblem] = []
        for d in headDims {
            for type in [ElementType.bfloat16, .float16] {
                for mask in [KernelMask.none, .causal] {
                    for n in lengths where n > 0 {
                        for deterministic in [true, false] {
                            problems.append(BackwardProblem(elementType: type, headDim: d, mask: mask, deterministic: deterministic,
                                                            seqlenK: n, kvHeads: 16))
                        }
                    }
                }
            }
        }
        return problems
    }

    /// Each forward kernel the grid routes to on `architecture`, once, in the grid's order.
    public static func forward(architecture: GPUArchitecture) -> [AttentionKernelDescriptor] {
        forward(forwardProblems(), architecture: architecture)
    }

    /// Each forward kernel `problems` route to on `architecture`, once, in the problems' order.
    public static func forward(_ problems: [AttentionProblem], architecture: GPUArchitecture) -> [AttentionKernelDescriptor] {
        var names = Set<String>()
        return problems.compactMap { try? KernelHeuristics.descriptor(for: $0, architecture: architecture).descriptor }
            .filter { names.insert($0.name).inserted }
    }

    /// Each backward kernel the grid routes to on `architecture`: the sm_90a warp-specialised kernels where the runtime's
    /// defaults take the problem (fast passes assumed to fit: contiguous tensors), else the generic plan's. `l2CacheBytes`
    /// is the card's L2 (the Hopper backward's grid order keys on it; 0 when unknown, then an H100's 50 MB).
    public static func backward(architecture: GPUArchitecture, l2CacheBytes: Int = 0)
        -> (generic: [BackwardKernelDescriptor], hopper: [HopperBackwardDescriptor]) {
        typealias H = HopperBackwardDescriptor
        let settings = HopperBackwardSettings.environment
        let l2 = l2CacheBytes > 0 ? l2CacheBytes : 50 << 20
        var generic: [BackwardKernelDescriptor] = [], hopper: [HopperBackwardDescriptor] = []
        var names = Set<String>()
        for p in backwardProblems() {
            if architecture.computeCapability == 90 {
                let fast = HopperBackwardSettings.flag(settings.fastPasses, or: H.defaultFastPasses(p))
                if CUDABackend.hopperBackwardTakes(p, settings: settings, fastPasses: fast),
                   let plan = H.resolvedPlan(for: p, settings: settings, fastPasses: fast, l2CacheBytes: l2) {
                    hopper += plan.filter { names.insert($0.name).inserted }
                    continue
                }
            }
            guard let plan = try? BackwardHeuristics.plan(for: p, architecture: architecture) else { continue }
            generic += plan.all.filter { names.insert($0.name).inserted }
        }
        return (generic, hopper)
    }
}
