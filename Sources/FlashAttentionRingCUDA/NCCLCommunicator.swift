import CNCCLShim
import CUDADriver
import FlashAttentionCore
import FlashAttentionRing

/// A ``RingCommunicator`` over NCCL, one process (or thread) per GPU.
///
/// Transfers run on a communication stream of their own. An exchange first makes that
/// stream wait for the compute queued so far (the buffers it sends are ready), posts the
/// sends and receives as one NCCL group, and records an event; waiting on the request makes
/// the compute stream wait for that event. The host never blocks, so the next block's
/// transfer runs under the current block's kernels.
public final class NCCLCommunicator: RingCommunicator, @unchecked Sendable {
    public let rank: Int
    public let worldSize: Int
    public let context: CUDAContext
    /// Where the attention kernels run (the ``CUDARingDevice``'s stream).
    public let computeStream: CUDAStream
    /// Where the NCCL transfers run.
    public let communicationStream: CUDAStream
    let nccl: NCCLLibrary
    let comm: UnsafeMutableRawPointer

    /// Joins the communicator `id` as `rank` of `worldSize`, on `computeStream`'s device.
    public init(id: NCCLUniqueID, rank: Int, worldSize: Int, computeStream: CUDAStream) throws {
        nccl = try NCCLLibrary.load()
        context = computeStream.context
        self.rank = rank
        self.worldSize = worldSize
        self.computeStream = computeStream
        do {
            try context.makeCurrent()
            communicationStream = try CUDAStream(context: context)
        } catch { throw FlashAttentionError.backendFailure("\(error)") }
        var raw = fa_nccl_unique_id()
        withUnsafeMutableBytes(of: &raw) { $0.copyBytes(from: id.bytes) }
        var handle: UnsafeMutableRawPointer?
        let code = fa_nccl_comm_init_rank(nccl.ncclCommInitRank, &handle, Int32(worldSize), &raw, Int32(rank))
        try nccl.check(code, "ncclCommInitRank(rank \(rank) of \(worldSize))")
        guard let handle else { throw FlashAttentionError.backendFailure("ncclCommInitRank returned no communicator") }
        comm = handle
    }

    deinit {
        _ = try? context.makeCurrent()
        _ = nccl.ncclCommDestroy(comm)
    }

    struct Request: RingRequest {
        let done: CUDAEvent
        let computeStream: CUDAStream
        func wait() throws {
            do { try computeStream.wait(for: done) } catch { throw FlashAttentionError.backendFailure("\(error)") }
        }
    }

    public func exchange(sends: [RingTransfer], receives: [RingTransfer]) throws -> any RingRequest {
        do {
            try context.makeCurrent()
            let ready = try CUDAEvent(context: context)
            try ready.record(on: computeStream)
            try communicationStream.wait(for: ready)
            let stream = UnsafeMutableRawPointer(communicationStream.handle)
            try nccl.check(nccl.ncclGroupStart(), "ncclGroupStart")
            var failure: (any Error)?
            for s in sends where failure == nil {
                do { try nccl.check(nccl.ncclSend(s.buffer, s.byteCount, 1, Int32(s.peer), comm, stream), "ncclSend(\(s.byteCount) bytes to rank \(s.peer))", comm: comm) } catch { failure = error }
            }
            for r in receives where failure == nil {
                do { try nccl.check(nccl.ncclRecv(r.buffer, r.byteCount, 1, Int32(r.peer), comm, stream), "ncclRecv(\(r.byteCount) bytes from rank \(r.peer))", comm: comm) } catch { failure = error }
            }
            try nccl.check(nccl.ncclGroupEnd(), "ncclGroupEnd", comm: comm)
            if let failure { throw failure }
            let done = try CUDAEvent(context: context)
            try done.record(on: communicationStream)
            return Request(done: done, computeStream: computeStream)
        } catch let error as FlashAttentionError {
            throw error
        } catch {
            throw FlashAttentionError.backendFailure("\(error)")
        }
    }

    /// Sum of `count` float32 values across ranks, in place, on the compute stream (a barrier
    /// for benchmarks and the way ranks agree on an error).
    public func allReduceSum(_ buffer: UnsafeMutableRawPointer, count: Int) throws {
        try context.makeCurrent()
        // ncclFloat32 = 7, ncclSum = 0.
        try nccl.check(nccl.ncclAllReduce(buffer, buffer, count, 7, 0, comm, UnsafeMutableRawPointer(computeStream.handle)), "ncclAllReduce", comm: comm)
    }
}

/// A communicator that moves nothing: the schedule's compute alone, for timing how much of
/// the communication a real ring hides (results are wrong by design).
public final class NullCommunicator: RingCommunicator {
    public let rank: Int
    public let worldSize: Int
    public init(rank: Int, worldSize: Int) {
        self.rank = rank
        self.worldSize = worldSize
    }
    struct Done: RingRequest { func wait() throws {} }
    public func exchange(sends: [RingTransfer], receives: [RingTransfer]) throws -> any RingRequest { Done() }
}
