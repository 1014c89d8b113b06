import CUDADriver
import FlashAttentionCore
import Synchronization

/// Device scratch of the backward (the per-row statistics, and dO converted to the input type
/// when needed), kept per (device, stream) so that repeated calls allocate nothing. A call
/// holds the lock while it queues its kernels: calls on one stream then run one after another
/// and never share the scratch.
final class BackwardWorkspace: Sendable {
    struct Key: Hashable, Sendable {
        var ordinal: Int
        var stream: UInt
    }

    private static let workspaces = LockedDictionary<Key, BackwardWorkspace>()
    private let buffer = Mutex<CUDABuffer?>(nil)

    static func forStream(_ stream: CUDAStream, ordinal: Int) throws -> BackwardWorkspace {
        try workspaces.value(for: Key(ordinal: ordinal, stream: UInt(bitPattern: stream.handle))) { BackwardWorkspace() }
    }

    /// Runs `body` with at least `bytes` of scratch, under the lock.
    func with(bytes: Int, context: CUDAContext, stream: CUDAStream, _ body: (UInt64) throws -> Void) throws {
        try buffer.withLock { current in
            if current == nil || current!.byteCount < bytes {
                // Kernels queued earlier may still read the old buffer.
                if current != nil { try stream.synchronize() }
                current = nil
                current = try CUDABuffer(byteCount: max(bytes, 1 << 20), context: context)
            }
            try body(current!.address)
        }
    }
}

extension CUDABackend {
    /// The backward on the GPU: host tensors are staged through device memory (poisoned
    /// gradients, copied back), device tensors are used in place on the backend's stream.
    /// float32 inputs go to the fallback backend when one is set and the tensors are on the host.
    public func backwardOnGPU(_ arguments: BackwardArguments) throws {
        let layout = try arguments.validate(maxHeadDim: 256)
        try route(
            q: arguments.q,
            fallback: { try $0.backward(arguments) },
            staged: { try backwardStaged(arguments, layout: layout) },
            inPlace: { ordinal in
                let workspace = try BackwardWorkspace.forStream(stream, ordinal: ordinal)
                try launchBackward(arguments, layout: layout, stream: stream, workspace: workspace)
            })
    }

    /// The kernels a backward call runs, and why.
    public func backwardPlan(_ arguments: BackwardArguments) throws -> BackwardPlan {
        let layout = try arguments.validate(maxHeadDim: 256)
        return try BackwardHeuristics.plan(for: backwardProblem(arguments, layout: layout), architecture: architecture)
    }

    /// The kernels a backward call launches: the sm_90a warp-specialised ones where they apply
    /// (``HopperBackwardDescriptor/defaultOn(_:)`` and the `FLASH_ATTENTION_HOPPER_BWD` knobs),
    /// else ``backwardPlan(_:)``'s. Benchmarks and pre-compilation ask this, so they name and
    /// build what actually runs.
    public func backwardRoute(_ arguments: BackwardArguments) throws -> BackwardRoute {
        let layout = try arguments.validate(maxHeadDim: 256)
        return try backwardRoute(arguments, layout: layout, problem: backwardProblem(arguments, layout: layout))
    }

    func backwardRoute(_ arguments: BackwardArguments, layout: AttentionLayout, problem: BackwardProblem) throws -> BackwardRoute {
        if let hopper = hopperBackwardPlan(arguments, layout: layout, problem: problem) { return .hopper(hopper) }
        return .generic(try BackwardHeuristics.plan(for: problem, architecture: architecture))
    }

    func backwardProblem(_ arguments: BackwardArguments, layout: AttentionLayout) -> BackwardProblem {
        let options = arguments.options
        let window = options.effectiveWindow
        let mask = KernelMask(window)
        let D = layout.headDim
        func aligned(_ view: TensorView) -> Bool { CUDABackend.isVectorAligned(view, headDim: D) }
        let others = D % 8 == 0 && [arguments.q, arguments.k, arguments.v, arguments.dq, arguments.dk, arguments.dv].allSatisfy(aligned)
        let gradOutReadable = arguments.dOut.elementType == arguments.q.elementType
        // A dO in another type is converted; so is a strided one when that keeps the rest vectorized.
        let convert = !gradOutReadable || (others && !aligned(arguments.dOut))
        return BackwardProblem(
            elementType: arguments.q.elementType, gradOutType: arguments.dOut.elementType, outType: arguments.out.elementType,
            dqType: arguments.dq.elementType, dkType: arguments.dk.elementType, dvType: arguments.dv.elementType,
            headDim: D, mask: mask, softcap: options.softcap > 0, alibi: options.alibi != nil,
            dropout: (options.dropout?.probability ?? 0) > 0, varlen: layout.varlen != nil,
            vectorized: others && (convert || aligned(arguments.dOut)), convertGradOut: convert,
            deterministic: options.deterministic, seqlenK: layout.seqlenK, kvHeads: layout.kvHeads)
    }

