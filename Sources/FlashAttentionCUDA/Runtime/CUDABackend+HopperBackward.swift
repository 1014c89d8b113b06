import CUDADriver
import FlashAttentionCore

extension HopperBackwardDescriptor: GeneratedKernelDescriptor {
    /// Every Hopper backward kernel opts in to its dynamic shared memory.
    public var sharedMemoryOptInThreshold: Int { 0 }
    public var entryPoint: String { HopperBackwardKernel.entryPoint }
    public func generatedSource() throws -> String { try HopperBackwardKernel(descriptor: self).source }
}

/// The Hopper backward's kernels, compiled or read from disk once per process.
public enum HopperBackwardKernels {
    public static let cache = GeneratedKernelCache<HopperBackwardDescriptor>()
}

extension HopperBackwardSettings {
    /// The knobs as the environment sets them, read once per process (a backward call should not scan the environment
    /// eight times; nothing sets them after start-up).
    static let environment = HopperBackwardSettings(
        enabled: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD"),
        order: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_DQ"),
        buffers: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_DQBUF"),
        writers: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_DQWRITERS"),
        pipelined: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_PIPE"),
        earlyDV: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_EARLYDV"),
        lateDK: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_LATEDK"),
        wide: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256"),
        wideStages: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256_STAGES"),
        headGroup: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_GROUP"),
        maskBranch: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH"),
        fastPasses: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_FASTPASS"),
        wideOrder: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256_DQ"),
        wideTurns: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256_TURNS"),
        wideWriters: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256_WRITERS"),
        pingPong: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_PINGPONG"),
        wideQRing: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256_QRING"),
        wideEpilogue: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD256_EPI"),
        earlyStats: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_STATS"),
        lateFence: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_LATEFENCE"),
        persist: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_PERSIST"),
        descriptors: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_DESC"),
        stagedEpilogue: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_EPI"),
        dependentConvert: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_DEPCVT"),
        dependentStats: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_DEPSTATS"),
        stages: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_STAGES"),
        tailSplit: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_TAILSPLIT"),
        products: FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_PRODUCTS")
    )
}

/// The Hopper (sm_90a) TMA warp-specialised backward (``HopperBackwardKernel``): when it runs,
/// and its launch.
extension CUDABackend {
    /// `FLASH_ATTENTION_HOPPER_BWD_TIMELINE` and `FLASH_ATTENTION_HOPPER_BWD_TAILPARTS`, read once per process like the
    /// other knobs (``HopperBackwardSettings/environment``) rather than on every call.
    static let hopperBackwardTimelineFile: String? = FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_TIMELINE")
    static let hopperBackwardTailParts: Int? = FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_TAILPARTS").flatMap { Int($0) }

