import Dispatch
import Synchronization

/// Runs `count` independent tasks on `threads` workers.
///
/// Workers pull task indices from a shared counter, so uneven tasks (causal rows, varlen)
/// balance themselves. Each worker gets its index, so it can own scratch memory for the
/// whole call. Results must not depend on which worker ran a task: that is what keeps the
/// backends bitwise reproducible across thread counts.
enum WorkQueue {
    static func run(
        tasks count: Int, threads: Int,
        _ body: @Sendable (_ worker: Int, _ nextTask: () -> Int?) -> Void
    ) {
        guard count > 0 else { return }
        let workers = max(1, min(threads, count))
        let counter = Atomic<Int>(0)
        let next: @Sendable () -> Int? = {
            let t = counter.wrappingAdd(1, ordering: .relaxed).oldValue
            return t < count ? t : nil
        }
        if workers == 1 {
            body(0, next)
            return
        }
        withoutActuallyEscaping(body) { body in
            DispatchQueue.concurrentPerform(iterations: workers) { worker in body(worker, next) }
        }
    }
}
