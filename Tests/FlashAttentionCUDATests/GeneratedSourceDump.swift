import FlashAttentionCUDA
import Testing
#if canImport(Glibc)
import Glibc
#endif

/// Writes the generated CUDA source of every variant CI enumerates (forward, backward and
/// decode tables for each architecture, the Hopper forward and backward lists, the ring
/// kernels) into `$FA_SOURCE_DUMP`, one file per variant, so a refactor of the generators
/// can be checked byte for byte (`diff -r before after`). Off unless the variable is set.
@Suite("Generated source dump (FA_SOURCE_DUMP)")
struct GeneratedSourceDump {
    static let directory = getenv("FA_SOURCE_DUMP").map { String(cString: $0) }

    @Test(.enabled(if: directory != nil, "set FA_SOURCE_DUMP=<dir> to dump"))
    func dumpEveryVariant() throws {
        guard let directory = Self.directory else { return }
        mkdir(directory, 0o755)
        var count = 0
        func write(_ family: String, _ index: Int, _ name: String, _ source: String) throws {
            let path = "\(directory)/\(family)-\(index)-\(name).cu"
            let file = try #require(fopen(path, "w"), "cannot write \(path)")
            fputs(source, file)
            fclose(file)
            count += 1
        }
        let architectures: [GPUArchitecture] = [.sm80, .sm86, .sm89, .sm90a]
        for arch in architectures {
            for (i, d) in KernelHeuristics.tableVariants(for: arch).enumerated() {
                try write("fwd-\(arch.computeCapability)", i, d.name, try AttentionKernel(descriptor: d).source)
            }
            for (i, d) in BackwardHeuristics.tableVariants(for: arch).enumerated() {
                try write("bwd-\(arch.computeCapability)", i, d.name, try d.generatedSource())
            }
            for (i, d) in DecodeHeuristics.tableVariants(for: arch).enumerated() {
                try write("dec-\(arch.computeCapability)", i, d.name, try d.generatedSource())
            }
        }
        for (i, d) in hopperVariants.enumerated() {
            try write("hfwd", i, d.name, try AttentionKernel(descriptor: d).source)
        }
        for (i, d) in HopperSpeculativeMaxTests.cases.enumerated() {
            try write("hfwd-sx", i, d.name, try AttentionKernel(descriptor: d).source)
        }
        for (i, d) in hopperBackwardVariants.enumerated() {
            try write("hbwd", i, d.name, try d.generatedSource())
        }
        try write("ring", 0, "ring", RingKernelSource.source)
        print("GeneratedSourceDump: \(count) sources in \(directory)")
    }
}