    /// `FLASH_ATTENTION_HOPPER_BWD=1` forces the Hopper backward wherever it applies, `0` keeps
    /// the other kernels; unset, it runs where ``HopperBackwardDescriptor/defaultOn(_:)`` says, and
    /// with the fast passes also where ``HopperBackwardDescriptor/defaultOnWithFastPasses(_:)`` does.
    /// `FLASH_ATTENTION_HOPPER_BWD_DQ=unordered` adds dQ in arrival order (a measurement knob,
    /// not bitwise reproducible; used only for non-deterministic calls);
    /// `FLASH_ATTENTION_HOPPER_BWD_DQ=ordered` keeps key-block order for non-deterministic calls too;
    /// `FLASH_ATTENTION_HOPPER_BWD_DQBUF=2` double-buffers dQ_partial (both tiles; tile D = 64 only this way), `=1` keeps one buffer;
    /// `FLASH_ATTENTION_HOPPER_BWD_DQWRITERS=2` gives each of two buffers its own writer thread, `=1` one;
    /// `FLASH_ATTENTION_HOPPER_BWD_PIPE=1` issues each step's Sᵀ product during the previous
    /// step's dQ product, `=0` does not; `FLASH_ATTENTION_HOPPER_BWD_EARLYDV=1` issues dV's
    /// product ahead of dSᵀ, `=0` with dK's; `FLASH_ATTENTION_HOPPER_BWD_LATEDK=1` (with the early
    /// dV, without the pipelined Sᵀ) issues dK's product behind dQ's; unset, they follow
    /// ``HopperBackwardDescriptor/defaultDQBuffers(_:)``, ``HopperBackwardDescriptor/defaultPipelinedS(_:)``
    /// ``HopperBackwardDescriptor/defaultEarlyDV(_:)`` and ``HopperBackwardDescriptor/defaultLateDK(_:)``.
    /// `FLASH_ATTENTION_HOPPER_BWD_PERSIST=1` runs tile D = 128 non-deterministic calls with the early dV on the persistent
    /// key/value grid (``HopperBackwardDescriptor/persistentTiles``), which adds dQ in arrival order (never in
    /// deterministic calls: key-block turns across a persistent schedule can deadlock), `=0` never; unset,
    /// ``HopperBackwardDescriptor/defaultPersistentTiles(_:l2CacheBytes:)`` (unmasked tile D = 128 from 4k keys on an
    /// H200-class L2, since session 21).
    /// `FLASH_ATTENTION_HOPPER_BWD_DESC=1|0`: the key/value kernel (tile D = 64/128, and tile D = 256's Q-ring form) builds its wgmma descriptors once
    /// and adds an immediate per product (``HopperBackwardDescriptor/precomputedDescriptors``); unset,
    /// ``HopperBackwardDescriptor/defaultPrecomputedDescriptors(_:)``.
    /// `FLASH_ATTENTION_HOPPER_BWD_EPI=1|0`: tile D = 64/128 (16-bit dK/dV, one tile per CTA) stages dK and dV through the
    /// free Q/dO ring and stores 16-byte row pieces (``HopperBackwardDescriptor/stagedEpilogue``); unset,
    /// ``HopperBackwardDescriptor/defaultStagedEpilogue(_:)`` (tile D = 64 and 128).
    /// D = 129…256 (tile D = 256): `FLASH_ATTENTION_HOPPER_BWD256=1` takes the wide kernel (as
    /// `FLASH_ATTENTION_HOPPER_BWD=1` does), `=0` keeps the other kernels, unset follows
    /// ``HopperBackwardDescriptor/defaultWide``; `FLASH_ATTENTION_HOPPER_BWD256_STAGES=1|2`
    /// picks its Q stages (``HopperBackwardDescriptor/defaultWideStages(_:)``);
    /// `FLASH_ATTENTION_HOPPER_BWD256_QRING=1|0` its one-stage form's Q ring (``HopperBackwardDescriptor/defaultWideQRing(_:)``;
    /// always on, so `=0` is the measurement knob), `FLASH_ATTENTION_HOPPER_BWD256_EPI=1|0` its staged dK/dV
    /// epilogue (``HopperBackwardDescriptor/defaultWideStagedEpilogue(_:)``).
    /// Tile D = 128, off unless set (measured, lost; session 8): `FLASH_ATTENTION_HOPPER_BWD_STATS=1`
    /// (L and D read ahead of the waits, ``HopperBackwardDescriptor/earlyStats``) and
    /// `FLASH_ATTENTION_HOPPER_BWD_LATEFENCE=1` (``HopperBackwardDescriptor/lateFence``).
    /// `FLASH_ATTENTION_HOPPER_BWD_GROUP=G` (1…64) launches the key/value kernel (every tile) on
    /// a linear grid ordered by groups of G heads (``HopperBackwardDescriptor/headGroup``), `=0`
    /// on the 3-D grid; unset, ``HopperBackwardDescriptor/defaultHeadGroup(_:)``.
    /// `FLASH_ATTENTION_HOPPER_BWD_MASKBRANCH=1` evaluates the mask only on edge steps (every tile), `=0` on every step;
    /// unset, ``HopperBackwardDescriptor/defaultMaskBranch(_:)``.
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPCVT=1|0`: the dQ conversion pass as a programmatic dependent of the key/value kernel,
    /// waiting on each tile's turn counter (``HopperBackwardDescriptor/dependentConvert``; ordered dQ at tile D = 64/128);
    /// unset, ``HopperBackwardDescriptor/defaultDependentConvert(_:)`` (up to 2048 keys).
    /// `FLASH_ATTENTION_HOPPER_BWD_DEPSTATS=1|0`: the key/value kernel as a programmatic dependent of the preprocess
    /// (``HopperBackwardDescriptor/dependentStats``; tile D = 64/128); unset, ``HopperBackwardDescriptor/defaultDependentStats(_:)``.
    /// `FLASH_ATTENTION_HOPPER_BWD_FASTPASS=1` runs the preprocess and the dQ conversion in their fast
    /// forms (every tile; a float32 dQ at tile D = 256 keeps the plain conversion) and, at tile
    /// D = 64/128, the kernel from 512 keys; `=0` neither; unset, ``HopperBackwardDescriptor/defaultFastPasses(_:)``
    /// (always, so `=1` changes nothing today: `=0` is the measurement knob).
    func hopperBackwardPlan(_ arguments: BackwardArguments, layout: AttentionLayout, problem: BackwardProblem) -> [HopperBackwardDescriptor]? {
        guard architecture.computeCapability == 90, CUDATensorMap.isSupported else { return nil }
        let knobs = HopperBackwardSettings.environment
        let wide = HopperBackwardDescriptor.tileHeadDim(problem.headDim) == 256
        // `FLASH_ATTENTION_HOPPER_BWD_FASTPASS=1|0`: the preprocess and dQ conversion in their fast forms
        // (O's and dQ's rows 16-byte aligned), unset ``HopperBackwardDescriptor/defaultFastPasses(_:)``;
        // with them the kernel also runs from 512 keys (``HopperBackwardDescriptor/defaultOnWithFastPasses(_:)``).
        let fastWanted = HopperBackwardSettings.flag(knobs.fastPasses, or: HopperBackwardDescriptor.defaultFastPasses(problem))
        let fastPasses = fastWanted && Self.fastPassesFit(arguments, layout: layout)
        guard Self.hopperBackwardTakes(problem, settings: knobs, fastPasses: fastPasses) else { return nil }
        // The dQ conversion's grid puts heads on y and batches on z (at most 65535 each).
        guard layout.varlen == nil, layout.batch <= 65535, layout.heads <= 65535, layout.seqlenQ > 0, layout.seqlenK > 0,
              (layout.seqlenK + 63) / 64 <= 65535, layout.kvHeads > 0,
              Self.tensorMapsFit(arguments, layout: layout) else { return nil }
        // The linear grids count their blocks in an int: the grouped order's blocks (128 keys, 64 at tile D = 256) and the
        // persistent grid's tiles (tile D = 128 only, so the same 128-key count) must fit.
        let keysPerBlock = wide ? 64 : 128
        let blocks = layout.kvHeads * ((layout.seqlenK + keysPerBlock - 1) / keysPerBlock) * layout.batch
        let fits = blocks <= Int(Int32.max)
        return HopperBackwardDescriptor.resolvedPlan(for: problem, settings: knobs, fastPasses: fastPasses,
                                                     l2CacheBytes: context.device.l2CacheBytes,
                                                     persistentTilesFit: fits, linearGridFits: fits)
    }

    /// Whether the warp-specialised backward takes `problem` by the knobs and the defaults (before the layout's limits):
    /// `FLASH_ATTENTION_HOPPER_BWD=0` / `FLASH_ATTENTION_HOPPER_BWD256=0` never, `=1` always, else where
    /// ``HopperBackwardDescriptor/defaultOn(_:)`` says, or with the fast passes
    /// ``HopperBackwardDescriptor/defaultOnWithFastPasses(_:)``. Shared with ``KernelRoutes``, so the pre-warm lists what
    /// calls launch.
    static func hopperBackwardTakes(_ problem: BackwardProblem, settings knobs: HopperBackwardSettings, fastPasses: Bool) -> Bool {
        if knobs.enabled == "0" { return false }
        let wide = HopperBackwardDescriptor.tileHeadDim(problem.headDim) == 256
        if wide && knobs.wide == "0" { return false }
        return knobs.enabled == "1" || (wide && knobs.wide == "1") || HopperBackwardDescriptor.defaultOn(problem)
            || (fastPasses && HopperBackwardDescriptor.defaultOnWithFastPasses(problem))
    }

    /// Whether TMA maps can describe q, k, v and dO: unit head-dim stride, 16-byte-aligned
    /// bases, every stride of a dimension longer than one a positive multiple of 16 bytes.
    static func tensorMapsFit(_ arguments: BackwardArguments, layout: AttentionLayout) -> Bool {
        func fits(_ view: TensorView, _ a: SequenceAddressing, rows: Int, heads: Int) -> Bool {
            HopperOperandMap.fits(view, a, rows: rows, heads: heads, batches: layout.batch)
        }
        return fits(arguments.q, layout.addressing(q: arguments.q), rows: layout.seqlenQ, heads: layout.heads)
            && fits(arguments.dOut, layout.addressing(q: arguments.dOut), rows: layout.seqlenQ, heads: layout.heads)
            && fits(arguments.k, layout.addressing(k: arguments.k), rows: layout.seqlenK, heads: layout.kvHeads)
            && fits(arguments.v, layout.addressing(k: arguments.v), rows: layout.seqlenK, heads: layout.kvHeads)
    }

    /// Q, K, V, dO maps: 4-D (D, rows, heads, batch), innermost first; a copy moves 64 columns
    /// (128 bytes, swizzled) × the tile's rows of one head.
    private func hopperBackwardTensorMaps(_ arguments: BackwardArguments, layout: AttentionLayout, descriptor: HopperBackwardDescriptor) throws -> [[UInt8]] {
        func map(_ view: TensorView, _ a: SequenceAddressing, rows: Int, heads: Int, boxRows: Int) throws -> [UInt8] {
            try HopperOperandMap(a, headDim: layout.headDim, rows: rows, heads: heads, batches: layout.batch).encode(view, boxRows: boxRows)
        }
        return [
            try map(arguments.q, layout.addressing(q: arguments.q), rows: layout.seqlenQ, heads: layout.heads, boxRows: descriptor.blockM),
            try map(arguments.k, layout.addressing(k: arguments.k), rows: layout.seqlenK, heads: layout.kvHeads, boxRows: descriptor.blockN),
            try map(arguments.v, layout.addressing(k: arguments.v), rows: layout.seqlenK, heads: layout.kvHeads, boxRows: descriptor.blockN),
            try map(arguments.dOut, layout.addressing(q: arguments.dOut), rows: layout.seqlenQ, heads: layout.heads, boxRows: descriptor.blockM),
        ]
    }

    /// Queues the three Hopper backward kernels on `stream`. Scratch (from `workspace`): padded
    /// L and D rows, the dQ accumulator and the turn counters (zeroed here).
    func launchHopperBackward(_ arguments: BackwardArguments, layout: AttentionLayout, plan: [HopperBackwardDescriptor],
                              stream: CUDAStream, workspace: BackwardWorkspace) throws {
        // FLASH_ATTENTION_HOPPER_BWD_TIMELINE=<file>: the key/value kernel's timeline diagnostic where it can take it.
        var plan = plan
        let timelineFile = Self.hopperBackwardTimelineFile
        if timelineFile != nil {
            var stamped = plan[1]
            stamped.timeline = true
            if stamped.invalidReason == nil { plan[1] = stamped }
        }
        let kernels = try plan.map { try HopperBackwardKernels.cache.kernel($0, context: context) }
        if FileSystem.environment("FLASH_ATTENTION_HOPPER_BWD_LOG") == "1" {
            // Device checks count the calls this kernel took.
            print("hopper-bwd \(plan[1].name) B=\(layout.batch) H=\(layout.heads)/\(layout.kvHeads) Sq=\(layout.seqlenQ) Sk=\(layout.seqlenK) D=\(layout.headDim)"
                  + " passes=\(plan[0].name),\(plan[2].name)")
        }
        let (pre, keyValue, convert) = (kernels[0], kernels[1], kernels[2])
        let kv = plan[1]
        let maps = try hopperBackwardTensorMaps(arguments, layout: layout, descriptor: kv)
        let options = arguments.options
        let D = layout.headDim
        let mBlocks = (layout.seqlenQ + kv.blockM - 1) / kv.blockM
        let tiles = layout.heads * layout.batch * mBlocks

        var p = BackwardParameters()
        let address = CUDABackend.address
        func strides(_ a: SequenceAddressing) -> (Int64, Int64, Int64, Int64) {
            (Int64(a.batchStride), Int64(a.rowStride), Int64(a.headStride), Int64(a.dimStride))
        }
        // Only the fields the three kernels read: q, k, v and dO reach the key/value kernel
        // through the tensor maps (the preprocess reads O and dO), and the statistics rows are
        // addressed from the padded tile count, so the rest of BackwardParameters stays zero.
        p.o = address(arguments.out); p.dout = address(arguments.dOut); p.lse = address(arguments.lse)
        p.dq = address(arguments.dq); p.dk = address(arguments.dk); p.dv = address(arguments.dv)
        p.oStrides = strides(layout.addressing(q: arguments.out))
        p.doutStrides = strides(layout.addressing(q: arguments.dOut))
        p.dqStrides = strides(layout.addressing(q: arguments.dq))
        p.dkStrides = strides(layout.addressing(k: arguments.dk))
        p.dvStrides = strides(layout.addressing(k: arguments.dv))
        let la = layout.addressing(rowStats: arguments.lse)
        p.lseStrides = (Int64(la.batchStride), Int64(la.headStride), Int64(la.rowStride))
        let scale = options.scale(headDim: D)
        p.scaleLog2 = scale * 1.4426950408889634
        p.gradScale = scale
        p.batch = Int32(layout.batch)
        p.heads = Int32(layout.heads)
        p.groupSize = Int32(layout.groupSize)
        p.seqlenQ = Int32(layout.seqlenQ)
        p.seqlenK = Int32(layout.seqlenK)
        p.headDim = Int32(D)

        func rounded(_ bytes: Int) -> Int { (bytes + 255) / 256 * 256 }
        let statBytes = rounded(tiles * kv.blockM * 4)
        let accumBytes = rounded(tiles * kv.blockM * kv.headDim * 4)
        let semaphoreBytes = rounded(tiles * 4 * (kv.wideChunkTurns ? 4 : 1))  // chunk turns: four counter arrays
        let keyBlocks = (layout.seqlenK + kv.blockN - 1) / kv.blockN
        let kvTiles = layout.kvHeads * keyBlocks * layout.batch
        // Tail split: T = G mod S key blocks run alone in the last round; each runs as k CTAs (at most its steps), k from the
        // tail's time model or `FLASH_ATTENTION_HOPPER_BWD_TAILPARTS=k` (a measurement knob; checks force later waves with it).
        let (tailUnits, tailParts) = kv.tailSplit
            ? HopperBackwardKernel.tailSplit(keyBlocks: kvTiles, multiprocessors: context.device.multiprocessorCount,
                                             steps: mBlocks * layout.groupSize,
                                             parts: Self.hopperBackwardTailParts)
            : (0, 1)
        p.tailUnits = Int32(tailUnits)
        p.tailParts = Int32(tailParts)
        let tailBytes = HopperBackwardKernel.tailBytes(units: tailUnits, headDim: kv.headDim)
        let timelineBytes = kv.timeline ? HopperBackwardTimeline.bytes(ctas: kvTiles + tailUnits * (tailParts - 1)) : 0
        try workspace.with(bytes: 2 * statBytes + accumBytes + semaphoreBytes + tailBytes + timelineBytes, context: context, stream: stream) { base in
            p.lseLog2 = base
            p.delta = base + UInt64(statBytes)
            p.dqAccum = base + UInt64(2 * statBytes)
            p.dqSemaphore = p.dqAccum + UInt64(accumBytes)
            // Ordered: the first key block stores its tile, so only the counters need zeros.
            // (A tail split's counters and sums follow the turn counters and are zeroed with them.)
            if kv.orderedDQ {
                try CUDAMemory.fill(p.dqSemaphore, byte: 0, byteCount: semaphoreBytes + tailBytes, stream: stream)
            } else {
                try CUDAMemory.fill(p.dqAccum, byte: 0, byteCount: accumBytes + semaphoreBytes + tailBytes, stream: stream)
            }
            let rows = tiles * kv.blockM
            try pre.function.launch(grid: (plan[0].fastPasses ? (rows + 63) / 64 : (rows + 7) / 8, 1, 1), block: (256, 1, 1), sharedMemoryBytes: 0,
                                    stream: stream, parameters: p.packed())
            // headGroup > 0: one linear grid, decoded by the kernel (batch, head group, key block, head).
            // persistentTiles: one CTA per multiprocessor (at most one per tile) walks the tiles
            // (`FLASH_ATTENTION_HOPPER_GRID=n` caps it, as for the forward: small checks then send each CTA through many tiles).
            let grid = kv.persistentTiles ? (min(kvTiles, Self.hopperPersistentBlocks(context.device.multiprocessorCount)), 1, 1)
                : kv.tailSplit ? (kvTiles + tailUnits * (tailParts - 1), 1, 1)
                : kv.headGroup > 0 ? (kvTiles, 1, 1) : (layout.kvHeads, keyBlocks, layout.batch)
            // A dependent key/value kernel's producer waits for the preprocess before it loads L and D; a dependent conversion
            // pass's blocks wait on the turn counters, and its last instruction on the key/value grid: both correct as plain
            // launches too (where the driver refuses the dependent one).
            try keyValue.function.launch(grid: grid, block: (kv.threads, 1, 1), sharedMemoryBytes: kv.sharedMemoryBytes, stream: stream,
                                         parameters: HopperBackwardKernel.packedParameters(tensorMaps: maps, parameters: p),
                                         allowingDependence: kv.dependentStats)
            try convert.function.launch(grid: (mBlocks, layout.heads, layout.batch), block: (256, 1, 1), sharedMemoryBytes: 0,
                                        stream: stream, parameters: p.packed(), allowingDependence: plan[2].dependentConvert)
            if let path = timelineFile, timelineBytes > 0 {
                // The rows of this call (a diagnostic: the copy waits for the call), the grid's shape in front.
                var rows = [UInt8](repeating: 0, count: timelineBytes)
                try rows.withUnsafeMutableBytes { try CUDAMemory.copy(toHost: $0.baseAddress!, from: p.dqSemaphore + UInt64(semaphoreBytes + tailBytes), byteCount: timelineBytes, stream: stream) }
                try stream.synchronize()
                var header = [UInt8]()
                for v in [grid.0, grid.1, grid.2, grid.0 * grid.1 * grid.2] { withUnsafeBytes(of: UInt64(v).littleEndian) { header += $0 } }
                try FileSystem.writeAtomically(path, bytes: header + rows)
            }
        }
    }
}
