import CUDADriver
import FlashAttentionCore
import Synchronization
#if canImport(Glibc)
import Glibc
#endif

/// Device scratch of the KV-cache path, kept per (device, stream): the call's index arrays
/// (cacheSeqlens, left pad, cache rows, block table, ALiBi slopes), the rotated queries and the
/// splits' partials. A call holds the lock while it queues its kernels, so calls on one stream
/// run one after another and never share the scratch.
///
/// The index arrays are uploaded only when they differ from the last call's: an upload from
/// pageable host memory waits for the stream, and a decoding loop over an unchanged block
/// table should not pay that.
final class DecodeWorkspace: Sendable {
    struct Key: Hashable, Sendable {
        var ordinal: Int
        var stream: UInt
    }

    private struct State: @unchecked Sendable {
        var buffer: CUDABuffer?
        var metadata: [Int32] = []
        /// The fused combine's split tickets: zeroed once when allocated; every call leaves
        /// them zero again (the merging CTA resets its ticket).
        var tickets: CUDABuffer?
    }

    private static let workspaces = LockedDictionary<Key, DecodeWorkspace>()
    /// Modules whose attention kernel may launch clusters above 8 CTAs: the attribute is set
    /// once per loaded module, not on every call (the host time of a decode step counts).
    private static let largeClusterModules = Mutex<Set<ObjectIdentifier>>([])

    static func allowLargeClusters(_ function: CUDAFunction) throws {
        let id = ObjectIdentifier(function.module)
        try largeClusterModules.withLock { done in
            guard !done.contains(id) else { return }
            try function.allowNonPortableClusterSize()
            done.insert(id)
        }
    }
    private let state = Mutex<State>(State())

    static func forStream(_ stream: CUDAStream, ordinal: Int) throws -> DecodeWorkspace {
        try workspaces.value(for: Key(ordinal: ordinal, stream: UInt(bitPattern: stream.handle))) { DecodeWorkspace() }
    }

    /// Runs `body` with the scratch's address (at least `bytes`), `metadata` at its start, and
    /// the address of `tickets` zero int32 tickets.
    func with(bytes: Int, metadata: [Int32], tickets: Int, context: CUDAContext, stream: CUDAStream,
              _ body: (UInt64, UInt64) throws -> Void) throws {
        try state.withLock { current in
            if tickets > 0, current.tickets == nil || current.tickets!.byteCount < tickets * 4 {
                if current.tickets != nil { try stream.synchronize() }
                current.tickets = nil
                let buffer = try CUDABuffer(byteCount: max(tickets * 4, 4096), context: context)
                try buffer.fill(byte: 0, stream: stream)
                current.tickets = buffer
            }
            if current.buffer == nil || current.buffer!.byteCount < bytes {
                // Kernels queued earlier may still read the old buffer.
                if current.buffer != nil { try stream.synchronize() }
                current.buffer = nil
                current.metadata = []
                current.buffer = try CUDABuffer(byteCount: max(bytes, 1 << 20), context: context)
            }
            if current.metadata != metadata {
                current.metadata = []
                try metadata.withUnsafeBytes { try current.buffer!.copy(from: $0, stream: stream) }
                current.metadata = metadata
            }
            try body(current.buffer!.address, current.tickets?.address ?? 0)
        }
    }
}

/// A decode problem's plan and its loaded kernels, made once per (problem, device): a decoding
/// loop calls with the same shapes every step, and building the plan (its reason strings, the
/// descriptors) and looking the three kernels up cost host time on every call otherwise.
/// `FLASH_ATTENTION_DECODE_PLAN_CACHE=off` (or `0`) re-plans every call (host-time A/B).
struct DecodeLaunchPlan: Sendable {
    struct Key: Hashable, Sendable {
        var problem: DecodeProblem
        var architecture: GPUArchitecture
        var ordinal: Int
    }

    var plan: DecodePlan
    var append: LoadedGeneratedKernel<DecodeKernelDescriptor>?
    var attention: LoadedGeneratedKernel<DecodeKernelDescriptor>
    var combine: LoadedGeneratedKernel<DecodeKernelDescriptor>?

    /// Entries kept before the cache starts over (a long decoding loop adds one per 64 keys of
    /// context; the kernels themselves stay in `GeneratedKernels.decode`).
    static let capacity = 4096
    static let cache = Mutex<[Key: DecodeLaunchPlan]>([:])
    static let cacheEnabled = DecodeHeuristics.switchKnob("FLASH_ATTENTION_DECODE_PLAN_CACHE") ?? true