    // MARK: - Host tensors

    private func backwardStaged(_ arguments: BackwardArguments, layout: AttentionLayout) throws {
        let staging = try CUDAStream(context: context)
        func upload(_ view: TensorView) throws -> CUDATensor { try stagedCopy(of: view, stream: staging) }
        // Poisoned: an element the kernels fail to write comes back as NaN, not as stale memory.
        func poisoned(_ view: TensorView) throws -> CUDATensor { try poisonedTensor(like: view, stream: staging) }
        let q = try upload(arguments.q), k = try upload(arguments.k), v = try upload(arguments.v)
        let out = try upload(arguments.out), dOut = try upload(arguments.dOut), lse = try upload(arguments.lse)
        let dq = try poisoned(arguments.dq), dk = try poisoned(arguments.dk), dv = try poisoned(arguments.dv)
        var device = arguments
        (device.q, device.k, device.v, device.out, device.dOut, device.lse) = (q.view, k.view, v.view, out.view, dOut.view, lse.view)
        (device.dq, device.dk, device.dv) = (dq.view, dk.view, dv.view)
        // The scratch must outlive the kernels: kept until the stream has drained.
        let workspace = BackwardWorkspace()
        try launchBackward(device, layout: layout, stream: staging, workspace: workspace)
        try staging.synchronize()
        withExtendedLifetime(workspace) {}
        try dq.copy(to: arguments.dq, stream: staging)
        try dk.copy(to: arguments.dk, stream: staging)
        try dv.copy(to: arguments.dv, stream: staging)
    }

    // MARK: - Device tensors

