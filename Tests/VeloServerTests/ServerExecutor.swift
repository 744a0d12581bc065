import Foundation

/// The executor an in-process test server runs on: Dispatch's ordinary worker threads, not Swift's cooperative
/// pool.
///
/// The pool has one thread per core (two on CI), and Swift Testing runs the suite's synchronous tests on it: a
/// test that drives a `velo` process for a minute holds a thread for that minute. With both held, a server that
/// shared the pool answered nothing, and a request of another suite timed out after 60 s (red CI on 5a6eeb6). In
/// production nothing else runs on `velo serve`'s pool (its blocking work goes to `BlockingWork`), so the tests
/// give their servers what production gives them: threads no test can take. Task groups inherit the preference,
/// so every connection Hummingbird accepts is handled here too.
final class ServerExecutor: TaskExecutor {
    static let shared = ServerExecutor()

    private let queue = DispatchQueue(label: "velo.test-server", attributes: .concurrent)

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        let executor = asUnownedTaskExecutor()
        queue.async {
            Thread.current.threadDictionary[Self.marker] = true
            job.runSynchronously(on: executor)
            Thread.current.threadDictionary[Self.marker] = nil
        }
    }

    private static let marker = "velo.test-server"

    /// True on a thread running one of this executor's jobs (a test checks that a handler does).
    static var isCurrent: Bool { Thread.current.threadDictionary[marker] as? Bool == true }
}