    static func make(_ problem: DecodeProblem, architecture: GPUArchitecture, context: CUDAContext) throws -> DecodeLaunchPlan {
        let plan = try DecodeHeuristics.plan(for: problem, architecture: architecture)
        // Compile (or load) everything before queueing anything.
        let append = try plan.append.map { try GeneratedKernels.decode.kernel($0, context: context) }
        let attention = try GeneratedKernels.decode.kernel(plan.attention, context: context)
        let combine = try plan.combine.map { try GeneratedKernels.decode.kernel($0, context: context) }
        if plan.attention.clusterSplits > 8 { try DecodeWorkspace.allowLargeClusters(attention.function) }
        return DecodeLaunchPlan(plan: plan, append: append, attention: attention, combine: combine)
    }

    /// The cached entry for `problem`, keyed (and planned) on its plan-equivalent length
    /// (``DecodeHeuristics/planEquivalentLength(_:)``): the same plan as `problem`'s own.
    static func lookup(_ problem: DecodeProblem, architecture: GPUArchitecture, context: CUDAContext) throws -> DecodeLaunchPlan {
        guard cacheEnabled else { return try make(problem, architecture: architecture, context: context) }
        var canonical = problem
        canonical.maxSeqlenK = DecodeHeuristics.planEquivalentLength(problem.maxSeqlenK)
        let key = Key(problem: canonical, architecture: architecture, ordinal: context.device.ordinal)
        if let hit = cache.withLock({ $0[key] }) { return hit }
        // Made outside the lock (a first call may compile for seconds); a racing caller makes
        // an equal entry.
        let entry = try make(canonical, architecture: architecture, context: context)
        cache.withLock { entries in
            if entries.count >= capacity { entries.removeAll(keepingCapacity: true) }
            entries[key] = entry
        }
        return entry
    }
}

/// The timeline diagnostic's host side (`FLASH_ATTENTION_DECODE_TIMELINE=<file>`, see
/// ``DecodeTimeline``): a device buffer the stamping kernel writes through `tickets`, read back
/// after each call and appended to the file as one line per CTA: `call cta sm t0 … t7` (ns of
/// the global timer, absolute).
///
/// A single-stream diagnostic: there is one buffer for the process, so calls running at the
/// same time on several streams overwrite each other's rows (run it from one stream). A larger
/// buffer is allocated only after the requesting stream has drained; a kernel still running on
/// another stream could write into the freed one (again: one stream).
enum DecodeTimelineRecorder {
    private struct State: @unchecked Sendable {
        var buffer: CUDABuffer?
        var calls = 0
    }
    private static let state = Mutex<State>(State())

    static func buffer(ctas: Int, context: CUDAContext, stream: CUDAStream) throws -> UInt64 {
        try state.withLock { current in
            let bytes = ctas * DecodeTimeline.slots * 8
            if current.buffer == nil || current.buffer!.byteCount < bytes {
                // The last call's kernel may still write the old buffer.
                if current.buffer != nil { try stream.synchronize() }
                current.buffer = nil
                current.buffer = try CUDABuffer(byteCount: max(bytes, 4096), context: context)
            }
            return current.buffer!.address
        }
    }

    static func record(ctas: Int, stream: CUDAStream, path: String) throws {
        try stream.synchronize()
        try state.withLock { current in
            guard let buffer = current.buffer else { return }
            var words = [UInt64](repeating: 0, count: ctas * DecodeTimeline.slots)
            try words.withUnsafeMutableBytes { try buffer.copy(to: $0, stream: stream) }
            var text = ""
            for cta in 0..<ctas {
                let row = words[(cta * DecodeTimeline.slots)..<((cta + 1) * DecodeTimeline.slots)]
                text += "\(current.calls) \(cta) \(row[row.startIndex + 8])"
                for slot in 0..<8 { text += " \(row[row.startIndex + slot])" }
                text += "\n"
            }
            current.calls += 1
            guard let file = fopen(path, "a") else {
                let reason = String(cString: strerror(errno))
                throw FlashAttentionError.io(
                    path: path, reason: "cannot open the FLASH_ATTENTION_DECODE_TIMELINE file for appending (\(reason))")
            }
            fputs(text, file)
            fclose(file)
        }
    }
}

