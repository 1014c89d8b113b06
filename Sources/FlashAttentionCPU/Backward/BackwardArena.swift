import Synchronization

/// The backward's call-sized float32 scratch (dQ partials, Δ and LSE rows, float32 copies of
/// 16-bit Q/dO), kept from one call to the next.
///
/// A fresh allocation of tens of MiB is faulted in page by page on first touch, and in a VM
/// that is slow: profiling a 4-head, N = 2048, D = 64 causal backward on the 2-core dev box
/// showed a third of the time in page faults and clearing for 16 MiB of dQ partials
/// allocated per call. So the arena keeps the last block it handed out (up to
/// `retainLimit`) for the next call. Calls that run at the same time, or need more, allocate
/// their own block; nothing is shared while in use.
enum BackwardArena {
    struct Block: @unchecked Sendable {
        let pointer: UnsafeMutableRawPointer
        let bytes: Int
    }

    /// The most memory kept between calls.
    static let retainLimit = 256 << 20

    private static let retained = Mutex<Block?>(nil)

    /// A 64-byte aligned block of at least `bytes`, contents undefined.
    static func take(bytes: Int) -> Block {
        let cached = retained.withLock { slot -> Block? in
            guard let block = slot, block.bytes >= bytes else { return nil }
            slot = nil
            return block
        }
        if let cached { return cached }
        let size = max(bytes, 64)
        return Block(pointer: .allocate(byteCount: size, alignment: 64), bytes: size)
    }

    /// Returns a block from ``take(bytes:)``: kept if it is the larger one and within the
    /// limit, else freed.
    static func give(_ block: Block) {
        guard block.bytes <= retainLimit else {
            block.pointer.deallocate()
            return
        }
        let evicted = retained.withLock { slot -> Block? in
            if let kept = slot, kept.bytes >= block.bytes { return block }
            let old = slot
            slot = block
            return old
        }
        evicted?.pointer.deallocate()
    }
}
