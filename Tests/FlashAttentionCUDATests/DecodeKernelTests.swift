import CUDADriver
import FlashAttention
import FlashAttentionCUDA
import FlashAttentionReference
import Testing
#if canImport(Glibc)
import Glibc
#endif

struct DecodeCompileCase: CustomTestStringConvertible, Sendable {
    var descriptor: DecodeKernelDescriptor
    var testDescription: String { descriptor.name }
}

let decodeCompileCases: [DecodeCompileCase] = [GPUArchitecture.sm90a, .sm80].flatMap {
    DecodeHeuristics.tableVariants(for: $0).map { DecodeCompileCase(descriptor: $0) }
}

@Suite("Decode (KV cache) kernel generator and compilation (no GPU)")
struct DecodeKernelTests {
    /// Every append, attention and combine variant of the table compiles for sm_90a and sm_80
    /// without spills or a stack frame (NVRTC, no disk cache).
    @Test(.enabled(if: nvrtcAvailable, "NVRTC not found: pip install nvidia-cuda-nvrtc"), arguments: decodeCompileCases)
    func variantCompilesWithoutSpills(_ testCase: DecodeCompileCase) throws {
        let compiled = try GeneratedKernelCompiler.compile(testCase.descriptor, cache: nil)
        #expect(!compiled.image.isEmpty)
        let report = try #require(compiled.report, "no ptxas report in the log:\n\(compiled.log)")
        #expect(!report.spills, "\(testCase.descriptor.name) spills: \(report)\n\(compiled.log)")
        #expect(report.stackFrameBytes == 0, "\(testCase.descriptor.name) has a stack frame: \(report)")
    }

    @Test func equalDescriptorsGiveIdenticalSourceAndDistinctNames() throws {
        let variants = DecodeHeuristics.tableVariants(for: .sm90a)
        for descriptor in variants {
            let copy = descriptor
            let a = try descriptor.source(), b = try copy.source()
            #expect(a == b)
            #expect(a.contains("extern \"C\" __global__"))
            #expect(a.contains(descriptor.entryPoint))
            #expect(!a.contains("#include"), "NVRTC runs without CUDA headers")
        }
        #expect(Set(variants.map(\.name)).count == variants.count)
        #expect(Set(try variants.map { try $0.source() }).count == variants.count)
    }

    /// The transposed reduction (step 7): only scalar kernels with 2+ lanes per key take it,
    /// it shows in the name, it replaces the per-product shuffles (N·R − 1 xor shuffles and
    /// N·R broadcasts per step instead of N·R·log2 T), and the heuristics leave it off by default.
    @Test func transposedReduceForm() throws {
        func make(_ tile: Int, tensorCores: Bool = false, _ on: Bool) -> DecodeKernelDescriptor {
            DecodeKernelDescriptor(kind: .attention, architecture: .sm90a, elementType: .bfloat16, headDim: tile,
                                   rowsPerBlock: tensorCores ? 16 : 4, keysPerStep: tensorCores ? 16 : 4, stages: 4,
                                   tensorCores: tensorCores, transposedReduce: on)
        }
        #expect(make(128, true).transposedReduce && make(128, true).name.hasSuffix("_tr_final"))
        #expect(!make(8, true).transposedReduce, "one lane per key has nothing to reduce")
        #expect(!make(64, tensorCores: true, true).transposedReduce)
        let lane = try make(128, false).source(), transposed = try make(128, true).source()
        #expect(lane.contains("for (int off = T / 2; off > 0; off >>= 1)") && !transposed.contains("for (int off = T / 2"))
        // D = 128: T = 16 lanes, N·R = 16 sums, four halving stages (each a C loop over its values)
        // in place of the lane form's one shuffle loop (the prelude has its own).
        #expect(transposed.ranges(of: "__shfl_xor_sync").count == lane.ranges(of: "__shfl_xor_sync").count - 1 + 4)
        #expect(transposed.contains("__shfl_sync(0xffffffffu, xs["))
        let problem = DecodeProblem(elementType: .bfloat16, headDim: 128, groupSize: 4, batch: 1, kvHeads: 8, maxSeqlenK: 8192)
        let plan = try DecodeHeuristics.plan(for: problem, architecture: .sm90a)
        #expect(plan.attention.transposedReduce == DecodeHeuristics.useTransposedReduce)
    }

