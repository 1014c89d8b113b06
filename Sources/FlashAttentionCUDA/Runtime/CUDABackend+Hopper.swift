import CUDADriver
import FlashAttentionCore
import Synchronization

/// Tensor maps for the Hopper TMA forward kernel (``KernelMainloop/tmaWarpSpecialized``).
extension CUDABackend {
    /// Whether TMA tensor maps can describe q, k and v (and a 16-bit output, which the TMA store
    /// of O writes through a map): no empty dimension, unit head-dim stride, 16-byte-aligned
    /// bases, and every stride of a dimension longer than one a positive multiple of 16 bytes.
    /// An output the vectorized loops accept fails this only with a zero or ≥ 2³⁸-element stride.
    static func isTensorMapFriendly(_ arguments: ForwardArguments, layout: AttentionLayout) -> Bool {
        let batches = layout.varlen == nil ? layout.batch : 1
        func friendly(_ view: TensorView, _ a: SequenceAddressing, rows: Int, heads: Int) -> Bool {
            HopperOperandMap.fits(view, a, rows: rows, heads: heads, batches: batches)
        }
        let rowsQ = layout.varlen == nil ? layout.seqlenQ : layout.totalQ
        let rowsK = layout.varlen == nil ? layout.seqlenK : layout.totalK
        // A map cannot have an empty dimension (Sk = 0 runs the other loops: O = 0, LSE = +∞).
        guard rowsQ > 0, rowsK > 0, layout.heads > 0, layout.kvHeads > 0, layout.batch > 0 else { return false }
        return friendly(arguments.q, layout.addressing(q: arguments.q), rows: rowsQ, heads: layout.heads)
            && friendly(arguments.k, layout.addressing(k: arguments.k), rows: rowsK, heads: layout.kvHeads)
            && friendly(arguments.v, layout.addressing(k: arguments.v), rows: rowsK, heads: layout.kvHeads)
            && (arguments.out.elementType == .float32 || friendly(arguments.out, layout.addressing(q: arguments.out), rows: rowsQ, heads: layout.heads))
    }

    /// The Q, K and V maps (and O's for ``AttentionKernelDescriptor/tmaStoreO``): 4-D (D, rows,
    /// heads, batch), innermost first; varlen tensors are one batch of all tokens. A copy moves a
    /// box of 64 columns (128 bytes, swizzled) × the tile's rows of one head (Q in per-warpgroup
    /// halves, ``AttentionKernelDescriptor/queryHalves``: one warpgroup's 64 rows); a store of O, one
    /// warpgroup's 64 rows.
    func hopperTensorMaps(_ arguments: ForwardArguments, layout: AttentionLayout, descriptor: AttentionKernelDescriptor) throws -> [[UInt8]] {
        let varlen = layout.varlen != nil
        func map(_ view: TensorView, _ a: SequenceAddressing, rows: Int, heads: Int, boxRows: Int) throws -> [UInt8] {
            try HopperOperandMap(a, headDim: layout.headDim, rows: rows, heads: heads, batches: varlen ? 1 : layout.batch).encode(view, boxRows: boxRows)
        }
        let rowsQ = varlen ? layout.totalQ : layout.seqlenQ
        let rowsK = varlen ? layout.totalK : layout.seqlenK
        return [
            try map(arguments.q, layout.addressing(q: arguments.q), rows: rowsQ, heads: layout.heads, boxRows: descriptor.queryHalves > 0 ? 64 : descriptor.blockM),
            try map(arguments.k, layout.addressing(k: arguments.k), rows: rowsK, heads: layout.kvHeads, boxRows: descriptor.blockN),
            try map(arguments.v, layout.addressing(k: arguments.v), rows: rowsK, heads: layout.kvHeads, boxRows: descriptor.blockN),
        ] + (descriptor.tmaStoreO
            ? [try map(arguments.out, layout.addressing(q: arguments.out), rows: rowsQ, heads: layout.heads, boxRows: 64)] : [])
    }
}

/// The dynamic tile scheduler's two uint32 counters (tiles taken, blocks done), one pair per
/// (device, stream). Zeroed once when allocated; every launch leaves them zero again (its last
/// block to finish taking tiles resets them), so the launches of one stream, which run one
/// after another, share the pair and no launch pays for a memset.
///
/// A host-tensor call stages through a fresh stream each time: it borrows a pair from a
/// per-device pool for the call (``lending(to:context:_:)``) and gives it back once its stream
/// has been synchronized, so those streams do not grow the table without bound.
final class HopperTileCounters: Sendable {
    struct Key: Hashable, Sendable {
        var ordinal: Int
        var stream: UInt
    }

