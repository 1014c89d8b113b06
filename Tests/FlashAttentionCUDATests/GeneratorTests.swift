import FlashAttentionCUDA
import FlashAttentionCore
import Testing

@Suite("Kernel generator (no GPU, no NVRTC)")
struct GeneratorTests {
    /// The disk cache and the in-memory cache both assume one descriptor, one source text.
    @Test(arguments: KernelHeuristics.tableVariants(for: .sm90a) + KernelHeuristics.tableVariants(for: .sm86))
    func equalDescriptorsGiveIdenticalSource(_ descriptor: AttentionKernelDescriptor) throws {
        let copy = descriptor
        let a = try AttentionKernel(descriptor: descriptor).source
        let b = try AttentionKernel(descriptor: copy).source
        #expect(a == b)
        #expect(a.contains("extern \"C\" __global__"))
        #expect(!a.contains("#include"), "NVRTC runs without CUDA headers")
    }

    @Test func differentDescriptorsGiveDifferentSource() throws {
        let base = AttentionKernelDescriptor(architecture: .sm90a, elementType: .bfloat16, headDim: 128, blockM: 128, blockN: 64, warps: 4)
        var causal = base
        causal.mask = .causal
        #expect(try AttentionKernel(descriptor: base).source != AttentionKernel(descriptor: causal).source)
        #expect(base.name != causal.name)
    }

    /// The packer and the generated struct come from one table; the size in the source's
    /// static_assert must be what the packer produces.
    @Test func parameterBytesMatchTheDeclaredStruct() throws {
        var p = ForwardParameters()
        p.q = 0x1122_3344_5566_7788
        p.scaleLog2 = 1.5
        p.dropoutThreshold = 7
        let bytes = p.packed()
        let source = try AttentionKernel(descriptor: KernelHeuristics.tableVariants(for: .sm80)[0]).source
        #expect(source.contains("sizeof(FlashParams) == \(bytes.count)"))
        #expect(bytes.count % 8 == 0)
        #expect(Array(bytes[0..<8]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        #expect(Array(bytes[(bytes.count - 8)..<(bytes.count - 4)]) == withUnsafeBytes(of: UInt32(7).littleEndian, Array.init))
    }

    @Test func heuristicsCoverEveryHeadDim() throws {
        for arch in [GPUArchitecture.sm80, .sm86, .sm89, .sm90a] {
            for D in 1...256 {
                let (d, reason) = try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .float16, headDim: D), architecture: arch)
                #expect(d.headDim >= D && d.headDim % 16 == 0)
                #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
                #expect(!reason.isEmpty)
            }
        }
        #expect(throws: (any Error).self) { try KernelHeuristics.descriptor(for: AttentionProblem(elementType: .float16, headDim: 257), architecture: .sm90a) }
    }

    @Test func ptxasReportParses() {
        let log = """
        ptxas info    : Function properties for flash_attention_forward
        ptxas         .     32 bytes stack frame, 28 bytes spill stores, 36 bytes spill loads
        ptxas info    : Used 255 registers, used 1 barriers, 32 bytes cumulative stack size, 648 bytes cmem[0]
        """
        let report = ResourceReport.parse(log)
        #expect(report?.registers == 255)
        #expect(report?.spillStoreBytes == 28)
        #expect(report?.spillLoadBytes == 36)
        #expect(report?.stackFrameBytes == 32)
    }

    @Test func architectureNames() {
        #expect(GPUArchitecture(name: "sm_90a") == .sm90a)
        #expect(GPUArchitecture(name: "sm80") == .sm80)
        #expect(GPUArchitecture.sm90a.targetName == "sm_90a")
        #expect(GPUArchitecture(name: "sm_70") == nil)
    }
}
