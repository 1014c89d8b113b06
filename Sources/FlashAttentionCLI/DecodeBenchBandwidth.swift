import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// STREAM-like memory bandwidth of this machine, measured with the benchmark's thread count:
/// the yardstick decode throughput is judged against.
///
/// - copy: `b[i] = a[i]` over two buffers far larger than the last-level cache, counting the
///   bytes read and the bytes written (as the GPU figures in the issue do: "3.02 TB/s
///   counting read and write");
/// - read: a sum over one such buffer, counting bytes read (decode reads and barely writes,
///   so this is the stricter yardstick on CPUs, whose read bandwidth exceeds copy's).
///
/// Each is the best of several passes, split into one contiguous chunk per thread.
struct DecodeBenchBandwidth {
    var copyGBps: Double
    var readGBps: Double

    static func measure(threads: Int, bytes: Int = 512 << 20, passes: Int = 5) -> DecodeBenchBandwidth {
        let words = bytes / 8
        let a = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        let b = UnsafeMutablePointer<UInt64>.allocate(capacity: words)
        defer { a.deallocate(); b.deallocate() }
        // Touch every page first (and give the read pass something to add).
        for i in 0..<words { a[i] = UInt64(i) }
        b.initialize(repeating: 0, count: words)
        // Addresses travel into the worker closures as integers (pointers are not Sendable).
        let sourceAddress = Int(bitPattern: a), targetAddress = Int(bitPattern: b)
        let workers = max(1, threads)
        let chunk = (words + workers - 1) / workers
        func seconds(_ body: @Sendable (Int) -> Void) -> Double {
            let clock = ContinuousClock()
            let start = clock.now
            DispatchQueue.concurrentPerform(iterations: workers, execute: body)
            let elapsed = clock.now - start
            return Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) * 1e-18
        }
        var bestCopy = Double.infinity, bestRead = Double.infinity
        let sink = UnsafeMutablePointer<UInt64>.allocate(capacity: workers)
        defer { sink.deallocate() }
        let sinkAddress = Int(bitPattern: sink)
        for _ in 0..<passes {
            bestCopy = min(bestCopy, seconds { w in
                let lo = w * chunk, hi = min(words, lo + chunk)
                guard lo < hi else { return }
                let target = UnsafeMutableRawPointer(bitPattern: targetAddress)!, source = UnsafeRawPointer(bitPattern: sourceAddress)!
                memcpy(target + lo * 8, source + lo * 8, (hi - lo) * 8)
            })
            bestRead = min(bestRead, seconds { w in
                let lo = w * chunk, hi = min(words, lo + chunk)
                guard lo < hi else { return }
                // Eight independent lanes so the adds vectorise and keep many loads in flight.
                let p = UnsafePointer<SIMD8<UInt64>>(bitPattern: sourceAddress)!
                var acc = SIMD8<UInt64>()
                var i = lo / 8
                while i < hi / 8 { acc &+= p[i]; i += 1 }
                UnsafeMutablePointer<UInt64>(bitPattern: sinkAddress)![w] = acc.wrappedSum()
            })
        }
        let total = Double(words * 8)
        return DecodeBenchBandwidth(copyGBps: 2 * total / bestCopy / 1e9, readGBps: total / bestRead / 1e9)
    }
}
