import FlashAttentionCUDA
import FlashAttentionCore
import Foundation
import Testing

/// Every valid Hopper backward descriptor of a broad grid, for before/after comparisons of the
/// generator: `FA_HOPPER_BWD_DUMP=<dir> swift test --filter HopperBackwardSourceDump` writes
/// each one's source to `<dir>/<name>.cu` (a refactor must leave the files byte-identical).
let hopperBackwardDumpGrid: [HopperBackwardDescriptor] = {
    var list: [HopperBackwardDescriptor] = []
    let types: [ElementType] = [.bfloat16, .float16]
    for t in types {
        for tile in [64, 128] {
            for out in [t, .float32] {
                list.append(HopperBackwardDescriptor(pass: .preprocess, elementType: t, outType: out, headDim: tile))
                list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: t, dqType: out, headDim: tile))
            }
            for mask in [KernelMask.none, .causal] {
                for grad in [t, .float32] {
                    for stages in [2, 3] {
                        for ordered in [true, false] {
                            for buffers in [1, 2] {
                                for writers in [1, 2] {
                                    for pipe in [false, true] {
                                        // The product orders: shipped, early dV, early dV + late dK.
                                        for (early, late) in [(false, false), (true, false), (true, true)] {
                                            list.append(HopperBackwardDescriptor(
                                                pass: .keyValue, elementType: t, dkType: grad, dvType: grad, headDim: tile,
                                                mask: mask, stages: stages, orderedDQ: ordered, dqBuffers: buffers,
                                                dqWriters: writers, pipelinedS: pipe, earlyDV: early, lateDK: late))
                                        }
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
    // Tile D = 256 (the wide kernel; appended, so the files above keep their names and text).
    for t in types {
        for out in [t, .float32] {
            list.append(HopperBackwardDescriptor(pass: .convertDQ, elementType: t, dqType: out, headDim: 256))
            for mask in [KernelMask.none, .causal] {
                for stages in [1, 2] {
                    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: t, dkType: out, dvType: out, headDim: 256,
                                                         mask: mask, stages: stages))
                }
            }
        }
    }
    // The grouped grid order (appended likewise): tile D = 64/128, causal and not.
    for t in types {
        for tile in [64, 128] {
            for mask in [KernelMask.none, .causal] {
                list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: t, headDim: tile, mask: mask,
                                                     dqBuffers: tile == 128 ? 2 : 1, dqWriters: tile == 128 ? 2 : 1, headGroup: 4))
                for group in [0, 4] {
                    list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: t, headDim: tile, mask: mask,
                                                         dqBuffers: tile == 128 ? 2 : 1, dqWriters: tile == 128 ? 2 : 1,
                                                         headGroup: group, maskBranch: true))
                }
            }
        }
    }
    // The staged dK/dV epilogues (appended likewise): tile D = 256's through the dQ staging, tile D = 128's through the Q/dO ring.
    for t in types {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: t, headDim: 256, mask: mask, stages: 1,
                                                 wideQRing: true, wideStagedEpilogue: true))
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: t, headDim: 128, mask: mask, dqBuffers: 2, dqWriters: 2,
                                                 earlyDV: true, lateDK: true, maskBranch: mask == .causal, precomputedDescriptors: true,
                                                 stagedEpilogue: true))
        }
    }
    // Tile D = 64's staged epilogue (session 14, appended likewise): its unmasked and causal defaults with the knob.
    for t in types {
        for mask in [KernelMask.none, .causal] {
            list.append(HopperBackwardDescriptor(pass: .keyValue, elementType: t, headDim: 64, mask: mask, maskBranch: mask == .causal,
                                                 precomputedDescriptors: true, stagedEpilogue: true))
        }
    }
    return list.filter { $0.invalidReason == nil }
}()

@Suite("Hopper backward source dump (FA_HOPPER_BWD_DUMP)")
struct HopperBackwardSourceDump {
    @Test func dumpSources() throws {
        guard let dir = ProcessInfo.processInfo.environment["FA_HOPPER_BWD_DUMP"], !dir.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for d in hopperBackwardDumpGrid {
            let source = try HopperBackwardKernel(descriptor: d).source
            try source.write(toFile: dir + "/" + d.name + ".cu", atomically: true, encoding: .utf8)
        }
    }

    /// `FA_HOPPER_BWD_DUMP_PD=<dir>`: each precomputed-descriptor variant and its shipped counterpart
    /// (the same descriptor with them off), for SASS comparisons (session 9).
    @Test func dumpDescriptorVariants() throws {
        guard let dir = ProcessInfo.processInfo.environment["FA_HOPPER_BWD_DUMP_PD"], !dir.isEmpty else { return }
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for d in hopperBackwardDescriptorVariants {
            var off = d
            off.precomputedDescriptors = false
            for v in [d, off] {
                try HopperBackwardKernel(descriptor: v).source.write(toFile: dir + "/" + v.name + ".cu", atomically: true, encoding: .utf8)
            }
        }
    }
}