    /// Every planned decode kernel fits its architecture's shared memory: the keys-as-M form's
    /// 3-stage and 8-warp shapes (103 and 138 KB at D = 128) exceed sm_86/sm_89's 99 KB a block,
    /// so there it plans 2 stages and 4 warps.
    @Test(arguments: [GPUArchitecture.sm80, .sm86, .sm89, .sm90a])
    func plannedKernelsFitSharedMemory(_ architecture: GPUArchitecture) throws {
        for (batch, kvHeads, context, groupSize) in [(8, 8, 1024, 4), (64, 8, 1024, 4), (8, 8, 8192, 4), (1, 8, 8192, 4),
                                                     (8, 32, 1024, 1), (64, 4, 2048, 8)] {
            let problem = DecodeProblem(elementType: .bfloat16, headDim: 128, groupSize: groupSize, batch: batch,
                                        kvHeads: kvHeads, maxSeqlenK: context, multiprocessors: architecture == .sm90a ? 132 : 84)
            let plan = try DecodeHeuristics.plan(for: problem, architecture: architecture, tensorCoreForm: nil)
            #expect(plan.attention.invalidReason == nil, "\(architecture) B=\(batch) Hk=\(kvHeads) \(context): \(plan.attention.invalidReason ?? "")")
            #expect(plan.attention.sharedMemoryBytes <= architecture.maxSharedMemoryPerBlock)
        }
        #expect(DecodeHeuristics.keysFormEightWarpsFit(headDim: 128, architecture: .sm90a))
        #expect(!DecodeHeuristics.keysFormEightWarpsFit(headDim: 128, architecture: .sm86))
    }

    @Test func parameterBytesMatchTheDeclaredStruct() throws {
        var p = DecodeParameters()
        p.q = 0x1122_3344_5566_7788
        p.softcapInputScale = 2.5
        let bytes = p.packed()
        for d in DecodeHeuristics.tableVariants(for: .sm80) {
            #expect(try d.source().contains("sizeof(DecodeParams) == \(bytes.count)"))
        }
        #expect(bytes.count % 8 == 0)
        #expect(Array(bytes[0..<8]) == [0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11])
        // 524 bytes of fields (the last one the softcap scale), padded to 528.
        #expect(bytes.count == 528)
        #expect(Array(bytes[520..<524]) == withUnsafeBytes(of: Float(2.5).bitPattern.littleEndian, Array.init))
        #expect(Array(bytes[524...]) == [0, 0, 0, 0])
    }

