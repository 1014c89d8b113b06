import FlashAttentionCore
import CFlashKernels

#if canImport(Glibc)
import Glibc
#endif

/// The CPU backend: tiled online-softmax attention on all cores.
///
/// Extra memory is a few tiles per worker; no buffer grows with Sq × Sk. Results are bitwise
/// identical for any thread count.
public struct CPUBackend: AttentionBackend {
    public var name: String { "cpu" }
    /// Worker threads; the default is every online core (or `FLASH_ATTENTION_NUM_THREADS`).
    public var threads: Int

    public init(threads: Int? = nil) {
        self.threads = max(1, threads ?? CPUBackend.defaultThreadCount)
    }

    public static var defaultThreadCount: Int {
        if let text = getenv("FLASH_ATTENTION_NUM_THREADS"), let n = Int(String(cString: text)), n > 0 { return n }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }

    public func forward(_ arguments: ForwardArguments) throws {
        let layout = try arguments.validate(maxHeadDim: 256)
        try CPUBackend.requireHost(arguments.q, arguments.out)
        try CPUForward(arguments: arguments, layout: layout, threads: threadCount(for: layout)).run()
    }

    public func backward(_ arguments: BackwardArguments) throws {
        let layout = try arguments.validate(maxHeadDim: 256)
        try CPUBackend.requireHost(arguments.q, arguments.dq)
        try CPUBackward(arguments: arguments, layout: layout, threads: threadCount(for: layout)).run()
    }

    /// Tiny problems run on the calling thread: waking a second worker costs more (about 7 µs
    /// measured from Python on a (1, 4, 1, 16) problem: 12 µs with 2 threads, 5 µs with 1) than
    /// the work. Work partitions never depend on the thread count, so results are unchanged.
    func threadCount(for layout: AttentionLayout) -> Int {
        layout.forwardFLOPs(causal: false) < 4e5 ? 1 : threads
    }

    static func requireHost(_ views: TensorView...) throws {
        for view in views where view.device != .cpu {
            throw FlashAttentionError.invalidArgument(name: "device", expected: "host (cpu) tensors for the CPU backend, got \(view.device)")
        }
    }

    /// A description of the instruction set the microkernels run with.
    public static var instructionTier: String {
        switch fa_active_tier() {
        case FA_TIER_AVX512: "avx512"
        case FA_TIER_AVX2: "avx2"
        default: "generic"
        }
    }
}

extension ElementType {
    var cType: fa_dtype {
        switch self {
        case .float32: FA_F32
        case .float16: FA_F16
        case .bfloat16: FA_BF16
        }
    }
}
