import Foundation
import FlashAttentionCore

/// P ranks in one process, one thread each, passing host buffers in place of NCCL: the
/// simulated communicator the ring and Ulysses schedules are tested with.
///
/// A send copies its bytes into a FIFO mailbox per (source, destination) at once; a receive
/// waits for the oldest message of its pair. Matching by order is NCCL's rule too, so a
/// schedule that runs here posts its transfers consistently on every rank.
public final class LocalRingGroup: @unchecked Sendable {
    public let worldSize: Int
    /// How long a receive waits before it reports a stuck schedule (a rank that failed).
    public var timeoutSeconds: Double = 120

    private let condition = NSCondition()
    private var mailboxes: [[ [UInt8] ]]

    public init(worldSize: Int) {
        self.worldSize = worldSize
        mailboxes = Array(repeating: [], count: worldSize * worldSize)
    }

    /// The communicator of rank `rank`.
    public func communicator(rank: Int) -> LocalRingCommunicator { LocalRingCommunicator(group: self, rank: rank) }

    func post(from source: Int, to destination: Int, bytes: [UInt8]) {
        condition.lock()
        mailboxes[source * worldSize + destination].append(bytes)
        condition.broadcast()
        condition.unlock()
    }

    func take(from source: Int, to destination: Int) throws -> [UInt8] {
        let deadline = Date(timeIntervalSinceNow: timeoutSeconds)
        condition.lock()
        defer { condition.unlock() }
        while mailboxes[source * worldSize + destination].isEmpty {
            if !condition.wait(until: deadline) {
                throw FlashAttentionError.backendFailure("rank \(destination) waited \(timeoutSeconds) s for a message from rank \(source)")
            }
        }
        return mailboxes[source * worldSize + destination].removeFirst()
    }

    /// Runs `body(communicator)` on `worldSize` threads, one per rank, and rethrows the first
    /// error (by rank) once all have returned.
    public static func run(worldSize: Int, _ body: @escaping @Sendable (LocalRingCommunicator) throws -> Void) throws {
        let group = LocalRingGroup(worldSize: worldSize)
        let done = DispatchGroup()
        let errors = ErrorSlots(count: worldSize)
        for rank in 0..<worldSize {
            done.enter()
            let thread = Thread {
                do { try body(group.communicator(rank: rank)) } catch { errors.set(rank, error) }
                done.leave()
            }
            thread.stackSize = 8 << 20
            thread.start()
        }
        done.wait()
        if let error = errors.first { throw error }
    }
}

private final class ErrorSlots: @unchecked Sendable {
    private let lock = NSLock()
    private var slots: [(any Error)?]
    init(count: Int) { slots = Array(repeating: nil, count: count) }
    func set(_ rank: Int, _ error: any Error) { lock.lock(); slots[rank] = error; lock.unlock() }
    var first: (any Error)? { lock.lock(); defer { lock.unlock() }; return slots.compactMap { $0 }.first }
}

/// One rank of a ``LocalRingGroup``.
public final class LocalRingCommunicator: RingCommunicator, @unchecked Sendable {
    public let rank: Int
    public var worldSize: Int { group.worldSize }
    let group: LocalRingGroup

    init(group: LocalRingGroup, rank: Int) {
        self.group = group
        self.rank = rank
    }

    struct Request: RingRequest {
        let group: LocalRingGroup
        let rank: Int
        let receives: [RingTransfer]
        func wait() throws {
            for r in receives {
                let bytes = try group.take(from: r.peer, to: rank)
                guard bytes.count == r.byteCount else {
                    throw FlashAttentionError.backendFailure("rank \(rank) expected \(r.byteCount) bytes from rank \(r.peer), got \(bytes.count)")
                }
                bytes.withUnsafeBytes { r.buffer.copyMemory(from: $0.baseAddress!, byteCount: bytes.count) }
            }
        }
    }

    public func exchange(sends: [RingTransfer], receives: [RingTransfer]) throws -> any RingRequest {
        for s in sends {
            guard s.peer >= 0, s.peer < worldSize else {
                throw FlashAttentionError.invalidArgument(name: "peer", expected: "a rank in 0..<\(worldSize), got \(s.peer)")
            }
            group.post(from: rank, to: s.peer, bytes: Array(UnsafeRawBufferPointer(start: s.buffer, count: s.byteCount)))
        }
        return Request(group: group, rank: rank, receives: receives)
    }
}