    /// The runtime's plan cache keys on ``DecodeHeuristics/planEquivalentLength(_:)``: every
    /// length must plan exactly as its canonical length does (kernels, splits, tiles, reason).
    @Test func planEquivalentLengthPlansTheSame() throws {
        var lengths = Array(0...300) + Array(1980...2200) + [8191, 8192, 8193, 32767, 32768, 32769, 131071, 131072, 131073]
        lengths += stride(from: 300, to: 140_000, by: 997).map { $0 }
        for (batch, kvHeads, groupSize, splits) in [(1, 8, 4, 0), (8, 8, 4, 0), (64, 8, 4, 0), (1, 32, 1, 0), (8, 32, 1, 0),
                                                   (2, 4, 8, 0), (1, 8, 4, 40), (3, 2, 2, 7)] {
            for architecture in [GPUArchitecture.sm90a, .sm80] {
                for length in lengths {
                    func plan(_ n: Int) throws -> DecodePlan {
                        try DecodeHeuristics.plan(for: DecodeProblem(elementType: .bfloat16, headDim: 128, groupSize: groupSize,
                                                                     batch: batch, kvHeads: kvHeads, maxSeqlenK: n,
                                                                     requestedSplits: splits), architecture: architecture)
                    }
                    let canonical = DecodeHeuristics.planEquivalentLength(length)
                    let a = try plan(length), b = try plan(canonical)
                    #expect(a.all == b.all && a.splits == b.splits && a.queryTiles == b.queryTiles && a.reason == b.reason,
                            "B=\(batch) Hk=\(kvHeads) G=\(groupSize) splits=\(splits) \(architecture) length \(length) → \(canonical)")
                }
            }
        }
        #expect(DecodeHeuristics.planEquivalentLength(8192) == 8192 && DecodeHeuristics.planEquivalentLength(8200) == 8193)
    }

    /// On/off knobs (`FLASH_ATTENTION_DECODE_PDL`, `_APPEND_BEHIND`, `_PLAN_CACHE`): `1` must not
    /// read as off, and an unknown spelling keeps the default.
    @Test func switchKnobValues() {
        #expect(DecodeHeuristics.switchValue("on") == true && DecodeHeuristics.switchValue("1") == true)
        #expect(DecodeHeuristics.switchValue("off") == false && DecodeHeuristics.switchValue("0") == false)
        #expect(DecodeHeuristics.switchValue(nil) == nil && DecodeHeuristics.switchValue("yes") == nil)
        #expect(DecodeHeuristics.switchValue("ON") == nil && DecodeHeuristics.switchValue("") == nil)
    }

    /// The split heuristic: fills the SMs at batch 1, never splits a full grid, honours
    /// numSplits, and every head dim 1…256 gets a valid plan.
    @Test func splitHeuristic() throws {
        // The scalar kernel's rules, unless `form` asks for the tensor-core rule ("default", "on").
        func plan(_ batch: Int, _ kvHeads: Int, _ context: Int, groupSize: Int = 4, splits: Int = 0,
                  cluster: Int? = 0, architecture: GPUArchitecture = .sm90a, form: String = "off") throws -> DecodePlan {
            try DecodeHeuristics.plan(for: DecodeProblem(elementType: .bfloat16, headDim: 128, groupSize: groupSize,
                                                         batch: batch, kvHeads: kvHeads, maxSeqlenK: context,
                                                         requestedSplits: splits), architecture: architecture, forcedCluster: cluster,
                                      tensorCoreForm: form == "default" ? nil : form)
        }
        // The tensor-core kernels are the default for GQA decode (2…8 rows per KV head) on grids
        // that are not tiny: keys as M up to 2k keys, rows as M beyond, 2048-key splits unless
        // that leaves SMs idle; tiny grids and MHA keep the scalar kernel.
        for (b, hk, context, g, rowsPerBlock, splits) in [(8, 8, 1024, 4, 8, 1), (8, 8, 8192, 4, 16, 4), (8, 8, 32768, 4, 16, 16),
                                                          (64, 8, 1024, 4, 8, 1), (64, 8, 8192, 4, 16, 4), (8, 4, 8192, 8, 16, 4),
                                                          (8, 16, 8192, 2, 16, 4), (16, 8, 2048, 4, 8, 1)] {
            let p = try plan(b, hk, context, groupSize: g, cluster: nil, form: "default")
            #expect(p.attention.tensorCores && p.attention.rowsPerBlock == rowsPerBlock && p.attention.clusterSplits == 0, "\(b) \(hk) \(context)")
            #expect(p.splits == splits && p.attention.invalidReason == nil, "\(b) \(hk) \(context): \(p.splits) splits")
            // The streaming form is the default on keys-form grids of ≥ 2 CTAs per SM (session 6, part 2).
            #expect(p.attention.streamRing == (rowsPerBlock == 8 && b * hk >= 264 && DecodeHeuristics.streamRingOverride == nil
                                                && DecodeHeuristics.streamRingDefault))
            if p.attention.streamRing { continue }
            let warps = rowsPerBlock == 8 && b * hk < 132 ? DecodeHeuristics.keysFormUnderfilledWarps : 4
            #expect(p.attention.warps == warps)
            #expect(p.attention.stages == (warps == 8 ? 2 : 3))
            #expect(p.attention.sharedMemoryBytes == (rowsPerBlock == 8 ? p.attention.stages * warps * 2 * 16 * 272 + warps * 256 : 3 * 4 * 2 * 16 * 256))
        }
        for (b, hk, context, g) in [(1, 8, 1024, 4), (1, 8, 32768, 4), (8, 32, 8192, 1), (64, 32, 1024, 1)] {
            #expect(!(try plan(b, hk, context, groupSize: g, cluster: nil, form: "default").attention.tensorCores), "\(b) \(hk) \(context)")
        }
        let forcedOn = try plan(1, 8, 1024, form: "on"), forcedOld = try plan(8, 8, 8192, form: "m16")
        #expect(forcedOn.attention.tensorCores && forcedOn.attention.rowsPerBlock == 8)
        #expect(forcedOld.attention.tensorCores && forcedOld.attention.rowsPerBlock == 16)
        #expect(try plan(8, 8, 8192, groupSize: 16, form: "on").attention.rowsPerBlock == 16)
        // Split clusters (sm_90): the splits merge in the attention launch, no partials, no
        // combine; a longer split list is cut to the cluster; requested splits above it and
        // sm_80 keep the combine kernel.
        for limit in [8, 16] {
            let tiny = try plan(1, 8, 1024, cluster: limit)
            #expect(tiny.splits == min(16, limit) && tiny.attention.clusterSplits == tiny.splits)
            #expect(!tiny.attention.splitOutput && tiny.combine == nil && tiny.attention.invalidReason == nil)
            #expect(try plan(1, 8, 8192, cluster: limit).attention.clusterSplits == limit)
            #expect(try plan(8, 8, 1024, cluster: limit).attention.clusterSplits == 4)
            #expect(try plan(64, 32, 131072, groupSize: 1, cluster: limit).attention.clusterSplits == 0)
            let forced = try plan(1, 8, 8192, splits: 20, cluster: limit)
            #expect(forced.splits == 20 && (forced.attention.clusterSplits == 0) == (limit < 20))
            let ampere = try plan(1, 8, 1024, cluster: limit, architecture: .sm80)
            #expect(ampere.attention.clusterSplits == 0 && ampere.combine != nil)
        }
        #expect(try plan(1, 8, 8192, splits: 5, cluster: 16).attention.clusterSplits == 5)
        // The default rule (no override): clusters only for grids of at most one CTA per SM
        // whose splits fit one cluster, never cut.
        #expect(try plan(1, 8, 1024, cluster: nil).attention.clusterSplits == 16)
        #expect(try plan(1, 32, 1024, groupSize: 1, cluster: nil).attention.clusterSplits == 4)
        // The clusters merge by pushing (the knob's default, session 6); split calls have no cluster merge.
        #expect(try plan(1, 8, 1024, cluster: nil).attention.clusterPush == DecodeHeuristics.clusterPushDefault)
        #expect(!(try plan(1, 8, 8192, cluster: nil).attention.clusterPush))
        for (b, hk, context, g) in [(8, 8, 1024, 4), (8, 32, 1024, 1), (64, 8, 1024, 4), (1, 8, 8192, 4), (1, 8, 32768, 4)] {
            let p = try plan(b, hk, context, groupSize: g, cluster: nil), old = try plan(b, hk, context, groupSize: g)
            #expect(p.attention.clusterSplits == 0 && p.splits == old.splits)
        }
        #expect(try plan(1, 8, 1024, cluster: nil, architecture: .sm80).attention.clusterSplits == 0)
        let single = try plan(1, 8, 8192)
        #expect(single.splits == 33 && single.attention.splitOutput)
        // Split calls merge in the attention kernel unless the A/B override asks for the kernel.
        #expect(single.attention.fusedCombine == DecodeHeuristics.fuseCombine)
        #expect((single.combine == nil) == DecodeHeuristics.fuseCombine)
        #expect(!(try plan(64, 32, 131072, groupSize: 1).attention.fusedCombine))
        // Decode steps append in the attention kernel; prefill chunks, Sq = 0 and the scalar
        // path keep the append kernel.
        func appendPlan(new: Int, seqlenQ: Int = 1, vectorized: Bool = true, architecture: GPUArchitecture = .sm90a) throws -> DecodePlan {
            try DecodeHeuristics.plan(for: DecodeProblem(elementType: .float16, headDim: 128, groupSize: 1, seqlenQ: seqlenQ,
                                                         batch: 2, kvHeads: 8, maxSeqlenK: 4096, vectorized: vectorized,
                                                         rotary: .interleaved, rotaryTableType: .float16, appendKeys: true,
                                                         seqlenNew: new), architecture: architecture, tensorCoreForm: nil)
        }
        if DecodeHeuristics.fuseAppend && DecodeHeuristics.fuseRotaryAppend {
            let step = try appendPlan(new: 1)
            #expect(step.append == nil && step.attention.fusedAppend && step.attention.rotary == .interleaved)
            #expect(step.attention.rotaryTableType == .float16)
        }
        if DecodeHeuristics.fuseAppend && !DecodeHeuristics.fuseRotaryAppend {
            // FLASH_ATTENTION_DECODE_APPEND=plain: rotary steps keep the append kernel; plain
            // appends fuse.
            let rotary = try appendPlan(new: 1)
            #expect(rotary.append != nil && !rotary.attention.fusedAppend)
            let plain = try DecodeHeuristics.plan(for: DecodeProblem(elementType: .float16, headDim: 128, groupSize: 1, seqlenQ: 1,
                                                                     batch: 2, kvHeads: 8, maxSeqlenK: 4096, appendKeys: true,
                                                                     seqlenNew: 1), architecture: .sm90a)
            #expect(plain.append == nil && plain.attention.fusedAppend)
        }
        // (sm_80 spills the scalar 1-row tile with the append fused; the tensor-core kernel fits.)
        for p in [try appendPlan(new: 64, seqlenQ: 64), try appendPlan(new: 1, seqlenQ: 0), try appendPlan(new: 1, vectorized: false)]
            + [try appendPlan(new: 1, architecture: .sm80)] {
            #expect(p.append != nil && !p.attention.fusedAppend && p.attention.rotary == .none)
        }
        // Programmatic dependent launch (sm_90): split calls with the combine kernel only.
        if DecodeHeuristics.dependentLaunchOverride ?? DecodeHeuristics.dependentLaunchDefault {
            #expect(single.attention.dependentLaunch && single.combine?.dependentLaunch == true)
            let tensorSplit = try plan(8, 8, 8192, cluster: nil, form: "default")
            #expect(tensorSplit.attention.dependentLaunch && tensorSplit.combine?.dependentLaunch == true)
            #expect(tensorSplit.attention.name.hasSuffix("_pdl") && tensorSplit.attention.invalidReason == nil)
        }
        for p in [try plan(1, 8, 8192, architecture: .sm80), try plan(1, 8, 1024, cluster: nil), try plan(64, 32, 131072, groupSize: 1)] {
            #expect(!p.attention.dependentLaunch && p.combine?.dependentLaunch != true)
        }
        #expect(DecodeKernelDescriptor(kind: .combine, architecture: .sm80, elementType: .bfloat16, headDim: 128,
                                       dependentLaunch: true).invalidReason != nil)
        #expect(try plan(1, 8, 131072).splits == 33)
        #expect(try plan(8, 8, 131072).splits == 32)
        #expect(try plan(8, 32, 131072, groupSize: 1).splits == 9)
        // A tiny grid (B = 1, Hk = 8: 8 CTAs) splits down to 64 keys; B = 8 keeps 256.
        #expect(try plan(1, 8, 1024).splits == 16)
        #expect(try plan(8, 8, 1024).splits == 4)
        #expect(try plan(64, 8, 131072).splits == 5)
        #expect(try plan(64, 32, 131072, groupSize: 1).splits == 1)
        #expect(try plan(64, 32, 131072, groupSize: 1).combine == nil)
        #expect(try plan(1, 8, 300).splits == 4)
        #expect(try plan(8, 8, 300).splits == 1)
        #expect(try plan(1, 8, 8192, splits: 5).splits == 5)
        #expect(try plan(1, 8, 100, splits: 50).splits == 2)
        // MHA decode keeps the scalar kernel by default (FLASH_ATTENTION_DECODE_MMA=on gives it
        // the keys-as-M form, 8 rows per CTA); a long prefill chunk (256 rows) too, or rows as M.
        let mha = try plan(1, 32, 8192, groupSize: 1, form: "default").attention
        #expect(!mha.tensorCores && mha.rowsPerBlock == 1)
        let mhaOn = try plan(1, 32, 8192, groupSize: 1, form: "on").attention
        #expect(mhaOn.tensorCores && mhaOn.rowsPerBlock == 8)
        let prefill = try DecodeHeuristics.plan(for: DecodeProblem(elementType: .bfloat16, headDim: 128, groupSize: 4, seqlenQ: 64,
                                                                   batch: 1, kvHeads: 8, maxSeqlenK: 4096), architecture: .sm90a,
                                                tensorCoreForm: nil)
        #expect(prefill.queryTiles == 32)
        for (D, vectorized) in [(256, true), (8, true), (128, false)] {
            let p = try DecodeHeuristics.plan(for: DecodeProblem(elementType: .float16, headDim: D, groupSize: 1, maxSeqlenK: 4096,
                                                                 vectorized: vectorized), architecture: .sm90a)
            #expect(!p.attention.tensorCores, "D = \(D), vectorized \(vectorized) stays on the scalar kernel")
        }
        for D in 1...256 {
            let p = try DecodeHeuristics.plan(for: DecodeProblem(elementType: .float16, headDim: D, groupSize: 3, seqlenQ: 7,
                                                                 maxSeqlenK: 5000, mask: .window, softcap: true, alibi: true,
                                                                 paged: true, vectorized: D % 8 == 0, rotary: .halfSplit,
                                                                 appendKeys: true), architecture: .sm80)
            for d in p.all {
                #expect(d.invalidReason == nil, "\(d.name): \(d.invalidReason ?? "")")
                _ = try d.source()
            }
            #expect(p.attention.headDim >= D)
        }
        #expect(throws: (any Error).self) { try DecodeHeuristics.plan(for: DecodeProblem(elementType: .float32, headDim: 64), architecture: .sm90a) }
    }
}

