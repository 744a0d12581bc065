import Foundation
import VeloFormat
import VeloRepository
import VeloStorage

/// Continuous capture beside `velo serve --config`'s rounds: the config's sources (`RunConfig.capturedSources`)
/// captured into its repository by a `Replicator` on a thread of its own, with the config's `continuous`
/// settings, until `stop`. A replicator that cannot start or stops on an error (another `velo replicate` holds a
/// source, the repository is unreachable) is reported and started again a minute later.
package final class BackgroundReplication: @unchecked Sendable {
    /// What the thread tells: a start, a stop with the run's summary, or a failure.
    package enum Event: Sendable {
        case started(sources: [String])
        case stopped(Replicator.Summary)
        case failed(String)
    }

    private let condition = NSCondition()
    private var stopping = false
    private var finished = false
    private var started = false

    package init() {}

    /// Starts capturing the sources of `config` (which must have `continuous`) into `repository`.
    package func start(
        config: RunConfig, repository: @escaping @Sendable () throws -> Repository, report: @escaping @Sendable (Event) -> Void
    ) {
        let options = config.continuous ?? Replicator.Options()
        condition.lock()
        started = true
        condition.unlock()
        let thread = Thread { [self] in
            defer {
                condition.lock()
                finished = true
                condition.broadcast()
                condition.unlock()
            }
            while !isStopping {
                do {
                    let (sources, discover) = try config.capturedSources()
                    let replicator = try Replicator(sources: sources, repository: try repository(), options: options, discover: discover)
                    report(.started(sources: replicator.sources))
                    try replicator.run(until: { [self] in isStopping })
                    report(.stopped(replicator.summary))
                } catch {
                    if error.veloKind == .interrupted { return }
                    report(.failed("\(error)"))
                }
                condition.lock()
                let deadline = Date().addingTimeInterval(60)
                while !stopping && Date() < deadline { _ = condition.wait(until: deadline) }
                condition.unlock()
            }
        }
        thread.name = "velo-replicate"
        thread.start()
    }

    private var isStopping: Bool {
        condition.lock()
        defer { condition.unlock() }
        return stopping
    }

    /// Asks the replicator to store what it read and stop, and waits for it.
    package func stop() {
        condition.lock()
        stopping = true
        condition.broadcast()
        while started && !finished { condition.wait() }
        condition.unlock()
    }
}