    private func launchBackward(_ arguments: BackwardArguments, layout: AttentionLayout, stream: CUDAStream, workspace: BackwardWorkspace) throws {
        guard layout.batch > 0, layout.heads > 0 else { return }
        let totalQ = layout.totalQ, totalK = layout.totalK
        guard totalQ < Int(Int32.max), totalK < Int(Int32.max), layout.seqlenQ < Int(Int32.max), layout.seqlenK < Int(Int32.max) else {
            throw FlashAttentionError.unsupported("sequence lengths or token counts ≥ 2³¹ on CUDA")
        }
        let problem = backwardProblem(arguments, layout: layout)
        let plan: BackwardPlan
        switch try backwardRoute(arguments, layout: layout, problem: problem) {
        case .hopper(let hopper):
            // sm_90a TMA warp-specialised backward (CUDABackend+HopperBackward.swift).
            return try launchHopperBackward(arguments, layout: layout, plan: hopper, stream: stream, workspace: workspace)
        case .generic(let generic):
            plan = generic
        }
        // Compile (or load) everything before queueing anything.
        let pre = try GeneratedKernels.backward.kernel(plan.preprocess, context: context)
        let keyValue = try plan.keyValue.map { try GeneratedKernels.backward.kernel($0, context: context) }
        let query = try GeneratedKernels.backward.kernel(plan.query, context: context)
        // Grids are (heads, blocks, batch): blocks along y, at most 65535.
        let keyBlocks = plan.keyValue.map { ($0.blockN, (layout.seqlenK + $0.blockN - 1) / $0.blockN) }
        let fusedDQ = plan.query.pass == .convertDQ
        let queryBlocks = (layout.seqlenQ + plan.query.blockM - 1) / plan.query.blockM
        for (tile, blocks) in keyBlocks + (fusedDQ ? [] : [(plan.query.blockM, queryBlocks)]) where blocks > 65535 {
            throw FlashAttentionError.unsupported("sequences longer than \(65535 * tile) tokens in the CUDA backward")
        }
        let options = arguments.options
        let D = layout.headDim
        var temporaries: [CUDABuffer] = []

        var p = BackwardParameters()
        let address = CUDABackend.address
        func strides(_ a: SequenceAddressing) -> (Int64, Int64, Int64, Int64) {
            (Int64(a.batchStride), Int64(a.rowStride), Int64(a.headStride), Int64(a.dimStride))
        }
        p.q = address(arguments.q); p.k = address(arguments.k); p.v = address(arguments.v); p.o = address(arguments.out)
        p.doutSource = address(arguments.dOut); p.lse = address(arguments.lse)
        p.dq = address(arguments.dq); p.dk = address(arguments.dk); p.dv = address(arguments.dv)
        p.qStrides = strides(layout.addressing(q: arguments.q))
        p.kStrides = strides(layout.addressing(k: arguments.k))
        p.vStrides = strides(layout.addressing(k: arguments.v))
        p.oStrides = strides(layout.addressing(q: arguments.out))
        p.doutSourceStrides = strides(layout.addressing(q: arguments.dOut))
        p.dqStrides = strides(layout.addressing(q: arguments.dq))
        p.dkStrides = strides(layout.addressing(k: arguments.dk))
        p.dvStrides = strides(layout.addressing(k: arguments.dv))
        let la = layout.addressing(rowStats: arguments.lse)
        p.lseStrides = (Int64(la.batchStride), Int64(la.headStride), Int64(la.rowStride))
        if let varlen = layout.varlen {
            p.cuSeqlensQ = try uploadInt32(varlen.cuSeqlensQ, stream: stream, temporaries: &temporaries)
            p.cuSeqlensK = try uploadInt32(varlen.cuSeqlensK, stream: stream, temporaries: &temporaries)
        }
        if let alibi = options.alibi {
            (p.alibiSlopes, p.alibiBatchStride, p.alibiHeadStride) = try alibiSlopes(alibi.slopes, stream: stream, temporaries: &temporaries)
        }
        (p.scaleLog2, p.softcapInputScale) = CUDABackend.scoreScales(options, headDim: D)
        p.gradScale = options.scale(headDim: D)
        if let dropout = options.dropout, dropout.probability > 0 {
            let mask = DropoutMask(dropout)
            p.dropoutSeed = mask.seed
            p.dropoutThreshold = mask.threshold
            p.dropoutKeepScale = mask.keepScale
        }
        let window = options.effectiveWindow
        p.windowLeft = Int32(clamping: window.left)
        p.windowRight = Int32(clamping: window.right)
        p.batch = Int32(layout.batch)
        p.heads = Int32(layout.heads)
        p.groupSize = Int32(layout.groupSize)
        p.seqlenQ = Int32(layout.seqlenQ)
        p.seqlenK = Int32(layout.seqlenK)
        p.headDim = Int32(D)
        p.totalQ = Int32(totalQ)
        p.rowsPerBatch = Int32(layout.varlen == nil ? max(layout.seqlenQ, 1) : max(totalQ, 1))
        p.statHeadStride = Int64(totalQ)

        // Scratch: L and D (heads × totalQ floats each), then the converted dO (totalQ × heads × D).
        func rounded(_ bytes: Int) -> Int { (bytes + 255) / 256 * 256 }
        let statBytes = rounded(layout.heads * totalQ * 4)
        let convertedBytes = problem.convertGradOut ? rounded(totalQ * layout.heads * D * 2) : 0
        // Fused dQ: float32 accumulator (heads, totalQ, tile D) and the turn counters (heads,
        // batch, query blocks of the key/value kernel), zeroed together before the kernel.
        let fusedKernel = plan.keyValue.first { $0.fusedDQ }
        let accumBytes = fusedKernel.map { rounded(layout.heads * totalQ * $0.headDim * 4) } ?? 0
        let semaphoreBytes = fusedKernel.map { rounded(layout.heads * layout.batch * ((layout.seqlenQ + $0.blockM - 1) / $0.blockM) * 4) } ?? 0
        try workspace.with(bytes: 2 * statBytes + convertedBytes + accumBytes + semaphoreBytes, context: context, stream: stream) { base in
            p.lseLog2 = base
            p.delta = base + UInt64(statBytes)
            if problem.convertGradOut {
                p.dout = base + UInt64(2 * statBytes)
                let rowStride = Int64(layout.heads * D)
                p.doutStrides = (layout.varlen == nil ? Int64(layout.seqlenQ) * rowStride : 0, rowStride, Int64(D), 1)
            } else {
                p.dout = p.doutSource
                p.doutStrides = p.doutSourceStrides
            }
            if fusedKernel != nil {
                p.dqAccum = base + UInt64(2 * statBytes + convertedBytes)
                p.dqSemaphore = p.dqAccum + UInt64(accumBytes)
                try CUDAMemory.fill(p.dqAccum, byte: 0, byteCount: accumBytes + semaphoreBytes, stream: stream)
            }
            if totalQ > 0 {
                let rows = totalQ * layout.heads
                try pre.function.launch(grid: ((rows + 7) / 8, 1, 1), block: (256, 1, 1), sharedMemoryBytes: 0,
                                        stream: stream, parameters: p.packed())
            }
            func launchGrid(_ kernel: LoadedBackwardKernel, blocks: Int, heads: Int) throws {
                var start = 0
                while start < layout.batch {
                    let count = min(65535, layout.batch - start)
                    p.batchOffset = Int32(start)
                    try kernel.function.launch(
                        grid: (heads, blocks, count), block: (kernel.compiled.descriptor.threads, 1, 1),
                        sharedMemoryBytes: kernel.compiled.descriptor.sharedMemoryBytes, stream: stream, parameters: p.packed())
                    start += count
                }
            }
            if layout.seqlenK > 0 && totalK > 0 {
                for kernel in keyValue {
                    let n = kernel.compiled.descriptor.blockN
                    try launchGrid(kernel, blocks: (layout.seqlenK + n - 1) / n, heads: layout.kvHeads)
                }
            }
            if fusedDQ {
                if totalQ > 0 {
                    let rows = totalQ * layout.heads
                    try query.function.launch(grid: ((rows + 7) / 8, 1, 1), block: (256, 1, 1), sharedMemoryBytes: 0,
                                              stream: stream, parameters: p.packed())
                }
            } else if layout.seqlenQ > 0 && totalQ > 0 {
                let m = query.compiled.descriptor.blockM
                try launchGrid(query, blocks: (layout.seqlenQ + m - 1) / m, heads: layout.heads)
            }
        }
        // Uploaded offsets and slopes must outlive the kernels that read them.
        if !temporaries.isEmpty { try stream.synchronize() }
    }