@Suite("CUDA KV cache on a GPU")
struct CUDAKVCacheTests {
    /// Random KV-cache calls (paged and contiguous, rotary, batch index, left pad, masks,
    /// splits) against the float64 oracle, the caches after the append included.
    @Test(.enabled(if: gpuAvailable, noGPUReason), arguments: 0..<16)
    func randomCaseMatchesOracle(_ index: Int) throws {
        let backend = try CUDABackend()
        let check = KVCacheCheck(KVCacheSpec.random(seed: 5, index: index, maxContext: 1200))
        let failures = try check.verify { try backend.forwardWithKVCache($0) }
        #expect(failures.isEmpty, "\(check.spec): \(failures)")
    }

    @Test func kvCacheBackendForCUDAIsTheGPUWhenPresent() throws {
        if gpuAvailable {
            #expect(try FlashAttention.kvCacheBackend(for: .cuda).name == "cuda")
        } else {
            #expect(throws: FlashAttentionError.self) { try FlashAttention.kvCacheBackend(for: .cuda) }
            #expect(try FlashAttention.kvCacheBackend(for: .auto).name == "cpu")
        }
    }

    /// The streaming form (session 6, part 2, `FLASH_ATTENTION_DECODE_STREAM`): the default only on
    /// keys-form grids of ≥ 2 CTAs per SM; forced on, it takes every GQA tensor-core point of up to 8 rows on a contiguous sm_90
    /// cache whose head dim is the tile's (keys as M, the producer warp added to the consumers),
    /// with the same split count as the form it replaces, and nowhere else.
    @Test func streamRingForm() throws {
        func plan(_ batch: Int, _ context: Int, paged: Bool = false, headDim: Int = 128, architecture: GPUArchitecture = .sm90a,
                  stream: Bool?) throws -> DecodePlan {
            var problem = DecodeProblem(elementType: .bfloat16, headDim: headDim, groupSize: 4, batch: batch, kvHeads: 8, maxSeqlenK: context)
            problem.paged = paged
            return try DecodeHeuristics.plan(for: problem, architecture: architecture, forcedCluster: nil, tensorCoreForm: nil, streamForm: stream)
        }
        for (batch, context) in [(8, 1024), (64, 1024), (8, 8192), (64, 32768)] {
            let shipped = try plan(batch, context, stream: nil), stream = try plan(batch, context, stream: true)
            // The default rule: keys-form contexts on grids of ≥ 2 CTAs per SM (B = 64, 1k here).
            #expect(shipped.attention.streamRing == (batch == 64 && context == 1024 && DecodeHeuristics.streamRingDefault))
            #expect(DecodeHeuristics.defaultStreamRing(keysForm: true, tasks: 512, multiprocessors: 132) == DecodeHeuristics.streamRingDefault)
            #expect(!DecodeHeuristics.defaultStreamRing(keysForm: true, tasks: 64, multiprocessors: 132))
            #expect(!DecodeHeuristics.defaultStreamRing(keysForm: false, tasks: 512, multiprocessors: 132))
            #expect(!(try plan(batch, context, stream: false).attention.streamRing))
            let d = stream.attention
            #expect(d.streamRing && d.tensorCores && d.rowsPerBlock == 8 && d.invalidReason == nil, "B=\(batch) \(context): \(d.invalidReason ?? "")")
            #expect(d.threads == (d.warps + d.streamProducers) * 32 && d.name.contains("_mma_stream"))
            #expect(stream.splits == shipped.splits)
            #expect(d.sharedMemoryBytes <= GPUArchitecture.sm90a.maxSharedMemoryPerBlock - 1024)
        }
        #expect(try plan(8, 1024, stream: true).attention.warps == 8, "under one CTA per SM: 8 consumer warps")
        #expect(try plan(64, 1024, stream: true).attention.warps == 4)
        #expect(!(try plan(8, 1024, paged: true, stream: true).attention.streamRing))
        #expect(!(try plan(8, 1024, headDim: 120, stream: true).attention.streamRing))
        #expect(!(try plan(8, 1024, architecture: .sm80, stream: true).attention.streamRing))
        #expect(!(try plan(1, 8192, stream: true).attention.streamRing), "tiny grids keep the scalar kernel")
        let source = try plan(8, 8192, stream: true).attention.source()
        #expect(source.contains("cp.async.bulk.shared::cluster.global.mbarrier::complete_tx::bytes"))
        #expect(source.contains("if (warp >= KG)"))
        #expect(DecodeHeuristics.streamVariants(for: .sm80).isEmpty)
        #expect(DecodeHeuristics.streamVariants(for: .sm90a).allSatisfy { $0.streamRing && $0.invalidReason == nil })
    }