extension CUDABackend: KVCacheBackend {
    /// Attention over a KV cache on the GPU (the reference library's `flash_attn_with_kvcache`):
    /// the new keys (rotated) and values go into the cache in place and the queries are rotated
    /// (inside the attention kernel for decode steps, else by the append kernel), the split-KV
    /// attention kernel reads the cache once per KV head, and the combine kernel merges the
    /// splits (or the attention kernel's last CTA per tile, with the fused combine, or the
    /// split cluster through distributed shared memory on sm_90).
    ///
    /// Device tensors are used in place on the backend's stream (the call returns once the
    /// kernels are queued). Host tensors are staged through device memory: out and LSE poisoned
    /// before the kernels run, the caches copied back when keys were appended. float32 caches
    /// go to the fallback backend when one is set and the tensors are on the host.
    public func forwardWithKVCache(_ arguments: KVCacheArguments) throws {
        let layout = try arguments.validate(maxHeadDim: 256)
        try route(
            q: arguments.q,
            fallback: { backend in
                guard let kv = backend as? any KVCacheBackend else {
                    throw FlashAttentionError.unsupported("float32 KV caches on CUDA (the fallback backend has no KV-cache path)")
                }
                try kv.forwardWithKVCache(arguments)
            },
            staged: { try kvCacheStaged(arguments, layout: layout) },
            inPlace: { ordinal in
                // Validation put every tensor on q's device; the slopes may be on either.
                let workspace = try DecodeWorkspace.forStream(stream, ordinal: ordinal)
                try launchKVCache(arguments, layout: layout, stream: stream, workspace: workspace)
            })
    }

    /// The kernels and split count a KV-cache call runs with, and why.
    public func kvCachePlan(_ arguments: KVCacheArguments) throws -> DecodePlan {
        let layout = try arguments.validate(maxHeadDim: 256)
        return try DecodeHeuristics.plan(for: decodeProblem(arguments, layout: layout), architecture: architecture)
    }

    func decodeProblem(_ a: KVCacheArguments, layout: KVCacheLayout) -> DecodeProblem {
        let D = layout.headDim
        let vectorized = D % 8 == 0 && CUDABackend.isVectorAligned(a.kCache, headDim: D) && CUDABackend.isVectorAligned(a.vCache, headDim: D)
        let rotary: DecodeRotary = a.rotary == nil ? .none : (layout.rotaryInterleaved ? .interleaved : .halfSplit)
        return DecodeProblem(
            elementType: a.q.elementType, outputType: a.out.elementType, headDim: D, groupSize: layout.groupSize,
            seqlenQ: layout.seqlenQ, batch: layout.batch, kvHeads: layout.kvHeads, maxSeqlenK: layout.maxSeqlenK,
            mask: KernelMask(a.options.effectiveWindow), softcap: a.options.softcap > 0, alibi: a.options.alibi != nil,
            paged: layout.pageSize != nil, vectorized: vectorized, writeLSE: a.lse != nil, rotary: rotary,
            rotaryTableType: a.rotary?.cos.elementType ?? .float32, appendKeys: layout.seqlenNew > 0, seqlenNew: layout.seqlenNew,
            requestedSplits: a.numSplits, multiprocessors: context.device.multiprocessorCount)
    }

    // MARK: - Host tensors

    private func kvCacheStaged(_ arguments: KVCacheArguments, layout: KVCacheLayout) throws {
        let staging = try CUDAStream(context: context)
        func upload(_ view: TensorView) throws -> CUDATensor { try stagedCopy(of: view, stream: staging) }
        func poisoned(_ view: TensorView) throws -> CUDATensor { try poisonedTensor(like: view, stream: staging) }
        var device = arguments
        let q = try upload(arguments.q), kCache = try upload(arguments.kCache), vCache = try upload(arguments.vCache)
        let k = try arguments.k.map(upload), v = try arguments.v.map(upload)
        let cos = try arguments.rotary.map { try upload($0.cos) }, sin = try arguments.rotary.map { try upload($0.sin) }
        let out = try poisoned(arguments.out), lse = try arguments.lse.map(poisoned)
        (device.q, device.kCache, device.vCache, device.out) = (q.view, kCache.view, vCache.view, out.view)
        device.k = k?.view
        device.v = v?.view
        device.lse = lse?.view
        if let cos, let sin, let rotary = arguments.rotary {
            device.rotary = RotaryEmbedding(cos: cos.view, sin: sin.view, interleaved: rotary.interleaved)
        }
        // The scratch must outlive the kernels: kept until the stream has drained.
        let workspace = DecodeWorkspace()
        try launchKVCache(device, layout: layout, stream: staging, workspace: workspace)
        try staging.synchronize()
        withExtendedLifetime((workspace, q, k, v, cos, sin)) {}
        try out.copy(to: arguments.out, stream: staging)
        if let lse, let host = arguments.lse { try lse.copy(to: host, stream: staging) }
        if layout.seqlenNew > 0 {
            try kCache.copy(to: arguments.kCache, stream: staging)
            try vCache.copy(to: arguments.vCache, stream: staging)
        }
    }