    /// Whether the Hopper backward's fast preprocess and dQ conversion
    /// (``HopperBackwardDescriptor/fastPasses``) can address O and dQ: a unit head-dim stride,
    /// 16-byte-aligned bases and every stride of a dimension longer than one a multiple of 16
    /// bytes, so that each 8-element (O: 8 of its type) or 16-byte (dQ) row chunk is one aligned
    /// vector access.
    static func fastPassesFit(_ arguments: BackwardArguments, layout: AttentionLayout) -> Bool {
        func fits(_ view: TensorView, _ a: SequenceAddressing) -> Bool {
            let size = view.elementType.byteCount
            guard a.dimStride == 1, UInt(bitPattern: view.data) % 16 == 0 else { return false }
            for (stride, extent) in [(a.rowStride, layout.seqlenQ), (a.headStride, layout.heads), (a.batchStride, layout.batch)] where extent > 1 {
                guard (stride * size) % 16 == 0 else { return false }
            }
            return true
        }
        return fits(arguments.out, layout.addressing(q: arguments.out)) && fits(arguments.dq, layout.addressing(q: arguments.dq))
    }
}

/// Which kernels a CUDA backward call runs (``CUDABackend/backwardRoute(_:)``).
public enum BackwardRoute: Sendable, Hashable {
    /// The sm_90a TMA warp-specialised kernels: preprocess, dK/dV (with dQ partials), dQ conversion.
    case hopper([HopperBackwardDescriptor])
    /// The portable kernels: preprocess, dK/dV (one or two), dQ.
    case generic(BackwardPlan)

    /// The kernels' names in launch order.
    public var kernelNames: [String] {
        switch self {
        case .hopper(let kernels): kernels.map(\.name)
        case .generic(let plan): plan.all.map(\.name)
        }
    }
}
