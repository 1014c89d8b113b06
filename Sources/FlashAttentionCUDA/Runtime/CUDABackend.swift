import CUDADriver
import FlashAttentionCore

enum FileSystemFlag {
    static var wgmmaVSwap: Bool { FileSystem.environment("FLASH_ATTENTION_WGMMA_V_SWAP") == "1" }
}

/// Forward and backward attention on an NVIDIA GPU with kernels generated for each variant
/// and compiled at run time by NVRTC.
///
/// Tensors on `.cuda(ordinal)` are used in place (any strides; the kernel runs on the
/// backend's stream and the call returns once it is queued). Host tensors are copied to the
/// device and the results back, and the call returns when they are written. Requests this
/// backend does not run (float32 inputs: the tensor cores take float16 or bfloat16) go to
/// `fallback` when one is set and the tensors are on the host.
public final class CUDABackend: AttentionBackend, @unchecked Sendable {
    public let name = "cuda"
    public let context: CUDAContext
    public let architecture: GPUArchitecture
    /// The stream launches go to: the caller's, or the legacy default stream.
    public let stream: CUDAStream
    public let fallback: (any AttentionBackend)?

    /// - Parameters:
    ///   - ordinal: the device.
    ///   - stream: a `CUstream` to launch on (a framework's current stream); nil for the
    ///     legacy default stream.
    ///   - fallback: runs what this backend cannot (float32 inputs) for host tensors.
    public init(ordinal: Int = 0, stream: CUhandle? = nil, fallback: (any AttentionBackend)? = nil) throws {
        do {
            context = try CUDAContext.primary(ordinal: ordinal)
        } catch {
            throw FlashAttentionError.deviceUnavailable("\(error)")
        }
        architecture = GPUArchitecture(computeCapability: context.device.computeCapability)
        guard architecture.supportsMMASync else {
            throw FlashAttentionError.deviceUnavailable("\(context.device.name) is sm_\(architecture.computeCapability); the CUDA backend needs sm_80 or newer")
        }
        self.stream = CUDAStream(borrowing: stream, context: context)
        self.fallback = fallback
    }

    /// Whether the driver loads and a GPU is present (never throws; `--device auto` asks this).
    public static var isAvailable: Bool { CUDA.isAvailable }

    public func backward(_ arguments: BackwardArguments) throws {
        try backwardOnGPU(arguments)  // CUDABackend+Backward.swift
    }

    public func forward(_ arguments: ForwardArguments) throws {
        let layout = try arguments.validate(maxHeadDim: 256)
        try route(
            q: arguments.q,
            fallback: { try $0.forward(arguments) },
            staged: { try forwardStaged(arguments, layout: layout) },
            inPlace: { _ in try launch(arguments, layout: layout) })
    }

    /// The routing forward and backward share: float32 inputs go to the fallback (host tensors)
    /// or are refused; host tensors are staged through device memory; device tensors must be on
    /// this backend's device and run in place. Non-library errors become `backendFailure`.
    func route(
        q: TensorView, fallback runFallback: (any AttentionBackend) throws -> Void,
        staged: () throws -> Void, inPlace: (_ ordinal: Int) throws -> Void
    ) throws {
        if q.elementType == .float32 {
            if let fallback, q.device == .cpu { return try runFallback(fallback) }
            throw FlashAttentionError.unsupported("float32 inputs on CUDA (tensor cores take float16 or bfloat16)")
        }
        do {
            try context.makeCurrent()
            switch q.device {
            case .cpu:
                try staged()
            case .cuda(let ordinal):
                guard ordinal == context.device.ordinal else {
                    throw FlashAttentionError.invalidArgument(name: "q", expected: "tensors on cuda:\(context.device.ordinal), this backend's device, got cuda:\(ordinal)")
                }
                try inPlace(ordinal)
            }
        } catch let error as FlashAttentionError {
            throw error
        } catch {
            throw FlashAttentionError.backendFailure("\(error)")
        }
    }

    // MARK: - Host tensors: stage through device memory

    private func forwardStaged(_ arguments: ForwardArguments, layout: AttentionLayout) throws {
        let staging = try CUDAStream(context: context)
        func upload(_ view: TensorView) throws -> CUDATensor { try stagedCopy(of: view, stream: staging) }
        let q = try upload(arguments.q), k = try upload(arguments.k), v = try upload(arguments.v)
        // Poisoned: an element the kernel fails to write comes back as NaN, not as stale memory.
        let out = try poisonedTensor(like: arguments.out, stream: staging)
        let lse = try arguments.lse.map { try poisonedTensor(like: $0, stream: staging) }
        var device = arguments
        device.q = q.view
        device.k = k.view
        device.v = v.view
        device.out = out.view
        device.lse = lse?.view
        let run = {
            try self.launch(device, layout: layout, on: staging)
            try staging.synchronize()
        }
        // The stream is new each call: its tile counters come from a pool, not a table entry per
        // stream. Only sm_90's dynamic scheduler reads them, so other cards allocate none.
        if architecture.computeCapability == 90 {
            try HopperTileCounters.lending(to: staging, context: context, run)
        } else {
            try run()
        }
        try out.copy(to: arguments.out, stream: staging)
        if let lse, let host = arguments.lse { try lse.copy(to: host, stream: staging) }
    }

