/// One buffer of a point-to-point transfer: `byteCount` bytes at `buffer`, to or from `peer`.
///
/// The memory is where the communicator's device keeps it (host memory for the simulated
/// group, device memory for NCCL). It must stay valid until the exchange's request is waited.
public struct RingTransfer: @unchecked Sendable {
    public var peer: Int
    public var buffer: UnsafeMutableRawPointer
    public var byteCount: Int

    public init(peer: Int, buffer: UnsafeMutableRawPointer, byteCount: Int) {
        self.peer = peer
        self.buffer = buffer
        self.byteCount = byteCount
    }
}

/// An exchange in flight. `wait()` returns once the received buffers may be read by the
/// compute that follows: for the in-process group when the bytes are there, for a GPU
/// communicator once the compute stream has been made to wait for the transfers.
public protocol RingRequest {
    func wait() throws
}

/// Point-to-point communication between the ranks of a context-parallel group.
///
/// Every rank must post the same sequence of exchanges (the schedules in this module do):
/// NCCL matches sends and receives by order, and so does the simulated group. Sends and
/// receives of one exchange form one group, so a ring step (send to the next rank, receive
/// from the previous one) or an all-to-all cannot deadlock.
public protocol RingCommunicator: AnyObject {
    var rank: Int { get }
    var worldSize: Int { get }
    /// Posts `sends` and `receives` as one group and returns without waiting for them. The
    /// send buffers must hold their data by the time the compute queued so far has finished.
    func exchange(sends: [RingTransfer], receives: [RingTransfer]) throws -> any RingRequest
}

extension RingCommunicator {
    /// The next rank around the ring (where K/V go).
    public var next: Int { (rank + 1) % worldSize }
    /// The previous rank around the ring (where K/V come from).
    public var previous: Int { (rank + worldSize - 1) % worldSize }
}