    /// `FA_STREAM_CASES=<seed>,<seed>…`: prints the `verify --kvcache` cases (seed:index, first 200
    /// indices) that the streaming form serves with `FLASH_ATTENTION_DECODE_MMA=on` — contiguous,
    /// head dim 64 or 128, at most 8 rows per KV head — so a device check can run those cases
    /// only (`scripts/device/decode_s6c.sh`). Off unless the variable is set.
    @Test(.enabled(if: getenv("FA_STREAM_CASES") != nil, "set FA_STREAM_CASES=<seeds> to list"))
    func streamVerifyCases() throws {
        let seeds = String(cString: getenv("FA_STREAM_CASES")!).split(separator: ",").compactMap { UInt64($0) }
        var picked: [String] = []
        for seed in seeds {
            for index in 0..<200 {
                let spec = KVCacheSpec.random(seed: seed, index: index)
                if spec.pageSize == nil, [64, 128].contains(spec.headDim), spec.seqlenQ * (spec.heads / spec.kvHeads) <= 8 {
                    // The planner agrees (MMA=on + STREAM=on): the case runs the streaming kernel.
                    let problem = DecodeProblem(elementType: spec.type, headDim: spec.headDim, groupSize: spec.heads / spec.kvHeads,
                                                seqlenQ: spec.seqlenQ, batch: spec.batch, kvHeads: spec.kvHeads,
                                                maxSeqlenK: spec.capacity, requestedSplits: spec.numSplits)
                    let plan = try DecodeHeuristics.plan(for: problem, architecture: .sm90a, tensorCoreForm: "on", streamForm: true)
                    #expect(plan.attention.streamRing, "\(seed):\(index)")
                    picked.append("\(seed):\(index)")
                }
            }
        }
        print("STREAM_CASES " + picked.joined(separator: " "))
    }
}