    // MARK: - Device tensors: one launch

    /// The descriptor a call runs with, and why.
    public func plan(_ arguments: ForwardArguments) throws -> (descriptor: AttentionKernelDescriptor, reason: String) {
        let layout = try arguments.validate(maxHeadDim: 256)
        return try KernelHeuristics.descriptor(for: problem(arguments, layout: layout), architecture: architecture)
    }

    /// Whether the 16-byte vector paths can read a tensor: unit stride along D, every other
    /// stride a multiple of 8 elements, and a 16-byte aligned base.
    static func isVectorAligned(_ view: TensorView, headDim D: Int) -> Bool {
        guard view.strides[view.rank - 1] == 1 || D == 1 else { return false }
        guard view.strides.dropLast().allSatisfy({ $0 % 8 == 0 }) else { return false }
        return UInt(bitPattern: view.data) % 16 == 0
    }

    func problem(_ arguments: ForwardArguments, layout: AttentionLayout) -> AttentionProblem {
        let options = arguments.options
        let window = options.effectiveWindow
        let mask = KernelMask(window)
        let D = layout.headDim
        func aligned(_ view: TensorView) -> Bool { CUDABackend.isVectorAligned(view, headDim: D) }
        let vectorized = D % 8 == 0 && [arguments.q, arguments.k, arguments.v, arguments.out].allSatisfy(aligned)
        return AttentionProblem(
            elementType: arguments.q.elementType, outputType: arguments.out.elementType, headDim: D, mask: mask,
            softcap: options.softcap > 0, alibi: options.alibi != nil,
            dropout: (options.dropout?.probability ?? 0) > 0, varlen: layout.varlen != nil,
            writeLSE: arguments.lse != nil, nonPositiveScale: options.scale(headDim: D) <= 0, vectorized: vectorized,
            tensorMapFriendly: vectorized && CUDABackend.isTensorMapFriendly(arguments, layout: layout), seqlenQ: layout.seqlenQ,
            seqlenK: layout.seqlenK, windowKeys: window.left >= 0 && window.right >= 0 ? min(window.left, 1 << 40) + min(window.right, 1 << 40) + 1 : 0)
    }

