/// The zeroed, 64-byte aligned buffers of one worker's scratch (the forward's, the backward's
/// and the KV-cache decode's), freed together.
struct ScratchBuffers {
    private var pointers: [UnsafeMutableRawPointer] = []

    /// At least 16 elements (a full 16-wide vector), all bits zero (0, 0.0, nil).
    mutating func zeroed<T>(count: Int) -> UnsafeMutablePointer<T> {
        let capacity = max(count, 16)
        let bytes = capacity * MemoryLayout<T>.stride
        let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: 64)
        raw.initializeMemory(as: UInt8.self, repeating: 0, count: bytes)
        pointers.append(raw)
        return raw.bindMemory(to: T.self, capacity: capacity)
    }

    func deallocateAll() { for pointer in pointers { pointer.deallocate() } }
}
