import CUDADriver
import FlashAttentionCUDA
import Testing

/// Whether NVRTC loads here (CI installs the pip wheel; a bare machine may lack it).
let nvrtcAvailable: Bool = (try? CUDA.nvrtcVersion()) != nil

struct CompileCase: CustomTestStringConvertible, Sendable {
    var descriptor: AttentionKernelDescriptor
    var testDescription: String { descriptor.name }
}

let compileCases: [CompileCase] = [GPUArchitecture.sm90a, .sm80].flatMap {
    KernelHeuristics.tableVariants(for: $0).map { CompileCase(descriptor: $0) }
}

@Suite("Kernel compilation (NVRTC, no GPU needed)")
struct KernelCompileTests {
    /// Every variant of the heuristics table compiles for sm_90a and sm_80 and spills nothing.
    /// Runs without the disk cache so NVRTC is exercised every time.
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"), arguments: compileCases)
    func variantCompilesWithoutSpills(_ testCase: CompileCase) throws {
        let (compiled, report) = try expectCompilesWithoutSpills(testCase.descriptor)
        #expect(!compiled.image.isEmpty)
        #expect(report.registers <= 255)
    }
}

/// Compiles `descriptor` without the disk cache (NVRTC every time) and expects its ptxas report to show no spill and no
/// stack frame; returns both for further checks.
@discardableResult
func expectCompilesWithoutSpills(_ descriptor: AttentionKernelDescriptor) throws -> (CompiledKernel, ResourceReport) {
    let compiled = try KernelCompiler.compile(descriptor, cache: nil)
    let report = try #require(compiled.report, "no ptxas report in the log:\n\(compiled.log)")
    #expect(!report.spills, "\(descriptor.name) spills: \(report)\n\(compiled.log)")
    #expect(report.stackFrameBytes == 0, "\(descriptor.name) has a stack frame: \(report)")
    return (compiled, report)
}