    private func launch(_ arguments: ForwardArguments, layout: AttentionLayout, on launchStream: CUDAStream? = nil) throws {
        let stream = launchStream ?? self.stream
        guard layout.batch > 0, layout.heads > 0, layout.seqlenQ > 0, layout.totalQ > 0 else { return }
        let (descriptor, _) = try KernelHeuristics.descriptor(for: problem(arguments, layout: layout), architecture: architecture)
        let kernel = try KernelCache.kernel(descriptor, context: context)
        let options = arguments.options
        var temporaries: [CUDABuffer] = []

        var p = ForwardParameters()
        let qa = layout.addressing(q: arguments.q), ka = layout.addressing(k: arguments.k)
        let va = layout.addressing(k: arguments.v), oa = layout.addressing(q: arguments.out)
        let address = CUDABackend.address
        p.q = address(arguments.q); p.k = address(arguments.k); p.v = address(arguments.v); p.o = address(arguments.out)
        (p.qBatchStride, p.qRowStride, p.qHeadStride, p.qDimStride) = (Int64(qa.batchStride), Int64(qa.rowStride), Int64(qa.headStride), Int64(qa.dimStride))
        (p.kBatchStride, p.kRowStride, p.kHeadStride, p.kDimStride) = (Int64(ka.batchStride), Int64(ka.rowStride), Int64(ka.headStride), Int64(ka.dimStride))
        (p.vBatchStride, p.vRowStride, p.vHeadStride, p.vDimStride) = (Int64(va.batchStride), Int64(va.rowStride), Int64(va.headStride), Int64(va.dimStride))
        (p.oBatchStride, p.oRowStride, p.oHeadStride, p.oDimStride) = (Int64(oa.batchStride), Int64(oa.rowStride), Int64(oa.headStride), Int64(oa.dimStride))
        if let lse = arguments.lse {
            let la = layout.addressing(rowStats: lse)
            p.lse = address(lse)
            (p.lseBatchStride, p.lseHeadStride, p.lseRowStride) = (Int64(la.batchStride), Int64(la.headStride), Int64(la.rowStride))
        }
        if let varlen = layout.varlen {
            guard (varlen.cuSeqlensQ.last ?? 0) < Int(Int32.max), (varlen.cuSeqlensK.last ?? 0) < Int(Int32.max) else {
                throw FlashAttentionError.unsupported("varlen token counts ≥ 2³¹ on CUDA")
            }
            p.cuSeqlensQ = try uploadInt32(varlen.cuSeqlensQ, stream: stream, temporaries: &temporaries)
            p.cuSeqlensK = try uploadInt32(varlen.cuSeqlensK, stream: stream, temporaries: &temporaries)
        }
        if let alibi = options.alibi {
            (p.alibiSlopes, p.alibiBatchStride, p.alibiHeadStride) = try alibiSlopes(alibi.slopes, stream: stream, temporaries: &temporaries)
        }
        let D = layout.headDim
        (p.scaleLog2, p.softcapInputScale) = CUDABackend.scoreScales(options, headDim: D)
        if let dropout = options.dropout, dropout.probability > 0 {
            let mask = DropoutMask(dropout)
            p.dropoutSeed = mask.seed
            p.dropoutThreshold = mask.threshold
            p.dropoutKeepScale = mask.keepScale
        }
        p.wgmmaVSwap = FileSystemFlag.wgmmaVSwap ? 1 : 0
        let window = options.effectiveWindow
        p.windowLeft = Int32(clamping: window.left)
        p.windowRight = Int32(clamping: window.right)
        guard layout.seqlenQ < Int(Int32.max), layout.seqlenK < Int(Int32.max) else {
            throw FlashAttentionError.unsupported("sequence lengths ≥ 2³¹ on CUDA")
        }
        p.batch = Int32(layout.batch)
        p.heads = Int32(layout.heads)
        p.groupSize = Int32(layout.groupSize)
        p.seqlenQ = Int32(layout.seqlenQ)
        p.seqlenK = Int32(layout.seqlenK)
        p.headDim = Int32(D)

        let mBlocks = (layout.seqlenQ + descriptor.blockM - 1) / descriptor.blockM
        guard layout.heads <= 65535 else { throw FlashAttentionError.unsupported("more than 65535 heads on CUDA") }
        // The Hopper TMA kernel takes its tensor maps in front of the parameters (CUDABackend+Hopper.swift).
        let tensorMaps = descriptor.mainloop == .tmaWarpSpecialized ? try hopperTensorMaps(arguments, layout: layout, descriptor: descriptor) : nil
        if descriptor.persistent, let tensorMaps {
            // One block per multiprocessor walks every tile (needs the tile count in an int).
            let tiles = mBlocks * layout.heads * layout.batch
            guard tiles < Int(Int32.max) else { throw FlashAttentionError.unsupported("more than 2³¹ tiles on CUDA") }
            let grid = (min(tiles, Self.hopperPersistentBlocks(context.device.multiprocessorCount * descriptor.minBlocksPerMultiprocessor)), 1, 1)
            let parameters = HopperForwardKernel.packedParameters(
                tensorMaps: tensorMaps, parameters: p,
                tileCounter: descriptor.dynamicScheduler ? try HopperTileCounters.address(context: context, stream: stream)
                    : descriptor.streamKTail ? try HopperTileCounters.streamKWorkspace(
                        bytes: descriptor.streamKWorkspaceBytes(grid: grid.0), context: context, stream: stream) : 0)
            // A dependent kernel's blocks wait for the previous kernel before they touch memory: correct as a plain launch too.
            try kernel.function.launch(grid: grid, block: (descriptor.threads, 1, 1), sharedMemoryBytes: descriptor.sharedMemoryBytes,
                                       stream: stream, parameters: parameters,
                                       allowingDependence: descriptor.dependentLaunch && temporaries.isEmpty)
            if !temporaries.isEmpty { try stream.synchronize() }
            return
        }
        var batchStart = 0
        while batchStart < layout.batch {
            let count = min(65535, layout.batch - batchStart)
            p.batchOffset = Int32(batchStart)
            try kernel.function.launch(
                grid: (mBlocks, layout.heads, count), block: (descriptor.threads, 1, 1),
                sharedMemoryBytes: descriptor.sharedMemoryBytes, stream: stream,
                parameters: tensorMaps.map { HopperForwardKernel.packedParameters(tensorMaps: $0, parameters: p) } ?? p.packed())
            batchStart += count
        }
        // Uploaded offsets and slopes must outlive the kernel that reads them.
        if !temporaries.isEmpty { try stream.synchronize() }
    }
}
