import Synchronization

/// A dictionary behind a mutex whose values are created once, on first request.
///
/// Creation runs under the lock, so two threads asking for the same key get one value; the
/// values cached here (contexts, compiled modules) are cheap to wait for compared with
/// creating them twice.
public final class LockedDictionary<Key: Hashable & Sendable, Value: Sendable>: Sendable {
    private let storage = Mutex<[Key: Value]>([:])

    public init() {}

    public func value(for key: Key, create: () throws -> Value) throws -> Value {
        try storage.withLock { dictionary in
            if let value = dictionary[key] { return value }
            let value = try create()
            dictionary[key] = value
            return value
        }
    }

    public subscript(key: Key) -> Value? {
        storage.withLock { $0[key] }
    }

    public var count: Int { storage.withLock { $0.count } }
}
