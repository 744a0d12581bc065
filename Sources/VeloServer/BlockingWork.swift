import NIOCore
import NIOPosix

/// Runs VeloKit's synchronous work (SQLite, archives, bcrypt) on a bounded pool of threads, never on the event
/// loop: while a backup or a restore runs, other requests keep being served, and however many requests arrive,
/// at most `threads` blocking calls run at once (the rest wait their turn), as Hummingbird does with its
/// `NIOThreadPool`. The closure and its result are handed over whole to the pool's thread and back (VeloKit's
/// repository and snapshot handles are not `Sendable`, and are never used by two threads at once).
enum BlockingWork {
    /// The pool's size: two per core, at least four (a long backup, a verification and a few short reads at
    /// once on a small machine).
    static let threads = max(4, 2 * System.coreCount)

    private static let pool: NIOThreadPool = {
        let pool = NIOThreadPool(numberOfThreads: threads)
        pool.start()
        return pool
    }()

    private struct Handover<T>: @unchecked Sendable { let value: T }

    static func run<T>(_ body: @escaping () throws -> T) async throws -> T {
        let work = Handover(value: body)
        let result: Handover<T> = try await pool.runIfActive { Handover(value: try work.value()) }
        return result.value
    }
}