    private struct State {
        /// The pair each stream's launches use.
        var byStream: [Key: HopperTileCounters] = [:]
        /// Pairs given back by finished staged calls, zero, per device ordinal.
        var idle: [Int: [HopperTileCounters]] = [:]
        /// Pairs of staged calls that failed: a kernel may still hold them, so they are never freed.
        var retired: [HopperTileCounters] = []
    }

    private static let state = Mutex(State())
    let buffer: CUDABuffer
    /// The stream-K tail's workspaces (``AttentionKernelDescriptor/streamKTail``), the newest last: a larger one
    /// replaces the last when a launch needs more, and the smaller ones stay alive, since a launch queued on the
    /// stream may still use them.
    private let workspaces = Mutex<[CUDABuffer]>([])

    private init(context: CUDAContext, stream: CUDAStream) throws {
        buffer = try CUDABuffer(byteCount: 8, context: context)
        try buffer.fill(byte: 0, stream: stream)
        // Zero before any kernel reads it, and an error here rather than a captured memset
        // when a framework records the stream into a graph.
        try stream.synchronize()
    }

    /// The counters for launches on `stream`.
    private static func counters(context: CUDAContext, stream: CUDAStream) throws -> HopperTileCounters {
        let key = Key(ordinal: context.device.ordinal, stream: UInt(bitPattern: stream.handle))
        return try state.withLock { state in
            if let counters = state.byStream[key] { return counters }
            let counters = try HopperTileCounters(context: context, stream: stream)
            state.byStream[key] = counters
            return counters
        }
    }

    /// The counters' device address for launches on `stream`.
    static func address(context: CUDAContext, stream: CUDAStream) throws -> UInt64 {
        try counters(context: context, stream: stream).buffer.address
    }

    /// A zeroed stream-K workspace of at least `bytes` for launches on `stream` (its tile counters come back to
    /// zero after every launch; the parts' area is written before it is read).
    static func streamKWorkspace(bytes: Int, context: CUDAContext, stream: CUDAStream) throws -> UInt64 {
        let counters = try counters(context: context, stream: stream)
        return try counters.workspaces.withLock { list in
            if let last = list.last, last.byteCount >= bytes { return last.address }
            let workspace = try CUDABuffer(byteCount: bytes, context: context)
            try workspace.fill(byte: 0, stream: stream)
            try stream.synchronize()
            list.append(workspace)
            return workspace.address
        }
    }

    /// Runs `body` (launches on `stream`, then a synchronize of it) with a pooled pair standing
    /// for the stream's own, and returns the pair to the pool afterwards: the kernels have left
    /// it zero. A pair whose body threw is kept alive but not reused.
    static func lending<Result>(to stream: CUDAStream, context: CUDAContext, _ body: () throws -> Result) throws -> Result {
        let ordinal = context.device.ordinal
        let key = Key(ordinal: ordinal, stream: UInt(bitPattern: stream.handle))
        let (counters, displaced) = try state.withLock { state -> (HopperTileCounters, HopperTileCounters?) in
            let counters = try state.idle[ordinal]?.popLast() ?? HopperTileCounters(context: context, stream: stream)
            // A handle reused from a destroyed stream may still have an entry: put it back afterwards.
            let displaced = state.byStream.updateValue(counters, forKey: key)
            return (counters, displaced)
        }
        func restore(_ state: inout State) { state.byStream[key] = displaced }
        do {
            let result = try body()
            state.withLock { state in restore(&state); state.idle[ordinal, default: []].append(counters) }
            return result
        } catch {
            state.withLock { state in restore(&state); state.retired.append(counters) }
            throw error
        }
    }
}

extension CUDABackend {
    /// Blocks of a persistent Hopper grid: one per multiprocessor (the forward passes the count times its
    /// blocks per multiprocessor: two for ``AttentionKernelDescriptor/twoBlocksPerMultiprocessor`` kernels). `FLASH_ATTENTION_HOPPER_GRID=n`
    /// caps it for checks, so small oracle problems still send each block through many tiles
    /// (the scheduler's hand-over, its end and its counter reset).
    static func hopperPersistentBlocks(_ multiprocessors: Int) -> Int {
        if let cap = hopperGridCap { return min(cap, multiprocessors) }
        return multiprocessors
    }

    /// `FLASH_ATTENTION_HOPPER_GRID`, read once rather than on every persistent launch.
    private static let hopperGridCap: Int? = FileSystem.environment("FLASH_ATTENTION_HOPPER_GRID").flatMap { Int($0) }.flatMap { $0 > 0 ? $0 : nil }
}