    // MARK: - Device tensors

    private static func strides4(_ view: TensorView) -> (Int64, Int64, Int64, Int64) {
        (Int64(view.strides[0]), Int64(view.strides[1]), Int64(view.strides[2]), Int64(view.strides[3]))
    }

    private func launchKVCache(_ a: KVCacheArguments, layout: KVCacheLayout, stream: CUDAStream, workspace: DecodeWorkspace) throws {
        guard layout.batch > 0 else { return }
        let B = layout.batch, Sq = layout.seqlenQ, H = layout.heads, Hk = layout.kvHeads, D = layout.headDim
        guard B <= 65535, Hk <= 65535 else { throw FlashAttentionError.unsupported("more than 65535 batch rows or KV heads on CUDA") }
        guard B * Sq * H < Int(Int32.max) / 2, layout.capacity < Int(Int32.max), B * max(1, layout.seqlenNew) * Hk < Int(Int32.max) / 2 else {
            throw FlashAttentionError.unsupported("KV-cache problems with ≥ 2³⁰ rows or a cache of ≥ 2³¹ keys per sequence on CUDA")
        }
        let launchPlan = try DecodeLaunchPlan.lookup(decodeProblem(a, layout: layout), architecture: architecture, context: context)
        let plan = launchPlan.plan
        let (append, attention, combine) = (launchPlan.append, launchPlan.attention, launchPlan.combine)

        // Index arrays, in one upload: seqlens, left pad, cache rows, block table, ALiBi slopes.
        var metadata = layout.cacheSeqlens.map { Int32($0) } + layout.leftPad.map { Int32($0) }
        metadata += layout.pageSize == nil ? layout.cacheRows.map { Int32($0) } : [Int32](repeating: 0, count: B)
        let tableOffset = metadata.count
        if let table = a.blockTable { metadata += table.entries }
        let slopeOffset = metadata.count
        var slopesOnDevice: UInt64?
        var slopeStrides: (Int64, Int64) = (0, 0)
        if let alibi = a.options.alibi {
            let slopes = alibi.slopes
            if case .cuda = slopes.device {
                slopesOnDevice = CUDABackend.address(slopes)
                slopeStrides = slopes.rank == 1 ? (0, Int64(slopes.strides[0])) : (Int64(slopes.strides[0]), Int64(slopes.strides[1]))
            } else {
                for b in 0..<B { for h in 0..<H { metadata.append(Int32(bitPattern: alibi.slope(batch: b, head: h).bitPattern)) } }
                slopeStrides = (Int64(H), 1)
            }
        }
        func align(_ n: Int) -> Int { (n + 255) / 256 * 256 }
        let metadataBytes = align(metadata.count * 4)
        let rotatedBytes = a.rotary != nil && !plan.attention.fusedAppend ? align(B * Sq * H * D * a.q.elementType.byteCount) : 0
        // A cluster merges in shared memory: partials only for the combine kernels' paths.
        let partialRows = plan.attention.splitOutput ? plan.splits * B * H * Sq : 0
        let partialOutBytes = align(partialRows * plan.attention.headDim * 4)
        let partialLSEBytes = align(partialRows * 4)

        let tickets = plan.attention.fusedCombine ? B * Hk * plan.queryTiles : 0
        try workspace.with(bytes: metadataBytes + rotatedBytes + partialOutBytes + partialLSEBytes, metadata: metadata,
                           tickets: tickets, context: context, stream: stream) { scratch, ticketAddress in
            let address = CUDABackend.address
            var p = DecodeParameters()
            p.seqlens = scratch
            p.leftPad = scratch + UInt64(B * 4)
            p.cacheRows = scratch + UInt64(2 * B * 4)
            p.blockTable = a.blockTable != nil ? scratch + UInt64(tableOffset * 4) : 0
            if a.options.alibi != nil {
                p.alibiSlopes = slopesOnDevice ?? scratch + UInt64(slopeOffset * 4)
                (p.alibiBatchStride, p.alibiHeadStride) = slopeStrides
            }
            p.qRotated = scratch + UInt64(metadataBytes)
            p.partialOut = scratch + UInt64(metadataBytes + rotatedBytes)
            p.partialLSE = scratch + UInt64(metadataBytes + rotatedBytes + partialOutBytes)
            p.tickets = ticketAddress
            let timelineCTAs = Hk * plan.splits * plan.queryTiles * B
            if plan.attention.timeline { p.tickets = try DecodeTimelineRecorder.buffer(ctas: timelineCTAs, context: context, stream: stream) }
            p.qSource = address(a.q)
            p.qSourceStrides = CUDABackend.strides4(a.q)
            if a.rotary != nil && !plan.attention.fusedAppend {
                p.q = p.qRotated
                p.qStrides = (Int64(Sq * H * D), Int64(H * D), Int64(D), 1)
            } else {
                p.q = address(a.q)
                p.qStrides = CUDABackend.strides4(a.q)
            }
            p.kCache = address(a.kCache); p.kCacheStrides = CUDABackend.strides4(a.kCache)
            p.vCache = address(a.vCache); p.vCacheStrides = CUDABackend.strides4(a.vCache)
            if let k = a.k, let v = a.v {
                p.kNew = address(k); p.kNewStrides = CUDABackend.strides4(k)
                p.vNew = address(v); p.vNewStrides = CUDABackend.strides4(v)
            }
            p.out = address(a.out); p.outStrides = CUDABackend.strides4(a.out)
            if let lse = a.lse {
                p.lse = address(lse)
                p.lseStrides = (Int64(lse.strides[0]), Int64(lse.strides[1]), Int64(lse.strides[2]))
            }
            if let rotary = a.rotary {
                p.rotaryCos = address(rotary.cos); p.cosStrides = (Int64(rotary.cos.strides[0]), Int64(rotary.cos.strides[1]))
                p.rotarySin = address(rotary.sin); p.sinStrides = (Int64(rotary.sin.strides[0]), Int64(rotary.sin.strides[1]))
                p.rotaryDim = Int32(layout.rotaryDim)
            }
            p.batch = Int32(B); p.heads = Int32(H); p.kvHeads = Int32(Hk); p.groupSize = Int32(layout.groupSize)
            p.seqlenQ = Int32(Sq); p.seqlenNew = Int32(layout.seqlenNew); p.headDim = Int32(D)
            p.pageSize = Int32(layout.pageSize ?? 1)
            p.maxBlocks = Int32(a.blockTable?.maxBlocksPerSequence ?? 0)
            let window = a.options.effectiveWindow
            p.windowLeft = Int32(clamping: window.left)
            p.windowRight = Int32(clamping: window.right)
            p.splits = Int32(plan.splits)
            p.queryTiles = Int32(plan.queryTiles)
            p.queryPositionsAdvance = layout.queryPositionsAdvance ? 1 : 0
            p.appendRows = Int32(plan.append?.appendKeys == true ? B * layout.seqlenNew * Hk : 0)
            p.queryRows = Int32(a.rotary != nil ? B * Sq * H : 0)
            let scale = a.options.scale(headDim: D)
            let log2e: Float = 1.4426950408889634
            if a.options.softcap > 0 {
                p.scaleLog2 = a.options.softcap * log2e
                p.softcapInputScale = scale / a.options.softcap
            } else {
                p.scaleLog2 = scale * log2e
            }
            let bytes = p.packed()

            if let append, let descriptor = plan.append {
                let rows = Int(p.appendRows + p.queryRows)
                if rows > 0 {
                    try append.function.launch(grid: ((rows + descriptor.warps - 1) / descriptor.warps, 1, 1),
                                               block: (descriptor.threads, 1, 1), sharedMemoryBytes: 0, stream: stream,
                                               parameters: bytes)
                }
            }
            guard Sq > 0 else { return }
            // KV heads fastest: the CTAs that start together read neighbouring 256-byte pieces of
            // the same cache rows, rather than one head's rows a power-of-two stride apart.
            // (A cluster launch puts a task's splits fastest instead: a cluster is neighbours in x.)
            try attention.function.launch(grid: (Hk * plan.splits * plan.queryTiles, B, 1), block: (plan.attention.threads, 1, 1),
                                          sharedMemoryBytes: plan.attention.sharedMemoryBytes, stream: stream, parameters: bytes)
            if let combine, let descriptor = plan.combine {
                let rows = B * H * Sq
                // The attention kernel is already queued (the cache may be appended in place): with
                // dependentLaunch, a driver without dependent launches, or one that refuses this one, gets
                // the plain launch (the refusal is remembered process-wide).
                try combine.function.launch(grid: (rows, 1, 1), block: (descriptor.threads, 1, 1), sharedMemoryBytes: 0,
                                            stream: stream, parameters: bytes, allowingDependence: descriptor.dependentLaunch)
            }
            if plan.attention.timeline, let path = DecodeHeuristics.timelinePath {
                try DecodeTimelineRecorder.record(ctas: timelineCTAs, stream: stream, path: path)
            }
        }
    }
}
